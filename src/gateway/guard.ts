/**
 * The PN GW's guard (issue #11: the PN GW built like the server app, src/server/guard.ts):
 * one middleware chain per route of the policy table (src/gateway/policy.ts), chosen by the
 * route's caller: the Digest verifier over the OTK of a waiting offer, the one over a
 * session's secret, the proxy verifier of the relay, or none. After Digest it puts the
 * credentials' session entry on `c.var.entry` and, when the path names a session, refuses a
 * path naming another one (403): credentials name one session, and only that one.
 *
 * A secure channel's inner requests (src/gateway/channels.ts) pass the inner guard instead:
 * the channel already authenticated its session; the guard still holds them to it.
 *
 * Implements: FLEET-SHELL-GW-POLICY, SEED-5.x.2-3, PEER-DIGEST, PEER-SESSION-PRIMED
 */
import type { MiddlewareHandler } from "hono";
import { toBase64url } from "../crypto/bytes.ts";
import type { CryptoProvider } from "../crypto/provider.ts";
import {
  type CredentialLookup,
  createDigestVerifier,
  type DigestErrorCode,
  type DigestPrincipal,
  digestAuth,
  MemoryReplayLedger,
} from "../digest/index.ts";
import { CpnsError, problemResponse } from "../errors.ts";
import { GATEWAY_POLICY, type GatewayRouteId, type GatewayRoutePolicy } from "./policy.ts";
import type { GatewaySessionBook, GatewaySessionEntry } from "./sessions.ts";

export type GatewayEnv = {
  Variables: { digest: DigestPrincipal<GatewaySessionEntry>; entry: GatewaySessionEntry };
};

/** Set only by the channel handler when it dispatches an inner request: unforgeable from outside. */
export const CHANNEL_SESSION = Symbol("cpns-gw.channel.session");
export type InnerEnv = {
  Bindings: { [CHANNEL_SESSION]: GatewaySessionEntry };
  Variables: { entry: GatewaySessionEntry };
};

export interface GatewayGuardOptions {
  realm: string;
  /** Nonce MAC key of the gateway's realm. */
  secret: Uint8Array | string;
  book: GatewaySessionBook;
  sessionLifetimeSeconds: number;
  maxRelayBodyBytes: number;
  now: () => number;
  crypto?: CryptoProvider;
}

export interface GatewayGuard {
  /** The middleware chain in front of `route`'s handler. */
  guard(route: GatewayRouteId): MiddlewareHandler<GatewayEnv>[];
  /** The guard of a channel's inner request to `route`. */
  inner(route: GatewayRouteId): MiddlewareHandler<InnerEnv>;
  /** Fresh relay challenges: a session's opening hands the peer its first one. */
  relayChallenges(): string[];
  /**
   * Fresh challenges of the session routes (issue #12 "Speed"): the opening hands the
   * peer its first one too, so the first message answers at once instead of paying a
   * 401 round trip. Unauthenticated like any challenge: one altered on the way costs
   * the peer that round trip, nothing more (its client still refuses weaker ones).
   */
  sessionChallenges(): string[];
}

/** The session a path names must be the credentials' own. */
function sameSession(entry: GatewaySessionEntry, named: string | undefined, hasParam: boolean) {
  if (hasParam && entry.snapshot.context.sessionId !== named) throw new CpnsError("ERR_FORBIDDEN");
}

export function createGatewayGuard(options: GatewayGuardOptions): GatewayGuard {
  const { book } = options;
  const common = {
    realm: options.realm,
    secret: options.secret,
    // Peer and session ids are no secret to the gateway; plain usernames keep lookups direct.
    userhash: false,
    crypto: options.crypto,
    now: options.now,
    // The PN GW answers in the CPNS problem namespace (src/errors.ts); codes are the engine's.
    problem: (code: DigestErrorCode, headers: HeadersInit) =>
      problemResponse(code, undefined, headers),
  };
  const offerLookup: CredentialLookup<GatewaySessionEntry> = ({ username }) => {
    const entry = book.offerTo(username);
    return entry?.otk ? { password: toBase64url(entry.otk), data: entry } : undefined;
  };
  const sessionLookup: CredentialLookup<GatewaySessionEntry> = ({ username }) => {
    const entry = book.session(username);
    return entry?.secret ? { password: toBase64url(entry.secret), data: entry } : undefined;
  };
  // The qop of each route comes from the table: "any" leaves the verifier's default (both),
  // "auth-int" offers and accepts only auth-int.
  const qopOf = (qop: GatewayRoutePolicy["qop"]) =>
    qop === "auth-int" ? { qop: ["auth-int"] as const } : {};
  // The relay's nonces outlive any session, and the session opening hands the peer its first
  // relay challenge: fetch() turns a 407 into a network error, so a fetch-based peer could
  // never read the challenge of a 407 itself.
  const proxyOptions = {
    ...common,
    // Relayed bodies and answers are bound to the session's hop too.
    ...qopOf(GATEWAY_POLICY.relay.qop),
    lookup: sessionLookup,
    // One ledger for the verifier that hands out the first relay challenge and the one that
    // checks the answers: its epoch is in the nonces (issue #9 item 2).
    ledger: new MemoryReplayLedger({ now: options.now }),
    // A minute beyond the session: a late relay is then answered 410 (session over), not with
    // a stale 407 that a fetch-based peer could not even read.
    nonceLifetimeSeconds: options.sessionLifetimeSeconds + 60,
  };
  const challenges = createDigestVerifier(proxyOptions);
  // The session routes' verifier shares one ledger with the one that hands out their
  // first challenge, for the same reason.
  const sessionOptions = {
    ...common,
    ...qopOf(GATEWAY_POLICY["sessions.message"].qop),
    lookup: sessionLookup,
    ledger: new MemoryReplayLedger({ now: options.now }),
  };
  const sessionChallengeSource = createDigestVerifier(sessionOptions);

  // One verifier per (caller, qop), shared by the routes that have both: a session's client
  // answers one route's challenge on the next, so their nonces must come from one ledger.
  const verifiers = new Map<string, MiddlewareHandler<GatewayEnv>>();
  const verifierFor = (policy: GatewayRoutePolicy): MiddlewareHandler<GatewayEnv> => {
    const key = `${policy.caller} ${policy.qop}`;
    let verifier = verifiers.get(key);
    if (!verifier) {
      const made =
        policy.caller === "session-relay"
          ? digestAuth<GatewaySessionEntry>({
              ...proxyOptions,
              ...qopOf(policy.qop),
              proxy: true,
              maxBodyBytes: options.maxRelayBodyBytes,
            })
          : policy.caller === "session"
            ? digestAuth<GatewaySessionEntry>({ ...sessionOptions, ...qopOf(policy.qop) })
            : digestAuth<GatewaySessionEntry>({
                ...common,
                ...qopOf(policy.qop),
                lookup: offerLookup,
              });
      verifier = made as unknown as MiddlewareHandler<GatewayEnv>;
      verifiers.set(key, verifier);
    }
    return verifier;
  };

  return {
    guard(route) {
      const policy = GATEWAY_POLICY[route];
      if (policy.caller === "anyone" || policy.caller === "channel-record") return [];
      const verify = verifierFor(policy);
      const hasParam = policy.path.includes(":sessionId");
      const entryGuard: MiddlewareHandler<GatewayEnv> = async function gatewayGuard(c, next) {
        // Stryker disable next-line OptionalChaining: equivalent: digestAuth calls next() only after setting the verified digest
        const entry = c.var.digest?.data;
        // Stryker disable next-line StringLiteral: equivalent: a verified digest always carries the entry its lookup returned (the condition's `false` stays counted: its line has a killed `true`)
        if (!entry) throw new CpnsError("ERR_INTERNAL");
        sameSession(entry, c.req.param("sessionId"), hasParam);
        c.set("entry", entry);
        await next();
      };
      return [verify, entryGuard];
    },
    inner(route) {
      // Stryker disable next-line StringLiteral: equivalent: both inner routes (sessions.message, sessions.close) have :sessionId, so includes("") answers the same
      const hasParam = GATEWAY_POLICY[route].path.includes(":sessionId");
      return async function gatewayInnerGuard(c, next) {
        const entry = c.env[CHANNEL_SESSION];
        sameSession(entry, c.req.param("sessionId"), hasParam);
        c.set("entry", entry);
        await next();
      };
    },
    relayChallenges: () => challenges.challenges(),
    sessionChallenges: () => sessionChallengeSource.challenges(),
  };
}
