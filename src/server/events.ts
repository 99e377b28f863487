/**
 * Security events as JSON lines (issue #3): who did what to which entity, and
 * every authentication failure and rate limit. Only identifiers, versions,
 * addresses and times are ever written: no key, password, HA1 or header.
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
  | "auth.rate_limited"
  | "admin.denied";

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
}

export type SecurityEventSink = (line: string) => void;

export class SecurityLog {
  constructor(
    private readonly sink: SecurityEventSink,
    private readonly now: () => number = Date.now,
  ) {}

  emit(event: SecurityEvent): void {
    this.sink(JSON.stringify({ ts: new Date(this.now()).toISOString(), ...event }));
  }
}
