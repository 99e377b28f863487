/**
 * Issue #9 item 10: the server's data folder is owner-only, as the README
 * says and as the device key store does (src/runtime/node-keystore.ts): the
 * process runs with umask 077 (so every file the fs driver writes is 0600 and
 * every folder 0700), the data folder is created 0700, an existing one that
 * others can read is tightened together with everything under it, and a folder
 * owned by another user is refused rather than used.
 *
 * Implements: STORE-FOLDER-MODES
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** POSIX permission bits mean nothing on Windows; there the folder's ACL applies. */
const CHECK_MODES = process.platform !== "win32";

export class DataFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DataFolderError";
  }
}

/** Removes group and other bits from everything under `path` (symlinks are left alone). */
function tighten(path: string): void {
  const info = lstatSync(path);
  if (info.isSymbolicLink()) return;
  if ((info.mode & 0o077) !== 0) chmodSync(path, info.mode & 0o700);
  if (info.isDirectory()) for (const name of readdirSync(path)) tighten(join(path, name));
}

export function prepareDataFolder(dir: string): void {
  if (!CHECK_MODES) {
    mkdirSync(dir, { recursive: true });
    return;
  }
  process.umask(0o077);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const info = statSync(dir);
  if (!info.isDirectory()) throw new DataFolderError(`data folder ${dir} is not a folder`);
  if (typeof process.getuid === "function" && info.uid !== process.getuid()) {
    throw new DataFolderError(
      `data folder ${dir} belongs to another user (uid ${info.uid}); refusing to use it`,
    );
  }
  tighten(dir);
}
