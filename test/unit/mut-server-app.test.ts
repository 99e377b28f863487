/**
 * Issue #9 (mutation testing of src/server): the app that puts the routes
 * together (src/server/app.ts), from the attacker's side. Each test tells
 * apart a mutant the batch run (main at 4150e8c) left undetected: the health
 * answer, the API document and page, the inner routes a secure channel
 * reaches (every route that needs a principal, and no open one) and the
 * policy table still deciding inside the channel (an entity asking for an
 * admin route through its channel is refused).
 *
 * The server is built inside each test, on loopback (the app's handlers are
 * closures made when it is built).
 */
import { describe, expect, it } from "vitest";
import { ServerChannel } from "../../src/agent/channel-client.ts";
import { enrollDevice } from "../e2e/peer-helpers.ts";
import { statusAndCode, type TestServer } from "../e2e/server-helpers.ts";
import { serverPerTest } from "../server-per-test.ts";

const ALICE = { userId: "alice", password: "alice-app-mut-password-Qk2" };

const setup = serverPerTest({ realm: "cpns-app-mut" });

/** A PNE of alice with a channel open to the server. */
async function channelOf(server: TestServer) {
  await server.createUser(ALICE.userId, ALICE.password);
  const pne = await enrollDevice(server, ALICE, "pne-app", "PNE");
  return ServerChannel.open({
    agent: pne.agent,
    store: pne.store,
    entityId: pne.entityId,
    serverUrl: server.url,
    now: () => server.clock.now,
  });
}

describe("app.ts: the open routes", () => {
  // Report: app.ts:55 ArrowFunction, ObjectLiteral, StringLiteral.
  it("[SERVER-API] GET /health answers {status: ok}", async () => {
    const server = await setup();
    const res = await server.fetch("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  // Report: app.ts:46 ArrowFunction, :47 ObjectLiteral, :83 and :84 ArrowFunction.
  it("[OPENAPI-DOC] the API document names this server's realm, and the API page is served", async () => {
    const server = await setup();
    const doc = await server.fetch("/openapi.json");
    expect(doc.status).toBe(200);
    expect(await doc.text()).toContain("cpns-app-mut");
    const page = await server.fetch("/api");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
  });
});

describe("app.ts: the API document follows the configuration", () => {
  // Report: app.ts:49 and :50 ObjectLiteral (NoCoverage).
  it("[OPENAPI-DOC] the configured algorithms and nonce lifetime are the ones the API document states", async () => {
    const server = await setup({ algorithms: ["SHA-512-256"], nonceLifetimeSeconds: 123 });
    const text = await (await server.fetch("/openapi.json")).text();
    expect(text).toContain(
      "one challenge each in this order, all sharing one nonce and opaque (no other is accepted): SHA-512-256.",
    );
    expect(text).toContain("valid 123 s;");
  });
});

describe("app.ts: what a secure channel reaches", () => {
  // Report: app.ts:42 ArrowFunction, :106 BlockStatement, :107 BooleanLiteral, StringLiteral, ConditionalExpression `true`, :118 BlockStatement.
  it("[SEED-5.x.4-2] an entity's request through its channel reaches its route as that entity", async () => {
    const server = await setup();
    const channel = await channelOf(server);
    const res = await channel.fetch("/cpns/v1/whoami");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ entityId: "pne-app", userId: "alice", type: "PNE" });
  });

  // Report: app.ts:107 ConditionalExpression `false`, LogicalOperator.
  it("[SEED-5.x.3-2] an open route (health) is not reachable through a channel: 404", async () => {
    const server = await setup();
    const channel = await channelOf(server);
    expect((await statusAndCode(await channel.fetch("/health")))[0]).toBe(404);
  });

  // Report: app.ts:123 ConditionalExpression `false`.
  it("[SEED-5.x.3-2][SERVER-AUTHZ-POLICY] an entity asking for the admin user list through its channel is refused ERR_FORBIDDEN", async () => {
    const server = await setup();
    const channel = await channelOf(server);
    const res = await channel.fetch("/cpns/v1/admin/users");
    const [status, code] = await statusAndCode(res);
    expect([status, code]).toEqual([403, "ERR_FORBIDDEN"]);
  });

  // Report: app.ts:93 MethodExpression (`Math.max` -> `Math.min`).
  it("[SEED-5.x.4-1] a channel record larger than the JSON body limit (a 20 KB inner body) reaches the inner route", async () => {
    const server = await setup();
    const channel = await channelOf(server);
    const answer = await channel
      .fetch("/cpns/v1/otks", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ pad: "x".repeat(20_000) }),
      })
      .then(statusAndCode, (err: unknown) => ["refused", (err as { code?: string }).code]);
    // The inner route's policy answers (a PNE may not deposit), not the outer body ceiling.
    expect(answer).toEqual([403, "ERR_FORBIDDEN"]);
  });
});

describe("app.ts: the model page sees the server's channels", () => {
  // Report: app.ts:40 ArrowFunction (the model page's channel lookup answering nothing).
  it("[PLAY-LIVE-STATE] the admin's channel state route finds a channel opened on this server, with its owner", async () => {
    const server = await setup();
    const channel = await channelOf(server);
    const res = await server.admin(
      `/cpns/v1/admin/channels/${encodeURIComponent(channel.sessionId)}/state`,
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      machine: "secureChannelServer",
      id: channel.sessionId,
      context: { owner: "pne-app" },
    });
  });
});
