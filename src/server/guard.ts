/**
 * Authentication and authorisation in front of every route (seed 5.x.2,
 * 5.x.3): the route's policy row decides whether credentials are needed; an
 * admin presents the Bearer token, everyone else HTTP Digest (one lookup for
 * users and entities). Every Digest attempt is charged to its failure budgets
 * (src/server/rate-limit.ts) BEFORE it is verified and refunded if it was not
 * a wrong answer (issue #9 item 3); over budget the answer is 429 with
 * Retry-After, except for an entity that answers with its key (item 4), and it
 * looks the same for a user, an entity or nothing (item 8). An answer that proved
 * the secret on a used or expired nonce is no guess: never charged, and over
 * budget an entity still gets the 401 its agent retries on. Only then does the
 * policy table allow or deny (403) the principal's kind.
 *
 * The policy check runs inside the Digest middleware, so a 403 to a genuine
 * principal still carries Authentication-Info: the server proves itself even
 * when it says no.
 *
 * Implements: SEED-5.x.2-1, SEED-5.x.3-2, SERVER-AUTHZ-POLICY, DIGEST-QOP-REQUIRED
 * Implements: TLSDECL-REFUSE-PLAIN, ENROLL-PRIMED, LIMIT-PROVEN
 */
import type { MiddlewareHandler } from "hono";
import { utf8 } from "../crypto/bytes.ts";
import { timingSafeEqualString } from "../crypto/compare.ts";
import { createDigestVerifier, type DigestFailure, digestAuth } from "../digest/index.ts";
import { problemResponse } from "../errors.ts";
import {
  type AttemptedIdentity,
  attemptedIdentity,
  identityKeysOfName,
} from "./attempt-identity.ts";
import type { CredentialData, ServerEnv, ServerParts } from "./context.ts";
import { credentialLookup } from "./credentials.ts";
import { isAllowed, needsAuthentication, POLICY, type RouteId } from "./policy.ts";
import type { Reservation } from "./rate-limit.ts";
import { logTlsRefusal, tlsRequirement } from "./tls-declaration.ts";

/** The verifier options every Digest answer of this server shares: one realm, secret and ledger. */
function verifierOptions(parts: ServerParts) {
  const { config } = parts;
  return {
    realm: config.realm,
    secret: config.digestSecret,
    algorithms: config.algorithms,
    nonceLifetimeSeconds: config.nonceLifetimeSeconds,
    ledger: config.ledger,
    crypto: config.crypto,
    now: config.now,
  };
}

/**
 * Fresh challenges of the guard's own verifier (same realm, secret and ledger, so
 * its nonces are the guard's), for an enrollment's answer to hand the new entity
 * (issue #12 "Speed", ENROLL-PRIMED): its first request then needs no 401 round
 * trip. It verifies nothing itself.
 */
export function firstChallenges(parts: ServerParts): () => string[] {
  const verifier = createDigestVerifier<CredentialData>({
    ...verifierOptions(parts),
    lookup: () => undefined,
  });
  // auth-int: what the strictest entity routes demand, and what the CPNS agents answer anyway.
  return () => verifier.challenges({ minimumQop: "auth-int" });
}

export function createGuard(parts: ServerParts): (route: RouteId) => MiddlewareHandler<ServerEnv> {
  const { config, limiter, log } = parts;
  const tls = tlsRequirement(config);
  const adminToken = utf8(config.adminToken);
  if (adminToken.length < 16) throw new TypeError("server: the admin token must be >= 16 bytes");
  const addressOf = (c: Parameters<MiddlewareHandler<ServerEnv>>[0]) =>
    config.clientAddress?.(c.req.raw, c.env) ?? "unknown";
  /** The verifier's failure per request, read back once digestAuth has answered. */
  const failures = new WeakMap<object, DigestFailure>();
  /** The identity each request claimed and what its attempt was charged, set before verification. */
  const attempts = new WeakMap<object, { identity: AttemptedIdentity; reservation: Reservation }>();

  // One verifier (one ledger, one epoch) for every route; each request's route
  // says which qop it demands (policy.ts, issue #9 item 1).
  const routeOf = new WeakMap<object, RouteId>();
  // digestAuth only sets `digest`; ServerEnv is a superset of its env.
  const digest = digestAuth<CredentialData>({
    requiredQop: (c) => {
      const route = routeOf.get(c);
      return route === undefined ? "auth-int" : POLICY[route].qop;
    },
    ...verifierOptions(parts),
    lookup: credentialLookup(parts),
    onFailure: (c, failure) => {
      failures.set(c, failure);
    },
    // CPNS answers in its own problem namespace (src/errors.ts); codes are the engine's.
    problem: (code, headers) => problemResponse(code, undefined, headers),
    // Item 3: charged BEFORE the asynchronous verification, so a concurrent burst
    // cannot all be evaluated against a budget that was checked but not yet spent.
    onAttempt: async (c, claimed) => {
      const identity = attemptedIdentity(claimed, config.realm);
      const reservation = await limiter.reserve(identity.keys, addressOf(c));
      attempts.set(c, { identity, reservation });
    },
  }) as unknown as MiddlewareHandler<ServerEnv>;

  return (route) =>
    async function guard(c, next) {
      if (!needsAuthentication(route)) {
        c.set("principal", { kind: "anonymous" });
        return next();
      }
      const header =
        c.req.header("authorization") ??
        // Stryker disable next-line StringLiteral: equivalent: the fallback is only matched against /^bearer\s/i below, and neither "" nor Stryker's text starts with "Bearer "
        "";
      if (/^bearer\s/i.test(header)) {
        if (!timingSafeEqualString(header.slice(7).trim(), config.adminToken)) {
          log.emit({ event: "admin.denied", address: addressOf(c) });
          return problemResponse("ERR_ADMIN_UNAUTHORIZED", undefined, {
            "WWW-Authenticate": 'Bearer realm="cpns-admin"',
          });
        }
        c.set("principal", { kind: "admin" });
        if (!isAllowed(route, "admin")) return problemResponse("ERR_FORBIDDEN");
        return next();
      }

      const address = addressOf(c);
      const overBudget = () => (attempts.get(c)?.reservation.waitSeconds ?? 0) > 0;
      const refund = async () => {
        const attempt = attempts.get(c);
        if (attempt) await limiter.refund(attempt.reservation);
      };
      let passed = false;

      routeOf.set(c, route);
      const admitted = async () => {
        const principal = c.var.digest.data as CredentialData;
        // Item 4: over budget, only a key-based principal (a 256-bit EUKey, not guessable)
        // passes; a password principal waits whatever it answered. The answer is then the
        // same 429 as for a wrong answer, without Authentication-Info (replaced below).
        if (overBudget() && principal.kind === "user") return;
        passed = true;
        await refund();
        await limiter.succeeded(identityKeysOfName(c.var.digest.username, config.realm), address);
        c.set("principal", principal);
        if (!isAllowed(route, principal.kind)) {
          c.res = problemResponse("ERR_FORBIDDEN");
          return;
        }
        // Issue #10 (tls-declare): an entity that declared TLS is refused plain HTTP
        // before any handler runs (nothing written, no key material in the answer).
        if ("declaredTls" in principal && tls.refuses(principal.declaredTls, c.req.raw, c.env)) {
          logTlsRefusal(parts, c.req.raw, c.env, { entityId: principal.entityId });
          c.res = problemResponse("ERR_TLS_REQUIRED");
          return;
        }
        await next();
      };

      let answer: Response | undefined;
      try {
        answer = (await digest(c, admitted)) as Response | undefined;
      } catch (err) {
        if (!passed) await refund();
        throw err;
      }
      if (passed) return answer;

      const failure = failures.get(c);
      const attempt = attempts.get(c);
      const identity = attempt?.identity;
      // The verifier says when an answer proved the secret and was refused only for its
      // nonce (stale, or a nonce-count already seen or overtaken): not a guess (LIMIT-PROVEN).
      // It also says whose secret, so no second store read is needed (issue #12).
      const proven = failure?.proven?.data as CredentialData | undefined;
      const guessed = Boolean(identity && failure?.status === 401 && !proven);
      if (!overBudget()) {
        // Not a wrong answer (no credentials, malformed, a proven answer on a used
        // nonce): nothing was guessed, so nothing is charged.
        if (!guessed) {
          await refund();
          // A captured request sent again, or an honest one overtaken on a parallel connection.
          // Stryker disable next-line OptionalChaining: equivalent: `proven` comes from `failure`, so it is set here
          if (proven && !failure?.stale) {
            // Stryker disable next-line OptionalChaining: equivalent: a proven answer means onAttempt ran, so the identity is set
            log.emit({ event: "auth.replayed", username: identity?.sent, address });
          }
        } else {
          // Stryker disable next-line OptionalChaining: equivalent: `guessed` is true only with an identity
          log.emit({ event: "auth.failed", username: identity?.sent, address });
        }
        return answer;
      }
      // Over budget, a proven answer on a used or expired nonce passes for an entity (its
      // agent retries with a fresh nonce; others' failures, or its own burst of requests in
      // flight, must not lock it out: LIMIT-KEYS), never for a password principal, whose
      // right guess a 401 instead of the 429 would confirm.
      if (proven && proven.kind !== "user") return answer;
      // Stryker disable next-line OptionalChaining: equivalent: over budget means onAttempt ran, so the attempt and its identity are set
      log.emit({ event: "auth.rate_limited", username: identity?.sent, address });
      // A fresh Response: nothing the verifier or a handler set may leak through.
      c.res = undefined;
      c.res = problemResponse("ERR_RATE_LIMITED", undefined, {
        // Stryker disable next-line OptionalChaining: equivalent: over budget means the attempt is set (its waitSeconds > 0)
        "Retry-After": String(attempt?.reservation.waitSeconds ?? 1),
      });
      return c.res;
    };
}
