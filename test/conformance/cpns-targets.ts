/**
 * The targets the CPNS story suite (story.ts) runs against, each started as a
 * real process on a free loopback port (test/conformance/spawn.ts: own process
 * group, wait for /health, kill the group afterwards) and handed over as a
 * base URL and an admin token, nothing else. A new target is one function
 * here returning a StoryTarget, and one line in its test file:
 * `cpnsStorySuite("name", startX)`.
 *
 * Node (fs): `tsx src/runtime/node.ts`, the embedded default, on its own
 * temporary data folder, in the explicit development mode CPNS_PLAIN_HTTP=1
 * (plain HTTP on loopback: the global fetch would not trust the generated
 * self-signed certificate; TLS is covered by test/interop/tls-processes.test.ts).
 *
 * Two instances in one process, round robin: two CPNS Server apps on one
 * memory store and one in-process coordination, behind one loopback port that
 * hands each request to the other app in turn, so every Digest answer, OTK
 * step and relayed request meets the instance that did not issue the
 * challenge. It checks that the suite assumes nothing a fleet breaks before
 * the real fleets (Node x2 + Redis, workerd) are plugged in.
 *
 * An already running server: CPNS_CONFORMANCE_URL and
 * CPNS_CONFORMANCE_ADMIN_TOKEN (e.g. a deployed Worker).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import type { IncomingMessage, Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStorage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { serveNode } from "../../src/runtime/node-server.ts";
import { createServerApp } from "../../src/server/app.ts";
import { memoryCoordination } from "../../src/store/coordination.ts";
import { freePort, REPO_ROOT, startRuntime } from "./spawn.ts";
import type { StoryTarget } from "./story.ts";

/** `tsx src/runtime/node.ts` with a fresh data folder (fs store), plain HTTP on 127.0.0.1. */
export async function startCpnsNode(): Promise<StoryTarget> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "cpns-story-node-"));
  const adminToken = randomBytes(24).toString("base64url");
  const runtime = await startRuntime({
    name: "cpns-node",
    command: join(REPO_ROOT, "node_modules", ".bin", "tsx"),
    args: ["src/runtime/node.ts"],
    port,
    env: {
      PORT: String(port),
      HOST: "127.0.0.1",
      CPNS_DATA_DIR: dataDir,
      CPNS_ADMIN_TOKEN: adminToken,
      // The node entry generates the other secrets into its data folder.
      CPNS_MASTER_KEY: "",
      CPNS_DIGEST_SECRET: "",
      CPNS_ADMIN_TRANSPORT_KEY: "",
      CPNS_REALM: "cpns-story",
      CPNS_STORAGE_URL: "",
      CPNS_PLAIN_HTTP: "1",
    },
    startupTimeoutMs: 90_000,
    cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
  });
  return { baseUrl: runtime.baseUrl, adminToken, close: () => runtime.stop() };
}

/** The server named by CPNS_CONFORMANCE_URL (left running), or undefined when unset. */
export function externalTarget(
  env: Readonly<Record<string, string | undefined>> = process.env,
): (() => Promise<StoryTarget>) | undefined {
  const baseUrl = env.CPNS_CONFORMANCE_URL?.trim();
  if (!baseUrl) return undefined;
  const adminToken = env.CPNS_CONFORMANCE_ADMIN_TOKEN?.trim();
  if (!adminToken) throw new Error("CPNS_CONFORMANCE_URL needs CPNS_CONFORMANCE_ADMIN_TOKEN");
  return async () => ({ baseUrl, adminToken, close: async () => {} });
}

/**
 * One target shared by `runs` suites in turn: started by the first, closed
 * after the last (the same long-lived process meets every run).
 */
export function sharedTarget(
  start: () => Promise<StoryTarget>,
  runs: number,
): () => Promise<StoryTarget> {
  let started: Promise<StoryTarget> | undefined;
  let closed = 0;
  return async () => {
    started ??= start();
    const target = await started;
    return {
      baseUrl: target.baseUrl,
      adminToken: target.adminToken,
      close: async () => {
        closed++;
        if (closed === runs) await target.close();
      },
    };
  };
}

/** Two app instances on one store and one coordination, answering requests in turn on one port. */
export async function startRoundRobinPair(): Promise<StoryTarget> {
  const adminToken = randomBytes(24).toString("base64url");
  const config = {
    realm: "cpns-story-pair",
    storage: createStorage({ driver: memoryDriver() }),
    masterKey: new Uint8Array(randomBytes(32)),
    adminToken,
    digestSecret: randomBytes(32).toString("base64url"),
    adminTransportKey: new Uint8Array(randomBytes(32)),
    coordination: memoryCoordination(),
    clientAddress: (_request: Request, env: unknown) =>
      (env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket.remoteAddress,
  };
  const instances = [createServerApp(config), createServerApp(config)];
  let turn = 0;
  let listening!: (port: number) => void;
  const ready = new Promise<number>((resolve) => {
    listening = resolve;
  });
  const server = serveNode(
    {
      fetch: (request, env) => {
        const app = instances[turn++ % instances.length];
        if (!app) throw new Error("no instance");
        return app.fetch(request, env);
      },
      port: 0,
      hostname: "127.0.0.1",
    },
    (info) => listening(info.port),
  ) as Server;
  const port = await ready;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    adminToken,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** Hop-by-hop fields (RFC 9110 §7.6.1) and what fetch computes itself: not forwarded. */
const NOT_FORWARDED = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "te",
  "upgrade",
  "host",
  "content-length",
]);

/**
 * A load balancer in front of several instances: one port, each request to the
 * next instance in turn (round robin per request), method, target, headers and
 * body as received. What a fleet behind a balancer looks like to a client: no
 * instance sees two consecutive requests of one client.
 */
export async function roundRobinProxy(
  upstreams: readonly string[],
): Promise<{ baseUrl: string; close(): Promise<void> }> {
  let turn = 0;
  let listening!: (port: number) => void;
  const ready = new Promise<number>((resolve) => {
    listening = resolve;
  });
  const server = serveNode(
    {
      fetch: async (request) => {
        const upstream = upstreams[turn++ % upstreams.length] as string;
        const url = new URL(request.url);
        const headers = new Headers();
        request.headers.forEach((value, name) => {
          if (!NOT_FORWARDED.has(name)) headers.set(name, value);
        });
        const body =
          request.method === "GET" || request.method === "HEAD"
            ? undefined
            : new Uint8Array(await request.arrayBuffer());
        return fetch(`${upstream}${url.pathname}${url.search}`, {
          method: request.method,
          headers,
          body,
          redirect: "manual",
        });
      },
      port: 0,
      hostname: "127.0.0.1",
    },
    (info) => listening(info.port),
  ) as Server;
  const port = await ready;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
