/**
 * The data folder lock (issue #9 items 11 and 2; src/runtime/node-folder-lock.ts)
 * on real files: a live holder refuses, a dead one is taken over, a lock being
 * written right now counts as held, an old unreadable one is stale, and
 * release() removes only our own lock.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { acquireFolderLock, FolderLockedError } from "../../src/runtime/node-folder-lock.ts";

let folder: string;
afterEach(() => rmSync(folder, { recursive: true, force: true }));
const fresh = () => {
  folder = mkdtempSync(join(tmpdir(), "cpns-lock-"));
  return folder;
};
const plant = (dir: string, content: string) => writeFileSync(join(dir, "server.lock"), content);

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(child.stdout.toString());
}

describe("[STORE-FOLDER-LOCK] the folder lock", () => {
  it("[STORE-FOLDER-LOCK] a live holder (our parent process) refuses; the lock file is left alone", () => {
    const dir = fresh();
    plant(dir, JSON.stringify({ pid: process.ppid, token: "theirs" }));
    expect(() => acquireFolderLock(dir)).toThrow(FolderLockedError);
    expect(() => acquireFolderLock(dir)).toThrow(/in use by another CPNS Server \(pid \d+\)/);
    expect(readFileSync(join(dir, "server.lock"), "utf8")).toContain("theirs");
  });

  it("[STORE-FOLDER-LOCK] a dead holder's lock is taken over; the new lock is 0600 and ours; release removes it", () => {
    const dir = fresh();
    plant(dir, JSON.stringify({ pid: deadPid(), token: "gone" }));
    const lock = acquireFolderLock(dir);
    const content = JSON.parse(readFileSync(lock.file, "utf8")) as { pid: number };
    expect(content.pid).toBe(process.pid);
    expect(statSync(lock.file).mode & 0o777).toBe(0o600);
    lock.release();
    expect(() => statSync(lock.file)).toThrow();
  });

  it("[STORE-FOLDER-LOCK] a holder killed but not yet reaped (a zombie) is dead: a restart right after a crash takes over", async () => {
    // `sleep 0.1` exits at once into a zombie: its parent, exec'd into `sleep 5`, never reaps it.
    const parent = spawn("sh", ["-c", "sleep 0.1 & echo $!; exec sleep 5"]);
    try {
      const zombie = Number(
        await new Promise<string>((resolve) =>
          parent.stdout.once("data", (d) => resolve(String(d))),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 400));
      const state = readFileSync(`/proc/${zombie}/stat`, "utf8").split(") ")[1]?.[0];
      expect(state).toBe("Z"); // signal 0 would still reach it
      const dir = fresh();
      plant(dir, JSON.stringify({ pid: zombie, token: "crashed" }));
      const lock = acquireFolderLock(dir);
      expect(JSON.parse(readFileSync(lock.file, "utf8"))).toMatchObject({ pid: process.pid });
      lock.release();
    } finally {
      parent.kill("SIGKILL");
    }
  });

  it("[STORE-FOLDER-LOCK] an unreadable lock is held while young (someone is writing it) and stale when old", () => {
    const dir = fresh();
    plant(dir, "");
    expect(() => acquireFolderLock(dir)).toThrow(/being locked by another process/);
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(dir, "server.lock"), old, old);
    acquireFolderLock(dir).release();
  });

  it("[STORE-FOLDER-LOCK] release() leaves a lock that is no longer ours", () => {
    const dir = fresh();
    const lock = acquireFolderLock(dir);
    plant(dir, JSON.stringify({ pid: process.ppid, token: "someone-else" }));
    lock.release();
    expect(readFileSync(join(dir, "server.lock"), "utf8")).toContain("someone-else");
  });
});
