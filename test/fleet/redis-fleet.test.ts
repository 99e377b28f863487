/**
 * The Node fleet for real (issue #11): two `tsx src/runtime/node.ts`
 * processes on loopback sharing one redis-server started here, reached only
 * over HTTP. The atomicity scenarios (test/fleet-scenarios.ts), a
 * restart of both instances between capture and replay, a Redis that goes
 * away under running instances, and a fleet member started without the
 * shared secrets.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { AgentError, EntityAgent } from "../../src/agent/agent.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import { OtkClient } from "../../src/agent/otk-client.ts";
import { createDigestFetch } from "../../src/digest/index.ts";
import { createUserSealed } from "../admin-users.ts";
import { REPO_ROOT } from "../conformance/spawn.ts";
import { twoInstanceScenarios } from "../fleet-scenarios.ts";
import { type RedisFleet, startRedis, startRedisFleet } from "./redis-helpers.ts";

// Each test starts a Redis and two server processes on a loaded machine.
vi.setConfig({ testTimeout: 240_000, hookTimeout: 240_000 });

twoInstanceScenarios("two Node processes on one real Redis", startRedisFleet);

async function withFleet(run: (fleet: RedisFleet) => Promise<void>): Promise<void> {
  const fleet = await startRedisFleet();
  try {
    await run(fleet);
  } catch (err) {
    const logs = fleet.nodes.map((node, i) => `--- instance ${i + 1} ---\n${node.output()}`);
    throw new Error(`${(err as Error).message}\n${logs.join("\n")}`, { cause: err });
  } finally {
    await fleet.close();
  }
}

async function newUser(fleet: RedisFleet) {
  const userId = `user-${crypto.randomUUID().slice(0, 8)}`;
  const password = `${userId}-Correct-Horse-Battery`;
  const res = await createUserSealed({
    transport: (request) => fetch(request),
    base: fleet.nodes[0].base,
    adminToken: fleet.adminToken,
    userId,
    password,
  });
  expect(res.status).toBe(201);
  return { userId, password };
}

/** The next request a genuine client would send to `base`, computed but never sent. */
async function captured(base: string, user: { userId: string; password: string }) {
  let held: Request | undefined;
  const client = createDigestFetch({
    username: user.userId,
    password: user.password,
    fetch: async (request) => {
      if (!request.headers.has("authorization")) return fetch(request);
      held = request.clone();
      return new Response(null, { status: 204 });
    },
  });
  await client(`${base}/cpns/v1/entities`);
  if (!held) throw new Error("no answer to the challenge");
  return held;
}

const sentTo = (request: Request, base: string) =>
  fetch(new Request(`${base}${new URL(request.url).pathname}`, { headers: request.headers }));

describe("[FLEET-REDIS-FLEET] the Node fleet on a real Redis", () => {
  it("[FLEET-REDIS-FLEET][FLEET-REDIS-STORE][DIGEST-REPLAY-RESTART] a request captured before both instances restart is refused by both afterwards; the user and a genuine request still work", async () => {
    await withFleet(async (fleet) => {
      const user = await newUser(fleet);
      const [one, two] = fleet.nodes;
      const request = await captured(one.base, user);
      // Accepted once before the restart, so the ledger holds it.
      expect((await sentTo(request, two.base)).status).toBe(200);
      const unused = await captured(two.base, user);
      await Promise.all([one.restart(), two.restart()]);
      const replays = await Promise.all([sentTo(request, one.base), sentTo(request, two.base)]);
      expect(replays.map((res) => res.status)).toEqual([401, 401]);
      // A nonce issued before the restart is still the fleet's (the epoch lives in Redis),
      // so its never-sent answer is accepted once, on either instance.
      const answers = await Promise.all([sentTo(unused, one.base), sentTo(unused, two.base)]);
      expect(answers.map((res) => res.status).sort()).toEqual([200, 401]);
      const genuine = createDigestFetch({ username: user.userId, password: user.password });
      expect((await genuine(`${two.base}/cpns/v1/entities`)).status).toBe(200);
      // Every key of the deployment under its prefix: records and coordination.
      const client = fleet.redis.client();
      const keys = await client.keys("*");
      client.disconnect();
      expect(keys.filter((key) => !key.startsWith("fleet-test:"))).toEqual([]);
      expect(keys.some((key) => key.startsWith("fleet-test:rec:user"))).toBe(true);
      expect(keys).toContain("fleet-test:co:epoch");
    });
  });

  it("[FLEET-REDIS-LOCKS][OTK-DELIVERY] one OTK fetched through both instances at once is delivered once; two consumes through both at once: one", async () => {
    await withFleet(async (fleet) => {
      const user = await newUser(fleet);
      const [one, two] = fleet.nodes;
      const store = new MemoryKeyStore();
      const agentOn = (base: string) => new EntityAgent({ serverUrl: base, store });
      const gw = `gw-${crypto.randomUUID().slice(0, 8)}`;
      const pne = `pne-${crypto.randomUUID().slice(0, 8)}`;
      await agentOn(one.base).enroll({ ...user, entityId: gw, type: "PNGW" });
      await agentOn(two.base).enroll({ ...user, entityId: pne, type: "PNE" });
      const viaOne = new OtkClient({ agent: agentOn(one.base), store });
      const viaTwo = new OtkClient({ agent: agentOn(two.base), store });
      const codeOf = (result: PromiseSettledResult<unknown>) =>
        result.status === "fulfilled" ? "ok" : (result.reason as AgentError).code;
      for (let round = 0; round < 5; round++) {
        const issued = await (round % 2 ? viaTwo : viaOne).deposit(gw, {
          peerId: pne,
          lifetimeSeconds: 120,
        });
        const fetched = await Promise.allSettled(
          [viaOne, viaTwo, viaOne, viaTwo].map((client) => client.fetch(pne, issued.otkId)),
        );
        expect(fetched.map(codeOf).sort()).toEqual([
          "ERR_OTK_GONE",
          "ERR_OTK_GONE",
          "ERR_OTK_GONE",
          "ok",
        ]);
        const won = fetched.find((r) => r.status === "fulfilled") as PromiseFulfilledResult<{
          otk: Uint8Array;
        }>;
        expect(won.value.otk).toEqual(issued.otk);
        const consumed = await Promise.allSettled([
          viaOne.consume(gw, issued.otkId),
          viaTwo.consume(gw, issued.otkId),
        ]);
        expect(consumed.filter((r) => r.status === "fulfilled")).toHaveLength(1);
        expect(consumed.find((r) => r.status === "rejected")).toMatchObject({
          reason: expect.any(AgentError),
        });
      }
    });
  });

  it("[FLEET-REDIS-LOCKS][SERVER-OWNERSHIP] the owner rotating one entity through both instances at once: two successive versions, never one version twice; only the newest key authenticates", async () => {
    await withFleet(async (fleet) => {
      const user = await newUser(fleet);
      const [one, two] = fleet.nodes;
      const entityId = `pne-${crypto.randomUUID().slice(0, 8)}`;
      const first = new MemoryKeyStore();
      await new EntityAgent({ serverUrl: one.base, store: first }).enroll({
        ...user,
        entityId,
        type: "PNE",
      });
      let version = 1;
      for (let round = 0; round < 5; round++) {
        const stores = [new MemoryKeyStore(), new MemoryKeyStore()];
        const records = await Promise.all(
          [one, two].map((node, i) =>
            new EntityAgent({ serverUrl: node.base, store: stores[i] as MemoryKeyStore }).enroll({
              ...user,
              entityId,
              type: "PNE",
            }),
          ),
        );
        const versions = records.map((record) => record.keyVersion);
        expect([...versions].sort()).toEqual([version + 1, version + 2]);
        version += 2;
        const newest = versions.indexOf(version);
        const older = 1 - newest;
        const whoami = (i: number, node: (typeof fleet.nodes)[number]) =>
          new EntityAgent({ serverUrl: node.base, store: stores[i] as MemoryKeyStore }).whoami(
            entityId,
          );
        expect(await whoami(newest, two)).toMatchObject({ entityId, keyVersion: version });
        await expect(whoami(older, one)).rejects.toMatchObject({ status: 401 });
      }
    });
  });

  it("[FLEET-REDIS-DOWN] Redis gone under running instances: 503 problem+json ERR_STORE_UNAVAILABLE for authentication and admin writes, never 500, no hang; both processes survive", async () => {
    await withFleet(async (fleet) => {
      const user = await newUser(fleet);
      const [one, two] = fleet.nodes;
      const request = await captured(one.base, user);
      await fleet.redis.stop();
      const digest = await sentTo(request, two.base);
      const admin = await createUserSealed({
        transport: (r) => fetch(r),
        base: one.base,
        adminToken: fleet.adminToken,
        userId: "while-down",
        password: "while-down-Correct-Horse-Battery",
      });
      for (const res of [digest, admin]) {
        expect(res.status).toBe(503);
        expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
        expect(((await res.json()) as { code: string }).code).toBe("ERR_STORE_UNAVAILABLE");
      }
      // A burst while down: every answer a 503, none a 500.
      const burst = await Promise.all(
        Array.from({ length: 20 }, (_, i) => sentTo(request, i % 2 ? one.base : two.base)),
      );
      expect(new Set(burst.map((res) => res.status))).toEqual(new Set([503]));
      expect(one.alive() && two.alive()).toBe(true);
      expect((await fetch(`${one.base}/health`)).status).toBe(200);
    });
  });

  it("[FLEET-REDIS-DOWN] a Redis that stops answering (SIGSTOP) is a 503 ERR_STORE_UNAVAILABLE within the command timeout, not a hang; once it answers again, so does the fleet", async () => {
    await withFleet(async (fleet) => {
      const user = await newUser(fleet);
      const [one, two] = fleet.nodes;
      const request = await captured(one.base, user);
      fleet.redis.pause();
      try {
        // A hang would end in the fetch's own 60 s abort, failing the test.
        const answers = await Promise.all(
          [one, two].map((node) =>
            fetch(new Request(`${node.base}/cpns/v1/entities`, { headers: request.headers }), {
              signal: AbortSignal.timeout(60_000),
            }),
          ),
        );
        for (const res of answers) {
          expect(res.status).toBe(503);
          expect(((await res.json()) as { code: string }).code).toBe("ERR_STORE_UNAVAILABLE");
        }
      } finally {
        fleet.redis.resume();
      }
      const genuine = createDigestFetch({ username: user.userId, password: user.password });
      let status = 0;
      // ioredis may still be reconnecting for a moment after the pause.
      for (let i = 0; i < 50 && status !== 200; i++) {
        status = (await genuine(`${two.base}/cpns/v1/entities`)).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 200));
      }
      expect(status).toBe(200);
      expect(one.alive() && two.alive()).toBe(true);
    });
  });

  it("[FLEET-REDIS-CONFIG] a fleet member without the four shared secrets refuses to start, naming the variables and not touching Redis", async () => {
    const redis = await startRedis();
    const dataDir = mkdtempSync(join(tmpdir(), "cpns-fleet-nosecrets-"));
    try {
      const run = spawnSync(
        join(REPO_ROOT, "node_modules", ".bin", "tsx"),
        ["src/runtime/node.ts"],
        {
          cwd: REPO_ROOT,
          env: {
            ...process.env,
            CPNS_STORAGE_URL: redis.url,
            CPNS_DATA_DIR: dataDir,
            CPNS_PLAIN_HTTP: "1",
            CPNS_MASTER_KEY: "",
            CPNS_ADMIN_TOKEN: "",
            CPNS_DIGEST_SECRET: "",
            CPNS_ADMIN_TRANSPORT_KEY: "",
            PORT: "0",
          },
          encoding: "utf8",
          timeout: 120_000,
        },
      );
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(
        "CPNS_MASTER_KEY, CPNS_ADMIN_TOKEN, CPNS_DIGEST_SECRET, CPNS_ADMIN_TRANSPORT_KEY must be set",
      );
      const client = redis.client();
      expect(await client.dbsize()).toBe(0);
      client.disconnect();
    } finally {
      await redis.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
