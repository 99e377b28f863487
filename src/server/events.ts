/**
 * Security events as JSON lines (issue #3): who did what to which entity, and
 * every authentication failure and rate limit. Only identifiers, versions,
 * addresses and times are ever written: no key, password, HA1 or header.
 *
 * Issue #9 item 5 (disk fill): every field is capped (128 chars, marked
 * `truncated`), and auth.failed / auth.replayed / auth.rate_limited are aggregated per
 * (event, address) and interval: the first is written at once, the rest of
 * the interval become one line with a `count`, written when the interval is
 * over (at the next event, or at flush() on shutdown). A flood from one
 * address therefore costs about two lines per interval, whatever its rate.
 *
 * Implements: SERVER-SECURITY-LOG, LOG-FIELDS, LOG-AGGREGATE, LOG-FLOOD
 */
export type SecurityEventName =
  | "user.created"
  | "entity.enrolled"
  | "entity.rotated"
  | "entity.revoked"
  | "otk.deposited"
  | "otk.delivered"
  | "otk.consumed"
  | "otk.expired"
  | "otk.revoked"
  | "auth.failed"
  /** An answer that proved the secret on a nonce-count already used or overtaken (LIMIT-PROVEN). */
  | "auth.replayed"
  | "auth.rate_limited"
  | "admin.denied"
  /** Issue #10 (tls-declare): a declared entity's request over plain HTTP was refused. */
  | "tls.required";

export interface SecurityEvent {
  event: SecurityEventName;
  userId?: string;
  entityId?: string;
  entityType?: string;
  keyVersion?: number;
  /** OTK events: the OTK's id and its addressee (ids only, never the key). */
  otkId?: string;
  peerId?: string;
  /** The username as sent in a failed attempt (an id, never a secret). */
  username?: string;
  address?: string;
  /** Aggregated lines: how many further events of this kind the interval saw. */
  count?: number;
  /** Set when a field was cut to MAX_FIELD_CHARS. */
  truncated?: true;
}

export type SecurityEventSink = (line: string) => void;

export const MAX_FIELD_CHARS = 128;
const AGGREGATED: ReadonlySet<SecurityEventName> = new Set([
  "auth.failed",
  "auth.replayed",
  "auth.rate_limited",
  "admin.denied",
  "tls.required",
]);
/** Bound on (event, address) pairs waiting for their summary line. */
const MAX_PENDING = 10_000;

interface Pending {
  event: SecurityEvent;
  since: number;
  count: number;
}

export interface SecurityLogOptions {
  /** Aggregation interval (default 60 s). */
  intervalMs?: number;
}

export class SecurityLog {
  readonly #pending = new Map<string, Pending>();
  readonly #intervalMs: number;
  #lastSweep = 0;

  constructor(
    private readonly sink: SecurityEventSink,
    private readonly now: () => number = Date.now,
    options: SecurityLogOptions = {},
  ) {
    this.#intervalMs = options.intervalMs ?? 60_000;
  }

  #write(event: SecurityEvent, at: number): void {
    const capped: Record<string, unknown> = { ts: new Date(at).toISOString() };
    for (const [name, value] of Object.entries(event)) {
      if (typeof value === "string" && value.length > MAX_FIELD_CHARS) {
        capped[name] = value.slice(0, MAX_FIELD_CHARS);
        capped.truncated = true;
      } else capped[name] = value;
    }
    this.sink(JSON.stringify(capped));
  }

  #summarise(key: string, pending: Pending): void {
    this.#pending.delete(key);
    if (pending.count > 0) {
      const { event, count } = pending;
      this.#write({ event: event.event, address: event.address, count }, this.now());
    }
  }

  /** Writes the summaries of intervals that are over (all of them with `all`). */
  #sweep(now: number, all: boolean): void {
    for (const [key, pending] of this.#pending) {
      if (all || now - pending.since >= this.#intervalMs) this.#summarise(key, pending);
    }
  }

  emit(event: SecurityEvent): void {
    const now = this.now();
    if (now - this.#lastSweep >= 1000) {
      this.#lastSweep = now;
      this.#sweep(now, false);
    }
    if (!AGGREGATED.has(event.event)) {
      this.#write(event, now);
      return;
    }
    const key = `${event.event}\u0000${event.address ?? ""}`;
    const pending = this.#pending.get(key);
    if (pending && now - pending.since < this.#intervalMs) {
      pending.count += 1;
      return;
    }
    if (pending) this.#summarise(key, pending);
    if (this.#pending.size >= MAX_PENDING) {
      const [oldestKey, oldest] = this.#pending.entries().next().value as [string, Pending];
      this.#summarise(oldestKey, oldest);
    }
    this.#pending.set(key, { event, since: now, count: 0 });
    this.#write(event, now);
  }

  /** Writes every pending summary now (on shutdown). */
  flush(): void {
    this.#sweep(this.now(), true);
  }
}
