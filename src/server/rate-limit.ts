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
 * The arithmetic sits behind BudgetStore (src/store/budgets.ts: take, refund,
 * clear, trust), which a shared store (Redis, Deno KV, a Durable Object)
 * implements atomically (issue #11); the in-process one serves one host.
 *
 * Implements: SERVER-RATE-LIMIT, LIMIT-RESERVE, LIMIT-PAIR, LIMIT-BACKOFF, LIMIT-TRUSTED, LIMIT-NAT, LIMIT-ADDRESS, LIMIT-KEYS, LIMIT-SPELLING, LIMIT-MEMORY, ORACLE-LIMIT
 */
import {
  type BudgetClaim,
  type BudgetRule,
  type BudgetStore,
  MemoryBudgetStore,
} from "../store/budgets.ts";

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

  /** The budgets an attempt naming `identityKeys` from `address` is charged to. */
  async claimsFor(
    identityKeys: readonly string[],
    address: string,
    now = this.#now(),
  ): Promise<BudgetClaim[]> {
    if (identityKeys.length === 0) return [];
    const claims: BudgetClaim[] = identityKeys.map((key) => ({
      key: `p:${key}\u0000${address}`,
      rule: this.#pair,
    }));
    const trusted = await this.#store.trusted(
      identityKeys.map((key) => trustKey(key, address)),
      now,
    );
    const untrusted = identityKeys.filter((key) => !trusted.has(trustKey(key, address)));
    for (const key of untrusted) claims.push({ key: `i:${key}`, rule: this.#identity });
    if (untrusted.length > 0) claims.push({ key: `a:${address}`, rule: this.#address });
    return claims;
  }

  /** Charges one failure to every applicable budget before the attempt is verified. */
  async reserve(identityKeys: readonly string[], address: string): Promise<Reservation> {
    const now = this.#now();
    const claims = await this.claimsFor(identityKeys, address, now);
    const waitMs = claims.length === 0 ? 0 : await this.#store.take(claims, now);
    return waitMs > 0
      ? { waitSeconds: Math.ceil(waitMs / 1000), claims: [] }
      : { waitSeconds: 0, claims };
  }

  /** The attempt was not a failed guess (success, stale nonce, malformed): give the charge back. */
  async refund(reservation: Reservation): Promise<void> {
    await this.#store.refund(reservation.claims);
  }

  /**
   * `identityKeys` (every spelling of the proven identity) succeeded from
   * `address`: its pair budgets start afresh and the pairs become trusted.
   */
  async succeeded(identityKeys: readonly string[], address: string): Promise<void> {
    const until = this.#now() + this.#trustMs;
    await this.#store.clear(identityKeys.map((key) => `p:${key}\u0000${address}`));
    await this.#store.trust(
      identityKeys.map((key) => trustKey(key, address)),
      until,
    );
  }
}

/** The store key of a trusted (identity, address) pair. */
function trustKey(identityKey: string, address: string): string {
  return `t:${identityKey}\u0000${address}`;
}
