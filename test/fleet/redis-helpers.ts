/**
 * A real Redis and a real Node fleet for the tests (issue #11, "Node fleet"):
 * `startRedis()` runs Debian's redis-server on a free loopback port with no
 * persistence (`--save '' --appendonly no`), in its own process group, and
 * kills it afterwards; it never touches a system Redis. `startRedisFleet()`
 * starts two `tsx src/runtime/node.ts` processes (plain HTTP development mode,
 * one data folder each) on one such Redis and returns what
 * test/fleet-scenarios.ts and the conformance suite need: base URLs, the
 * admin token, restart and close.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort, REPO_ROOT } from "../conformance/spawn.ts";
import type { Fleet } from "../fleet-scenarios.ts";

export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  /** A fresh client (the caller quits it). */
  client(): Redis;
  /** Kills the server (the port stays ours for `start`). */
  stop(): Promise<void>;
  /** Starts it again on the same port (empty: no persistence). */
  start(): Promise<void>;
  /** SIGSTOP: still connected, answers nothing. */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
}

interface Group {
  child: ChildProcess;
  output(): string;
  signal(name: NodeJS.Signals): void;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function spawnGroup(command: string, args: string[], env: Record<string, string>): Group {
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group: tsx forks a child
  });
  let log = "";
  const append = (chunk: Buffer) => {
    log += chunk.toString("utf8");
    if (log.length > 64 * 1024) log = log.slice(-64 * 1024);
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  const signal = (name: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, name);
    } catch {
      // the group is gone already
    }
  };
  return {
    child,
    output: () => log,
    signal,
    stop: async (first: NodeJS.Signals = "SIGTERM") => {
      signal(first);
      const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 5000).unref());
      if ((await Promise.race([exited, timeout])) === "timeout") signal("SIGKILL");
      await exited;
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startRedis(): Promise<RedisProcess> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let group: Group | undefined;
  const start = async () => {
    group = spawnGroup(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      {},
    );
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (group.child.exitCode !== null) {
        throw new Error(`redis-server exited early:\n${group.output()}`);
      }
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0 });
      probe.on("error", () => {});
      try {
        await probe.connect();
        if ((await probe.ping()) === "PONG") return;
      } catch {
        // not listening yet
      } finally {
        probe.disconnect();
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not start:\n${group.output()}`);
      await sleep(100);
    }
  };
  await start();
  return {
    port,
    url,
    client: () => new Redis(url, { maxRetriesPerRequest: 1 }).on("error", () => {}),
    stop: async () => {
      group?.signal("SIGCONT");
      await group?.stop("SIGKILL");
    },
    start,
    pause: () => group?.signal("SIGSTOP"),
    resume: () => group?.signal("SIGCONT"),
  };
}

export interface NodeInstance {
  readonly base: string;
  readonly dataDir: string;
  output(): string;
  stop(): Promise<void>;
  /** The same instance (port, data folder, settings) started again. */
  restart(): Promise<void>;
  /** Whether the process is still running. */
  alive(): boolean;
}

/** The four secrets every instance of one fleet shares. */
export function fleetSecrets(): Record<string, string> {
  return {
    CPNS_MASTER_KEY: randomBytes(32).toString("base64url"),
    CPNS_ADMIN_TOKEN: randomBytes(24).toString("base64url"),
    CPNS_DIGEST_SECRET: randomBytes(32).toString("base64url"),
    CPNS_ADMIN_TRANSPORT_KEY: randomBytes(32).toString("base64url"),
  };
}

/** `tsx src/runtime/node.ts` on CPNS_STORAGE_URL, plain HTTP, its own data folder. */
export async function startNodeInstance(env: Record<string, string>): Promise<NodeInstance> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), "cpns-fleet-"));
  let group: Group;
  const start = async () => {
    group = spawnGroup(join(REPO_ROOT, "node_modules", ".bin", "tsx"), ["src/runtime/node.ts"], {
      CPNS_REALM: "cpns-fleet",
      ...env,
      CPNS_DATA_DIR: dataDir,
      PORT: String(port),
      HOST: "127.0.0.1",
      CPNS_PLAIN_HTTP: "1",
    });
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (group.child.exitCode !== null || group.child.signalCode !== null) {
        throw new Error(`cpns server exited early:\n${group.output()}`);
      }
      try {
        const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) });
        await res.arrayBuffer();
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await group.stop("SIGKILL");
        throw new Error(`cpns server did not start:\n${group.output()}`);
      }
      await sleep(200);
    }
  };
  await start();
  return {
    base,
    dataDir,
    output: () => group.output(),
    stop: () => group.stop(),
    restart: async () => {
      await group.stop();
      await start();
    },
    alive: () => group.child.exitCode === null && group.child.signalCode === null,
  };
}

export interface RedisFleet extends Fleet {
  redis: RedisProcess;
  nodes: [NodeInstance, NodeInstance];
}

/**
 * Two CPNS Server processes sharing one fresh Redis (records and coordination),
 * plain HTTP on loopback. `close()` stops both and the Redis, and removes the
 * data folders.
 */
export async function startRedisFleet(): Promise<RedisFleet> {
  const redis = await startRedis();
  const secrets = fleetSecrets();
  const env = { ...secrets, CPNS_STORAGE_URL: `${redis.url}/0?prefix=fleet-test` };
  const started = await Promise.allSettled([startNodeInstance(env), startNodeInstance(env)]);
  const nodes = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  const failed = started.find((s) => s.status === "rejected");
  const close = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await redis.stop();
    for (const node of nodes) rmSync(node.dataDir, { recursive: true, force: true });
  };
  if (failed) {
    await close();
    throw (failed as PromiseRejectedResult).reason;
  }
  const [one, two] = nodes as [NodeInstance, NodeInstance];
  const fetcher = (request: Request) => fetch(request);
  return {
    adminToken: secrets.CPNS_ADMIN_TOKEN as string,
    instances: [
      { base: one.base, fetch: fetcher },
      { base: two.base, fetch: fetcher },
    ],
    redis,
    nodes: [one, two],
    close,
  };
}
