/**
 * Issue #13 ("The API document"): what the CPNS Server and a PN GW serve at GET /openapi.json,
 * from a real server and a real PN GW on loopback. The document is valid OpenAPI 3.1 (by
 * @seriousme/openapi-schema-validator, which checks against the OpenAPI Initiative's own 3.1
 * schema), has every route of each policy table with its method and nothing else, every
 * documented path answers something other than the router's 404, nothing secret is in it,
 * and Digest is described as this project does it.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GATEWAY_POLICY } from "../../src/gateway/policy.ts";
import { POLICY } from "../../src/server/policy.ts";
import { nodeTransport } from "./node-transport.ts";
import { enrollDevice, type RunningGateway, startGateway } from "./peer-helpers.ts";
import { ADMIN_TOKEN, REALM, startTestServer, type TestServer } from "./server-helpers.ts";

type Json = Record<string, unknown>;
type Operation = Json & { operationId: string; security: Json[]; responses: Json };

const OWNER = { userId: "doc-bob", password: "doc-bob-password-12" };
const DIGEST_SECRET = "the-digest-secret-of-the-api-doc-test-0123";
const GW_SECRET = "the-gateway-digest-secret-of-the-api-doc-test";
let server: TestServer;
let gw: RunningGateway;
let serverDoc: Json;
let gatewayDoc: Json;
let serverText = "";
let gatewayText = "";

beforeAll(async () => {
  server = await startTestServer({ digestSecret: DIGEST_SECRET, nonceLifetimeSeconds: 240 });
  await server.createUser(OWNER.userId, OWNER.password);
  const device = await enrollDevice(server, OWNER, "doc-gw-1", "PNGW");
  gw = await startGateway(server, device, { digestSecret: GW_SECRET });
  const res = await fetch(`${server.url}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  serverText = await res.text();
  serverDoc = JSON.parse(serverText) as Json;
  const gres = await fetch(`${gw.url}/openapi.json`);
  expect(gres.status).toBe(200);
  gatewayText = await gres.text();
  gatewayDoc = JSON.parse(gatewayText) as Json;
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await server?.close();
});

function operations(doc: Json): Array<[string, string, Operation]> {
  return Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(
    ([path, item]) =>
      Object.entries(item).map(
        ([method, op]) => [method.toUpperCase(), path, op] as [string, string, Operation],
      ),
  );
}

const templateOf = (honoPath: string) =>
  honoPath.replace(/:([A-Za-z]+)/g, "{$1}").replace(/\*$/, "{serverPath}");

describe("[OPENAPI-DOC] the documents the apps serve", () => {
  it("[OPENAPI-DOC] both are valid OpenAPI 3.1", async () => {
    for (const doc of [serverDoc, gatewayDoc]) {
      const validator = new Validator();
      const result = await validator.validate(structuredClone(doc) as never);
      expect(result.errors ?? []).toEqual([]);
      expect(result.valid).toBe(true);
      expect(validator.version).toBe("3.1");
    }
  });

  it("[OPENAPI-DOC] the server's document has every route of its policy table with its method, and no other", () => {
    const documented = operations(serverDoc).map(([m, p, op]) => `${m} ${p} ${op.operationId}`);
    const table = Object.entries(POLICY).map(
      ([id, p]) => `${p.method} ${templateOf(p.path)} ${id}`,
    );
    expect(new Set(documented)).toEqual(new Set(table));
    expect(documented.length).toBe(table.length);
  });

  it("[OPENAPI-DOC] the PN GW's document has every route of its table; the relay under each method it serves", () => {
    const documented = operations(gatewayDoc).map(([m, p]) => `${m} ${p}`);
    const table = Object.values(GATEWAY_POLICY).flatMap((p) =>
      p.method === "ALL"
        ? ["GET", "POST", "DELETE"].map((m) => `${m} ${templateOf(p.path)}`)
        : [`${p.method} ${templateOf(p.path)}`],
    );
    expect(new Set(documented)).toEqual(new Set(table));
  });

  it("[OPENAPI-DOC] every documented operation is served: no router 404 (ERR_NOT_FOUND) from either app", async () => {
    const fill = (path: string) =>
      path
        .replace("{machineId}", "entity")
        .replace("{serverPath}", "whoami")
        .replace(/\{[A-Za-z]+\}/g, "doc-probe-1");
    const transport = nodeTransport();
    for (const [base, doc] of [
      [server.url, serverDoc],
      [gw.url, gatewayDoc],
    ] as const) {
      for (const [method, path] of operations(doc)) {
        const res = await transport(new Request(`${base}${fill(path)}`, { method }));
        const text = await res.text();
        const routerMiss = res.status === 404 && text.includes('"ERR_NOT_FOUND"');
        expect(
          routerMiss,
          `${method} ${path} on ${base}: ${res.status} ${text.slice(0, 120)}`,
        ).toBe(false);
      }
    }
    // The probe can see a miss: an undocumented path is the router's 404.
    const miss = await transport(new Request(`${server.url}/cpns/v1/not-a-route`));
    expect(miss.status).toBe(404);
    expect(await miss.text()).toContain("ERR_NOT_FOUND");
  }, 60_000);

  it("[OPENAPI-DOC] public and secret-free: anonymous, no admin token, no Digest secret, no key", async () => {
    for (const text of [serverText, gatewayText]) {
      expect(text).not.toContain(ADMIN_TOKEN);
      expect(text).not.toContain(DIGEST_SECRET);
      expect(text).not.toContain(GW_SECRET);
      expect(text).not.toContain(Buffer.from(server.masterKey).toString("base64url"));
    }
    // The same bytes with credentials as without: the document does not depend on who asks.
    const asAdmin = await server.admin("/openapi.json");
    expect(await asAdmin.text()).toBe(serverText);
  });
});

describe("[OPENAPI-DIGEST] Digest, described as the apps do it", () => {
  it("[OPENAPI-DIGEST] the server's scheme: http/digest with its algorithms, qops, rspauth, userhash and nonce lifetime", async () => {
    const schemes = (serverDoc.components as Json).securitySchemes as Record<string, Json>;
    const digest = schemes.digest as Json;
    expect(digest.type).toBe("http");
    expect(digest.scheme).toBe("digest");
    const text = String(digest.description);
    for (const words of [
      REALM,
      "SHA-256",
      "SHA-512-256",
      "MD5",
      "auth-int",
      "rspauth",
      "Authentication-Info",
      "userhash",
      "240 s",
      "stale=true",
    ]) {
      expect(text).toContain(words);
    }
    // The algorithms named are exactly those a real challenge offers, in its order.
    const challenge = await fetch(`${server.url}/cpns/v1/whoami`);
    const offered = [
      ...(challenge.headers.get("www-authenticate") ?? "").matchAll(/algorithm=([\w-]+)/g),
    ].map((m) => m[1]);
    expect(offered.length).toBeGreaterThan(0);
    expect(text).toContain(`: ${offered.join(", ")}.`);
    expect(schemes.adminBearer).toMatchObject({ type: "http", scheme: "bearer" });
    expect(String((serverDoc.info as Json).description)).toMatch(
      /Generic OpenAPI tools .* cannot run/,
    );
  });

  it("[OPENAPI-DIGEST] each server operation carries its policy row: allowed principals, qop, security", () => {
    for (const [method, path, op] of operations(serverDoc)) {
      const row = POLICY[op.operationId as keyof typeof POLICY];
      expect(row, `${method} ${path}`).toBeDefined();
      expect(op["x-cpns-allow"]).toEqual([...row.allow]);
      const digestKinds = row.allow.filter((k) => k === "user" || k === "PNE" || k === "PNGW");
      if ((row.allow as readonly string[]).includes("anonymous")) {
        expect(op.security).toEqual([{}]);
        expect(op["x-cpns-qop"]).toBeUndefined();
      } else {
        expect(op["x-cpns-qop"]).toBe(digestKinds.length > 0 ? row.qop : "none");
        const names = op.security.flatMap((s) => Object.keys(s));
        expect(names.includes("digest")).toBe(digestKinds.length > 0);
        expect(names.includes("adminBearer")).toBe(
          (row.allow as readonly string[]).includes("admin"),
        );
        expect(Object.keys(op.responses)).toContain("401");
      }
    }
    // Spot checks written by hand: the OTK deposit is PN GW only, auth-int.
    const deposit = operations(serverDoc).find(
      ([, , op]) => op.operationId === "otks.deposit",
    )?.[2];
    expect(deposit?.["x-cpns-allow"]).toEqual(["PNGW"]);
    expect(deposit?.["x-cpns-qop"]).toBe("auth-int");
  });

  it("[OPENAPI-DIGEST] the PN GW's relay: proxy Digest in Proxy-Authorization, the PNE's Authorization untouched", async () => {
    const schemes = (gatewayDoc.components as Json).securitySchemes as Record<string, Json>;
    for (const name of ["otkDigest", "sessionDigest", "sessionProxyDigest"]) {
      expect(schemes[name]).toMatchObject({ type: "http", scheme: "digest" });
    }
    expect(String(schemes.sessionProxyDigest?.description)).toMatch(/Proxy-Authorization/);
    expect(String(schemes.sessionProxyDigest?.description)).toMatch(/untouched/);
    const challenge = await fetch(`${gw.url}/cpns-gw/v1/sessions`, { method: "POST" });
    expect(challenge.status).toBe(401);
    const offered = [
      ...(challenge.headers.get("www-authenticate") ?? "").matchAll(/algorithm=([\w-]+)/g),
    ].map((m) => m[1]);
    expect(offered.length).toBeGreaterThan(0);
    expect(String(schemes.otkDigest?.description)).toContain(
      `in this order): ${offered.join(", ")};`,
    );
    const relay = operations(gatewayDoc).filter(([, , op]) => op.operationId.startsWith("relay"));
    expect(relay.length).toBe(3);
    for (const [, , op] of relay) {
      expect(op.security).toEqual([{ sessionProxyDigest: [] }]);
      expect(op["x-cpns-caller"]).toBe("session-relay");
      expect(op["x-cpns-qop"]).toBe("auth-int");
      expect(Object.keys(op.responses)).toContain("407");
    }
    for (const [, , op] of operations(gatewayDoc)) {
      const row = Object.entries(GATEWAY_POLICY).find(
        ([id]) => op.operationId.replace(/\.(get|post|delete)$/, "") === id,
      )?.[1];
      expect(row, op.operationId).toBeDefined();
      expect(op["x-cpns-caller"]).toBe(row?.caller);
      expect(op["x-cpns-qop"]).toBe(row?.qop);
    }
    expect(String((gatewayDoc.info as Json).description)).toMatch(
      /Generic OpenAPI tools cannot run/,
    );
  });
});
