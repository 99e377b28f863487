/**
 * The coordination port (src/store/coordination.ts) on Deno KV (issue #11,
 * "Deno: storage in Deno KV with atomic check()/commit() for the ledger and
 * use-once steps"). Every invariant is a read, a decision in this process, and
 * one `atomic().check(versionstamp)...commit()`: the commit succeeds only if
 * nothing changed the entries since they were read, so two instances (two
 * processes on one KV file, or Deno Deploy isolates) can never both win.
 * A lost commit is retried from a fresh read with jittered backoff, a bounded
 * number of times, then refused with ERR_KV_CONTENDED (nothing was changed).
 *
 * - ledger: one entry per nonce holding advanceWindow's state (the exact
 *   arithmetic of src/digest/ledger.ts); its epoch is created once with a
 *   check on a null versionstamp (set-if-absent), so every instance on one KV
 *   reports the same epoch and accepts the others' nonces;
 * - budgets: MemoryBudgetStore's arithmetic, all claims of one take() checked
 *   and written in ONE commit (all-or-nothing);
 * - locks: a lease (token, until) set only if absent or expired, deleted on
 *   release only if still ours; waiters poll with jittered backoff for a
 *   bounded time. An in-process mutex in front keeps one process's waiters
 *   off the store.
 *
 * Deno's `expireIn` only collects garbage (Deno deletes expired entries
 * eventually, not on time): every decision reads the expiry kept in the value.
 *
 * Implements: FLEET-DENO-KV, FLEET-PORTS, FLEET-ATOMIC
 */
import {
  advanceWindow,
  DEFAULT_NC_WINDOW,
  EPOCH_BYTES,
  type ReplayLedger,
} from "../digest/index.ts";
import { CpnsError } from "../errors.ts";
import type { BudgetClaim, BudgetStore } from "../store/budgets.ts";
import { type Coordination, type KeyedLock, KeyedMutex } from "../store/coordination.ts";

/** The slice of Deno.Kv used here (Deno's types are not in our TS lib). */
export type KvKey = readonly string[];
export interface KvEntry<T> {
  key: readonly unknown[];
  value: T | null;
  versionstamp: string | null;
}
export interface KvAtomic {
  check(...checks: { key: KvKey; versionstamp: string | null }[]): KvAtomic;
  set(key: KvKey, value: unknown, options?: { expireIn?: number }): KvAtomic;
  delete(key: KvKey): KvAtomic;
  commit(): Promise<{ ok: boolean }>;
}
export interface DenoKv {
  get<T>(key: KvKey): Promise<KvEntry<T>>;
  getMany<T extends readonly unknown[]>(keys: readonly KvKey[]): Promise<KvEntry<T[number]>[]>;
  set(key: KvKey, value: unknown, options?: { expireIn?: number }): Promise<unknown>;
  delete(key: KvKey): Promise<void>;
  list<T>(selector: { prefix: KvKey }): AsyncIterable<KvEntry<T>>;
  atomic(): KvAtomic;
  close(): void;
}

/** Where coordination entries live in the KV, apart from unstorage's records. */
const ROOT = "cpns-coordination";

/** Deno KV keys are capped at 2 KiB; a long part (an attacker's user name) is hashed. */
async function part(value: string): Promise<string> {
  if (value.length <= 256) return value;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value));
  return `#${[...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

const key = async (kind: string, id: string): Promise<KvKey> => [ROOT, kind, await part(id)];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** 1, 2, 4 … 32 ms, each with full jitter: contenders spread out instead of colliding again. */
const backoff = (attempt: number) => sleep(Math.random() * 2 ** Math.min(attempt, 5));

/**
 * Two processes on one local KV file share it through sqlite's file lock: a
 * process that finds the file locked by the other gets "database is locked"
 * (SQLITE_BUSY) instead of waiting (found by test/conformance/deno-kv.test.ts).
 * sqlite rolled the whole transaction back, so the operation is retried from
 * scratch (an atomic commit with the same checks, which then may lose to the
 * other writer as usual), for a bounded time, then ERR_KV_CONTENDED.
 */
const BUSY = /database is locked|database is busy|SQLITE_BUSY/i;
const BUSY_WAIT_MS = 5_000;

async function whileBusy<T>(operation: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + BUSY_WAIT_MS;
  for (let tries = 0; ; tries++) {
    try {
      return await operation();
    } catch (err) {
      if (!(err instanceof Error && BUSY.test(err.message))) throw err;
      if (Date.now() >= deadline) throw new CpnsError("ERR_KV_CONTENDED");
      await backoff(tries);
    }
  }
}

type Mutation = (op: KvAtomic) => void;

/** An atomic operation recorded, so a commit refused as busy can be replayed whole. */
function replayableAtomic(kv: DenoKv): KvAtomic {
  const steps: Mutation[] = [];
  const builder: KvAtomic = {
    check: (...checks) => {
      steps.push((op) => op.check(...checks));
      return builder;
    },
    set: (key, value, options) => {
      steps.push((op) => op.set(key, value, options));
      return builder;
    },
    delete: (key) => {
      steps.push((op) => op.delete(key));
      return builder;
    },
    commit: () =>
      whileBusy(() => {
        const op = kv.atomic();
        for (const step of steps) step(op);
        return op.commit();
      }),
  };
  return builder;
}

/** The same KV, every operation retried while the file is locked by another process. */
export function busyTolerantKv(kv: DenoKv): DenoKv {
  return {
    get: (key) => whileBusy(() => kv.get(key)),
    getMany: (keys) => whileBusy(() => kv.getMany(keys)),
    set: (key, value, options) => whileBusy(() => kv.set(key, value, options)),
    delete: (key) => whileBusy(() => kv.delete(key)),
    list: <T>(selector: { prefix: KvKey }) => {
      const all = whileBusy(async () => {
        const out: KvEntry<T>[] = [];
        for await (const entry of kv.list<T>(selector)) out.push(entry);
        return out;
      });
      return (async function* () {
        yield* await all;
      })();
    },
    atomic: () => replayableAtomic(kv),
    close: () => kv.close(),
  };
}

export interface DenoKvCoordinationOptions {
  /** Commits lost to a concurrent writer before giving up with ERR_KV_CONTENDED. Default 200. */
  maxAttempts?: number;
  /** How long a lock lease lasts if its holder dies. Default 30 s. */
  leaseMs?: number;
  /** How long a waiter waits for a lock before ERR_KV_CONTENDED. Default 10 s. */
  lockWaitMs?: number;
  /** The nc window (1..32). Default 32. */
  window?: number;
  now?: () => number;
}

/** Runs read-decide-commit until a commit lands (or the decision needs no write). */
async function optimistic<T>(
  maxAttempts: number,
  attempt: () => Promise<{ done: true; value: T } | { done: false }>,
): Promise<T> {
  for (let tries = 0; tries < maxAttempts; tries++) {
    const outcome = await attempt();
    if (outcome.done) return outcome.value;
    await backoff(tries);
  }
  throw new CpnsError("ERR_KV_CONTENDED");
}

/** The ledger's epoch: created once on this KV (set-if-absent), read by every later instance. */
export async function kvLedgerEpoch(kv: DenoKv): Promise<Uint8Array> {
  const epochKey: KvKey = [ROOT, "ledger-epoch"];
  for (let tries = 0; tries < 20; tries++) {
    const entry = await kv.get<Uint8Array>(epochKey);
    if (entry.value instanceof Uint8Array) return entry.value;
    const fresh = crypto.getRandomValues(new Uint8Array(EPOCH_BYTES));
    await kv.atomic().check({ key: epochKey, versionstamp: null }).set(epochKey, fresh).commit();
    // Whether ours or a concurrent instance's landed, the next read returns the one epoch.
  }
  throw new CpnsError("ERR_KV_CONTENDED");
}

interface LedgerEntry {
  highest: number;
  seen: number;
  expiresAtMs: number;
}

export class KvReplayLedger implements ReplayLedger {
  constructor(
    private readonly kv: DenoKv,
    readonly epoch: Uint8Array,
    private readonly options: { window: number; maxAttempts: number; now: () => number },
  ) {}

  /** One process's requests for one nonce queue here, so only other processes contend in the KV. */
  readonly #local = new KeyedMutex();

  async accept(nonce: string, nc: number, expiresAtMs: number): Promise<boolean> {
    const entryKey = await key("nonce", nonce);
    return this.#local.run(nonce, () => this.#accept(entryKey, nc, expiresAtMs));
  }

  #accept(entryKey: KvKey, nc: number, expiresAtMs: number): Promise<boolean> {
    return optimistic<boolean>(this.options.maxAttempts, async () => {
      const now = this.options.now();
      const entry = await this.kv.get<LedgerEntry>(entryKey);
      const live = entry.value && entry.value.expiresAtMs > now ? entry.value : undefined;
      const next = advanceWindow(live, nc, this.options.window);
      if (!next) return { done: true, value: false };
      const kept = live?.expiresAtMs ?? expiresAtMs;
      const { ok } = await this.kv
        .atomic()
        .check({ key: entryKey, versionstamp: entry.versionstamp })
        .set(entryKey, { ...next, expiresAtMs: kept }, { expireIn: Math.max(1000, kept - now) })
        .commit();
      return ok ? { done: true, value: true } : { done: false };
    });
  }
}

interface Budget {
  failures: number;
  lastFailureAt: number;
  blockedUntil: number;
}

const forgetAt = (budget: Budget, windowMs: number) =>
  Math.max(budget.lastFailureAt, budget.blockedUntil) + windowMs;

/** getMany takes at most 10 keys per call. */
async function readAll<T>(kv: DenoKv, keys: readonly KvKey[]): Promise<KvEntry<T>[]> {
  const out: KvEntry<T>[] = [];
  for (let i = 0; i < keys.length; i += 10) {
    out.push(...((await kv.getMany<T[]>(keys.slice(i, i + 10))) as KvEntry<T>[]));
  }
  return out;
}

/** MemoryBudgetStore's arithmetic (src/store/budgets.ts), each operation one checked commit. */
export class KvBudgetStore implements BudgetStore {
  constructor(
    private readonly kv: DenoKv,
    private readonly maxAttempts: number,
  ) {}

  async #read(
    keys: readonly string[],
  ): Promise<{ ids: string[]; kvKeys: KvKey[]; entries: Map<string, KvEntry<Budget>> }> {
    const ids = [...new Set(keys)];
    const kvKeys = await Promise.all(ids.map((id) => key("budget", id)));
    const read = await readAll<Budget>(this.kv, kvKeys);
    return { ids, kvKeys, entries: new Map(ids.map((id, i) => [id, read[i] as KvEntry<Budget>])) };
  }

  /** One process's takes of one set of budgets queue here, so only other processes contend in the KV. */
  readonly #local = new KeyedMutex();

  take(claims: readonly BudgetClaim[], now: number): Promise<number> {
    const queue = [...new Set(claims.map((claim) => claim.key))].sort().join("\n");
    return this.#local.run(queue, () => this.#take(claims, now));
  }

  #take(claims: readonly BudgetClaim[], now: number): Promise<number> {
    return optimistic<number>(this.maxAttempts, async () => {
      const { ids, kvKeys, entries } = await this.#read(claims.map((claim) => claim.key));
      // The working state of each key, so a key claimed twice is charged twice, as in memory.
      const state = new Map<string, Budget | undefined>();
      const live = (claim: BudgetClaim): Budget | undefined => {
        if (state.has(claim.key)) return state.get(claim.key);
        const stored = entries.get(claim.key)?.value ?? undefined;
        const budget = stored && now < forgetAt(stored, claim.rule.windowMs) ? stored : undefined;
        state.set(claim.key, budget && { ...budget });
        return state.get(claim.key);
      };
      let waitMs = 0;
      for (const claim of claims) {
        const budget = live(claim);
        if (budget && now < budget.blockedUntil)
          waitMs = Math.max(waitMs, budget.blockedUntil - now);
      }
      if (waitMs > 0) return { done: true, value: waitMs };
      const windows = new Map<string, number>();
      for (const claim of claims) {
        const budget = live(claim) ?? { failures: 0, lastFailureAt: now, blockedUntil: 0 };
        budget.failures += 1;
        budget.lastFailureAt = now;
        if (budget.failures >= claim.rule.free) {
          const doublings = Math.min(budget.failures - claim.rule.free, 30);
          budget.blockedUntil =
            now + Math.min(claim.rule.baseDelayMs * 2 ** doublings, claim.rule.windowMs);
        }
        state.set(claim.key, budget);
        windows.set(claim.key, Math.max(windows.get(claim.key) ?? 0, claim.rule.windowMs));
      }
      const op = this.kv.atomic();
      ids.forEach((id, i) => {
        const kvKey = kvKeys[i] as KvKey;
        const budget = state.get(id) as Budget;
        const expireIn = Math.max(1000, forgetAt(budget, windows.get(id) ?? 0) - now);
        op.check({ key: kvKey, versionstamp: entries.get(id)?.versionstamp ?? null });
        op.set(kvKey, budget, { expireIn });
      });
      return (await op.commit()).ok ? { done: true, value: 0 } : { done: false };
    });
  }

  async refund(claims: readonly BudgetClaim[]): Promise<void> {
    await optimistic<undefined>(this.maxAttempts, async () => {
      const { ids, kvKeys, entries } = await this.#read(claims.map((claim) => claim.key));
      const state = new Map<string, Budget>();
      for (const { key: id, rule } of claims) {
        const budget = state.get(id) ?? entries.get(id)?.value;
        if (!budget) continue;
        const next = { ...budget, failures: Math.max(0, budget.failures - 1) };
        if (next.failures < rule.free) next.blockedUntil = 0;
        state.set(id, next);
      }
      if (state.size === 0) return { done: true, value: undefined };
      const op = this.kv.atomic();
      ids.forEach((id, i) => {
        const budget = state.get(id);
        if (!budget) return;
        const kvKey = kvKeys[i] as KvKey;
        op.check({ key: kvKey, versionstamp: entries.get(id)?.versionstamp ?? null });
        // Keep the entry's own garbage-collection horizon roughly: a window is at most a day.
        op.set(kvKey, budget, { expireIn: 86_400_000 });
      });
      return (await op.commit()).ok ? { done: true, value: undefined } : { done: false };
    });
  }

  async clear(keys: readonly string[]): Promise<void> {
    const op = this.kv.atomic();
    for (const id of new Set(keys)) op.delete(await key("budget", id));
    await op.commit();
  }

  async trust(pairs: readonly string[], untilMs: number): Promise<void> {
    const op = this.kv.atomic();
    const expireIn = Math.max(1000, untilMs - Date.now());
    for (const pair of new Set(pairs)) op.set(await key("trust", pair), untilMs, { expireIn });
    await op.commit();
  }

  async trusted(pairs: readonly string[], now: number): Promise<ReadonlySet<string>> {
    const kvKeys = await Promise.all(pairs.map((pair) => key("trust", pair)));
    const read = await readAll<number>(this.kv, kvKeys);
    const found = new Set<string>();
    pairs.forEach((pair, i) => {
      const until = read[i]?.value;
      if (typeof until === "number" && now < until) found.add(pair);
    });
    return found;
  }
}

interface Lease {
  token: string;
  until: number;
}

/** Per-key leases in the KV; an in-process mutex in front so one process queues locally. */
export class KvLock implements KeyedLock {
  readonly #local = new KeyedMutex();

  constructor(
    private readonly kv: DenoKv,
    private readonly options: { leaseMs: number; waitMs: number },
  ) {}

  /** Takes the lease on `id` (waiting a bounded time); answers the token that releases it. */
  async acquire(id: string): Promise<string> {
    const leaseKey = await key("lock", id);
    const token = crypto.randomUUID();
    const deadline = Date.now() + this.options.waitMs;
    for (let tries = 0; ; tries++) {
      const entry = await this.kv.get<Lease>(leaseKey);
      const now = Date.now();
      if (entry.value === null || entry.value.until <= now) {
        const { ok } = await this.kv
          .atomic()
          .check({ key: leaseKey, versionstamp: entry.versionstamp })
          .set(leaseKey, { token, until: now + this.options.leaseMs } satisfies Lease, {
            expireIn: this.options.leaseMs,
          })
          .commit();
        if (ok) return token;
      }
      if (Date.now() >= deadline) throw new CpnsError("ERR_KV_CONTENDED");
      await backoff(tries);
    }
  }

  /** Gives the lease back, only if it is still ours (an expired one may be someone else's now). */
  async release(id: string, token: string): Promise<void> {
    const leaseKey = await key("lock", id);
    const entry = await this.kv.get<Lease>(leaseKey);
    if (entry.value?.token !== token) return;
    await this.kv
      .atomic()
      .check({ key: leaseKey, versionstamp: entry.versionstamp })
      .delete(leaseKey)
      .commit();
  }

  run<T>(id: string, task: () => Promise<T>): Promise<T> {
    return this.#local.run(id, async () => {
      const token = await this.acquire(id);
      try {
        return await task();
      } finally {
        await this.release(id, token);
      }
    });
  }
}

export interface KvCoordination extends Coordination {
  readonly ledger: KvReplayLedger;
  readonly budgets: KvBudgetStore;
  readonly locks: KvLock;
}

/** The coordination of every instance on this KV. */
export async function denoKvCoordination(
  kv: DenoKv,
  options: DenoKvCoordinationOptions = {},
): Promise<KvCoordination> {
  const window = options.window ?? DEFAULT_NC_WINDOW;
  if (!Number.isInteger(window) || window < 1 || window > 32) {
    throw new RangeError("window must be an integer from 1 to 32");
  }
  const maxAttempts = options.maxAttempts ?? 200;
  return {
    ledger: new KvReplayLedger(kv, await kvLedgerEpoch(kv), {
      window,
      maxAttempts,
      now: options.now ?? Date.now,
    }),
    budgets: new KvBudgetStore(kv, maxAttempts),
    locks: new KvLock(kv, {
      leaseMs: options.leaseMs ?? 30_000,
      waitMs: options.lockWaitMs ?? 10_000,
    }),
  };
}
