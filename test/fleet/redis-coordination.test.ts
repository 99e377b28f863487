/**
 * The Redis coordination (src/runtime/node-redis.ts) against a real
 * redis-server started by the test: the port's contract through two ioredis
 * connections on one Redis (two instances of a fleet), the Lua scripts
 * compared with the in-process arithmetic they must reproduce exactly
 * (advanceWindow, MemoryBudgetStore) on random sequences, the lock's lease
 * and bounded wait, and the failures a fleet meets (Redis down, Redis
 * flushed under a running instance).
 */
import fc from "fast-check";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { advanceWindow } from "../../src/digest/ledger.ts";
import { CpnsError } from "../../src/errors.ts";
import {
  FAIL_FAST,
  LEDGER_SKEW_MARGIN_MS,
  parseRedisUrl,
  RedisBudgetStore,
  RedisKeyedLock,
  RedisReplayLedger,
  redisCoordination,
} from "../../src/runtime/node-redis.ts";
import { type BudgetClaim, MemoryBudgetStore } from "../../src/store/budgets.ts";
import { coordinationContract } from "../coordination-contract.ts";
import { type RedisProcess, startRedis } from "./redis-helpers.ts";

let redis: RedisProcess;
const clients: Redis[] = [];

beforeAll(async () => {
  redis = await startRedis();
}, 90_000);

afterAll(async () => {
  for (const client of clients) client.disconnect();
  await redis?.stop();
});

async function connect(): Promise<Redis> {
  const { Redis } = await import("ioredis");
  const client = new Redis(redis.url, FAIL_FAST);
  client.on("error", () => {});
  await client.connect();
  clients.push(client);
  return client;
}

coordinationContract("Redis, two connections (two fleet instances)", async () => {
  const one = await connect();
  const two = await connect();
  return {
    a: await redisCoordination(one, "contract"),
    b: await redisCoordination(two, "contract"),
    close: async () => {
      one.disconnect();
      two.disconnect();
    },
  };
});

const code = (err: unknown) => (err instanceof CpnsError ? err.code : String(err));

describe("Redis ledger script", () => {
  it("[FLEET-REDIS-LEDGER] the epoch is created once per Redis (SET NX): every connection reads the same 16 bytes, a second open does not replace it", async () => {
    const prefix = `epoch-${crypto.randomUUID()}`;
    const first = await RedisReplayLedger.open(await connect(), prefix);
    const second = await RedisReplayLedger.open(await connect(), prefix);
    expect(first.epoch).toHaveLength(16);
    expect([...second.epoch]).toEqual([...first.epoch]);
    const other = await RedisReplayLedger.open(await connect(), `${prefix}-other`);
    expect([...other.epoch]).not.toEqual([...first.epoch]);
  });

  it("[FLEET-REDIS-LEDGER] the script agrees with advanceWindow on random nc sequences, windows 1 to 32, answer by answer and state by state", async () => {
    const client = await connect();
    const prefix = `prop-${crypto.randomUUID()}`;
    const ledgers = new Map<number, RedisReplayLedger>();
    const step = fc.oneof(
      fc.integer({ min: -40, max: 40 }),
      fc.integer({ min: -2, max: 2 }),
      fc.constantFrom(31, 32, 33, -31, -32, -33),
      fc.integer({ min: 0, max: 0xffffffff }).map((n) => ({ to: n })),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 32 }),
        fc.integer({ min: 1, max: 0xffffffff }),
        fc.array(step, { minLength: 1, maxLength: 60 }),
        async (window, start, steps) => {
          let ledger = ledgers.get(window);
          if (!ledger) {
            ledger = await RedisReplayLedger.open(client, prefix, window);
            ledgers.set(window, ledger);
          }
          const nonce = crypto.randomUUID();
          let model: { highest: number; seen: number } | undefined;
          let nc = start;
          for (const s of steps) {
            nc = typeof s === "number" ? nc + s : s.to;
            nc = Math.min(Math.max(nc, 0), 0xffffffff);
            const next = advanceWindow(model, nc, window);
            const got = await ledger.accept(nonce, nc, Date.now() + 60_000);
            expect(got).toBe(next !== undefined);
            if (next) model = next;
            const stored = await client.hgetall(`${prefix}:n:${nonce}`);
            expect({ highest: Number(stored.h), seen: Number(stored.s) }).toEqual(model);
          }
        },
      ),
      { numRuns: 150 },
    );
  }, 120_000);

  it("[FLEET-REDIS-LEDGER] an entry expires a minute after its nonce (PEXPIREAT): memory stays bounded, and clocks up to a minute apart never drop an entry an instance still needs", async () => {
    const client = await connect();
    const ledger = await RedisReplayLedger.open(client, `ttl-${crypto.randomUUID()}`);
    const expires = Date.now() + 30_000;
    expect(await ledger.accept("n1", 1, expires)).toBe(true);
    const keys = await client.keys("ttl-*:n:n1");
    expect(keys).toHaveLength(1);
    const at = await client.pexpiretime(keys[0] as string);
    expect(at).toBe(expires + LEDGER_SKEW_MARGIN_MS);
  });

  it("[FLEET-REDIS-LEDGER] an instance whose clock is 30 s behind Redis's: the entry it records for a nonce already expired by Redis's clock is kept, so a replay at another instance is still refused", async () => {
    const prefix = `skew-${crypto.randomUUID()}`;
    const slow = await RedisReplayLedger.open(await connect(), prefix);
    const other = await RedisReplayLedger.open(await connect(), prefix);
    const expiresByTheSlowClock = Date.now() - 30_000;
    expect(await slow.accept("skewed", 1, expiresByTheSlowClock)).toBe(true);
    // The other instance's clock still takes the nonce for live; its ledger must remember.
    expect(await other.accept("skewed", 1, Date.now() + 60_000)).toBe(false);
  });

  it("[FLEET-REDIS-LEDGER] a Redis flushed under a running instance: the next nonce is refused with 503 ERR_LEDGER_EPOCH_LOST, never judged by an empty ledger", async () => {
    const prefix = `flush-${crypto.randomUUID()}`;
    const client = await connect();
    const ledger = await RedisReplayLedger.open(client, prefix);
    expect(await ledger.accept("captured", 1, Date.now() + 60_000)).toBe(true);
    await client.del(`${prefix}:epoch`, `${prefix}:n:captured`); // what FLUSHALL does to us
    const replay = await ledger.accept("captured", 1, Date.now() + 60_000).catch(code);
    expect(replay).toBe("ERR_LEDGER_EPOCH_LOST");
    // Another instance opening now gets a new epoch, so nonces of the old one cannot pass there.
    const fresh = await RedisReplayLedger.open(await connect(), prefix);
    expect([...fresh.epoch]).not.toEqual([...ledger.epoch]);
    expect(await ledger.accept("captured", 1, Date.now() + 60_000).catch(code)).toBe(
      "ERR_LEDGER_EPOCH_LOST",
    );
  });
});

describe("Redis budget script", () => {
  it("[FLEET-REDIS-BUDGETS] take/refund/clear agree with MemoryBudgetStore on random sequences (waits, charges, all-or-nothing, forgetting after the window)", async () => {
    const client = await connect();
    const rules = [
      { free: 1, windowMs: 1000, baseDelayMs: 100 },
      { free: 3, windowMs: 5000, baseDelayMs: 250 },
      { free: 10, windowMs: 300_000, baseDelayMs: 1000 },
    ];
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("take" as const),
        claims: fc.uniqueArray(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 3 }),
        // Multiples of the rules' delays and windows land exactly on the boundaries
        // (end of a wait, end of a quiet window), where >= and > differ.
        advance: fc.oneof(
          fc.constantFrom(0, 50, 100, 250, 500, 1000, 5000),
          fc.integer({ min: 0, max: 400 }),
          fc.integer({ min: 0, max: 20_000 }),
        ),
      }),
      fc.record({
        kind: fc.constant("refund" as const),
        claims: fc.uniqueArray(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 2 }),
        advance: fc.constant(0),
      }),
      fc.record({
        kind: fc.constant("clear" as const),
        claims: fc.uniqueArray(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 2 }),
        advance: fc.constant(0),
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }),
        fc.array(op, { minLength: 1, maxLength: 40 }),
        async (ruleOf, ops) => {
          const run = crypto.randomUUID();
          const redisStore = new RedisBudgetStore(client, `budget-${run}`);
          const memory = new MemoryBudgetStore();
          const claim = (i: number): BudgetClaim => ({
            key: `k${i}`,
            rule: rules[ruleOf[i] as number] as BudgetClaim["rule"],
          });
          let now = 1_700_000_000_000;
          for (const { kind, claims, advance } of ops) {
            now += advance;
            const list = claims.map(claim);
            if (kind === "take") {
              expect(await redisStore.take(list, now)).toBe(await memory.take(list, now));
            } else if (kind === "refund") {
              await redisStore.refund(list);
              await memory.refund(list);
            } else {
              await redisStore.clear(list.map((c) => c.key));
              await memory.clear(list.map((c) => c.key));
            }
          }
        },
      ),
      { numRuns: 120 },
    );
  }, 120_000);

  it("[FLEET-REDIS-BUDGETS] at the edges of a wait and of the quiet window (1 ms before, on, after) the script charges and forgets exactly as MemoryBudgetStore", async () => {
    const client = await connect();
    const t0 = 1_700_000_000_000;
    for (const rule of [
      { free: 1, windowMs: 1000, baseDelayMs: 100 },
      { free: 2, windowMs: 5000, baseDelayMs: 250 },
    ]) {
      for (const failures of [1, 2, 3]) {
        for (const edge of [rule.baseDelayMs, rule.windowMs, rule.baseDelayMs + rule.windowMs]) {
          for (const offset of [-1, 0, 1]) {
            const redisStore = new RedisBudgetStore(client, `edge-${crypto.randomUUID()}`);
            const memory = new MemoryBudgetStore();
            const claim = { key: "p:edge", rule };
            const answers: Array<[number, number]> = [];
            let now = t0; // the failures come at once
            for (let i = 0; i < failures; i++) {
              answers.push([await redisStore.take([claim], now), await memory.take([claim], now)]);
            }
            now = t0 + edge + offset;
            for (let i = 0; i < 3; i++) {
              answers.push([await redisStore.take([claim], now), await memory.take([claim], now)]);
            }
            for (const [fromRedis, fromMemory] of answers) expect(fromRedis).toBe(fromMemory);
          }
        }
      }
    }
  }, 60_000);

  it("[FLEET-REDIS-BUDGETS] a budget key expires once its quiet window is over (PEXPIRE): memory stays bounded", async () => {
    const client = await connect();
    const prefix = `budget-ttl-${crypto.randomUUID()}`;
    const store = new RedisBudgetStore(client, prefix);
    const rule = { free: 1, windowMs: 60_000, baseDelayMs: 1000 };
    expect(await store.take([{ key: "p:x", rule }], Date.now())).toBe(0);
    const ttl = await client.pttl(`${prefix}:b:p:x`);
    // blocked for 1 s, then a 60 s quiet window
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(61_000);
    await store.trust(["t:pair"], Date.now() + 30_000);
    const trustTtl = await client.pttl(`${prefix}:t:t:pair`);
    expect(trustTtl).toBeGreaterThan(0);
    expect(trustTtl).toBeLessThanOrEqual(30_000);
  });
});

describe("Redis lease lock", () => {
  it("[FLEET-REDIS-LOCKS] a waiter gives up after its bounded wait with 503 ERR_STORE_BUSY, and the task never runs", async () => {
    const client = await connect();
    const prefix = `lock-${crypto.randomUUID()}`;
    await client.set(`${prefix}:l:id:held`, "someone-else", "PX", 60_000);
    const lock = new RedisKeyedLock(client, prefix, { maxWaitMs: 200 });
    let ran = false;
    const outcome = await lock
      .run("id:held", async () => {
        ran = true;
      })
      .catch(code);
    expect(outcome).toBe("ERR_STORE_BUSY");
    expect(ran).toBe(false);
  });

  it("[FLEET-REDIS-LOCKS] the lease is renewed while a task outlives it, so no second instance gets in", async () => {
    // Renewed every third of a lease: a loaded machine may delay a renewal by most of a lease.
    const one = new RedisKeyedLock(await connect(), "lease", { leaseMs: 900, maxWaitMs: 50 });
    const two = new RedisKeyedLock(await connect(), "lease", { leaseMs: 900, maxWaitMs: 50 });
    const key = `id:${crypto.randomUUID()}`;
    const refused: string[] = [];
    await one.run(key, async () => {
      for (let i = 0; i < 6; i++) {
        await new Promise((r) => setTimeout(r, 450)); // 2,700 ms in all: three leases
        refused.push(String(await two.run(key, async () => "got in").catch(code)));
      }
    });
    expect(refused).toEqual(Array(6).fill("ERR_STORE_BUSY"));
    expect(await two.run(key, async () => "got in")).toBe("got in");
  });

  it("[FLEET-REDIS-LOCKS] release is compare-and-delete: a holder whose lease was taken over never deletes the new holder's lock", async () => {
    const client = await connect();
    const prefix = `cad-${crypto.randomUUID()}`;
    const lock = new RedisKeyedLock(client, prefix);
    await lock.run("id:x", async () => {
      // The lease ran out and another instance took the key.
      await client.set(`${prefix}:l:id:x`, "the-new-holder", "PX", 60_000);
    });
    expect(await client.get(`${prefix}:l:id:x`)).toBe("the-new-holder");
  });
});

describe("Redis down", () => {
  it("[FLEET-REDIS-DOWN] every coordination call fails fast with ERR_STORE_UNAVAILABLE once Redis is gone (no hang, no raw error)", async () => {
    const own = await startRedis();
    const { Redis } = await import("ioredis");
    const client = new Redis(own.url, FAIL_FAST);
    client.on("error", () => {});
    await client.connect();
    try {
      const co = await redisCoordination(client, "down");
      await own.stop();
      const rule = { free: 1, windowMs: 1000, baseDelayMs: 100 };
      const outcomes = await Promise.all([
        Promise.resolve()
          .then(() => co.ledger.accept("n", 1, Date.now() + 1000))
          .catch(code),
        co.budgets.take([{ key: "k", rule }], Date.now()).catch(code),
        co.budgets.refund([{ key: "k", rule }]).catch(code),
        co.budgets.trusted(["p"], Date.now()).catch(code),
        co.budgets.trust(["p"], Date.now() + 1000).catch(code),
        co.locks.run("id:x", async () => "ran").catch(code),
      ]);
      expect(outcomes).toEqual(Array(6).fill("ERR_STORE_UNAVAILABLE"));
    } finally {
      client.disconnect();
      await own.stop();
    }
  }, 90_000);
});

describe("CPNS_STORAGE_URL", () => {
  it("[FLEET-REDIS-CONFIG] redis:// and rediss:// with an optional ?prefix= (default cpns); anything else is refused without echoing the URL", () => {
    expect(parseRedisUrl("redis://127.0.0.1:6379/2")).toEqual({
      url: "redis://127.0.0.1:6379/2",
      prefix: "cpns",
    });
    expect(parseRedisUrl("rediss://:pw@h:6380/0?prefix=prod-eu.1")).toEqual({
      url: "rediss://:pw@h:6380/0",
      prefix: "prod-eu.1",
    });
    for (const bad of [
      "http://h:1",
      "redis://h:1?prefix=a*b",
      "not a url :secret",
      "redis://h?prefix=",
    ]) {
      expect(() => parseRedisUrl(bad)).toThrow(/^CPNS_STORAGE_URL /);
      try {
        parseRedisUrl(bad);
      } catch (err) {
        expect((err as Error).message).not.toContain(bad);
      }
    }
  });
});
