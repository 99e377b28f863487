/**
 * Issue #11: the PN GW built like the server app, with its own policy table
 * (src/gateway/policy.ts). Both halves of this test are written down by hand, independently
 * of the table (as test/e2e/server-policy-matrix.test.ts is for the server): the first pins
 * the table itself, the second walks every route (and a wrong method on each path) against
 * the real app without credentials and checks who it asks for: nobody, a peer's OTK Digest
 * (both qops), the session's Digest (auth-int only), the relay's proxy Digest (407, auth-int
 * only), or a channel record (no challenge). A route added, removed, widened or narrowed
 * fails here until this file says so too.
 */
import { describe, expect, it } from "vitest";
import type { PnGateway } from "../../src/gateway/gateway.ts";
import { GATEWAY_POLICY } from "../../src/gateway/policy.ts";
import { offlineGateway } from "../e2e/peer-helpers.ts";

const TABLE = [
  ["health", "GET", "/health", "anyone", "none", false],
  ["info", "GET", "/cpns-gw/v1", "anyone", "none", false],
  ["sessions.open", "POST", "/cpns-gw/v1/sessions", "otk-peer", "any", false],
  [
    "sessions.message",
    "POST",
    "/cpns-gw/v1/sessions/:sessionId/messages",
    "session",
    "auth-int",
    true,
  ],
  ["sessions.close", "DELETE", "/cpns-gw/v1/sessions/:sessionId", "session", "auth-int", true],
  ["channels.open", "POST", "/cpns-gw/v1/channels", "session", "auth-int", false],
  ["channels.send", "POST", "/cpns-gw/v1/channels/:channelId", "channel-record", "none", false],
  ["api.document", "GET", "/openapi.json", "anyone", "none", false],
  ["api.page", "GET", "/api", "anyone", "none", false],
  ["relay", "ALL", "/cpns/v1/*", "session-relay", "auth-int", false],
] as const;

type Expect =
  | { status: 200 }
  | { status: 401; qop: string }
  | { status: 407; qop: string }
  | { status: 404; code: "ERR_NOT_FOUND" | "ERR_CHANNEL_UNKNOWN" };

/** method, concrete path, what an unauthenticated request gets. */
const WALK: Array<[string, string, Expect]> = [
  ["GET", "/health", { status: 200 }],
  ["POST", "/health", { status: 404, code: "ERR_NOT_FOUND" }],
  ["GET", "/cpns-gw/v1", { status: 200 }],
  ["DELETE", "/cpns-gw/v1", { status: 404, code: "ERR_NOT_FOUND" }],
  ["POST", "/cpns-gw/v1/sessions", { status: 401, qop: "auth, auth-int" }],
  ["GET", "/cpns-gw/v1/sessions", { status: 404, code: "ERR_NOT_FOUND" }],
  ["POST", "/cpns-gw/v1/sessions/s1/messages", { status: 401, qop: "auth-int" }],
  ["GET", "/cpns-gw/v1/sessions/s1/messages", { status: 404, code: "ERR_NOT_FOUND" }],
  ["DELETE", "/cpns-gw/v1/sessions/s1", { status: 401, qop: "auth-int" }],
  ["PUT", "/cpns-gw/v1/sessions/s1", { status: 404, code: "ERR_NOT_FOUND" }],
  ["POST", "/cpns-gw/v1/channels", { status: 401, qop: "auth-int" }],
  ["GET", "/cpns-gw/v1/channels", { status: 404, code: "ERR_NOT_FOUND" }],
  // No Digest: the record's channel is looked up first, and there is none.
  ["POST", "/cpns-gw/v1/channels/c1", { status: 404, code: "ERR_CHANNEL_UNKNOWN" }],
  ["DELETE", "/cpns-gw/v1/channels/c1", { status: 404, code: "ERR_NOT_FOUND" }],
  ["GET", "/openapi.json", { status: 200 }],
  ["POST", "/openapi.json", { status: 404, code: "ERR_NOT_FOUND" }],
  ["GET", "/api", { status: 200 }],
  ["DELETE", "/api", { status: 404, code: "ERR_NOT_FOUND" }],
  ["GET", "/cpns/v1/whoami", { status: 407, qop: "auth-int" }],
  ["POST", "/cpns/v1/otks", { status: 407, qop: "auth-int" }],
  ["DELETE", "/cpns/v1/entities/x", { status: 407, qop: "auth-int" }],
  ["GET", "/cpns/v2/whoami", { status: 404, code: "ERR_NOT_FOUND" }],
];

function gateway(): PnGateway {
  return offlineGateway({
    gatewayId: "gw-walk",
    digestSecret: "the digest secret of the policy walk",
  });
}

const qopOf = (header: string | null) => /qop="([^"]*)"/.exec(header ?? "")?.[1];

describe("[FLEET-SHELL-GW-POLICY] the PN GW's policy table, walked route by route", () => {
  it("[FLEET-SHELL-GW-POLICY] the table is the one written down here, in this order", () => {
    const actual = Object.entries(GATEWAY_POLICY).map(([id, p]) => [
      id,
      p.method,
      p.path,
      p.caller,
      p.qop,
      p.inner,
    ]);
    expect(actual).toEqual(TABLE.map((row) => [...row]));
  });

  for (const [method, path, expected] of WALK) {
    it(`[FLEET-SHELL-GW-POLICY][PEER-DIGEST] ${method} ${path} without credentials: ${expected.status}`, async () => {
      const app = gateway().app;
      const res = await app.request(`http://gw.test${path}`, { method });
      expect(res.status).toBe(expected.status);
      const www = res.headers.get("www-authenticate");
      const proxy = res.headers.get("proxy-authenticate");
      if (expected.status === 401) {
        expect(www).toContain('realm="cpns-gw:gw-walk"');
        expect(qopOf(www)).toBe(expected.qop);
        expect(proxy).toBeNull();
      } else if (expected.status === 407) {
        expect(proxy).toContain('realm="cpns-gw:gw-walk"');
        expect(qopOf(proxy)).toBe(expected.qop);
        expect(www).toBeNull();
      } else {
        expect(www).toBeNull();
        expect(proxy).toBeNull();
      }
      if (expected.status !== 200) {
        expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      }
      if (expected.status === 404) expect((await res.json()).code).toBe(expected.code);
    });
  }

  it("[FLEET-SHELL-GW-POLICY] every route of the table is walked (a new route needs a row above)", () => {
    const walkedPaths = new Set(WALK.map(([, path]) => path));
    const concrete = (path: string) =>
      path.replace(":sessionId", "s1").replace(":channelId", "c1").replace("*", "whoami");
    for (const [, , path] of TABLE) expect(walkedPaths.has(concrete(path))).toBe(true);
  });
});
