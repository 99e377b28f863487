/**
 * Issue #9 items 11 and 2 (second process): one server process per data
 * folder. Two processes on one folder could both enrol one Entity ID for
 * different users, and a second process would accept a replay captured from
 * the first. The lock is `<data>/server.lock`, created with O_EXCL (0600)
 * holding the holder's pid and a random start token. A second process finds
 * it, sees that the holder is alive (signal 0), and refuses to start. A lock
 * whose holder is gone (SIGKILL, power loss) is stale and taken over: it is
 * removed and created afresh with O_EXCL, so of two processes taking over at
 * once only one wins the create (see spec/decisions.md for the remaining window).
 *
 * Implements: STORE-FOLDER-LOCK
 */
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export class FolderLockedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FolderLockedError";
  }
}

interface LockContent {
  pid: number;
  token: string;
}

function readLock(file: string): LockContent | undefined {
  try {
    const value = JSON.parse(readFileSync(file, "utf8")) as Partial<LockContent>;
    return typeof value.pid === "number" && typeof value.token === "string"
      ? { pid: value.pid, token: value.token }
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A killed process stays a zombie until its parent reaps it, and signal 0
 * reaches a zombie: a supervisor that restarts the server right after a crash
 * would be refused by a dead holder. On Linux /proc tells (state Z).
 */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) S ...": the state follows the last ")" (comm may contain one).
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return false; // no /proc (not Linux) or already gone: signal 0 decides
  }
}

/** Whether a live process has this pid (EPERM: it exists, under another user; a zombie is dead). */
function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return !isZombie(pid);
}

function isFresh(file: string): boolean {
  try {
    return Date.now() - statSync(file).mtimeMs < 10_000;
  } catch {
    return false;
  }
}

export interface FolderLock {
  readonly file: string;
  /** Removes the lock if it is still ours. */
  release(): void;
}

export function acquireFolderLock(dir: string): FolderLock {
  const file = join(dir, "server.lock");
  const mine: LockContent = { pid: process.pid, token: randomBytes(16).toString("hex") };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${JSON.stringify(mine)}\n`, { flag: "wx", mode: 0o600 });
      return {
        file,
        release() {
          if (readLock(file)?.token === mine.token) rmSync(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = readLock(file);
    if (holder && holder.pid !== process.pid && isAlive(holder.pid)) {
      throw new FolderLockedError(
        `data folder ${dir} is in use by another CPNS Server (pid ${holder.pid}); ` +
          `stop it first (if no server runs, remove ${file})`,
      );
    }
    if (!holder && isFresh(file)) {
      // Unreadable but just made: another process is between its create and its write.
      throw new FolderLockedError(`data folder ${dir} is being locked by another process`);
    }
    // The holder is gone (or the lock is old and unreadable): stale, take it over.
    rmSync(file, { force: true });
  }
  throw new FolderLockedError(`data folder ${dir}: another process took the lock at the same time`);
}
