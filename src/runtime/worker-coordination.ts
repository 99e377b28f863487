/**
 * The CPNS Server's records and coordination on SQLite-backed Durable Objects
 * (issue #11, Cloudflare Workers target): an unstorage driver for records and
 * a `Coordination` (src/store/coordination.ts), both over the one object class
 * of src/runtime/worker-store.ts, SHARDED so no single object serves every
 * request. Shards are a fixed number of named objects per role
 * ("records:0".."records:31", "ledger:…", "budget:…", "lock:…"), chosen by a
 * stable hash of:
 *
 * - records: the key's `prefix:segment`, except index prefixes listed by a
 *   sub-base (`otk-peer:<peer>:<otk>` lives with `otk-peer:<peer>`, so one
 *   peer's inbox is one shard's listing); a listing of a bare prefix
 *   ("user", "entity") asks every shard;
 * - ledger entries: the nonce; budgets and trusted pairs: their key; locks:
 *   the locked id;
 * - the ledger epoch: the one "meta" object, created there once.
 *
 * A take touching budgets in several shards charges each shard's claims in one
 * atomic call; if any shard refuses (a claim is blocked), the shards that
 * charged are undone exactly (the budget as it was, unless another take
 * changed it since; then one failure is refunded). Per budget, "never more
 * than the free failures" is atomic in its object; across shards the take is
 * all-or-nothing in effect, and a concurrent reader may briefly see a charge
 * that is then undone (a refusal a moment too early, never a failure too many).
 *
 * Changing SHARDS moves keys: it is fixed for the life of a deployment.
 *
 * Implements: FLEET-WORKERS-DO, FLEET-WORKERS-SHARDS, FLEET-WORKERS-TWO, FLEET-ATOMIC
 */
import { defineDriver } from "unstorage";
import { fromBase64url } from "../crypto/bytes.ts";
import { DEFAULT_NC_WINDOW, type ReplayLedger } from "../digest/index.ts";
import type { BudgetClaim, BudgetStore } from "../store/budgets.ts";
import type { Coordination, KeyedLock } from "../store/coordination.ts";
import type { BudgetChange, StoreRpc } from "./worker-store.ts";

/** The part of a Durable Object namespace binding this module uses. */
export interface StoreNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): unknown;
}

export const SHARDS = 32;
/** How long a lock holder keeps its key at most (a task cut off by a crash frees it after this). */
export const LOCK_LEASE_MS = 30_000;

/** Prefixes whose keys are listed by `prefix:segment`: those keys shard by their first two segments. */
const LISTED_BY_SEGMENT = new Set(["otk-peer"]);

/** FNV-1a, 32 bits: stable across isolates, deploys and runtimes. */
export function shardOf(text: string, shards: number = SHARDS): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}

/** The text a record key is sharded by. */
export function recordShardKey(key: string): string {
  const parts = key.split(":");
  if (parts.length > 2 && LISTED_BY_SEGMENT.has(parts[0] as string)) {
    return parts.slice(0, 2).join(":");
  }
  return key;
}

/** The one shard holding every key under `base` ("prefix:segment:"), or undefined for all. */
export function listingShardKey(base: string): string | undefined {
  const parts = base.replace(/:$/, "").split(":");
  if (parts.length === 2 && LISTED_BY_SEGMENT.has(parts[0] as string)) return parts.join(":");
  return undefined;
}

export function storeStub(namespace: StoreNamespace, name: string): StoreRpc {
  return namespace.get(namespace.idFromName(name)) as StoreRpc;
}

const shard = (namespace: StoreNamespace, role: string, key: string) =>
  storeStub(namespace, `${role}:${shardOf(key)}`);

/** The object holding `key`'s lock lease. */
export const lockStub = (namespace: StoreNamespace, key: string) => shard(namespace, "lock", key);

const everyShard = (namespace: StoreNamespace, role: string) =>
  Array.from({ length: SHARDS }, (_, i) => storeStub(namespace, `${role}:${i}`));

/** unstorage driver: one record per row, in the shard of its key. */
export const durableObjectDriver = defineDriver((options: { namespace: StoreNamespace }) => {
  const { namespace } = options;
  const of = (key: string) => shard(namespace, "records", recordShardKey(key));
  const shardsFor = (base: string) => {
    const one = listingShardKey(base);
    return one === undefined
      ? everyShard(namespace, "records")
      : [shard(namespace, "records", one)];
  };
  return {
    name: "cpns-durable-objects",
    options,
    hasItem: (key: string) => of(key).kvHas(key),
    getItem: (key: string) => of(key).kvGet(key),
    setItem: (key: string, value: string) => of(key).kvSet(key, value),
    removeItem: (key: string) => of(key).kvRemove(key),
    async getKeys(base: string) {
      const lists = await Promise.all(shardsFor(base ?? "").map((stub) => stub.kvKeys(base ?? "")));
      return lists.flat();
    },
    async clear(base: string) {
      await Promise.all(shardsFor(base ?? "").map((stub) => stub.kvClear(base ?? "")));
    },
  };
});

function groupByShard<T>(items: readonly T[], keyOf: (item: T) => string): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const index = shardOf(keyOf(item));
    const group = groups.get(index);
    if (group) group.push(item);
    else groups.set(index, [item]);
  }
  return groups;
}

class DurableBudgets implements BudgetStore {
  constructor(private readonly namespace: StoreNamespace) {}

  #stub(index: number): StoreRpc {
    return storeStub(this.namespace, `budget:${index}`);
  }

  async take(claims: readonly BudgetClaim[], now: number): Promise<number> {
    const groups = [...groupByShard(claims, (claim) => claim.key)];
    const results = await Promise.allSettled(
      groups.map(([index, group]) => this.#stub(index).budgetCharge(group, now)),
    );
    let wait = 0;
    let failed: unknown;
    const charged: [number, BudgetChange[]][] = [];
    results.forEach((result, i) => {
      const index = (groups[i] as [number, BudgetClaim[]])[0];
      if (result.status === "rejected") failed ??= result.reason;
      else if (result.value.wait > 0) wait = Math.max(wait, result.value.wait);
      else charged.push([index, result.value.changes]);
    });
    if (wait === 0 && failed === undefined) return 0;
    await Promise.all(charged.map(([index, changes]) => this.#stub(index).budgetUndo(changes)));
    if (failed !== undefined) throw failed;
    return wait;
  }

  async refund(claims: readonly BudgetClaim[]): Promise<void> {
    await Promise.all(
      [...groupByShard(claims, (claim) => claim.key)].map(([index, group]) =>
        this.#stub(index).budgetRefund(group),
      ),
    );
  }

  async clear(keys: readonly string[]): Promise<void> {
    await Promise.all(
      [...groupByShard(keys, (key) => key)].map(([index, group]) =>
        this.#stub(index).budgetClear(group),
      ),
    );
  }

  async trust(pairs: readonly string[], untilMs: number): Promise<void> {
    await Promise.all(
      [...groupByShard(pairs, (pair) => pair)].map(([index, group]) =>
        this.#stub(index).trust(group, untilMs),
      ),
    );
  }

  async trusted(pairs: readonly string[], now: number): Promise<ReadonlySet<string>> {
    const lists = await Promise.all(
      [...groupByShard(pairs, (pair) => pair)].map(([index, group]) =>
        this.#stub(index).trusted(group, now),
      ),
    );
    return new Set(lists.flat());
  }
}

class DurableLocks implements KeyedLock {
  constructor(private readonly namespace: StoreNamespace) {}

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const stub = lockStub(this.namespace, key);
    const token = await stub.lockAcquire(key, LOCK_LEASE_MS);
    try {
      return await task();
    } finally {
      // A release that fails leaves the lease to run out; the task's own outcome stands.
      await stub.lockRelease(key, token).catch(() => {});
    }
  }
}

/** The ledger epoch of this deployment: drawn once in the "meta" object, the same for every isolate. */
export async function durableEpoch(namespace: StoreNamespace): Promise<Uint8Array> {
  return fromBase64url(await storeStub(namespace, "meta").epoch());
}

export function durableCoordination(namespace: StoreNamespace, epoch: Uint8Array): Coordination {
  const ledger: ReplayLedger = {
    epoch,
    accept: (nonce, nc, expiresAtMs) =>
      shard(namespace, "ledger", nonce).ledgerAccept(nonce, nc, expiresAtMs, DEFAULT_NC_WINDOW),
  };
  return { ledger, budgets: new DurableBudgets(namespace), locks: new DurableLocks(namespace) };
}
