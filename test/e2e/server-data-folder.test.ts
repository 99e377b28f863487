/**
 * Issue #9 items 10, 11, 2 (second process) and 5 (flush on shutdown) with the
 * real `tsx src/runtime/node.ts` process on a real data folder: an existing
 * folder left 0755/0644 is tightened to owner-only; a second process on a
 * folder a live process holds refuses to start (exit status 1, a clear
 * message), a SIGKILLed holder's stale lock is taken over; and a clean
 * SIGTERM loses no security log line, aggregated summaries included.
 */

import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createDigestFetch } from "../../src/digest/index.ts";
import { createUserSealed } from "../admin-users.ts";
import { freePort, REPO_ROOT, type SpawnedServer, spawnCpnsServer } from "./server-helpers.ts";

let parentDir: string | undefined;
const running: SpawnedServer[] = [];
afterEach(async () => {
  for (const server of running.splice(0)) await server.stop();
  if (parentDir) rmSync(parentDir, { recursive: true, force: true });
  parentDir = undefined;
});

function freshFolder(): string {
  parentDir = mkdtempSync(join(tmpdir(), "cpns-e2e-folder-"));
  return join(parentDir, "data");
}

async function start(dataDir: string): Promise<SpawnedServer> {
  const server = await spawnCpnsServer(dataDir);
  running.push(server);
  return server;
}

/** Every path under `dir` with its permission bits. */
function modes(dir: string): Array<[string, number, boolean]> {
  const out: Array<[string, number, boolean]> = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const info = statSync(path);
    out.push([path, info.mode & 0o777, info.isDirectory()]);
    if (info.isDirectory()) out.push(...modes(path));
  }
  return out;
}

/** A second server process on `dataDir`: its exit status and everything it printed. */
async function runToExit(dataDir: string): Promise<{ code: number | null; output: string }> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    join(REPO_ROOT, "node_modules", ".bin", "tsx"),
    ["src/runtime/node.ts"],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        CPNS_DATA_DIR: dataDir,
        PORT: String(port),
        NO_COLOR: "1",
        CPNS_PLAIN_HTTP: "1", // these tests are about the data folder, not TLS
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  clearTimeout(timer);
  return { code, output };
}

describe("[STORE-FOLDER-MODES] the data folder is owner-only", () => {
  it("[STORE-FOLDER-MODES] an existing folder left 0755 with a 0644 file is tightened; every file the server writes is 0600, every folder 0700", async () => {
    const dataDir = freshFolder();
    mkdirSync(join(dataDir, "store"), { recursive: true });
    chmodSync(dataDir, 0o755);
    chmodSync(join(dataDir, "store"), 0o755);
    writeFileSync(join(dataDir, "store", "left-over"), "x", { mode: 0o644 });
    chmodSync(join(dataDir, "store", "left-over"), 0o644);
    const server = await start(dataDir);
    const token = readFileSync(join(dataDir, "admin.token"), "utf8").trim();
    const created = await createUserSealed({
      transport: (request) => fetch(request),
      base: server.url,
      adminToken: token,
      userId: "alice",
      password: "folder-test-Qx7v-pLm2-brisk",
    });
    expect(created.status).toBe(201);
    await server.stop();
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    const all = modes(dataDir);
    expect(all.filter(([, , dir]) => !dir).length).toBeGreaterThan(3);
    for (const [path, mode, dir] of all) expect([path, mode]).toEqual([path, dir ? 0o700 : 0o600]);
  }, 60_000);
});

describe("[STORE-FOLDER-LOCK] one server process per data folder", () => {
  it("[STORE-FOLDER-LOCK] a second process on a folder a live process holds exits non-zero with a clear message; the first keeps serving", async () => {
    const dataDir = freshFolder();
    const first = await start(dataDir);
    const second = await runToExit(dataDir);
    expect(second.code).toBe(1);
    expect(second.output).toMatch(/data folder .* is in use by another CPNS Server \(pid \d+\)/);
    expect((await fetch(`${first.url}/health`)).status).toBe(200);
  }, 60_000);

  it("[STORE-FOLDER-LOCK] a lock left by a SIGKILLed holder is stale: the next start takes it over", async () => {
    const dataDir = freshFolder();
    const first = await start(dataDir);
    const holder = JSON.parse(readFileSync(join(dataDir, "server.lock"), "utf8")) as {
      pid: number;
    };
    process.kill(holder.pid, "SIGKILL");
    await first.stop();
    expect(readFileSync(join(dataDir, "server.lock"), "utf8")).toContain(String(holder.pid));
    const next = await start(dataDir);
    expect((await fetch(`${next.url}/health`)).status).toBe(200);
  }, 60_000);
});

describe("[LOG-SHUTDOWN] a clean shutdown loses no security log line", () => {
  it("[LOG-SHUTDOWN] 20 users created and 30 failures from one address, then SIGTERM at once: 20 user.created lines, the first auth.failed and a summary with count 29", async () => {
    const dataDir = freshFolder();
    const server = await start(dataDir);
    const token = readFileSync(join(dataDir, "admin.token"), "utf8").trim();
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const res = await createUserSealed({
          transport: (request) => fetch(request),
          base: server.url,
          adminToken: token,
          userId: `user-${i}`,
          password: `shutdown-test-${i}-Kw9r-zT4q`,
        });
        expect(res.status).toBe(201);
      }),
    );
    for (let i = 0; i < 30; i++) {
      const res = await createDigestFetch({
        username: `user-${i % 20}`,
        password: "wrong",
        requireRspauth: false,
      })(`${server.url}/cpns/v1/entities`);
      await res.arrayBuffer();
    }
    await server.stop();
    const events = readFileSync(join(dataDir, "security.log"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { event: string; count?: number });
    expect(events.filter((e) => e.event === "user.created")).toHaveLength(20);
    const failed = events.filter((e) => e.event === "auth.failed");
    expect(failed.map((e) => e.count ?? 1)).toEqual([1, 29]);
    expect(statSync(join(dataDir, "security.log")).mode & 0o777).toBe(0o600);
  }, 60_000);
});
