/**
 * The CPNS Server on Deno with Deno KV (issue #11, Deno target), every check
 * against real Deno processes on loopback:
 *
 * - the coordination port's contract (test/coordination-contract.ts) through
 *   TWO Deno processes on ONE KV sqlite file (test/deno/coordination-harness.ts
 *   exposes each process's adapter over HTTP), so every burst meets the other
 *   process's writes only in the KV;
 * - the fleet scenarios (test/fleet-scenarios.ts) against TWO
 *   `deno run src/runtime/deno.ts` servers on one KV file;
 * - one server: /health, /info, an enrollment and whoami through EntityAgent;
 *   records and the ledger epoch survive a restart;
 * - two servers started at once with no secrets agree on the ones they keep
 *   in the KV;
 * - `npm run start:deno` (deno task serve) on a fresh data folder reaches /health.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { EntityAgent } from "../../src/agent/agent.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import { createDigestFetch } from "../../src/digest/index.ts";
import type { BudgetClaim } from "../../src/store/budgets.ts";
import type { Coordination } from "../../src/store/coordination.ts";
import { createUserSealed } from "../admin-users.ts";
import { type CoordinationPair, coordinationContract } from "../coordination-contract.ts";
import { type Fleet, twoInstanceScenarios } from "../fleet-scenarios.ts";
import {
  DENO_KV_FLAGS,
  type DenoServer,
  sharedSecretsEnv,
  startDenoServer,
} from "./deno-server.ts";
import { bin, freePort, type RuntimeProcess, startRuntime } from "./spawn.ts";

const STARTUP = 180_000;
// Real processes on a loaded machine: the shared contract's bursts cross two processes and a file lock.
vi.setConfig({ testTimeout: 120_000 });

/** A Coordination whose every call is a request to one harness process. */
/** The harness's acquire/release, for the lease tests. */
async function rpc<T>(base: string, op: string, ...args: unknown[]): Promise<T> {
  const res = await fetch(`${base}/rpc`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ op, args }),
  });
  const body = (await res.json()) as { result?: T; error?: string; code?: string };
  if (!res.ok)
    throw Object.assign(new Error(body.error ?? `HTTP ${res.status}`), { code: body.code });
  return body.result as T;
}

async function remoteCoordination(base: string): Promise<Coordination> {
  const call = <T>(op: string, ...args: unknown[]) => rpc<T>(base, op, ...args);
  const epoch = Uint8Array.from(await call<number[]>("epoch"));
  return {
    ledger: {
      epoch,
      accept: (nonce, nc, expiresAtMs) => call<boolean>("accept", nonce, nc, expiresAtMs),
    },
    budgets: {
      take: (claims: readonly BudgetClaim[], now: number) => call<number>("take", claims, now),
      refund: (claims) => call<void>("refund", claims),
      clear: (keys) => call<void>("clear", keys),
      trust: (pairs, until) => call<void>("trust", pairs, until),
      trusted: async (pairs, now) => new Set(await call<string[]>("trusted", pairs, now)),
    },
    locks: {
      run: async (key, task) => {
        const token = await call<string>("acquire", key);
        try {
          return await task();
        } finally {
          await call<void>("release", key, token);
        }
      },
    },
  };
}

async function startHarness(kvPath: string): Promise<RuntimeProcess> {
  const port = await freePort();
  return startRuntime({
    name: "deno-kv-harness",
    command: bin("deno"),
    args: [...DENO_KV_FLAGS, "test/deno/coordination-harness.ts"],
    port,
    env: {
      CPNS_KV_PATH: kvPath,
      PORT: String(port),
      CPNS_KV_LEASE_MS: "6000",
      CPNS_KV_LOCK_WAIT_MS: "2000",
    },
    startupTimeoutMs: 90_000,
  });
}

describe("[FLEET-DENO-KV] Deno KV coordination, two Deno processes on one KV file", () => {
  let dir: string;
  let harnesses: RuntimeProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "cpns-deno-kv-"));
    const kvPath = join(dir, "shared.kv");
    harnesses = await Promise.all([startHarness(kvPath), startHarness(kvPath)]);
  }, STARTUP);

  afterAll(async () => {
    await Promise.all(harnesses.map((h) => h.stop()));
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  coordinationContract(
    "Deno KV, two processes on one sqlite KV file",
    async (): Promise<CoordinationPair> => {
      const [one, two] = harnesses as [RuntimeProcess, RuntimeProcess];
      const [a, b] = await Promise.all([
        remoteCoordination(one.baseUrl),
        remoteCoordination(two.baseUrl),
      ]);
      return { a, b, close: async () => {} };
    },
  );

  it("[FLEET-DENO-KV] a 5,000-character nonce, budget key, trusted pair and lock id (an attacker's long user name) work as short ones, across both processes", async () => {
    const [one, two] = harnesses as [RuntimeProcess, RuntimeProcess];
    const [a, b] = await Promise.all([
      remoteCoordination(one.baseUrl),
      remoteCoordination(two.baseUrl),
    ]);
    const long = (label: string) => `${label}:${"x".repeat(5000)}${randomBytes(4).toString("hex")}`;
    const nonce = long("nonce");
    const expires = Date.now() + 60_000;
    expect(await a.ledger.accept(nonce, 1, expires)).toBe(true);
    expect(await b.ledger.accept(nonce, 1, expires)).toBe(false);
    const claim: BudgetClaim = {
      key: long("p"),
      rule: { free: 1, windowMs: 60_000, baseDelayMs: 1000 },
    };
    const now = Date.now();
    expect(await a.budgets.take([claim], now)).toBe(0);
    expect(await b.budgets.take([claim], now)).toBeGreaterThan(0);
    const pair = long("t");
    await a.budgets.trust([pair], now + 60_000);
    expect([...(await b.budgets.trusted([pair], now))]).toEqual([pair]);
    expect(await b.locks.run(long("id"), async () => "ran")).toBe("ran");
  });

  it("[FLEET-DENO-KV] a lock held by another process is waited for a bounded time, then refused with ERR_KV_CONTENDED; a holder that died loses its lease when it ends", async () => {
    const [one, two] = harnesses as [RuntimeProcess, RuntimeProcess];
    const id = `id:${randomBytes(6).toString("hex")}`;
    // Process one takes the lease and never gives it back, as if it died holding it.
    await rpc<string>(one.baseUrl, "acquire", id);
    await expect(rpc<string>(two.baseUrl, "acquire", id)).rejects.toMatchObject({
      code: "ERR_KV_CONTENDED",
    });
    // The lease (6 s here) ends; a waiter then gets it, and its release frees the id.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const token = await rpc<string>(two.baseUrl, "acquire", id);
    expect(typeof token).toBe("string");
    await rpc<void>(two.baseUrl, "release", id, token);
    const again = await rpc<string>(one.baseUrl, "acquire", id);
    await rpc<void>(one.baseUrl, "release", id, again);
  });

  it("[FLEET-DENO-KV] a release by a holder whose lease ran out does not free the lock its successor holds", async () => {
    const [one, two] = harnesses as [RuntimeProcess, RuntimeProcess];
    const id = `id:${randomBytes(6).toString("hex")}`;
    const stale = await rpc<string>(one.baseUrl, "acquire", id);
    await new Promise((resolve) => setTimeout(resolve, 6100));
    const fresh = await rpc<string>(two.baseUrl, "acquire", id);
    await rpc<void>(one.baseUrl, "release", id, stale); // too late: not ours any more
    await expect(rpc<string>(one.baseUrl, "acquire", id)).rejects.toMatchObject({
      code: "ERR_KV_CONTENDED",
    });
    await rpc<void>(two.baseUrl, "release", id, fresh);
  });
});

describe("[FLEET-DENO-SERVER] the CPNS Server on Deno (deno run --unstable-kv src/runtime/deno.ts)", () => {
  let dir: string;
  let env: Record<string, string>;
  let servers: DenoServer[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "cpns-deno-fleet-"));
    env = sharedSecretsEnv();
    const kvPath = join(dir, "fleet.kv");
    servers = await Promise.all([
      startDenoServer({ kvPath, env }),
      startDenoServer({ kvPath, env }),
    ]);
  }, STARTUP);

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  twoInstanceScenarios("two Deno processes on one Deno KV file", async (): Promise<Fleet> => {
    const [one, two] = servers as [DenoServer, DenoServer];
    return {
      adminToken: one.adminToken,
      instances: [
        { base: one.baseUrl, fetch: (request: Request) => fetch(request) },
        { base: two.baseUrl, fetch: (request: Request) => fetch(request) },
      ],
      close: async () => {},
    };
  });

  it("[FLEET-DENO-SERVER] answers /health and /info, and enrolls an entity that then authenticates (whoami) over real HTTP", async () => {
    const [one] = servers as [DenoServer];
    const health = await fetch(`${one.baseUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const info = (await (await fetch(`${one.baseUrl}/cpns/v1`)).json()) as Record<string, unknown>;
    expect(info).toMatchObject({ service: "cpns", version: 1, realm: "cpns-deno" });

    const userId = `deno-${randomBytes(4).toString("hex")}`;
    const password = `${userId}-Correct-Horse-Battery`;
    const created = await createUserSealed({
      transport: (request) => fetch(request),
      base: one.baseUrl,
      adminToken: one.adminToken,
      userId,
      password,
    });
    expect(created.status).toBe(201);
    const store = new MemoryKeyStore();
    const agent = new EntityAgent({ serverUrl: one.baseUrl, store });
    const entityId = `pne-${randomBytes(4).toString("hex")}`;
    await agent.enroll({ userId, password, entityId, type: "PNE" });
    expect(await agent.whoami(entityId)).toMatchObject({ entityId, userId, type: "PNE" });
  });
});

describe("[FLEET-DENO-SECRETS] secrets kept in the KV", () => {
  it(
    "[FLEET-DENO-SECRETS] two servers started at once on one KV file with no secrets set agree on the ones they generate; a restart keeps them and every record",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "cpns-deno-secrets-"));
      const kvPath = join(dir, "deno.kv");
      const noSecrets = { CPNS_REALM: "cpns-deno" };
      let servers: DenoServer[] = [];
      try {
        servers = await Promise.all([
          startDenoServer({ kvPath, env: noSecrets }),
          startDenoServer({ kvPath, env: noSecrets }),
        ]);
        const adminToken = readFileSync(join(dir, "admin.token"), "utf8").trim();
        expect(adminToken.length).toBeGreaterThanOrEqual(32);
        const pins = await Promise.all(
          servers.map(
            async (s) =>
              (
                (await (await fetch(`${s.baseUrl}/.well-known/cpns-admin-key`)).json()) as {
                  pin: string;
                }
              ).pin,
          ),
        );
        expect(pins[0]).toBeTruthy();
        expect(pins[1]).toBe(pins[0]);

        // A user created through one is known to the other (same master key, same store) …
        const [one, two] = servers as [DenoServer, DenoServer];
        const userId = `kept-${randomBytes(4).toString("hex")}`;
        const password = `${userId}-Correct-Horse-Battery`;
        const created = await createUserSealed({
          transport: (request) => fetch(request),
          base: one.baseUrl,
          adminToken,
          userId,
          password,
        });
        expect(created.status).toBe(201);
        const store = new MemoryKeyStore();
        const entityId = `pne-${randomBytes(4).toString("hex")}`;
        await new EntityAgent({ serverUrl: two.baseUrl, store }).enroll({
          userId,
          password,
          entityId,
          type: "PNE",
        });

        // … and after both stop, a new server on the file still serves that entity.
        await Promise.all(servers.map((s) => s.close()));
        servers = [await startDenoServer({ kvPath, env: noSecrets })];
        const again = servers[0] as DenoServer;
        expect(readFileSync(join(dir, "admin.token"), "utf8").trim()).toBe(adminToken);
        expect(
          await new EntityAgent({ serverUrl: again.baseUrl, store }).whoami(entityId),
        ).toMatchObject({ entityId, userId });
      } finally {
        await Promise.all(servers.map((s) => s.close()));
        rmSync(dir, { recursive: true, force: true });
      }
    },
    STARTUP,
  );
});

describe("[FLEET-DENO-KV] the ledger survives a restart (its epoch and entries are in the KV)", () => {
  it(
    "[FLEET-DENO-KV][DIGEST-REPLAY-RESTART] a request accepted before a restart is refused after it; a challenge issued before it is still answered once",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "cpns-deno-restart-"));
      const kvPath = join(dir, "deno.kv");
      const env = sharedSecretsEnv();
      let server = await startDenoServer({ kvPath, env });
      try {
        const userId = `restart-${randomBytes(4).toString("hex")}`;
        const password = `${userId}-Correct-Horse-Battery`;
        const created = await createUserSealed({
          transport: (request) => fetch(request),
          base: server.baseUrl,
          adminToken: server.adminToken,
          userId,
          password,
        });
        expect(created.status).toBe(201);
        // Two genuine answers to one challenge (nc 1 and 2), computed but held back.
        const held: Request[] = [];
        const client = createDigestFetch({
          username: userId,
          password,
          fetch: async (request) => {
            if (!request.headers.has("authorization")) return fetch(request);
            held.push(request.clone());
            return new Response(null, { status: 204 });
          },
        });
        await client(`${server.baseUrl}/cpns/v1/entities`);
        await client(`${server.baseUrl}/cpns/v1/entities`);
        expect(held).toHaveLength(2);
        const [first, second] = held as [Request, Request];
        const send = (request: Request) =>
          fetch(request.url.replace(/^http:\/\/[^/]+/, server.baseUrl), {
            headers: request.headers,
          }).then((res) => res.status);
        expect(await send(first)).toBe(200);

        await server.close();
        server = await startDenoServer({ kvPath, env });

        expect(await send(first)).toBe(401); // replayed after the restart
        expect(await send(second)).toBe(200); // same nonce, next nc: the epoch did not change
        expect(await send(second)).toBe(401);
      } finally {
        await server.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    STARTUP,
  );
});

describe("[FLEET-CONFIG] the Deno entry refuses settings it cannot serve", () => {
  it(
    "[FLEET-CONFIG][FLEET-DENO-SECRETS] on the platform's KV (deno-kv:) a missing shared secret stops the start, named; so does a storage URL that is not Deno KV; neither echoes a value",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "cpns-deno-refuse-"));
      try {
        const start = async (env: Record<string, string>) => {
          const port = await freePort();
          return startRuntime({
            name: "deno-cpns",
            command: bin("deno"),
            args: [...DENO_KV_FLAGS, "src/runtime/deno.ts"],
            port,
            env: { PORT: String(port), HOST: "127.0.0.1", CPNS_DATA_DIR: dir, ...env },
            startupTimeoutMs: 90_000,
          });
        };
        const { CPNS_ADMIN_TOKEN: _left, ...threeSecrets } = sharedSecretsEnv();
        await expect(start({ ...threeSecrets, CPNS_STORAGE_URL: "deno-kv:" })).rejects.toThrow(
          /exited early \(code 1[\s\S]*CPNS_ADMIN_TOKEN must be set/,
        );
        const refused = start({ CPNS_STORAGE_URL: "redis://user:hunter2-secret@127.0.0.1:6379" });
        await expect(refused).rejects.toThrow(/CPNS_STORAGE_URL must be deno-kv/);
        await expect(refused).rejects.not.toThrow(/hunter2/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    STARTUP,
  );
});

describe("[FLEET-DENO-TASK] npm run start:deno on a fresh data folder", () => {
  it(
    "[FLEET-DENO-TASK] npm run start:deno (deno task serve) starts the CPNS Server with no configuration but a port and a data folder",
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "cpns-deno-task-"));
      const port = await freePort();
      try {
        const runtime = await startRuntime({
          name: "npm run start:deno",
          command: "npm",
          args: ["run", "start:deno"],
          port,
          env: { PORT: String(port), HOST: "127.0.0.1", CPNS_DATA_DIR: dir },
          startupTimeoutMs: 120_000,
        });
        try {
          const info = (await (await fetch(`${runtime.baseUrl}/cpns/v1`)).json()) as {
            service: string;
          };
          expect(info.service).toBe("cpns");
          expect(runtime.output()).toContain("CPNS Server (deno) listening");
          expect(readFileSync(join(dir, "admin.token"), "utf8").trim().length).toBeGreaterThan(30);
        } finally {
          await runtime.stop();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    STARTUP,
  );
});
