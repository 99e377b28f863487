/**
 * Issue #9 reliability ("SIGKILL ... no half-written record"): unstorage's fs
 * driver writes a record in place (truncate, then write), so a process killed
 * mid-write leaves an empty or partial file, and a reader racing a rewrite can
 * read one (the soak saw both: empty index files after SIGKILL, and a 503 on a
 * well-behaved read under load). This driver keeps the fs driver's layout
 * (key "a:b:c" is the file <base>/a/b/c, so existing data folders read
 * unchanged) and replaces its writes: the value goes to a temporary file beside
 * the store (same file system), is flushed to disk, and is renamed over the
 * record, which POSIX makes atomic. Readers and crashes see the old record or
 * the new one, never a torn one.
 *
 * Implements: STORE-NO-HALF-WRITE
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { defineDriver } from "unstorage";
import fsDriver from "unstorage/drivers/fs";

/** The fs driver refuses `..` segments; so do we, before touching any path. */
const PATH_TRAVERSE = /\.\.:|\.\.$/;

export interface AtomicFsOptions {
  base: string;
}

export const atomicFsDriver = defineDriver((options: AtomicFsOptions) => {
  const inner = fsDriver({ base: options.base });
  const base = resolve(options.base);
  // Beside the store, not in it: a temporary file left by a crash is never listed as a key.
  const temporary = `${base}.tmp`;

  async function write(key: string, value: string | Uint8Array): Promise<void> {
    if (PATH_TRAVERSE.test(key)) throw new Error("fs-atomic: a key may not contain .. segments");
    const target = join(base, key.replace(/:/g, "/"));
    await Promise.all([
      mkdir(dirname(target), { recursive: true, mode: 0o700 }),
      mkdir(temporary, { recursive: true, mode: 0o700 }),
    ]);
    const file = join(temporary, randomBytes(12).toString("hex"));
    const handle = await open(file, "wx", 0o600);
    try {
      await handle.writeFile(value);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(file, target);
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    }
  }

  return {
    ...inner,
    name: "fs-atomic",
    options,
    setItem: (key: string, value: string) => write(key, value),
    setItemRaw: (key: string, value: Uint8Array) => write(key, value),
  };
});
