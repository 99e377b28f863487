/**
 * What the CPNS Server is made of, shared by its handlers: configuration,
 * repositories, the at-rest cipher, the security log, and the authenticated
 * principal type (seed 5.x.3: after authentication the server knows the
 * Entity ID, the User ID and the type).
 *
 * Implements: SEED-5.x.3-1
 */
import type { Storage } from "unstorage";
import type { ChannelLimits } from "../channel/endpoint.ts";
import type { CryptoProvider } from "../crypto/provider.ts";
import type { DigestAlgorithm, DigestPrincipal, ReplayLedger } from "../digest/index.ts";
import type { StrengthEstimator } from "../protocol/password-policy.ts";
import { AtRestCipher } from "../store/at-rest.ts";
import { type Coordination, type KeyedLock, memoryCoordination } from "../store/coordination.ts";
import type { EntityRecord, EntityType } from "../store/records.ts";
import { EntityRepository, OtkRepository, UserRepository } from "../store/repositories.ts";
import { type SecurityEventSink, SecurityLog } from "./events.ts";
import { FailureLimiter, type RateLimitOptions } from "./rate-limit.ts";

export interface CpnsServerConfig {
  /** The Digest realm of this server; HA1 values are bound to it, so it must not change. */
  realm: string;
  storage: Storage;
  /** 32 bytes; seals EUKeys and HA1s at rest. */
  masterKey: Uint8Array;
  /** Bearer token of the admin API. */
  adminToken: string;
  /** Nonce MAC key (>= 16 bytes); shared by all instances of the server. */
  digestSecret: Uint8Array | string;
  algorithms?: DigestAlgorithm[];
  nonceLifetimeSeconds?: number;
  ledger?: ReplayLedger;
  /**
   * Issue #11: the replay ledger, failure budgets and per-id locks of a fleet
   * (src/store/coordination.ts), shared by every instance. Default: in this
   * process only (one host; the data-folder lock keeps it to one process).
   * `ledger` and `rateLimit.store` above, when given, take precedence.
   */
  coordination?: Coordination;
  /** Failure budgets (src/server/rate-limit.ts); maxFailures is the per (identity, address) budget. */
  rateLimit?: Partial<Omit<RateLimitOptions, "now">>;
  /** Where security events go, one JSON line each. Default: nowhere. */
  /** A SecurityLog made by the runtime (so it can flush aggregated lines on shutdown); else one over `securityLog`. */
  securityEvents?: SecurityLog;
  securityLog?: SecurityEventSink;
  /** The client's address, from the runtime (Node: the socket). Default "unknown". */
  clientAddress?: (request: Request, env: unknown) => string | undefined;
  bodyLimitBytes?: number;
  /**
   * Issue #10 (tls-declare): whether this request reached the server over TLS,
   * from the runtime (Node: the socket is encrypted; Deno: the URL scheme;
   * Workers: cf.tlsVersion). Default: the request URL's scheme is https:.
   */
  requestIsTls?: (request: Request, env: unknown) => boolean;
  /**
   * Issue #10 (tls-declare): explicit development mode. When true, entities
   * that declared TLS may still use plain HTTP. Default false; the Node entry
   * sets it from CPNS_PLAIN_HTTP=1.
   */
  allowPlainHttpForTlsEntities?: boolean;
  /** Issue #13: http(s) base the reviewer page links repository paths under (CPNS_SOURCE_URL). */
  sourceUrl?: string;
  /** Lifetime of a secure channel (seed 5.x.4, spec/channel.md). Default 600 s. */
  channelLifetimeSeconds?: number;
  /** The server end's re-key limits of each secure channel (spec/channel.md §6). Default: the profile's. */
  channelLimits?: ChannelLimits;
  /** Longest lifetime a PN GW may give an OTK (seed 5.x.2 "onetime"). Default 300 s. */
  otkMaxLifetimeSeconds?: number;
  /**
   * Which issuer may share an OTK with which peer. Default: both belong to the
   * same CPNS User. Called before the peer's state is looked at (a refusal must
   * not tell a PN GW whether another user's entity exists or is revoked).
   */
  otkPairing?: (issuer: EntityRecord, peer: EntityRecord) => boolean;
  /**
   * Issue #9 item 6: the 32 raw private bytes of the admin transport key
   * (X25519) that create-user passwords are sealed to. Default: a fresh key per
   * app instance, kept in memory (its pin then changes at every start).
   */
  adminTransportKey?: Uint8Array;
  /**
   * Issue #9 item 7: the password strength estimator. Default: zxcvbn-ts
   * (src/protocol/password-strength.ts, loaded on first use); a small build
   * (a Worker) passes a lighter one so the dictionaries stay out of its bundle.
   */
  passwordStrength?: StrengthEstimator;
  now?: () => number;
  crypto?: CryptoProvider;
}

export type Principal =
  | { kind: "anonymous" }
  | { kind: "admin" }
  | { kind: "user"; userId: string }
  | {
      kind: EntityType;
      entityId: string;
      userId: string;
      keyVersion: number;
      /** Issue #10 (tls-declare): the entity declared TLS at enrollment. */
      declaredTls?: boolean;
    };

/** What the Digest lookup attaches to a verified principal. */
export type CredentialData = Exclude<Principal, { kind: "anonymous" } | { kind: "admin" }>;

export type ServerEnv = {
  Variables: { principal: Principal; digest: DigestPrincipal<CredentialData> };
};

export interface ServerParts {
  config: CpnsServerConfig;
  users: UserRepository;
  entities: EntityRepository;
  otks: OtkRepository;
  cipher: AtRestCipher;
  log: SecurityLog;
  limiter: FailureLimiter;
  /** Per-id serialisation of read-check-write sequences, across every instance. */
  locks: KeyedLock;
  now: () => number;
}

export function createParts(config: CpnsServerConfig): ServerParts {
  const now = config.now ?? Date.now;
  const coordination = config.coordination ?? memoryCoordination(now);
  // One ledger for the verifier (guard.ts reads config.ledger).
  config = { ...config, ledger: config.ledger ?? coordination.ledger };
  return {
    config,
    users: new UserRepository(config.storage),
    entities: new EntityRepository(config.storage),
    otks: new OtkRepository(config.storage),
    cipher: new AtRestCipher(config.masterKey, config.crypto),
    log: config.securityEvents ?? new SecurityLog(config.securityLog ?? (() => {}), now),
    limiter: new FailureLimiter({
      ...config.rateLimit,
      maxFailures: config.rateLimit?.maxFailures ?? 10,
      windowSeconds: config.rateLimit?.windowSeconds ?? 300,
      store: config.rateLimit?.store ?? coordination.budgets,
      now,
    }),
    locks: coordination.locks,
    now,
  };
}
