/**
 * The PN GW's routes in one table (issue #11: "Build it like the server app: its own policy
 * table, guard and handler files"), as src/server/policy.ts is the CPNS Server's: for each
 * route id its method and path, who may call it, the qop its Digest takes, whether a secure
 * channel's inner requests reach it, and the requirements it serves. src/gateway/gateway.ts
 * registers exactly these routes, in this order, each behind the guard (src/gateway/guard.ts)
 * that the `caller` names; the handlers (src/gateway/handlers.ts) then ask the session machine.
 *
 * Callers (seed 5.x.2, second bullet; reference points CPNS-1/6 and CPNS-3):
 *   anyone          no authentication
 *   otk-peer        Digest, realm "cpns-gw:<gatewayId>", username = the peer's Entity ID,
 *                   secret = base64url(OTK) of an offer to that peer still waiting
 *   session         Digest, username = the session id, secret = the per-session secret; a
 *                   path that names a session must name the credentials' own
 *   session-relay   proxy Digest (407, Proxy-Authorization) with the session's credentials;
 *                   the PNE's own Authorization passes to the server untouched
 *   channel-record  no Digest: a record authenticates itself (AEAD under the channel's keys)
 *
 * Implements: FLEET-SHELL-GW-POLICY, PEER-DIGEST, PEER-SESSION
 */

export type GatewayCaller = "anyone" | "otk-peer" | "session" | "session-relay" | "channel-record";

export interface GatewayRoutePolicy {
  /** "ALL": any method (the relay). */
  readonly method: "GET" | "POST" | "DELETE" | "ALL";
  readonly path: string;
  readonly caller: GatewayCaller;
  /**
   * The qops the route's Digest offers and accepts: "any" (both; an opening carries no body,
   * and any Digest client, e.g. Python requests with auth only, can still be a peer), or
   * auth-int only where bodies travel (issue #9 item 1: no weaker qop to strip down to).
   */
  readonly qop: "none" | "any" | "auth-int";
  /** Also reached by a secure channel's inner requests, for the channel's own session. */
  readonly inner: boolean;
  readonly requirements: readonly string[];
}

export const GATEWAY_POLICY = {
  health: {
    method: "GET",
    path: "/health",
    caller: "anyone",
    qop: "none",
    inner: false,
    requirements: [],
  },
  info: {
    method: "GET",
    path: "/cpns-gw/v1",
    caller: "anyone",
    qop: "none",
    inner: false,
    requirements: ["PEER-DIGEST"],
  },
  "sessions.open": {
    method: "POST",
    path: "/cpns-gw/v1/sessions",
    caller: "otk-peer",
    qop: "any",
    inner: false,
    requirements: ["SEED-5.x.2-3", "SEED-5.x.2-4", "PEER-DIGEST", "PEER-SESSION"],
  },
  "sessions.message": {
    method: "POST",
    path: "/cpns-gw/v1/sessions/:sessionId/messages",
    caller: "session",
    qop: "auth-int",
    inner: true,
    requirements: ["PEER-SESSION"],
  },
  "sessions.close": {
    method: "DELETE",
    path: "/cpns-gw/v1/sessions/:sessionId",
    caller: "session",
    qop: "auth-int",
    inner: true,
    requirements: ["PEER-SESSION"],
  },
  "channels.open": {
    method: "POST",
    path: "/cpns-gw/v1/channels",
    caller: "session",
    qop: "auth-int",
    inner: false,
    requirements: ["FFS-NO-TLS"],
  },
  "channels.send": {
    method: "POST",
    path: "/cpns-gw/v1/channels/:channelId",
    caller: "channel-record",
    qop: "none",
    inner: false,
    requirements: ["FFS-NO-TLS"],
  },
  // Issue #13: the API document and its page, public (nothing in them is secret).
  "api.document": {
    method: "GET",
    path: "/openapi.json",
    caller: "anyone",
    qop: "none",
    inner: false,
    requirements: ["OPENAPI-DOC"],
  },
  "api.page": {
    method: "GET",
    path: "/api",
    caller: "anyone",
    qop: "none",
    inner: false,
    requirements: ["OPENAPI-PAGE"],
  },
  relay: {
    method: "ALL",
    path: "/cpns/v1/*",
    caller: "session-relay",
    qop: "auth-int",
    inner: false,
    requirements: ["SEED-5.x.2-6", "SEED-5.x.2-7", "GATEWAY-RELAY"],
  },
} as const satisfies Record<string, GatewayRoutePolicy>;

export type GatewayRouteId = keyof typeof GATEWAY_POLICY;

/** The routes in registration order (the table's order). */
export function gatewayRoutes(): Array<[GatewayRouteId, GatewayRoutePolicy]> {
  return Object.entries(GATEWAY_POLICY) as Array<[GatewayRouteId, GatewayRoutePolicy]>;
}
