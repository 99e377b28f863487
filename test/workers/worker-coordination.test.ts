/**
 * The CPNS Server's Worker target (issue #11) on real workerd: two `wrangler
 * dev` processes sharing one set of SQLite-backed Durable Objects
 * (test/workers/start.ts explains why that is two instances). The
 * coordination port's contract (test/coordination-contract.ts) runs through
 * both processes' test route against the real objects, and the fleet's
 * atomicity scenarios (test/fleet-scenarios.ts) run over HTTP against the two
 * processes' CPNS Server apps. One pair serves every test here (each test uses
 * fresh ids), because a pair takes a minute to start on a loaded machine.
 */
import { Agent, fetch as undiciFetch } from "undici";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createDigestFetch } from "../../src/digest/index.ts";
import type { BudgetClaim } from "../../src/store/budgets.ts";
import type { Coordination } from "../../src/store/coordination.ts";
import { createUserSealed } from "../admin-users.ts";
import { coordinationContract } from "../coordination-contract.ts";
import { type Fleet, twoInstanceScenarios } from "../fleet-scenarios.ts";
import { startWorkerPair, type WorkerPair } from "./start.ts";

const STARTUP_MS = 330_000;
// Every call crosses wrangler's proxy, workerd and (from the second process) the dev
// registry: a burst of 1,000 takes needs far more than vitest's 5 s on a loaded machine.
vi.setConfig({ testTimeout: 120_000 });

/**
 * At most 16 connections per Worker process: wrangler dev's local proxy (a
 * workerd of its own in front of each Worker) drops some requests ("Your
 * worker restarted mid-request", ECONNRESET) when a few hundred connections
 * open at once; a dev-tool limit, not the objects' (the budget still granted
 * exactly its free failures in every such run). The bursts stay concurrent:
 * 32 calls in flight at any moment over the two processes, 1,000 queued.
 */
const dispatcher = new Agent({ connections: 16 });

/** One Worker process's view of the Durable Object coordination, through its test route. */
async function httpCoordination(base: string): Promise<Coordination> {
  const call = async (body: unknown): Promise<unknown> => {
    const res = await undiciFetch(`${base}/__test/coordination`, {
      dispatcher,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!res.ok)
      throw new Error(`coordination call failed: HTTP ${res.status} ${await res.text()}`);
    return ((await res.json()) as { result: unknown }).result;
  };
  const epoch = Buffer.from((await call({ op: "epoch" })) as string, "base64url");
  return {
    ledger: {
      epoch: new Uint8Array(epoch),
      accept: async (nonce, nc, expiresAtMs) =>
        (await call({ op: "accept", nonce, nc, expiresAtMs })) as boolean,
    },
    budgets: {
      take: async (claims: readonly BudgetClaim[], now: number) =>
        (await call({ op: "take", claims, now })) as number,
      refund: async (claims) => void (await call({ op: "refund", claims })),
      clear: async (keys) => void (await call({ op: "clear", keys })),
      trust: async (pairs, untilMs) => void (await call({ op: "trust", pairs, untilMs })),
      trusted: async (pairs, now) =>
        new Set((await call({ op: "trusted", pairs, now })) as string[]),
    },
    locks: {
      run: async (key, task) => {
        const token = await call({ op: "acquire", key });
        try {
          return await task();
        } finally {
          await call({ op: "release", key, token });
        }
      },
    },
  };
}

describe("[FLEET-WORKERS-TWO] two Worker processes (wrangler dev x2) on one set of Durable Objects", () => {
  let pair: WorkerPair | undefined;
  let starting: Promise<WorkerPair> | undefined;
  const ready = () => {
    starting ??= startWorkerPair().then((started) => (pair = started));
    return starting;
  };

  beforeAll(async () => {
    await ready();
  }, STARTUP_MS);

  afterAll(async () => {
    await pair?.close();
  }, 60_000);

  it("[FLEET-WORKERS-TWO] the two instances are two processes that answer with one ledger epoch", async () => {
    const started = await ready();
    const [a, b] = started.instances;
    expect(a.baseUrl).not.toBe(b.baseUrl);
    const one = await httpCoordination(a.baseUrl);
    const two = await httpCoordination(b.baseUrl);
    expect([...one.ledger.epoch]).toEqual([...two.ledger.epoch]);
  });

  coordinationContract("SQLite Durable Objects through two Worker processes", async () => {
    const started = await ready();
    const [a, b] = started.instances;
    return {
      a: await httpCoordination(a.baseUrl),
      b: await httpCoordination(b.baseUrl),
      close: async () => {},
    };
  });

  twoInstanceScenarios("two Worker processes, Durable Objects", async (): Promise<Fleet> => {
    const started = await ready();
    const [a, b] = started.instances;
    const instance = (base: string) => ({ base, fetch: (request: Request) => fetch(request) });
    return {
      adminToken: started.adminToken,
      instances: [instance(a.baseUrl), instance(b.baseUrl)],
      close: async () => {},
    };
  });

  it("[FLEET-WORKERS-SHARDS] a user's records written through one process are listed by the other (a bare-prefix listing asks every shard)", async () => {
    const started = await ready();
    const [a, b] = started.instances;
    const created: string[] = [];
    for (let i = 0; i < 6; i++) {
      const userId = `lister-${crypto.randomUUID().slice(0, 8)}`;
      const res = await createUserSealed({
        transport: (request) => fetch(request),
        base: (i % 2 ? a : b).baseUrl,
        adminToken: started.adminToken,
        userId,
        password: `${userId}-Correct-Horse-Battery`,
      });
      expect(res.status).toBe(201);
      created.push(userId);
    }
    const list = await fetch(`${a.baseUrl}/cpns/v1/admin/users`, {
      headers: { authorization: `Bearer ${started.adminToken}` },
    });
    expect(list.status).toBe(200);
    const body = JSON.stringify(await list.json());
    for (const userId of created) expect(body).toContain(userId);
  });

  it("[FLEET-WORKERS-ENTRY][PASSWORD-POLICY] the Worker's light estimator still refuses a weak password (400 ERR_WEAK_PASSWORD, nothing created)", async () => {
    const started = await ready();
    const [a] = started.instances;
    const userId = `weak-${crypto.randomUUID().slice(0, 8)}`;
    const res = await createUserSealed({
      transport: (request) => fetch(request),
      base: a.baseUrl,
      adminToken: started.adminToken,
      userId,
      password: `${userId}password123`,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe("ERR_WEAK_PASSWORD");
    const client = createDigestFetch({
      username: userId,
      password: `${userId}password123`,
      fetch: (request) => fetch(request),
    });
    expect((await client(`${a.baseUrl}/cpns/v1/entities`)).status).toBe(401);
  });
});
