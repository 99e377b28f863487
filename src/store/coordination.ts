/**
 * The coordination port (issue #11): what the CPNS Server needs, besides its
 * records, to stay one server when it runs as several instances (a Node
 * fleet on Redis, Deno Deploy isolates on Deno KV, Workers on Durable
 * Objects). Each invariant the server keeps across requests goes through one
 * of these three, and an adapter must make each atomic in its store, never
 * in the calling process:
 *
 * - `ledger`: every (nonce, nc) accepted at most once (DIGEST-REPLAY), by any
 *   instance;
 * - `budgets`: failure budgets charged before verification (LIMIT-RESERVE),
 *   shared by every instance, so a burst spread over instances costs the same;
 * - `locks`: read-check-write sequences on one id (an Entity ID's owner, an
 *   OTK's single delivery and consume, a rotation) serialised across
 *   instances.
 *
 * The in-process implementation below is the embedded default (one Node
 * process on one data folder, which the folder lock enforces). Which
 * primitive protects which invariant on each target: spec/decisions.md.
 *
 * Implements: FLEET-PORTS, FLEET-ATOMIC
 */
import { MemoryReplayLedger, type ReplayLedger } from "../digest/index.ts";
import { type BudgetStore, MemoryBudgetStore } from "./budgets.ts";

/** Serialises tasks per key. Across instances, an adapter's lease must outlive any task. */
export interface KeyedLock {
  run<T>(key: string, task: () => Promise<T>): Promise<T>;
}

export interface Coordination {
  readonly ledger: ReplayLedger;
  readonly budgets: BudgetStore;
  readonly locks: KeyedLock;
}

/**
 * Serialises read-check-write sequences per key inside one process, so two
 * concurrent enrollments of one Entity ID cannot both see "unassigned" and
 * both write.
 */
export class KeyedMutex implements KeyedLock {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => current);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await task();
    } finally {
      release();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}

/** One process's coordination: everything in memory, a fresh ledger epoch per start. */
export function memoryCoordination(now: () => number = Date.now): Coordination {
  return {
    ledger: new MemoryReplayLedger({ now }),
    budgets: new MemoryBudgetStore(),
    locks: new KeyedMutex(),
  };
}
