/**
 * The CPNS Server's SQLite-backed Durable Object (issue #11, Cloudflare
 * Workers target). One class, many named objects: the records shards, the
 * replay-ledger shards, the failure-budget shards, the lock shards and one
 * "meta" object (src/runtime/worker-coordination.ts chooses which object a key
 * lives in). Every method below that checks and then writes is synchronous
 * from its first read to its last write: a Durable Object runs one event at a
 * time and the SQLite API is synchronous, so nothing can run in between, and
 * the object's storage commits the writes of one event together. That is the
 * atomic primitive of this target (spec/decisions.md, "workers").
 *
 * Locks are leases kept in SQLite (they survive a restart of the object, so a
 * holder cut off by a restart still keeps the key until its lease ends);
 * only the waiting is in memory.
 *
 * Implements: FLEET-WORKERS-DO, FLEET-ATOMIC, DIGEST-REPLAY, DIGEST-EPOCH, LIMIT-RESERVE
 */
import { DurableObject, type DurableObjectState, type SqlStorage } from "cloudflare:workers";
import { toBase64url } from "../crypto/bytes.ts";
import { advanceWindow, EPOCH_BYTES } from "../digest/index.ts";
import type { BudgetRule } from "../store/budgets.ts";

/** One failure budget as stored (MemoryBudgetStore's Budget, plus when it may be forgotten). */
export interface BudgetRow {
  failures: number;
  last: number;
  blocked: number;
}

export interface StoreClaim {
  key: string;
  rule: BudgetRule;
}

/** What a charge changed, so a take that failed on another shard can be undone exactly. */
export interface BudgetChange {
  key: string;
  rule: BudgetRule;
  before: BudgetRow | null;
  after: BudgetRow;
}

export type ChargeResult = { wait: number; changes: BudgetChange[] };

/** The RPC surface, as a stub sees it (every call is asynchronous from outside). */
export interface StoreRpc {
  kvGet(key: string): Promise<string | null>;
  kvHas(key: string): Promise<boolean>;
  kvSet(key: string, value: string): Promise<void>;
  kvRemove(key: string): Promise<void>;
  kvKeys(base: string): Promise<string[]>;
  kvClear(base: string): Promise<void>;
  epoch(): Promise<string>;
  ledgerAccept(nonce: string, nc: number, expiresAtMs: number, window: number): Promise<boolean>;
  budgetCharge(claims: StoreClaim[], now: number): Promise<ChargeResult>;
  budgetUndo(changes: BudgetChange[]): Promise<void>;
  budgetRefund(claims: StoreClaim[]): Promise<void>;
  budgetClear(keys: string[]): Promise<void>;
  trust(pairs: string[], untilMs: number): Promise<void>;
  trusted(pairs: string[], now: number): Promise<string[]>;
  lockAcquire(key: string, leaseMs: number): Promise<string>;
  lockRelease(key: string, token: string): Promise<void>;
}

const SCHEMA = [
  "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
  "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
  "CREATE TABLE IF NOT EXISTS ledger (nonce TEXT PRIMARY KEY, highest INTEGER NOT NULL, seen INTEGER NOT NULL, expires INTEGER NOT NULL)",
  "CREATE TABLE IF NOT EXISTS budget (key TEXT PRIMARY KEY, failures INTEGER NOT NULL, last INTEGER NOT NULL, blocked INTEGER NOT NULL, forget_at INTEGER NOT NULL)",
  "CREATE TABLE IF NOT EXISTS trust (pair TEXT PRIMARY KEY, until INTEGER NOT NULL)",
  "CREATE TABLE IF NOT EXISTS lease (key TEXT PRIMARY KEY, token TEXT NOT NULL, expires INTEGER NOT NULL)",
];

/** Expired ledger entries, forgotten budgets, past trust and dead leases go at most this often. */
const SWEEP_INTERVAL_MS = 30_000;

const sameRow = (a: BudgetRow | null, b: BudgetRow | null) =>
  a !== null &&
  b !== null &&
  a.failures === b.failures &&
  a.last === b.last &&
  a.blocked === b.blocked;

export class CpnsStore extends DurableObject {
  readonly #sql: SqlStorage;
  #nextSweepAt = 0;
  /** Callers waiting for a key's lease, woken all at once when it is released. */
  readonly #waiting = new Map<string, Set<() => void>>();

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    for (const statement of SCHEMA) this.#sql.exec(statement);
  }

  // --- records (unstorage driver) ---

  kvGet(key: string): string | null {
    const rows = this.#sql
      .exec<{ value: string }>("SELECT value FROM kv WHERE key = ?", key)
      .toArray();
    return rows[0]?.value ?? null;
  }

  kvHas(key: string): boolean {
    return this.#sql.exec("SELECT 1 FROM kv WHERE key = ?", key).toArray().length > 0;
  }

  kvSet(key: string, value: string): void {
    this.#sql.exec(
      "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
      key,
      value,
    );
  }

  kvRemove(key: string): void {
    this.#sql.exec("DELETE FROM kv WHERE key = ?", key);
  }

  kvKeys(base: string): string[] {
    return this.#sql
      .exec<{ key: string }>(
        "SELECT key FROM kv WHERE substr(key, 1, ?) = ? ORDER BY key",
        base.length,
        base,
      )
      .toArray()
      .map((row) => row.key);
  }

  kvClear(base: string): void {
    this.#sql.exec("DELETE FROM kv WHERE substr(key, 1, ?) = ?", base.length, base);
  }

  // --- the ledger's epoch: drawn once, in the one "meta" object ---

  epoch(): string {
    const rows = this.#sql
      .exec<{ value: string }>("SELECT value FROM meta WHERE name = 'epoch'")
      .toArray();
    if (rows[0]) return rows[0].value;
    const epoch = toBase64url(crypto.getRandomValues(new Uint8Array(EPOCH_BYTES)));
    this.#sql.exec("INSERT INTO meta (name, value) VALUES ('epoch', ?)", epoch);
    return epoch;
  }

  // --- replay ledger (src/digest/ledger.ts arithmetic) ---

  ledgerAccept(nonce: string, nc: number, expiresAtMs: number, window: number): boolean {
    const now = Date.now();
    this.#sweep(now);
    const row = this.#sql
      .exec<{ highest: number; seen: number; expires: number }>(
        "SELECT highest, seen, expires FROM ledger WHERE nonce = ?",
        nonce,
      )
      .toArray()[0];
    const live = row && row.expires > now ? row : undefined;
    const next = advanceWindow(live, nc, window);
    if (!next) return false;
    this.#sql.exec(
      "INSERT INTO ledger (nonce, highest, seen, expires) VALUES (?, ?, ?, ?) ON CONFLICT(nonce) DO UPDATE SET highest = excluded.highest, seen = excluded.seen, expires = excluded.expires",
      nonce,
      next.highest,
      next.seen,
      live ? live.expires : expiresAtMs,
    );
    return true;
  }

  // --- failure budgets (src/store/budgets.ts MemoryBudgetStore arithmetic) ---

  #row(key: string): BudgetRow | null {
    const row = this.#sql
      .exec<BudgetRow>("SELECT failures, last, blocked FROM budget WHERE key = ?", key)
      .toArray()[0];
    return row ? { failures: row.failures, last: row.last, blocked: row.blocked } : null;
  }

  #write(key: string, row: BudgetRow, rule: BudgetRule): void {
    this.#sql.exec(
      "INSERT INTO budget (key, failures, last, blocked, forget_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET failures = excluded.failures, last = excluded.last, blocked = excluded.blocked, forget_at = excluded.forget_at",
      key,
      row.failures,
      row.last,
      row.blocked,
      Math.max(row.last, row.blocked) + rule.windowMs,
    );
  }

  /** The budget unless a quiet window (after its last wait) has passed; then it is forgotten. */
  #live(claim: StoreClaim, now: number): BudgetRow | null {
    const row = this.#row(claim.key);
    if (row && now >= Math.max(row.last, row.blocked) + claim.rule.windowMs) {
      this.#sql.exec("DELETE FROM budget WHERE key = ?", claim.key);
      return null;
    }
    return row;
  }

  /** All of this shard's claims of one take, or none: the wait of the most blocked one. */
  budgetCharge(claims: StoreClaim[], now: number): ChargeResult {
    this.#sweep(now);
    let wait = 0;
    for (const claim of claims) {
      const row = this.#live(claim, now);
      if (row && now < row.blocked) wait = Math.max(wait, row.blocked - now);
    }
    if (wait > 0) return { wait, changes: [] };
    const changes: BudgetChange[] = [];
    for (const { key, rule } of claims) {
      const before = this.#live({ key, rule }, now);
      const after: BudgetRow = before ? { ...before } : { failures: 0, last: now, blocked: 0 };
      after.failures += 1;
      after.last = now;
      if (after.failures >= rule.free) {
        const doublings = Math.min(after.failures - rule.free, 30);
        after.blocked = now + Math.min(rule.baseDelayMs * 2 ** doublings, rule.windowMs);
      }
      this.#write(key, after, rule);
      changes.push({ key, rule, before, after });
    }
    return { wait: 0, changes };
  }

  /**
   * Takes back a charge whose take was refused on another shard: the budget as
   * it was when nothing changed it since, else one failure refunded.
   */
  budgetUndo(changes: BudgetChange[]): void {
    for (const change of [...changes].reverse()) {
      const current = this.#row(change.key);
      if (!sameRow(current, change.after)) {
        this.budgetRefund([{ key: change.key, rule: change.rule }]);
      } else if (change.before === null) {
        this.#sql.exec("DELETE FROM budget WHERE key = ?", change.key);
      } else {
        this.#write(change.key, change.before, change.rule);
      }
    }
  }

  budgetRefund(claims: StoreClaim[]): void {
    for (const { key, rule } of claims) {
      const row = this.#row(key);
      if (!row) continue;
      row.failures = Math.max(0, row.failures - 1);
      if (row.failures < rule.free) row.blocked = 0;
      this.#write(key, row, rule);
    }
  }

  budgetClear(keys: string[]): void {
    for (const key of keys) this.#sql.exec("DELETE FROM budget WHERE key = ?", key);
  }

  trust(pairs: string[], untilMs: number): void {
    for (const pair of pairs) {
      this.#sql.exec(
        "INSERT INTO trust (pair, until) VALUES (?, ?) ON CONFLICT(pair) DO UPDATE SET until = excluded.until",
        pair,
        untilMs,
      );
    }
  }

  trusted(pairs: string[], now: number): string[] {
    const found: string[] = [];
    for (const pair of pairs) {
      const row = this.#sql
        .exec<{ until: number }>("SELECT until FROM trust WHERE pair = ?", pair)
        .toArray()[0];
      if (!row) continue;
      if (now < row.until) found.push(pair);
      else this.#sql.exec("DELETE FROM trust WHERE pair = ?", pair);
    }
    return found;
  }

  // --- per-key locks: leases in SQLite, waiting in memory ---

  /** Resolves with a token once the key's lease is this caller's (until `leaseMs` from now). */
  async lockAcquire(key: string, leaseMs: number): Promise<string> {
    this.#sweep(Date.now());
    for (;;) {
      const now = Date.now();
      const row = this.#sql
        .exec<{ expires: number }>("SELECT expires FROM lease WHERE key = ?", key)
        .toArray()[0];
      if (!row || row.expires <= now) {
        const token = crypto.randomUUID();
        this.#sql.exec(
          "INSERT INTO lease (key, token, expires) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET token = excluded.token, expires = excluded.expires",
          key,
          token,
          now + leaseMs,
        );
        return token;
      }
      // Woken by a release, or at the latest when the lease runs out.
      await new Promise<void>((resolve) => {
        const waiters = this.#waiting.get(key) ?? new Set<() => void>();
        this.#waiting.set(key, waiters);
        const wake = () => {
          clearTimeout(timer);
          waiters.delete(wake);
          if (waiters.size === 0 && this.#waiting.get(key) === waiters) this.#waiting.delete(key);
          resolve();
        };
        const timer = setTimeout(wake, row.expires - now + 1);
        waiters.add(wake);
      });
    }
  }

  /** Ends the lease if it is still this token's (an expired one may belong to someone else now). */
  lockRelease(key: string, token: string): void {
    this.#sql.exec("DELETE FROM lease WHERE key = ? AND token = ?", key, token);
    for (const wake of [...(this.#waiting.get(key) ?? [])]) wake();
  }

  #sweep(now: number): void {
    if (now < this.#nextSweepAt) return;
    this.#nextSweepAt = now + SWEEP_INTERVAL_MS;
    this.#sql.exec("DELETE FROM ledger WHERE expires <= ?", now);
    this.#sql.exec("DELETE FROM budget WHERE forget_at <= ?", now);
    this.#sql.exec("DELETE FROM trust WHERE until <= ?", now);
    // Leases of holders that never released (a crash): free anyway, kept no longer.
    this.#sql.exec("DELETE FROM lease WHERE expires <= ?", Date.now());
  }
}
