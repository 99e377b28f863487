/**
 * The replay ledger port (RFC 7616 §5.5: "the server records the nonce-count
 * values it has seen"). For each nonce it remembers the highest nc accepted and a
 * bitmap of the `window` values below it, so a client may skip values (gaps) and
 * requests on parallel connections may arrive slightly out of order, but no nc
 * is ever accepted twice, and values older than the window are refused.
 *
 * Only nonces that have passed full verification are recorded, so unanswered
 * challenges never occupy the ledger. Adapters must make `accept` atomic: a
 * Durable Object, a Redis script, a Deno KV `atomic()`; this file holds the
 * in-process one.
 *
 * Implements: DIGEST-REPLAY, DIGEST-EPOCH, STORE-LEDGER-ATOMIC, DIGEST-SYNC-CHECK
 */

export interface ReplayLedger {
  /**
   * Which ledger this is (issue #9 item 2): the nonce MAC covers it, so a nonce
   * is only ever accepted under the ledger that remembers its answers. An
   * in-memory ledger draws a fresh one per instance, so a restarted process or
   * a second process on the same data never accepts a nonce the first issued
   * (whose answers it has not seen); a persistent or shared ledger keeps one
   * stable epoch for as long as it keeps its entries.
   */
  readonly epoch: Uint8Array;
  /**
   * Records `nc` for `nonce` and answers whether it was fresh. `expiresAtMs` is
   * when the nonce stops being accepted anyway, after which the entry may go.
   * A ledger that needs no I/O may answer synchronously: the verifier then
   * makes no promise for it (issue #12).
   */
  accept(nonce: string, nc: number, expiresAtMs: number): boolean | Promise<boolean>;
}

export const DEFAULT_NC_WINDOW = 32;

interface Entry {
  highest: number;
  /** Bit i set: nc = highest - 1 - i was seen. */
  seen: number;
  expiresAtMs: number;
}

/**
 * Pure window arithmetic, shared by every adapter so they agree exactly.
 * Returns the new state or `undefined` for a replay.
 */
export function advanceWindow(
  state: { highest: number; seen: number } | undefined,
  nc: number,
  window: number = DEFAULT_NC_WINDOW,
): { highest: number; seen: number } | undefined {
  if (!state) return { highest: nc, seen: 0 };
  const { highest, seen } = state;
  if (nc > highest) {
    const shift = nc - highest;
    if (shift > window) return { highest: nc, seen: 0 };
    // Shift the bitmap up and mark the old highest at position shift-1. JavaScript
    // shifts are mod 32, so a shift of 32 must not be left to `<<`.
    let moved = ((shift < 32 ? seen << shift : 0) | (1 << (shift - 1))) >>> 0;
    if (window < 32) moved = (moved & ((1 << window) - 1)) >>> 0;
    return { highest: nc, seen: moved };
  }
  if (nc === highest) return undefined;
  const offset = highest - nc - 1;
  if (offset >= window) return undefined;
  const bit = (1 << offset) >>> 0;
  if ((seen & bit) !== 0) return undefined;
  return { highest, seen: (seen | bit) >>> 0 };
}

/** Bytes of an epoch drawn at random: enough that two instances never share one. */
export const EPOCH_BYTES = 16;

export interface MemoryReplayLedgerOptions {
  window?: number;
  now?: () => number;
  /** How often expired entries are swept out, in ms. */
  sweepIntervalMs?: number;
}

/** Single-process ledger: atomic because JavaScript runs one callback at a time. */
export class MemoryReplayLedger implements ReplayLedger {
  readonly #entries = new Map<string, Entry>();
  readonly #window: number;
  readonly #now: () => number;
  readonly #sweepIntervalMs: number;
  #nextSweepAt = 0;
  /** Fresh per instance: what this ledger has not seen, it must not be asked to judge. */
  readonly epoch: Uint8Array = globalThis.crypto.getRandomValues(new Uint8Array(EPOCH_BYTES));

  constructor(options: MemoryReplayLedgerOptions = {}) {
    this.#window = options.window ?? DEFAULT_NC_WINDOW;
    if (!Number.isInteger(this.#window) || this.#window < 1 || this.#window > 32) {
      throw new RangeError("window must be an integer from 1 to 32");
    }
    this.#now = options.now ?? Date.now;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 30_000;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Synchronous: the check and the update happen in one turn, which is what makes them atomic here. */
  accept(nonce: string, nc: number, expiresAtMs: number): boolean {
    const now = this.#now();
    if (now >= this.#nextSweepAt) this.#sweep(now);
    const entry = this.#entries.get(nonce);
    const live = entry && entry.expiresAtMs > now ? entry : undefined;
    const next = advanceWindow(live, nc, this.#window);
    if (!next) return false;
    if (live) {
      live.highest = next.highest;
      live.seen = next.seen;
    } else {
      this.#entries.set(nonce, { ...next, expiresAtMs });
    }
    return true;
  }

  #sweep(now: number): void {
    this.#nextSweepAt = now + this.#sweepIntervalMs;
    for (const [nonce, entry] of this.#entries) {
      if (entry.expiresAtMs <= now) this.#entries.delete(nonce);
    }
  }
}
