// The Node store's writes (src/runtime/node-atomic-fs.ts; issue #9 reliability: "SIGKILL ... no
// half-written record"): the fs layout of unstorage's own driver, so existing data folders read
// unchanged, and writes that a crash cannot tear. A real child process writes two large values in
// turn to one key and is SIGKILLed at random moments; every time, the record on disk is exactly one
// of the two values. (unstorage's plain fs driver, which writes in place, leaves a truncated file
// in this harness: see spec/decisions.md.)
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createStorage } from "unstorage";
import fsDriver from "unstorage/drivers/fs";
import { afterEach, describe, expect, it } from "vitest";
import { atomicFsDriver } from "../../src/runtime/node-atomic-fs.ts";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("[SOAK-CRASH] the Node store writes whole records or none", () => {
  it("[SOAK-CRASH] same layout as unstorage's fs driver: either reads what the other wrote; no temporary file is ever a key", async () => {
    dir = mkdtempSync(join(tmpdir(), "cpns-atomic-"));
    const base = join(dir, "store");
    const atomic = createStorage({ driver: atomicFsDriver({ base }) });
    const plain = createStorage({ driver: fsDriver({ base }) });
    await plain.setItem("entity:YWxpY2U", { v: 1, entityId: "alice" });
    expect(await atomic.getItem("entity:YWxpY2U")).toEqual({ v: 1, entityId: "alice" });
    await atomic.setItem("otk-peer:cGVlcg:b3Rr", { id: "otk" });
    expect(await plain.getItem("otk-peer:cGVlcg:b3Rr")).toEqual({ id: "otk" });
    expect(existsSync(join(base, "otk-peer", "cGVlcg", "b3Rr"))).toBe(true);
    expect((await atomic.getKeys()).sort()).toEqual(["entity:YWxpY2U", "otk-peer:cGVlcg:b3Rr"]);
    await atomic.removeItem("entity:YWxpY2U");
    expect(await atomic.hasItem("entity:YWxpY2U")).toBe(false);
    await expect(atomic.setItem("a:..", "x")).rejects.toThrow();
  });

  it("[SOAK-CRASH] a writer SIGKILLed at random moments, eight times: the record is always one whole value", async () => {
    dir = mkdtempSync(join(tmpdir(), "cpns-atomic-"));
    const base = join(dir, "store");
    const size = 2 * 1024 * 1024;
    const script = join(REPO_ROOT, "test", "fixtures", "atomic-writer.ts");
    const record = join(base, "record", "key");
    for (let round = 0; round < 8; round++) {
      const child = spawn(join(REPO_ROOT, "node_modules", ".bin", "tsx"), [script, base], {
        cwd: REPO_ROOT,
        stdio: ["ignore", "pipe", "inherit"],
        detached: true, // its own process group: tsx runs the writer in a child of its own
      });
      await new Promise<void>((resolve, reject) => {
        child.stdout.once("data", () => resolve());
        child.once("exit", (code) => reject(new Error(`the writer exited early (${code})`)));
      });
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 200));
      const exited = new Promise((resolve) => child.once("exit", resolve));
      process.kill(-(child.pid as number), "SIGKILL"); // tsx and the writer under it
      await exited;
      await new Promise((resolve) => setTimeout(resolve, 200)); // the writer's own exit
      const content = readFileSync(record, "utf8");
      expect(content.length, `round ${round}`).toBe(size);
      expect(content === "a".repeat(size) || content === "b".repeat(size), `round ${round}`).toBe(
        true,
      );
    }
    // What a crash leaves behind is beside the store, never inside it.
    expect(readdirSync(base)).toEqual(["record"]);
  }, 120_000);
});
