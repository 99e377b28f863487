/**
 * Seed 5.x.3 (authorisation by Entity ID, User ID and type), issue #9 "tests
 * that could not see a broken check": the walk in server-policy.test.ts takes
 * its expectations from POLICY itself, so a widened row (a PNE allowed to
 * deposit OTKs) changes the expectation along with the code and goes unseen.
 * Here the expected matrix is written down by hand, independently of
 * src/server/policy.ts (which this file does not import), and walked over real
 * HTTP for every route and every kind of caller. A new route must be added to
 * this table by hand: the first test fails until it is.
 *
 *   ok   the caller is not refused: never 401 or 403 (a 4xx about the body or
 *        the named resource is fine: the request itself is a dummy)
 *   401  refused as unauthenticated (anonymous on an authenticated route)
 *   403  refused as forbidden (ERR_FORBIDDEN), and a Digest caller still gets
 *        the server's rspauth with it
 */
import { createStorage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDigestFetch } from "../../src/digest/index.ts";
import { createServerApp } from "../../src/server/app.ts";
import {
  ADMIN_TOKEN,
  expectProblem,
  REALM,
  startTestServer,
  type TestServer,
} from "./server-helpers.ts";

type Kind = "anonymous" | "admin" | "user" | "PNE" | "PNGW";
type Verdict = "ok" | "401" | "403";
const KINDS: readonly Kind[] = ["anonymous", "admin", "user", "PNE", "PNGW"];

/** route -> what each kind of caller gets; columns: anonymous, admin, user, PNE, PNGW. */
const EXPECTED: Record<string, readonly [Verdict, Verdict, Verdict, Verdict, Verdict]> = {
  "GET /health": ["ok", "ok", "ok", "ok", "ok"],
  "GET /cpns/v1": ["ok", "ok", "ok", "ok", "ok"],
  "GET /model": ["ok", "ok", "ok", "ok", "ok"],
  "GET /model/icon.svg": ["ok", "ok", "ok", "ok", "ok"],
  "GET /model/machines.json": ["ok", "ok", "ok", "ok", "ok"],
  "GET /model/xstate/:machineId": ["ok", "ok", "ok", "ok", "ok"],
  "POST /model/simulate/:machineId": ["ok", "ok", "ok", "ok", "ok"],
  "GET /.well-known/cpns-admin-key": ["ok", "ok", "ok", "ok", "ok"],
  "GET /openapi.json": ["ok", "ok", "ok", "ok", "ok"],
  "GET /api": ["ok", "ok", "ok", "ok", "ok"],
  "POST /cpns/v1/admin/users": ["401", "ok", "403", "403", "403"],
  "GET /cpns/v1/admin/users": ["401", "ok", "403", "403", "403"],
  "GET /cpns/v1/admin/entities/:entityId/state": ["401", "ok", "403", "403", "403"],
  "GET /cpns/v1/admin/otks/:otkId/state": ["401", "ok", "403", "403", "403"],
  "GET /cpns/v1/admin/channels/:sessionId/state": ["401", "ok", "403", "403", "403"],
  "POST /cpns/v1/enrollments": ["401", "403", "ok", "403", "403"],
  "GET /cpns/v1/entities": ["401", "403", "ok", "403", "403"],
  "GET /cpns/v1/entities/:entityId": ["401", "403", "ok", "403", "403"],
  "DELETE /cpns/v1/entities/:entityId": ["401", "403", "ok", "403", "403"],
  "GET /cpns/v1/whoami": ["401", "403", "403", "ok", "ok"],
  "POST /cpns/v1/otks": ["401", "403", "403", "403", "ok"],
  "GET /cpns/v1/otks/inbox": ["401", "403", "403", "ok", "ok"],
  "POST /cpns/v1/otks/:otkId/delivery": ["401", "403", "403", "ok", "ok"],
  "POST /cpns/v1/otks/:otkId/consume": ["401", "403", "403", "403", "ok"],
  "POST /cpns/v1/channels": ["401", "403", "403", "ok", "ok"],
  // No Digest: the record is the credential (a made-up session id answers 404 to anyone).
  "POST /cpns/v1/channels/:sessionId": ["ok", "ok", "ok", "ok", "ok"],
};

const ALICE = { userId: "alice", password: "alice-matrix-password-1" };
let server: TestServer;
const keys = { PNE: "", PNGW: "" };

beforeAll(async () => {
  server = await startTestServer();
  await server.createUser(ALICE.userId, ALICE.password);
  keys.PNE = (await server.agent().enroll({ ...ALICE, entityId: "matrix-pne", type: "PNE" })).eukey;
  keys.PNGW = (
    await server.agent().enroll({ ...ALICE, entityId: "matrix-pngw", type: "PNGW" })
  ).eukey;
});

afterAll(async () => {
  await server.close();
});

type Call = (path: string, init?: RequestInit) => Promise<Response>;

/** A fresh client per case; a Digest caller on an authenticated route requires the server's rspauth. */
function callerFor(kind: Kind, authenticated: boolean): Call {
  const digest = (username: string, password: string): Call => {
    const digestFetch = createDigestFetch({ username, password, requireRspauth: authenticated });
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
      return digest("matrix-pne", keys.PNE);
    case "PNGW":
      return digest("matrix-pngw", keys.PNGW);
  }
}

let counter = 0;

/** A concrete request: an :entityId names a fresh PNE of alice's, an :otkId a made-up id. */
async function requestFor(route: string): Promise<{ path: string; init: RequestInit }> {
  const [method = "", pattern = ""] = route.split(" ");
  const n = ++counter;
  let path = pattern.replace(":otkId", `matrix-otk-${n}`).replace(":machineId", "entity");
  if (path.includes(":entityId")) {
    const entityId = `matrix-target-${n}`;
    await server.agent().enroll({ ...ALICE, entityId, type: "PNE" });
    path = path.replace(":entityId", entityId);
  }
  const init: RequestInit = { method };
  if (method === "POST") {
    init.headers = { "content-type": "application/json" };
    init.body = JSON.stringify({});
  }
  return { path, init };
}

describe("[SERVER-AUTHZ-POLICY][SEED-5.x.3-1][SEED-5.x.3-2] the authorisation matrix, written down by hand and walked over HTTP", () => {
  it("[SERVER-AUTHZ-POLICY] the table names exactly the routes the app serves (a new route must be added here by hand)", () => {
    const app = createServerApp({
      realm: REALM,
      storage: createStorage({ driver: memoryDriver() }),
      masterKey: new Uint8Array(32),
      adminToken: ADMIN_TOKEN,
      digestSecret: "0123456789abcdef0123456789abcdef",
    });
    const served = app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`);
    expect(new Set(served)).toEqual(new Set(Object.keys(EXPECTED)));
  });

  for (const [route, verdicts] of Object.entries(EXPECTED)) {
    const authenticated = verdicts[0] !== "ok";
    KINDS.forEach((kind, column) => {
      const verdict = verdicts[column] as Verdict;
      it(`[SERVER-AUTHZ-POLICY] ${route} as ${kind}: ${verdict}`, async () => {
        const request = await requestFor(route);
        const res = await callerFor(kind, authenticated)(request.path, request.init);
        const text = await res.clone().text();
        expect(res.status, text).toBeLessThan(500);
        const digestKind = kind === "user" || kind === "PNE" || kind === "PNGW";
        if (verdict === "ok") {
          expect([401, 403, 407], text).not.toContain(res.status);
        } else if (verdict === "401") {
          await expectProblem(res, 401, "ERR_DIGEST_UNAUTHORIZED");
          expect(res.headers.get("www-authenticate")).toMatch(/^Digest /);
        } else {
          await expectProblem(res, 403, "ERR_FORBIDDEN");
        }
        if (digestKind && authenticated) {
          // The client already required it; a refusal must prove the server too.
          expect(res.headers.get("authentication-info")).toMatch(/rspauth=/);
        }
      });
    });
  }
});
