/**
 * Shared harness of the CPNS Server end-to-end tests (issue #3): a real
 * server on a loopback port (serveNode from src/runtime/node-server.ts, the
 * same Node wiring as `npm start` but with memory storage and a controllable
 * clock), or the real `tsx src/runtime/node.ts` process on a temporary data
 * folder; and the clients the tests drive it with: the EntityAgent with a
 * MemoryKeyStore, createDigestFetch for users, raw fetch for hostile inputs, a
 * recording transport, and a node:http transport bound to a chosen local
 * address (127.0.0.x) so per-address rate limiting is tested on real sockets.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import type { IncomingMessage, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createStorage, type Storage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { expect } from "vitest";
import { EntityAgent } from "../../src/agent/agent.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import { createDigestFetch, type FetchLike } from "../../src/digest/index.ts";
import type { ProblemBody } from "../../src/errors.ts";
import { serveNode } from "../../src/runtime/node-server.ts";
import { createServerApp } from "../../src/server/app.ts";
import type { CpnsServerConfig } from "../../src/server/context.ts";
import type { SecurityEvent } from "../../src/server/events.ts";
import { createUserSealed } from "../admin-users.ts";
import { nodeTransport } from "./node-transport.ts";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const REALM = "cpns-e2e";
export const ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef";
export const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);

export type LoggedEvent = SecurityEvent & { ts: string };

export interface TestServer {
  readonly url: string;
  readonly storage: Storage;
  readonly masterKey: Uint8Array;
  /** The server's clock (ms); tests move it. */
  readonly clock: { now: number };
  /** Every security log line, as written. */
  readonly logLines: string[];
  events(): LoggedEvent[];
  /** Raw fetch of a path on this server. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Raw fetch with the admin Bearer token. */
  admin(path: string, init?: RequestInit): Promise<Response>;
  /** Creates a CPNS User through the admin API (password sealed); asserts 201. */
  createUser(userId: string, password: string): Promise<void>;
  /** POST /cpns/v1/admin/users with the password sealed; the response, unread and unchecked. */
  postUser(userId: string, password: string): Promise<Response>;
  /** A Digest fetch as a user (rspauth required), bound to this server's URL. */
  asUser(
    userId: string,
    password: string,
    transport?: FetchLike,
  ): (path: string, init?: RequestInit) => Promise<Response>;
  agent(options?: { fetch?: FetchLike; store?: MemoryKeyStore }): EntityAgent;
  close(): Promise<void>;
}

export type TestServerOptions = Partial<Omit<CpnsServerConfig, "now">> & {
  /** Use the test clock (default true); false means the real Date.now. */
  controlledClock?: boolean;
};

/** The socket's address, as src/runtime/node.ts takes it. */
export function socketAddress(_request: Request, env: unknown): string | undefined {
  return (env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket.remoteAddress;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const { controlledClock = true, ...overrides } = options;
  const clock = { now: T0 };
  const logLines: string[] = [];
  const storage = overrides.storage ?? createStorage({ driver: memoryDriver() });
  const masterKey = overrides.masterKey ?? new Uint8Array(randomBytes(32));
  const app = createServerApp({
    realm: REALM,
    adminToken: ADMIN_TOKEN,
    digestSecret: randomBytes(32).toString("base64url"),
    securityLog: (line) => logLines.push(line),
    clientAddress: socketAddress,
    ...overrides,
    storage,
    masterKey,
    ...(controlledClock ? { now: () => clock.now } : {}),
  });
  let listening!: (port: number) => void;
  const ready = new Promise<number>((resolve) => {
    listening = resolve;
  });
  const server = serveNode({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) =>
    listening(info.port),
  ) as Server;
  const port = await ready;
  const url = `http://127.0.0.1:${port}`;
  const raw = (path: string, init?: RequestInit) => fetch(`${url}${path}`, init);
  const admin = (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${ADMIN_TOKEN}`);
    return raw(path, { ...init, headers });
  };
  const postUser = (userId: string, password: string) =>
    createUserSealed({
      transport: (request) => fetch(request),
      base: url,
      adminToken: ADMIN_TOKEN,
      userId,
      password,
      // The envelope carries its sealing time: seal by the server's clock.
      now: () => (controlledClock ? clock.now : Date.now()),
    });
  return {
    url,
    storage,
    masterKey,
    clock,
    logLines,
    events: () => logLines.map((line) => JSON.parse(line) as LoggedEvent),
    fetch: raw,
    admin,
    postUser,
    async createUser(userId, password) {
      const res = await postUser(userId, password);
      expect(res.status, await res.clone().text()).toBe(201);
      await res.arrayBuffer();
    },
    asUser(userId, password, transport) {
      const digestFetch = createDigestFetch({
        username: userId,
        password,
        requireRspauth: true,
        ...(transport ? { fetch: transport } : {}),
      });
      return (path, init) => digestFetch(`${url}${path}`, init);
    },
    agent(agentOptions = {}) {
      return new EntityAgent({
        serverUrl: url,
        store: agentOptions.store ?? new MemoryKeyStore(),
        ...(agentOptions.fetch ? { fetch: agentOptions.fetch } : {}),
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** JSON request init. */
/**
 * The running test server's own configuration (its store, master key, realm,
 * admin token and clock), for a test that builds some of its handlers again
 * over the same data, behind a principal the test chooses.
 */
export function configOf(server: TestServer, digestSecret: string): CpnsServerConfig {
  return {
    realm: REALM,
    storage: server.storage,
    masterKey: server.masterKey,
    adminToken: ADMIN_TOKEN,
    digestSecret,
    now: () => server.clock.now,
  };
}

/** An answer's status and problem code; the body as text when it is not a JSON problem. */
export async function statusAndCode(res: Response): Promise<[number, string]> {
  const text = await res.text();
  try {
    return [res.status, (JSON.parse(text) as { code?: string }).code ?? text];
  } catch {
    return [res.status, text];
  }
}

export function json(method: string, body: unknown): RequestInit {
  return {
    method,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  };
}

/** Asserts an RFC 9457 problem with this status and code; returns the body. */
export async function expectProblem(
  res: Response,
  status: number,
  code: string,
): Promise<ProblemBody> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(text) as ProblemBody;
  expect(body.code, text).toBe(code);
  expect(body.status).toBe(status);
  return body;
}

export interface Exchange {
  method: string;
  url: string;
  authorization: string | null;
  status: number;
  authenticationInfo: string | null;
}

/** A transport that records every request's Authorization and every answer's status. */
export function recordingTransport(inner: FetchLike = (request) => fetch(request)) {
  const exchanges: Exchange[] = [];
  const transport: FetchLike = async (request) => {
    const authorization = request.headers.get("authorization");
    const res = await inner(request);
    exchanges.push({
      method: request.method,
      url: request.url,
      authorization,
      status: res.status,
      authenticationInfo: res.headers.get("authentication-info"),
    });
    return res;
  };
  return { transport, exchanges };
}

/**
 * A transport over node:http whose socket is bound to `localAddress` (any
 * 127.0.0.0/8 address reaches the loopback server on Linux), so the server
 * sees a different client address on a real socket.
 */
export function transportFrom(localAddress: string): FetchLike {
  return nodeTransport({ localAddress });
}

/**
 * A transport over a raw TCP socket that sends the body with
 * Transfer-Encoding: chunked and keeps reading after a failed write: a server
 * may answer (413) and close before a large body is through, which fetch
 * (undici) reports as "other side closed" instead of the answer.
 */
export const rawChunkedTransport: FetchLike = async (request) => {
  const body = request.body ? Buffer.from(await request.arrayBuffer()) : Buffer.alloc(0);
  const target = new URL(request.url);
  const lines = [
    `${request.method} ${target.pathname}${target.search} HTTP/1.1`,
    `host: ${target.host}`,
  ];
  request.headers.forEach((value, name) => {
    if (name !== "content-length" && name !== "host") lines.push(`${name}: ${value}`);
  });
  lines.push("transfer-encoding: chunked", "connection: close", "", "");
  return await new Promise<Response>((resolve, reject) => {
    const socket = connect(Number(target.port), target.hostname);
    let received = Buffer.alloc(0);
    let done = false;
    const finish = () => {
      if (done) return;
      const end = received.indexOf("\r\n\r\n");
      if (end < 0) return;
      const [statusLine, ...headerLines] = received
        .subarray(0, end)
        .toString("latin1")
        .split("\r\n");
      const headers = new Headers();
      for (const line of headerLines) {
        const colon = line.indexOf(":");
        headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      }
      const length = Number(headers.get("content-length") ?? "0");
      const payload = received.subarray(end + 4);
      if (payload.length < length) return;
      done = true;
      socket.destroy();
      const status = Number(statusLine?.split(" ")[1]);
      resolve(new Response(payload.subarray(0, length), { status, headers }));
    };
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      finish();
    });
    socket.on("error", () => {
      // A write after the server closed: the answer, if any, is already in `received`.
    });
    socket.on("close", () => {
      finish();
      if (!done)
        reject(new Error(`no complete answer: ${received.toString("latin1").slice(0, 200)}`));
    });
    socket.write(lines.join("\r\n"));
    let offset = 0;
    const pump = () => {
      while (offset < body.length && !socket.destroyed) {
        const piece = body.subarray(offset, offset + 4096);
        offset += piece.length;
        const frame = Buffer.concat([
          Buffer.from(`${piece.length.toString(16)}\r\n`),
          piece,
          Buffer.from("\r\n"),
        ]);
        if (!socket.write(frame)) {
          socket.once("drain", pump);
          return;
        }
      }
      if (!socket.destroyed) socket.write("0\r\n\r\n");
    };
    pump();
  });
};

// ---------------------------------------------------------------- spawned server

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const port = (probe.address() as AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
}

export interface SpawnedServer {
  readonly url: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * `tsx src/runtime/node.ts` with CPNS_DATA_DIR and PORT, in its own process
 * group (tsx forks a child), stopped with SIGTERM to that group only.
 */
export async function spawnCpnsServer(dataDir: string): Promise<SpawnedServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    join(REPO_ROOT, "node_modules", ".bin", "tsx"),
    ["src/runtime/node.ts"],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        CPNS_DATA_DIR: dataDir,
        PORT: String(port),
        HOST: "127.0.0.1",
        CPNS_MASTER_KEY: "",
        CPNS_ADMIN_TOKEN: "",
        CPNS_DIGEST_SECRET: "",
        CPNS_REALM: "",
        // The explicit development mode: these tests talk plain HTTP (TLS: test/interop/tls-processes.test.ts).
        CPNS_PLAIN_HTTP: "1",
        NO_COLOR: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    },
  );
  let log = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    log += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    log += chunk.toString("utf8");
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const signal = (name: NodeJS.Signals) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, name);
    } catch {
      // the group is gone already
    }
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    signal("SIGTERM");
    const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 5000).unref());
    if ((await Promise.race([exited, timeout])) === "timeout") signal("SIGKILL");
  };
  const deadline = Date.now() + 30_000;
  while (true) {
    if (child.exitCode !== null) throw new Error(`server exited early:\n${log}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`server did not start:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, output: () => log, stop };
}

/** Every regular file under `dir`, recursively, with its bytes. */
export function readTree(dir: string): Array<{ path: string; bytes: Buffer }> {
  const out: Array<{ path: string; bytes: Buffer }> = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) out.push(...readTree(path));
    else if (stat.isFile()) out.push({ path, bytes: readFileSync(path) });
  }
  return out;
}

/** The forms a secret could leak in: as given, lower/upper hex, base64url and base64 of its bytes. */
export function leakForms(secret: Uint8Array | string): string[] {
  const bytes = typeof secret === "string" ? Buffer.from(secret, "utf8") : Buffer.from(secret);
  const forms = [
    bytes.toString("hex"),
    bytes.toString("hex").toUpperCase(),
    bytes.toString("base64url"),
    bytes.toString("base64").replace(/=+$/, ""),
  ];
  if (typeof secret === "string") forms.push(secret);
  return forms;
}

/** Names which secrets (by label) appear in `haystack`, in any leak form or as raw bytes. */
export function findLeaks(
  haystack: Buffer | string,
  secrets: Record<string, Uint8Array | string>,
): string[] {
  const bytes = typeof haystack === "string" ? Buffer.from(haystack, "utf8") : haystack;
  const text = bytes.toString("latin1");
  const found: string[] = [];
  for (const [label, secret] of Object.entries(secrets)) {
    const raw = typeof secret === "string" ? Buffer.from(secret, "utf8") : Buffer.from(secret);
    if (raw.length >= 8 && bytes.includes(raw)) found.push(`${label} (raw bytes)`);
    for (const form of leakForms(secret)) {
      if (text.includes(form)) found.push(`${label} (${form.slice(0, 12)}…)`);
    }
  }
  return found;
}
