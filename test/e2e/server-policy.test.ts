/**
 * Seed 5.x.3 (authorisation by Entity ID, User ID and type), as a walk of the
 * whole policy table (src/server/policy.ts) over real HTTP: every route times
 * every principal kind (anonymous, admin by Bearer, a CPNS User, a PNE and a
 * PN GW by Digest). The cases are generated from POLICY, so a new route is
 * covered the day it is added. Allowed means "not refused": never 401 or 403
 * (a 4xx about the body or the resource is fine); denied means 401 for an
 * anonymous caller on an authenticated route and 403 ERR_FORBIDDEN for every
 * authenticated kind, and a Digest principal's 403 still proves the server
 * (Authentication-Info with a valid rspauth, which the client requires).
 */

import { createStorage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDigestFetch } from "../../src/digest/index.ts";
import { createServerApp } from "../../src/server/app.ts";
import {
  isAllowed,
  needsAuthentication,
  POLICY,
  PRINCIPAL_KINDS,
  type PrincipalKind,
  type RouteId,
} from "../../src/server/policy.ts";
import { sealedFor } from "../admin-users.ts";
import {
  ADMIN_TOKEN,
  expectProblem,
  REALM,
  startTestServer,
  type TestServer,
} from "./server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-policy-password-1" };

let server: TestServer;
const keys: Record<"PNE" | "PNGW", string> = { PNE: "", PNGW: "" };

beforeAll(async () => {
  server = await startTestServer();
  await server.createUser(ALICE.userId, ALICE.password);
  keys.PNE = (await server.agent().enroll({ ...ALICE, entityId: "walk-pne", type: "PNE" })).eukey;
  keys.PNGW = (
    await server.agent().enroll({ ...ALICE, entityId: "walk-pngw", type: "PNGW" })
  ).eukey;
});

afterAll(async () => {
  await server.close();
});

/** Sample bodies that should succeed for the routes that take one; other POSTs get `{}`. */
const SAMPLE_BODIES: Partial<Record<RouteId, (n: number) => unknown>> = {
  // The password sealed to the server's admin transport key (issue #9 item 6).
  "users.create": async (n) => ({
    userId: `walk-user-${n}`,
    sealed: await sealedFor(
      (request) => fetch(request),
      server.url,
      `walk-user-${n}`,
      "walk-user-password",
      () => server.clock.now,
    ),
  }),
  "enrollments.create": (n) => ({ entityId: `walk-new-${n}`, type: "PNE" }),
};

type Call = (path: string, init?: RequestInit) => Promise<Response>;

/**
 * A fresh client per case, so no cached Digest state leaks from one case into another. On an
 * authenticated route a Digest principal requires rspauth (so every answer, 403 included, must
 * prove the server); a public route asks for no credentials and so proves nothing.
 */
function callerFor(kind: PrincipalKind, route: RouteId): Call {
  const digest = (username: string, password: string): Call => {
    const digestFetch = createDigestFetch({
      username,
      password,
      requireRspauth: needsAuthentication(route),
    });
    return (path, init) => digestFetch(`${server.url}${path}`, init);
  };
  switch (kind) {
    case "anonymous":
      return (path, init) => server.fetch(path, init);
    case "admin":
      return (path, init) => server.admin(path, init);
    case "user":
      return digest(ALICE.userId, ALICE.password);
    case "PNE":
      return digest("walk-pne", keys.PNE);
    case "PNGW":
      return digest("walk-pngw", keys.PNGW);
  }
}

let counter = 0;

/** A concrete request for a route: path parameters name a fresh entity of alice's. */
async function requestFor(route: RouteId): Promise<{ path: string; init: RequestInit }> {
  const policy = POLICY[route];
  const n = ++counter;
  let path: string = policy.path;
  // The reviewer page's per-machine export names a machine, not an entity.
  path = path.replace(":machineId", "entity");
  for (const param of path.match(/:[A-Za-z]+/g) ?? []) {
    const entityId = `walk-target-${n}`;
    await server.agent().enroll({ ...ALICE, entityId, type: "PNE" });
    path = path.replace(param, entityId);
  }
  const init: RequestInit = { method: policy.method };
  if (policy.method === "POST") {
    init.headers = { "content-type": "application/json" };
    init.body = JSON.stringify((await SAMPLE_BODIES[route]?.(n)) ?? {});
  }
  return { path, init };
}

const ROUTES = Object.keys(POLICY) as RouteId[];

/** Reviewer-page state routes whose id names a record the walk does not make: allowed means 404. */
const NAMES_NO_RECORD = new Set<RouteId>(["otks.state", "channels.state"]);

describe("[SERVER-AUTHZ-POLICY][SEED-5.x.3-1][SEED-5.x.3-2] the policy table, walked for every route and principal kind", () => {
  it("[SERVER-AUTHZ-POLICY] every route the app serves is a row of the table, and the walk covers all of them", () => {
    const app = createServerApp({
      realm: REALM,
      storage: createStorage({ driver: memoryDriver() }),
      masterKey: new Uint8Array(32),
      adminToken: ADMIN_TOKEN,
      digestSecret: "0123456789abcdef0123456789abcdef",
    });
    const served = new Set(
      app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`),
    );
    const table = new Set(Object.values(POLICY).map((p) => `${p.method} ${p.path}`));
    expect(served).toEqual(table);
    expect(ROUTES.length * PRINCIPAL_KINDS.length).toBeGreaterThanOrEqual(45);
  });

  for (const route of ROUTES) {
    const { method, path } = POLICY[route];
    for (const kind of PRINCIPAL_KINDS) {
      const allowed = isAllowed(route, kind);
      it(`[SERVER-AUTHZ-POLICY] ${route} (${method} ${path}) as ${kind}: ${allowed ? "allowed" : "denied"}`, async () => {
        const request = await requestFor(route);
        const res = await callerFor(kind, route)(request.path, request.init);
        const text = await res.clone().text();
        expect(res.status, text).toBeLessThan(500);
        const digestKind = kind === "user" || kind === "PNE" || kind === "PNGW";
        if (allowed) {
          expect([401, 403], text).not.toContain(res.status);
          if (NAMES_NO_RECORD.has(route)) {
            await expectProblem(res, 404, "ERR_NOT_FOUND");
          } else if (SAMPLE_BODIES[route] || method !== "POST") {
            expect(res.status, text).toBeGreaterThanOrEqual(200);
            expect(res.status, text).toBeLessThan(300);
          }
          if (digestKind && needsAuthentication(route)) {
            expect(res.headers.get("authentication-info")).toMatch(/rspauth=/);
          }
        } else if (kind === "anonymous") {
          await expectProblem(res, 401, "ERR_DIGEST_UNAUTHORIZED");
          expect(res.headers.get("www-authenticate")).toMatch(/^Digest /);
        } else {
          await expectProblem(res, 403, "ERR_FORBIDDEN");
          if (digestKind) {
            // The client already verified rspauth (requireRspauth); the header is there.
            expect(res.headers.get("authentication-info")).toMatch(/rspauth=/);
          }
        }
      });
    }
  }

  for (const route of ROUTES.filter(needsAuthentication)) {
    const { method, path } = POLICY[route];
    it(`[SERVER-ADMIN-API] ${route} (${method} ${path}) with a wrong Bearer token: 401 ERR_ADMIN_UNAUTHORIZED`, async () => {
      const request = await requestFor(route);
      const headers = new Headers(request.init.headers);
      headers.set("authorization", `Bearer ${ADMIN_TOKEN}x`);
      const res = await server.fetch(request.path, { ...request.init, headers });
      await expectProblem(res, 401, "ERR_ADMIN_UNAUTHORIZED");
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
    });
  }

  it("[SERVER-AUTHZ-POLICY] identity comes from the principal, never from ids in the request", async () => {
    const res = await callerFor("PNE", "whoami")("/cpns/v1/whoami?entityId=walk-pngw&userId=bob");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      entityId: "walk-pne",
      userId: "alice",
      type: "PNE",
      keyVersion: 1,
    });
  });
});
