/**
 * The Node fleet's shared state on one real Redis (issue #11, "Node fleet"):
 * the coordination port (src/store/coordination.ts) as Lua scripts run by
 * ioredis, and the records through unstorage's redis driver, every key under
 * one prefix per deployment. Each script runs whole inside Redis (no other
 * command runs in between), so every check-and-write of the port is atomic in
 * the store, whichever instance sends it:
 *
 * - ledger: the epoch is created once per Redis (SET NX, 16 random bytes) and
 *   read by every instance at startup; `accept` is one script reproducing
 *   `advanceWindow` (src/digest/ledger.ts) with plain arithmetic on a bitmap
 *   kept below 2^32, the entry expiring a minute after the nonce (PEXPIREAT),
 *   so clocks a little apart never drop an entry some instance still needs;
 *   a script that finds the epoch gone or changed (a flushed Redis) refuses
 *   rather than judge a nonce without the answers it has seen;
 * - budgets: `take` is one all-or-nothing script over every claim, with the
 *   arithmetic of MemoryBudgetStore (src/store/budgets.ts); keys expire once
 *   their quiet window is over (PEXPIRE), so memory stays bounded;
 * - locks: a lease (SET NX PX), renewed while the task runs, released by a
 *   compare-and-delete script; waiters retry with jittered backoff, for a
 *   bounded time, then fail with ERR_STORE_BUSY.
 *
 * Any Redis failure (down, timeout, refused) becomes ERR_STORE_UNAVAILABLE
 * (503): the connection is configured to fail fast, never to queue or hang.
 *
 * Implements: FLEET-REDIS-LEDGER, FLEET-REDIS-BUDGETS, FLEET-REDIS-LOCKS, FLEET-REDIS-STORE, FLEET-REDIS-DOWN
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { Redis, RedisOptions } from "ioredis";
import { createStorage, type Storage } from "unstorage";
import redisDriver from "unstorage/drivers/redis";
import { fromBase64url, toBase64url } from "../crypto/bytes.ts";
import { DEFAULT_NC_WINDOW, EPOCH_BYTES, type ReplayLedger } from "../digest/index.ts";
import { CpnsError } from "../errors.ts";
import type { BudgetClaim, BudgetStore } from "../store/budgets.ts";
import type { Coordination, KeyedLock } from "../store/coordination.ts";

/**
 * Fail fast: no offline queue (a command while disconnected fails at once),
 * no retry of a command, a timeout on every command and on connecting.
 */
export const FAIL_FAST: RedisOptions = {
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 2000,
  commandTimeout: 2000,
  retryStrategy: (times) => Math.min(100 * times, 1000),
};

// Lua 5.1 in Redis: numbers are doubles, so values are written with "%.17g"
// (exact for every double) and the 32-bit bitmap is plain arithmetic below
// 2^32 (bit.* works on signed 32-bit values, which 1 << 31 would overflow).

/** KEYS: epoch, entry. ARGV: our epoch, nc, expiresAtMs, window. Answers 1 fresh, 0 replay, -1 epoch lost. */
const LEDGER_ACCEPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local nc = tonumber(ARGV[2])
local window = tonumber(ARGV[4])
local highest = tonumber(redis.call('HGET', KEYS[2], 'h'))
local fmt = '%.17g'
if not highest then
  redis.call('HSET', KEYS[2], 'h', string.format(fmt, nc), 's', '0')
  redis.call('PEXPIREAT', KEYS[2], ARGV[3])
  return 1
end
local seen = tonumber(redis.call('HGET', KEYS[2], 's'))
local two32 = 4294967296
if nc > highest then
  local shift = nc - highest
  local moved = 0
  if shift <= window then
    moved = ((seen * 2 ^ shift) % two32 + 2 ^ (shift - 1)) % two32
    if window < 32 then moved = moved % (2 ^ window) end
  end
  redis.call('HSET', KEYS[2], 'h', string.format(fmt, nc), 's', string.format(fmt, moved))
  return 1
end
if nc == highest then return 0 end
local offset = highest - nc - 1
if offset >= window then return 0 end
local bit = 2 ^ offset
if math.floor(seen / bit) % 2 == 1 then return 0 end
redis.call('HSET', KEYS[2], 's', string.format(fmt, seen + bit))
return 1
`;

/**
 * KEYS: one budget per claim. ARGV: now, then free, windowMs, baseDelayMs per
 * claim. Answers "0" (every claim charged) or the wait in ms (none charged).
 */
const BUDGET_TAKE = `
local now = tonumber(ARGV[1])
local fmt = '%.17g'
local function live(i)
  local key = KEYS[i]
  local window = tonumber(ARGV[2 + (i - 1) * 3 + 1])
  local v = redis.call('HMGET', key, 'f', 'l', 'b')
  if not v[1] then return nil end
  local b = { f = tonumber(v[1]), l = tonumber(v[2]), b = tonumber(v[3]) }
  if now >= math.max(b.l, b.b) + window then
    redis.call('DEL', key)
    return nil
  end
  return b
end
local wait = 0
for i = 1, #KEYS do
  local b = live(i)
  if b and now < b.b then wait = math.max(wait, b.b - now) end
end
if wait > 0 then return string.format(fmt, wait) end
for i = 1, #KEYS do
  local free = tonumber(ARGV[2 + (i - 1) * 3])
  local window = tonumber(ARGV[2 + (i - 1) * 3 + 1])
  local base = tonumber(ARGV[2 + (i - 1) * 3 + 2])
  local b = live(i) or { f = 0, l = now, b = 0 }
  b.f = b.f + 1
  b.l = now
  if b.f >= free then
    local doublings = math.min(b.f - free, 30)
    b.b = now + math.min(base * 2 ^ doublings, window)
  end
  redis.call('HSET', KEYS[i], 'f', string.format(fmt, b.f), 'l', string.format(fmt, b.l), 'b', string.format(fmt, b.b))
  redis.call('PEXPIRE', KEYS[i], string.format('%d', math.ceil(math.max(b.l, b.b) + window - now)))
end
return '0'
`;

/** KEYS: budgets. ARGV: free per claim. One failure given back to each, as MemoryBudgetStore.refund. */
const BUDGET_REFUND = `
for i = 1, #KEYS do
  local f = tonumber(redis.call('HGET', KEYS[i], 'f'))
  if f then
    f = math.max(0, f - 1)
    redis.call('HSET', KEYS[i], 'f', string.format('%.17g', f))
    if f < tonumber(ARGV[i]) then redis.call('HSET', KEYS[i], 'b', '0') end
  end
end
return 0
`;

/** KEYS: lock. ARGV: token. Deletes the lock only if it is still ours. */
const LOCK_RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** KEYS: lock. ARGV: token, lease ms. Extends the lease only if it is still ours. */
const LOCK_RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

interface Scripted {
  cpnsLedgerAccept(epochKey: string, entryKey: string, ...argv: string[]): Promise<number>;
  cpnsBudgetTake(...keysThenArgv: (string | number)[]): Promise<string>;
  cpnsBudgetRefund(...keysThenArgv: (string | number)[]): Promise<number>;
  cpnsLockRelease(key: string, token: string): Promise<number>;
  cpnsLockRenew(key: string, token: string, leaseMs: string): Promise<number>;
}

function scripted(client: Redis): Redis & Scripted {
  const c = client as Redis & Partial<Scripted>;
  if (!c.cpnsLedgerAccept) {
    client.defineCommand("cpnsLedgerAccept", { numberOfKeys: 2, lua: LEDGER_ACCEPT });
    client.defineCommand("cpnsBudgetTake", { lua: BUDGET_TAKE });
    client.defineCommand("cpnsBudgetRefund", { lua: BUDGET_REFUND });
    client.defineCommand("cpnsLockRelease", { numberOfKeys: 1, lua: LOCK_RELEASE });
    client.defineCommand("cpnsLockRenew", { numberOfKeys: 1, lua: LOCK_RENEW });
  }
  return client as Redis & Scripted;
}

/** Any failure of Redis itself reaches the client as 503, its message (addresses, keys) kept out. */
async function unavailable<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    if (err instanceof CpnsError) throw err;
    throw new CpnsError("ERR_STORE_UNAVAILABLE");
  }
}

/**
 * How long a ledger entry outlives its nonce's expiry. The nonce's expiry is
 * judged by each instance's clock, the entry's by Redis's: an entry dropped
 * while some instance still takes the nonce for live would let its answers
 * be replayed there. This covers clocks up to a minute apart.
 */
export const LEDGER_SKEW_MARGIN_MS = 60_000;

export class RedisReplayLedger implements ReplayLedger {
  readonly #client: Redis & Scripted;
  readonly #epochKey: string;
  readonly #epochText: string;
  readonly #prefix: string;
  readonly #window: number;
  readonly epoch: Uint8Array;

  private constructor(client: Redis & Scripted, prefix: string, epochText: string, window: number) {
    this.#client = client;
    this.#prefix = prefix;
    this.#epochKey = `${prefix}:epoch`;
    this.#epochText = epochText;
    this.epoch = fromBase64url(epochText);
    this.#window = window;
  }

  /** Reads the fleet's epoch, creating it if this is the first instance on this Redis. */
  static async open(client: Redis, prefix: string, window = DEFAULT_NC_WINDOW) {
    if (!Number.isInteger(window) || window < 1 || window > 32) {
      throw new RangeError("window must be an integer from 1 to 32");
    }
    const epochKey = `${prefix}:epoch`;
    await client.set(epochKey, toBase64url(randomBytes(EPOCH_BYTES)), "NX");
    const epoch = await client.get(epochKey);
    if (!epoch) throw new CpnsError("ERR_STORE_UNAVAILABLE");
    return new RedisReplayLedger(scripted(client), prefix, epoch, window);
  }

  async accept(nonce: string, nc: number, expiresAtMs: number): Promise<boolean> {
    const answer = await unavailable(() =>
      this.#client.cpnsLedgerAccept(
        this.#epochKey,
        `${this.#prefix}:n:${nonce}`,
        this.#epochText,
        String(nc),
        String(Math.ceil(expiresAtMs) + LEDGER_SKEW_MARGIN_MS),
        String(this.#window),
      ),
    );
    // The epoch this instance signs nonces with is gone (a flushed or replaced
    // Redis): the entries that judged its nonces went with it, so none is judged.
    if (answer === -1) throw new CpnsError("ERR_LEDGER_EPOCH_LOST");
    return answer === 1;
  }
}

export class RedisBudgetStore implements BudgetStore {
  readonly #client: Redis & Scripted;
  readonly #prefix: string;

  constructor(client: Redis, prefix: string) {
    this.#client = scripted(client);
    this.#prefix = prefix;
  }

  #key = (key: string) => `${this.#prefix}:b:${key}`;
  #pair = (pair: string) => `${this.#prefix}:t:${pair}`;

  async take(claims: readonly BudgetClaim[], now: number): Promise<number> {
    if (claims.length === 0) return 0;
    const keys = claims.map((claim) => this.#key(claim.key));
    const argv = claims.flatMap(({ rule }) => [rule.free, rule.windowMs, rule.baseDelayMs]);
    const wait = await unavailable(() =>
      this.#client.cpnsBudgetTake(keys.length, ...keys, now, ...argv),
    );
    return Number(wait);
  }

  async refund(claims: readonly BudgetClaim[]): Promise<void> {
    if (claims.length === 0) return;
    const keys = claims.map((claim) => this.#key(claim.key));
    await unavailable(() =>
      this.#client.cpnsBudgetRefund(keys.length, ...keys, ...claims.map((c) => c.rule.free)),
    );
  }

  async clear(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await unavailable(() => this.#client.del(...keys.map(this.#key)));
  }

  async trust(pairs: readonly string[], untilMs: number): Promise<void> {
    if (pairs.length === 0) return;
    const until = Math.ceil(untilMs);
    const batch = this.#client.multi();
    for (const pair of pairs) batch.set(this.#pair(pair), String(until), "PXAT", until);
    await unavailable(async () => {
      const results = await batch.exec();
      const failed = results?.find(([err]) => err);
      if (!results || failed) throw new Error("trust not recorded");
    });
  }

  async trusted(pairs: readonly string[], now: number): Promise<ReadonlySet<string>> {
    if (pairs.length === 0) return new Set();
    const values = await unavailable(() => this.#client.mget(...pairs.map(this.#pair)));
    return new Set(pairs.filter((_, i) => values[i] !== null && now < Number(values[i])));
  }
}

export interface RedisLockOptions {
  /** How long a lease lasts unless renewed (ms). Default 10 s. */
  leaseMs?: number;
  /** How long a waiter keeps trying before ERR_STORE_BUSY (ms). Default 10 s. */
  maxWaitMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class RedisKeyedLock implements KeyedLock {
  readonly #client: Redis & Scripted;
  readonly #prefix: string;
  readonly #leaseMs: number;
  readonly #maxWaitMs: number;

  constructor(client: Redis, prefix: string, options: RedisLockOptions = {}) {
    this.#client = scripted(client);
    this.#prefix = prefix;
    this.#leaseMs = options.leaseMs ?? 10_000;
    this.#maxWaitMs = options.maxWaitMs ?? 10_000;
  }

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const lock = `${this.#prefix}:l:${key}`;
    const token = randomUUID();
    const giveUpAt = Date.now() + this.#maxWaitMs;
    let delay = 5;
    for (;;) {
      const got = await unavailable(() => this.#client.set(lock, token, "PX", this.#leaseMs, "NX"));
      if (got === "OK") break;
      if (Date.now() >= giveUpAt) throw new CpnsError("ERR_STORE_BUSY");
      await sleep(delay / 2 + Math.random() * delay);
      delay = Math.min(delay * 2, 100);
    }
    // Renewed while the task runs, so a slow store round trip never lets a
    // second instance in; a process that stops renewing loses it after one lease.
    const renew = setInterval(
      () => void this.#client.cpnsLockRenew(lock, token, String(this.#leaseMs)).catch(() => {}),
      Math.max(1, Math.floor(this.#leaseMs / 3)),
    );
    try {
      return await task();
    } finally {
      clearInterval(renew);
      await this.#client.cpnsLockRelease(lock, token).catch(() => {});
    }
  }
}

/** The whole port on one Redis connection; every key starts with `<prefix>:co:`. */
export async function redisCoordination(
  client: Redis,
  prefix: string,
  options: RedisLockOptions & { window?: number } = {},
): Promise<Coordination> {
  const base = `${prefix}:co`;
  return {
    ledger: await unavailable(() => RedisReplayLedger.open(client, base, options.window)),
    budgets: new RedisBudgetStore(client, base),
    locks: new RedisKeyedLock(client, base, options),
  };
}

/** A deployment's prefix: letters, digits, `_ . -`. */
const PREFIX = /^[A-Za-z0-9_.-]{1,64}$/;

export class RedisUrlError extends Error {
  constructor(reason: string) {
    super(`CPNS_STORAGE_URL ${reason}`);
    this.name = "RedisUrlError";
  }
}

/**
 * `redis://[:password@]host:port[/db][?prefix=name]` (or rediss:// for TLS):
 * the URL ioredis connects to, and the prefix of every key (default "cpns").
 */
export function parseRedisUrl(value: string): { url: string; prefix: string } {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new RedisUrlError("is not a URL");
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    throw new RedisUrlError("must start with redis:// or rediss://");
  }
  const prefix = url.searchParams.get("prefix") ?? "cpns";
  if (!PREFIX.test(prefix)) {
    throw new RedisUrlError("prefix must be 1 to 64 letters, digits, '_', '.' or '-'");
  }
  url.search = "";
  return { url: url.toString(), prefix };
}

export interface RedisBackend {
  storage: Storage;
  coordination: Coordination;
  client: Redis;
  close(): Promise<void>;
}

/**
 * One instance's view of the fleet: records (unstorage's redis driver, under
 * `<prefix>:rec`) and coordination (under `<prefix>:co`) on one connection,
 * connected before this returns (a Redis that is down fails the start).
 */
export async function openRedisBackend(
  storageUrl: string,
  options: RedisLockOptions = {},
): Promise<RedisBackend> {
  const { url, prefix } = parseRedisUrl(storageUrl);
  const driver = redisDriver({ url, base: `${prefix}:rec`, ...FAIL_FAST });
  const client = driver.getInstance?.() as Redis;
  // Said once per outage on stderr (never the URL: it may hold a password); requests answer 503.
  let down = false;
  client.on("error", () => {
    if (!down)
      console.error(
        "cpns server: the shared Redis is unreachable; requests that need it answer 503",
      );
    down = true;
  });
  client.on("ready", () => {
    if (down) console.error("cpns server: the shared Redis answers again");
    down = false;
  });
  try {
    await client.connect();
  } catch {
    client.disconnect();
    throw new CpnsError("ERR_STORE_UNAVAILABLE");
  }
  const coordination = await redisCoordination(client, prefix, options).catch((err) => {
    client.disconnect();
    throw err;
  });
  return {
    storage: createStorage({ driver }),
    coordination,
    client,
    close: async () => {
      await client.quit().catch(() => client.disconnect());
    },
  };
}
