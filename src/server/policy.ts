/**
 * Seed 5.x.3 (authorisation by Entity ID and User ID), as one table: every
 * route of the CPNS Server and which kinds of principal may call it. Anything
 * not in the table is denied; a test walks the whole table for every kind.
 * Ownership (a user acting on its own entities only) is checked by the
 * handlers through the entity machine, which holds the owner.
 *
 * Implements: SEED-5.x.3-2, SERVER-AUTHZ-POLICY, DIGEST-QOP-REQUIRED
 */
export type PrincipalKind = "anonymous" | "admin" | "user" | "PNE" | "PNGW";

export const PRINCIPAL_KINDS: readonly PrincipalKind[] = [
  "anonymous",
  "admin",
  "user",
  "PNE",
  "PNGW",
];

export interface RoutePolicy {
  method: "GET" | "POST" | "DELETE";
  /** Hono path pattern under the server root. */
  path: string;
  allow: readonly PrincipalKind[];
  /** Requirement ids this route implements (spec/requirements.ts). */
  requirements: readonly string[];
  /**
   * The weakest Digest qop accepted (issue #9 item 1): "auth-int" wherever a
   * request body or an answer (key material, identity, OTK records) must not be
   * alterable by a relay or anyone on the path; "auth" leaves bodies unprotected.
   */
  qop: "auth" | "auth-int";
}

const EVERYONE: readonly PrincipalKind[] = PRINCIPAL_KINDS;

export const POLICY = {
  health: { method: "GET", path: "/health", allow: EVERYONE, requirements: [], qop: "auth" },
  info: { method: "GET", path: "/cpns/v1", allow: EVERYONE, requirements: [], qop: "auth" },
  "admin.key": {
    method: "GET",
    path: "/.well-known/cpns-admin-key",
    allow: EVERYONE,
    requirements: ["ADMIN-TRANSPORT-KEY"],
    qop: "auth",
  },
  "users.create": {
    method: "POST",
    path: "/cpns/v1/admin/users",
    allow: ["admin"],
    requirements: ["SEED-5.x.1-1", "ADMIN-SEALED-SECRET", "PASSWORD-POLICY"],
    qop: "auth-int",
  },
  "users.list": {
    method: "GET",
    path: "/cpns/v1/admin/users",
    allow: ["admin"],
    requirements: [],
    qop: "auth",
  },
  "enrollments.create": {
    method: "POST",
    path: "/cpns/v1/enrollments",
    allow: ["user"],
    requirements: ["SEED-5.x.1-1", "SEED-5.x.1-2"],
    qop: "auth-int",
  },
  "entities.list": {
    method: "GET",
    path: "/cpns/v1/entities",
    allow: ["user"],
    requirements: ["SEED-5.x.3-1"],
    qop: "auth",
  },
  "entities.get": {
    method: "GET",
    path: "/cpns/v1/entities/:entityId",
    allow: ["user"],
    requirements: ["SEED-5.x.3-1"],
    qop: "auth",
  },
  "entities.revoke": {
    method: "DELETE",
    path: "/cpns/v1/entities/:entityId",
    allow: ["user"],
    requirements: ["SEED-5.x.3-1"],
    qop: "auth-int",
  },
  whoami: {
    method: "GET",
    path: "/cpns/v1/whoami",
    allow: ["PNE", "PNGW"],
    requirements: ["SEED-5.x.2-1", "SEED-5.x.3-1"],
    qop: "auth-int",
  },
  "otks.deposit": {
    method: "POST",
    path: "/cpns/v1/otks",
    allow: ["PNGW"],
    requirements: ["SEED-5.x.2-4", "SEED-5.x.2-5", "OTK-DEPOSIT", "OTK-PAIRING"],
    qop: "auth-int",
  },
  "otks.inbox": {
    method: "GET",
    path: "/cpns/v1/otks/inbox",
    allow: ["PNE", "PNGW"],
    requirements: ["OTK-DELIVERY"],
    qop: "auth-int",
  },
  "otks.deliver": {
    method: "POST",
    path: "/cpns/v1/otks/:otkId/delivery",
    allow: ["PNE", "PNGW"],
    requirements: ["SEED-5.x.2-5", "OTK-DELIVERY", "OTK-CUT-THROUGH"],
    qop: "auth-int",
  },
  "otks.consume": {
    method: "POST",
    path: "/cpns/v1/otks/:otkId/consume",
    allow: ["PNGW"],
    requirements: ["OTK-FORMAT", "OTK-CUT-THROUGH"],
    qop: "auth-int",
  },
  "channels.open": {
    method: "POST",
    path: "/cpns/v1/channels",
    allow: ["PNE", "PNGW"],
    requirements: ["SEED-5.x.4-1", "SEED-5.x.4-2", "SEED-5.x.4-3", "FFS-NO-TLS", "CHANNEL-KEYS"],
    // The answer names the session the channel keys are bound to: not alterable on the way.
    qop: "auth-int",
  },
  "channels.send": {
    method: "POST",
    path: "/cpns/v1/channels/:sessionId",
    // The record is the credential: it opens only under the channel's keys, which
    // only the entity that opened it (and this server) can derive.
    allow: EVERYONE,
    requirements: ["SEED-5.x.4-1", "SEED-5.x.4-2", "CHANNEL-REPLAY", "CHANNEL-BINDING"],
    // No Digest at all: the AEAD record authenticates itself.
    qop: "auth",
  },
  "model.page": {
    method: "GET",
    path: "/model",
    allow: EVERYONE,
    requirements: ["SPEC-MODEL-PAGE"],
    qop: "auth",
  },
  "model.icon": {
    method: "GET",
    path: "/model/icon.svg",
    allow: EVERYONE,
    requirements: ["SPEC-MODEL-PAGE"],
    qop: "auth",
  },
  "model.machines": {
    method: "GET",
    path: "/model/machines.json",
    allow: EVERYONE,
    requirements: ["SPEC-MODEL-PAGE"],
    qop: "auth",
  },
  "model.xstate": {
    method: "GET",
    path: "/model/xstate/:machineId",
    allow: EVERYONE,
    requirements: ["MODEL-XSTATE-EXPORT"],
    qop: "auth",
  },
  // Issue #13: the API document and its page, public (nothing in them is secret).
  "api.document": {
    method: "GET",
    path: "/openapi.json",
    allow: EVERYONE,
    requirements: ["OPENAPI-DOC"],
    qop: "auth",
  },
  "api.page": {
    method: "GET",
    path: "/api",
    allow: EVERYONE,
    requirements: ["OPENAPI-PAGE"],
    qop: "auth",
  },
  "model.simulate": {
    method: "POST",
    path: "/model/simulate/:machineId",
    allow: EVERYONE,
    requirements: ["PLAY-SIM-PURE", "PLAY-SIM-VALIDATE"],
    qop: "auth",
  },
  "otks.state": {
    method: "GET",
    path: "/cpns/v1/admin/otks/:otkId/state",
    allow: ["admin"],
    requirements: ["PLAY-LIVE-STATE"],
    qop: "auth",
  },
  "channels.state": {
    method: "GET",
    path: "/cpns/v1/admin/channels/:sessionId/state",
    allow: ["admin"],
    requirements: ["PLAY-LIVE-STATE"],
    qop: "auth",
  },
  "entities.state": {
    method: "GET",
    path: "/cpns/v1/admin/entities/:entityId/state",
    allow: ["admin"],
    requirements: ["SPEC-MODEL-PAGE"],
    qop: "auth",
  },
} as const satisfies Record<string, RoutePolicy>;

export type RouteId = keyof typeof POLICY;

export function isAllowed(route: RouteId, kind: PrincipalKind): boolean {
  return (POLICY[route].allow as readonly PrincipalKind[]).includes(kind);
}

/** A route open to anonymous callers needs no credentials at all. */
export function needsAuthentication(route: RouteId): boolean {
  return !isAllowed(route, "anonymous");
}
