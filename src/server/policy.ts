/**
 * Seed 5.x.3 (authorisation by Entity ID and User ID), as one table: every
 * route of the CPNS Server and which kinds of principal may call it. Anything
 * not in the table is denied; a test walks the whole table for every kind.
 * Ownership (a user acting on its own entities only) is checked by the
 * handlers through the entity machine, which holds the owner.
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
}

const EVERYONE: readonly PrincipalKind[] = PRINCIPAL_KINDS;

export const POLICY = {
  health: { method: "GET", path: "/health", allow: EVERYONE, requirements: [] },
  info: { method: "GET", path: "/cpns/v1", allow: EVERYONE, requirements: [] },
  "admin.key": {
    method: "GET",
    path: "/.well-known/cpns-admin-key",
    allow: EVERYONE,
    requirements: ["ADMIN-TRANSPORT-KEY"],
  },
  "users.create": {
    method: "POST",
    path: "/cpns/v1/admin/users",
    allow: ["admin"],
    requirements: ["SEED-5.x.1-1", "ADMIN-SEALED-SECRET", "PASSWORD-POLICY"],
  },
  "users.list": {
    method: "GET",
    path: "/cpns/v1/admin/users",
    allow: ["admin"],
    requirements: [],
  },
  "enrollments.create": {
    method: "POST",
    path: "/cpns/v1/enrollments",
    allow: ["user"],
    requirements: ["SEED-5.x.1-1", "SEED-5.x.1-2"],
  },
  "entities.list": {
    method: "GET",
    path: "/cpns/v1/entities",
    allow: ["user"],
    requirements: ["SEED-5.x.3-1"],
  },
  "entities.get": {
    method: "GET",
    path: "/cpns/v1/entities/:entityId",
    allow: ["user"],
    requirements: ["SEED-5.x.3-1"],
  },
  "entities.revoke": {
    method: "DELETE",
    path: "/cpns/v1/entities/:entityId",
    allow: ["user"],
    requirements: ["SEED-5.x.3-1"],
  },
  whoami: {
    method: "GET",
    path: "/cpns/v1/whoami",
    allow: ["PNE", "PNGW"],
    requirements: ["SEED-5.x.2-1", "SEED-5.x.3-1"],
  },
  "otks.deposit": {
    method: "POST",
    path: "/cpns/v1/otks",
    allow: ["PNGW"],
    requirements: ["SEED-5.x.2-4", "SEED-5.x.2-5", "OTK-DEPOSIT", "OTK-PAIRING"],
  },
  "otks.inbox": {
    method: "GET",
    path: "/cpns/v1/otks/inbox",
    allow: ["PNE", "PNGW"],
    requirements: ["OTK-DELIVERY"],
  },
  "otks.deliver": {
    method: "POST",
    path: "/cpns/v1/otks/:otkId/delivery",
    allow: ["PNE", "PNGW"],
    requirements: ["SEED-5.x.2-5", "OTK-DELIVERY", "OTK-CUT-THROUGH"],
  },
  "otks.consume": {
    method: "POST",
    path: "/cpns/v1/otks/:otkId/consume",
    allow: ["PNGW"],
    requirements: ["OTK-FORMAT", "OTK-CUT-THROUGH"],
  },
  "model.page": {
    method: "GET",
    path: "/model",
    allow: EVERYONE,
    requirements: ["SPEC-MODEL-PAGE"],
  },
  "model.icon": {
    method: "GET",
    path: "/model/icon.svg",
    allow: EVERYONE,
    requirements: ["SPEC-MODEL-PAGE"],
  },
  "model.machines": {
    method: "GET",
    path: "/model/machines.json",
    allow: EVERYONE,
    requirements: ["SPEC-MODEL-PAGE"],
  },
  "entities.state": {
    method: "GET",
    path: "/cpns/v1/admin/entities/:entityId/state",
    allow: ["admin"],
    requirements: ["SPEC-MODEL-PAGE"],
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
