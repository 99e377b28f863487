/**
 * The failure-budget port and its in-process adapter (issue #9 items 3 and 4;
 * issue #11 makes it asynchronous so a shared store can implement it). The
 * policy (which budgets an attempt is charged to, trust after a success)
 * lives in src/server/rate-limit.ts; this file holds only the arithmetic of
 * one budget: free failures, then a wait that doubles per failure up to the
 * window, forgotten after a quiet window. Memory is bounded: the oldest
 * entries go first.
 *
 * Implements: LIMIT-RESERVE, LIMIT-BACKOFF, LIMIT-MEMORY, FLEET-PORTS
 */

/** How one kind of budget behaves. */
export interface BudgetRule {
  /** Failures allowed before any wait. */
  free: number;
  /** A budget with no failure for this long is forgotten. */
  windowMs: number;
  /** First wait past the free budget; each further failure doubles it, up to windowMs. */
  baseDelayMs: number;
}

export interface BudgetClaim {
  key: string;
  rule: BudgetRule;
}

/**
 * The port a shared store implements (issue #11: Redis, Deno KV, a Durable
 * Object; the in-process one below). take() is all-or-nothing and must be
 * atomic in the store, not in the caller: either every claim is charged one
 * failure (answer 0) or none is (answer: ms until the most blocked claim may
 * try again). Two instances taking from one budget at once must both be
 * counted.
 */
export interface BudgetStore {
  take(claims: readonly BudgetClaim[], now: number): Promise<number>;
  refund(claims: readonly BudgetClaim[]): Promise<void>;
  clear(keys: readonly string[]): Promise<void>;
  /** Marks (identity, address) pairs as trusted until `untilMs` (a success proved them). */
  trust(pairs: readonly string[], untilMs: number): Promise<void>;
  /** Which of `pairs` are trusted at `now`. */
  trusted(pairs: readonly string[], now: number): Promise<ReadonlySet<string>>;
}

interface Budget {
  failures: number;
  lastFailureAt: number;
  blockedUntil: number;
}

/** Bound on tracked keys, so a flood of distinct names or addresses cannot grow memory without limit. */
export const MAX_TRACKED = 100_000;

/**
 * Inserts as the newest entry; when full, drops the oldest tenth in one pass
 * (one at a time would walk the Map's deleted slots on every insert).
 */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  if (map.size >= MAX_TRACKED) {
    let drop = Math.ceil(MAX_TRACKED / 10);
    for (const oldest of map.keys()) {
      if (drop-- <= 0) break;
      map.delete(oldest);
    }
  }
  map.set(key, value);
}

export class MemoryBudgetStore implements BudgetStore {
  readonly #budgets = new Map<string, Budget>();
  /** (identity key, address) pairs that authenticated recently → until when. */
  readonly #trusted = new Map<string, number>();

  #live(claim: BudgetClaim, now: number): Budget | undefined {
    const budget = this.#budgets.get(claim.key);
    // Forgotten after a quiet window that starts once the last wait is over, so the
    // longest wait does not hand back a whole free budget.
    if (
      budget &&
      now >= Math.max(budget.lastFailureAt, budget.blockedUntil) + claim.rule.windowMs
    ) {
      this.#budgets.delete(claim.key);
      return undefined;
    }
    return budget;
  }

  async take(claims: readonly BudgetClaim[], now: number): Promise<number> {
    return this.#takeNow(claims, now);
  }

  /** The whole check-and-charge in one synchronous step: nothing can slip in between. */
  #takeNow(claims: readonly BudgetClaim[], now: number): number {
    let waitMs = 0;
    for (const claim of claims) {
      const budget = this.#live(claim, now);
      if (budget && now < budget.blockedUntil) waitMs = Math.max(waitMs, budget.blockedUntil - now);
    }
    if (waitMs > 0) return waitMs;
    // Synchronous from the check to here: no other request can slip in between.
    for (const { key, rule } of claims) {
      const budget = this.#live({ key, rule }, now) ?? {
        failures: 0,
        lastFailureAt: now,
        blockedUntil: 0,
      };
      budget.failures += 1;
      budget.lastFailureAt = now;
      if (budget.failures >= rule.free) {
        const doublings = Math.min(budget.failures - rule.free, 30);
        budget.blockedUntil = now + Math.min(rule.baseDelayMs * 2 ** doublings, rule.windowMs);
      }
      remember(this.#budgets, key, budget);
    }
    return 0;
  }

  async refund(claims: readonly BudgetClaim[]): Promise<void> {
    for (const { key, rule } of claims) {
      const budget = this.#budgets.get(key);
      if (!budget) continue;
      budget.failures = Math.max(0, budget.failures - 1);
      if (budget.failures < rule.free) budget.blockedUntil = 0;
    }
  }

  async clear(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.#budgets.delete(key);
  }

  async trust(pairs: readonly string[], untilMs: number): Promise<void> {
    for (const pair of pairs) remember(this.#trusted, pair, untilMs);
  }

  async trusted(pairs: readonly string[], now: number): Promise<ReadonlySet<string>> {
    const found = new Set<string>();
    for (const pair of pairs) {
      const until = this.#trusted.get(pair);
      if (until === undefined) continue;
      if (now < until) found.add(pair);
      else this.#trusted.delete(pair);
    }
    return found;
  }

  get size(): number {
    return this.#budgets.size;
  }
}
