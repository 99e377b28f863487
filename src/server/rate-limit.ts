/**
 * Failure budgets for Digest guessing (issue #9 items 3 and 4; replaces the
 * per-username lockout of issue #3). Learned from the OWASP Authentication
 * Cheat Sheet and OWASP "Slow Down Online Guessing Attacks with Device
 * Cookies", and from Auth0's brute-force protection (counted per account AND
 * source, not per account alone):
 *
 * - every attempt is charged to a (claimed identity, source address) pair;
 * - an identity-wide and an address-wide budget (larger) apply only while the
 *   pair has not recently proven that identity (a successful login from an
 *   address makes the pair "trusted", the device-cookie idea), so others'
 *   failures never lock a real user out at an address it signed in from;
 * - past the free budget each further failure doubles the wait (backoff), no
 *   fixed multi-minute lockout; a budget forgets after a quiet window;
 * - the charge is RESERVED before the asynchronous verification (take, then
 *   refund on success): N concurrent guesses cost N, whatever their timing.
 *
 * The arithmetic sits behind BudgetStore (take/refund/clear), which a shared
 * store (Redis, a Durable Object) can implement atomically; the in-process one
 * here serves one host. Memory is bounded: the oldest entries go first.
 *
 * Implements: SERVER-RATE-LIMIT, LIMIT-RESERVE, LIMIT-PAIR, LIMIT-BACKOFF, LIMIT-TRUSTED, LIMIT-NAT, LIMIT-ADDRESS, LIMIT-KEYS, LIMIT-SPELLING, LIMIT-MEMORY, ORACLE-LIMIT
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
 * The port a shared store implements. take() is all-or-nothing and must be
 * atomic: either every claim is charged one failure (answer 0) or none is
 * (answer: ms until the most blocked claim may try again).
 */
export interface BudgetStore {
  take(claims: readonly BudgetClaim[], now: number): number;
  refund(claims: readonly BudgetClaim[]): void;
  clear(keys: readonly string[]): void;
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

  take(claims: readonly BudgetClaim[], now: number): number {
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

  refund(claims: readonly BudgetClaim[]): void {
    for (const { key, rule } of claims) {
      const budget = this.#budgets.get(key);
      if (!budget) continue;
      budget.failures = Math.max(0, budget.failures - 1);
      if (budget.failures < rule.free) budget.blockedUntil = 0;
    }
  }

  clear(keys: readonly string[]): void {
    for (const key of keys) this.#budgets.delete(key);
  }

  get size(): number {
    return this.#budgets.size;
  }
}

export interface RateLimitOptions {
  /** Free failures per (identity, address) pair (default 10). */
  maxFailures: number;
  /** Quiet time after which a budget is forgotten, and the longest wait (default 300 s). */
  windowSeconds: number;
  /** Free failures per identity from untrusted addresses (default 3 × maxFailures). */
  identityFailures?: number;
  /** Free failures per address for identities it has not proven (default 10 × maxFailures). */
  addressFailures?: number;
  /** How long a successful (identity, address) pair stays trusted (default 30 days). */
  trustSeconds?: number;
  now?: () => number;
  store?: BudgetStore;
}

/** What a reservation took; hand it back to settle(). */
export interface Reservation {
  /** Seconds to wait, or 0 when the attempt was charged and may be verified. */
  waitSeconds: number;
  claims: readonly BudgetClaim[];
}

export class FailureLimiter {
  readonly #store: BudgetStore;
  readonly #now: () => number;
  readonly #pair: BudgetRule;
  readonly #identity: BudgetRule;
  readonly #address: BudgetRule;
  readonly #trustMs: number;
  /** (identity key, address) pairs that authenticated recently → until when. */
  readonly #trusted = new Map<string, number>();

  constructor(options: RateLimitOptions) {
    this.#store = options.store ?? new MemoryBudgetStore();
    this.#now = options.now ?? Date.now;
    const windowMs = options.windowSeconds * 1000;
    const rule = (free: number): BudgetRule => ({ free, windowMs, baseDelayMs: 1000 });
    this.#pair = rule(options.maxFailures);
    this.#identity = rule(options.identityFailures ?? options.maxFailures * 3);
    this.#address = rule(options.addressFailures ?? options.maxFailures * 10);
    this.#trustMs = (options.trustSeconds ?? 30 * 24 * 3600) * 1000;
  }

  #isTrusted(identityKey: string, address: string, now: number): boolean {
    const pair = `${identityKey}\u0000${address}`;
    const until = this.#trusted.get(pair);
    if (until === undefined) return false;
    if (now < until) return true;
    this.#trusted.delete(pair);
    return false;
  }

  /** The budgets an attempt naming `identityKeys` from `address` is charged to. */
  claimsFor(identityKeys: readonly string[], address: string, now = this.#now()): BudgetClaim[] {
    if (identityKeys.length === 0) return [];
    const claims: BudgetClaim[] = identityKeys.map((key) => ({
      key: `p:${key}\u0000${address}`,
      rule: this.#pair,
    }));
    const untrusted = identityKeys.filter((key) => !this.#isTrusted(key, address, now));
    for (const key of untrusted) claims.push({ key: `i:${key}`, rule: this.#identity });
    if (untrusted.length > 0) claims.push({ key: `a:${address}`, rule: this.#address });
    return claims;
  }

  /** Charges one failure to every applicable budget before the attempt is verified. */
  reserve(identityKeys: readonly string[], address: string): Reservation {
    const now = this.#now();
    const claims = this.claimsFor(identityKeys, address, now);
    const waitMs = claims.length === 0 ? 0 : this.#store.take(claims, now);
    return waitMs > 0
      ? { waitSeconds: Math.ceil(waitMs / 1000), claims: [] }
      : { waitSeconds: 0, claims };
  }

  /** The attempt was not a failed guess (success, stale nonce, malformed): give the charge back. */
  refund(reservation: Reservation): void {
    this.#store.refund(reservation.claims);
  }

  /**
   * `identityKeys` (every spelling of the proven identity) succeeded from
   * `address`: its pair budgets start afresh and the pairs become trusted.
   */
  succeeded(identityKeys: readonly string[], address: string): void {
    const until = this.#now() + this.#trustMs;
    this.#store.clear(identityKeys.map((key) => `p:${key}\u0000${address}`));
    for (const key of identityKeys) remember(this.#trusted, `${key}\u0000${address}`, until);
  }
}
