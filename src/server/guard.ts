/**
 * Authentication and authorisation in front of every route (seed 5.x.2,
 * 5.x.3): the route's policy row decides whether credentials are needed; an
 * admin presents the Bearer token, everyone else HTTP Digest (one lookup for
 * users and entities). Failed Digest attempts are counted per username and per
 * client address, and over the limit the answer is 429 with Retry-After. Only
 * then does the policy table allow or deny (403) the principal's kind.
 *
 * The policy check runs inside the Digest middleware, so a 403 to a genuine
 * principal still carries Authentication-Info: the server proves itself even
 * when it says no.
 */
import type { MiddlewareHandler } from "hono";
import { utf8 } from "../crypto/bytes.ts";
import { timingSafeEqualString } from "../crypto/compare.ts";
import { ALGORITHMS, digestAuth, parseAlgorithm, parseCredentials } from "../digest/index.ts";
import { decodeExtValue } from "../digest/params.ts";
import { problemResponse } from "../errors.ts";
import type { CredentialData, ServerEnv, ServerParts } from "./context.ts";
import { credentialLookup } from "./credentials.ts";
import { isAllowed, needsAuthentication, POLICY, type RouteId } from "./policy.ts";

/**
 * The identity a Digest attempt is counted against: the User ID or Entity ID
 * itself, however it was spelled (plain, username*, or a userhash of any
 * algorithm in any case), so that respelling the name buys no extra guesses.
 */
async function attemptedIdentity(parts: ServerParts, header: string): Promise<string | undefined> {
  let params: Map<string, string>;
  try {
    params = parseCredentials(header).params;
  } catch {
    return undefined;
  }
  const ext = params.get("username*");
  if (ext !== undefined) {
    try {
      return decodeExtValue(ext);
    } catch {
      return undefined;
    }
  }
  const username = params.get("username");
  if (username === undefined || params.get("userhash")?.toLowerCase() !== "true") return username;
  const algorithm = parseAlgorithm(params.get("algorithm"));
  const userhash = username.toLowerCase();
  if (!algorithm) return `userhash:${userhash}`;
  const hash = ALGORITHMS[algorithm].hash;
  const entity = await parts.entities.findByUserhash(hash, userhash);
  const user = entity ? undefined : await parts.users.findByUserhash(hash, userhash);
  return entity?.entityId ?? user?.userId ?? `userhash:${userhash}`;
}

export function createGuard(parts: ServerParts): (route: RouteId) => MiddlewareHandler<ServerEnv> {
  const { config, limiter, log } = parts;
  const adminToken = utf8(config.adminToken);
  if (adminToken.length < 16) throw new TypeError("server: the admin token must be >= 16 bytes");
  const addressOf = (c: Parameters<MiddlewareHandler<ServerEnv>>[0]) =>
    config.clientAddress?.(c.req.raw, c.env) ?? "unknown";

  // One verifier (one ledger, one epoch) for every route; each request's route
  // says which qop it demands (policy.ts, issue #9 item 1).
  const routeOf = new WeakMap<object, RouteId>();
  // digestAuth only sets `digest`; ServerEnv is a superset of its env.
  const digest = digestAuth<CredentialData>({
    requiredQop: (c) => {
      const route = routeOf.get(c);
      return route === undefined ? "auth-int" : POLICY[route].qop;
    },
    realm: config.realm,
    secret: config.digestSecret,
    lookup: credentialLookup(parts),
    algorithms: config.algorithms,
    nonceLifetimeSeconds: config.nonceLifetimeSeconds,
    ledger: config.ledger,
    crypto: config.crypto,
    now: config.now,
    onFailure: async (c, failure) => {
      const header = c.req.header("authorization");
      if (!header || failure.stale || failure.status !== 401) return;
      const username = await attemptedIdentity(parts, header);
      const address = addressOf(c);
      limiter.recordFailure(username ? [`u:${username}`, `a:${address}`] : [`a:${address}`]);
      log.emit({ event: "auth.failed", username, address });
    },
  }) as unknown as MiddlewareHandler<ServerEnv>;

  return (route) =>
    async function guard(c, next) {
      if (!needsAuthentication(route)) {
        c.set("principal", { kind: "anonymous" });
        return next();
      }
      const header = c.req.header("authorization") ?? "";
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
      // Resolving the identity may read the store: only when something is being counted.
      const username =
        header && !limiter.isEmpty() ? await attemptedIdentity(parts, header) : undefined;
      const wait = limiter.retryAfter(
        username ? [`u:${username}`, `a:${address}`] : [`a:${address}`],
      );
      if (wait > 0) {
        log.emit({ event: "auth.rate_limited", username, address });
        return problemResponse("ERR_RATE_LIMITED", undefined, { "Retry-After": String(wait) });
      }

      routeOf.set(c, route);
      return digest(c, async () => {
        const principal = c.var.digest.data as CredentialData;
        if (!limiter.isEmpty()) limiter.clear(`u:${c.var.digest.username}`);
        c.set("principal", principal);
        if (!isAllowed(route, principal.kind)) {
          c.res = problemResponse("ERR_FORBIDDEN");
          return;
        }
        await next();
      });
    };
}
