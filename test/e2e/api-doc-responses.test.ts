/**
 * Issue #13 ("a test that checks ... that real responses match their documented schemas"):
 * the whole story over real HTTP on loopback, a real CPNS Server and a real PN GW, every
 * request driven by the project's own clients through a recording transport; each answer,
 * successes and refusals, is then checked against the document the app itself serves
 * (GET /openapi.json) with a JSON Schema 2020-12 validator: a documented operation, a
 * documented status, a documented media type, a body that validates. Answers relayed by the
 * PN GW are the CPNS Server's and are checked against the server's document. Finally, one
 * schema of the served document is changed and the same recorded answer must fail.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EntityAgent } from "../../src/agent/agent.ts";
import { ServerChannel } from "../../src/agent/channel-client.ts";
import { createUserSealed } from "../admin-users.ts";
import { checkExchange, type Exchange, findOperation, recording } from "./api-doc-check.ts";
import { nodeTransport } from "./node-transport.ts";
import { connectPeer, enrollDevice, type RunningGateway, startGateway } from "./peer-helpers.ts";
import { ADMIN_TOKEN, startTestServer, type TestServer } from "./server-helpers.ts";

type Recorded = Exchange & { origin: string };
type Json = Record<string, unknown>;

const OWNER = { userId: "doc-alice", password: "doc-alice-password-1" };
const log: Recorded[] = [];
/** Answers that came back through a secure channel (inner requests), checked like the rest. */
const inner: Recorded[] = [];
let server: TestServer;
let gw: RunningGateway;
let serverDoc: Json;
let gatewayDoc: Json;

beforeAll(async () => {
  server = await startTestServer();
  const record = recording(log);
  const created = await createUserSealed({
    transport: record,
    base: server.url,
    adminToken: ADMIN_TOKEN,
    userId: OWNER.userId,
    password: OWNER.password,
    now: () => server.clock.now,
  });
  expect(created.status).toBe(201);

  // Enrollment (201), a rotation (200), whoami, the user's own views.
  const gwDevice = await enrollDevice(server, OWNER, "doc-gw", "PNGW", record);
  const pne = await enrollDevice(server, OWNER, "doc-pne", "PNE", record);
  await pne.agent.enroll({ ...OWNER, entityId: "doc-pne", type: "PNE" });
  await pne.agent.whoami("doc-pne");
  const asUser = (path: string, init?: RequestInit) =>
    server.asUser(OWNER.userId, OWNER.password, record)(path, init);
  await asUser("/cpns/v1/entities");
  await asUser("/cpns/v1/entities/doc-pne");
  await enrollDevice(server, OWNER, "doc-pne-2", "PNE", record);
  await asUser("/cpns/v1/entities/doc-pne-2", { method: "DELETE" });
  await record(
    new Request(`${server.url}/cpns/v1/admin/users`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    }),
  );

  // The PN GW deposits an OTK; the PNE reads its inbox, fetches it, opens a session, and the
  // PN GW consumes it at the server.
  gw = await startGateway(server, gwDevice);
  await gw.gateway.offer("doc-pne");
  const { session } = await connectPeer(server, pne, "doc-gw", { fetch: record });
  await session.send("hello through the API document");

  // The PNE's traffic to the server through the relay, end to end.
  const relayed = new EntityAgent({
    serverUrl: server.url,
    store: pne.store,
    fetch: session.relayTransport(),
  });
  await relayed.whoami("doc-pne");

  // A secure channel with the server: its opening, a record, and the inner answer.
  const channel = await ServerChannel.open({
    agent: pne.agent,
    store: pne.store,
    entityId: "doc-pne",
    serverUrl: server.url,
    fetch: record,
    now: () => server.clock.now,
  });
  const innerAnswer = await channel.fetch("/cpns/v1/whoami");
  inner.push({
    origin: server.url,
    method: "GET",
    path: "/cpns/v1/whoami",
    status: innerAnswer.status,
    contentType: innerAnswer.headers.get("content-type") ?? "",
    body: await innerAnswer.text(),
  });

  // A peer channel with the PN GW, and the session's close.
  const peerChannel = await session.openChannel();
  const messagesPath = `/cpns-gw/v1/sessions/${session.sessionId}/messages`;
  const echoed = await peerChannel.fetch(messagesPath, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ message: "inside the peer channel" }),
  });
  inner.push({
    origin: gw.url,
    method: "POST",
    path: messagesPath,
    status: echoed.status,
    contentType: echoed.headers.get("content-type") ?? "",
    body: await echoed.text(),
  });
  await peerChannel.close();
  await session.close();

  // Refusals: each must be a documented status with a documented code.
  const raw = (path: string, init?: RequestInit) =>
    record(new Request(`${server.url}${path}`, init));
  await raw("/cpns/v1/whoami");
  await raw("/cpns/v1/admin/users", { headers: { authorization: "Bearer not-the-token-at-all" } });
  await asUser("/cpns/v1/enrollments", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ entityId: "../etc", type: "PNE" }),
  });
  await asUser("/cpns/v1/enrollments", {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: "{}",
  });
  await asUser("/cpns/v1/entities/nobody-here");
  await asUser("/cpns/v1/whoami");
  await raw("/cpns/v1/channels/no-such-channel", {
    method: "POST",
    headers: { "content-type": "application/vnd.cpns.channel" },
    body: new Uint8Array(40),
  });
  await raw("/model/xstate/no-such-machine");
  const gwRaw = (path: string, init?: RequestInit) => record(new Request(`${gw.url}${path}`, init));
  await gwRaw("/cpns-gw/v1/sessions", { method: "POST" });
  // fetch() turns a 407 into a network error: this one goes over node:http.
  await recording(log, nodeTransport())(new Request(`${gw.url}/cpns/v1/whoami`));
  await gwRaw("/cpns-gw/v1/channels/no-such-channel", {
    method: "POST",
    headers: { "content-type": "application/vnd.cpns.channel" },
    body: new Uint8Array(40),
  });
  await raw("/cpns/v1/admin/entities/doc-pne/state", {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  // The reviewer page's routes (issue #13): a simulation start and step, a refused step, and
  // the admin-only live state of an OTK and a channel (unknown ids: 404).
  const simulate = (machineId: string, body: unknown) =>
    raw(`/model/simulate/${machineId}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const started = (await (
    await fetch(`${server.url}/model/simulate/entity`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({}),
    })
  ).json()) as {
    snapshot: unknown;
    events: Array<{ type: string; example: Record<string, unknown> }>;
  };
  await simulate("entity", {});
  const enroll = started.events.find((e) => e.type === "ENROLL");
  await simulate("entity", {
    snapshot: started.snapshot,
    event: { ...enroll?.example, type: "ENROLL" },
  });
  await simulate("entity", { snapshot: started.snapshot, event: { type: "NO_SUCH_EVENT" } });
  await simulate("no-such-machine", {});
  const admin = { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } };
  await raw("/cpns/v1/admin/otks/AAAAAAAAAAAAAAAAAAAAAAAAAAAA/state", admin);
  await raw(`/cpns/v1/admin/channels/${channel.sessionId}/state`, admin);
  await raw("/cpns/v1/admin/channels/no-such-channel/state", admin);
  // Public routes of both apps.
  for (const path of [
    "/health",
    "/cpns/v1",
    "/.well-known/cpns-admin-key",
    "/model/machines.json",
    "/model/xstate/entity",
    "/model",
    "/model/icon.svg",
    "/openapi.json",
    "/api",
  ]) {
    await raw(path);
  }
  for (const path of ["/health", "/cpns-gw/v1", "/openapi.json", "/api"]) await gwRaw(path);

  serverDoc = (await (await fetch(`${server.url}/openapi.json`)).json()) as Json;
  gatewayDoc = (await (await fetch(`${gw.url}/openapi.json`)).json()) as Json;
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await server?.close();
});

/** The document an answer is checked against: the PN GW's own routes, else the server's. */
function docFor(exchange: Recorded): Json {
  if (exchange.origin !== gw.url) return serverDoc;
  const own = findOperation(gatewayDoc, exchange.method, exchange.path);
  // The relay's own refusals (407, a gone session) are the PN GW's; any other answer is the server's.
  if (String(own?.op.operationId).startsWith("relay") && exchange.status !== 407) {
    const body = exchange.body.startsWith("{") ? (JSON.parse(exchange.body) as Json) : {};
    if (body.code !== "ERR_PEER_SESSION_GONE" && body.code !== "ERR_RELAY_UPSTREAM")
      return serverDoc;
  }
  return gatewayDoc;
}

describe("[OPENAPI-SCHEMAS][OPENAPI-PROBLEMS] real answers match the documents the apps serve", () => {
  it("[OPENAPI-SCHEMAS] the story reached every kind of answer it is meant to check", () => {
    const seen = new Set(log.map((e) => `${e.method} ${e.status}`));
    expect(log.length).toBeGreaterThan(40);
    for (const expected of [
      "POST 201",
      "POST 200",
      "GET 200",
      "DELETE 204",
      "GET 401",
      "POST 400",
      "POST 415",
      "GET 404",
      "GET 403",
      "GET 407",
    ]) {
      expect(seen, expected).toContain(expected);
    }
    const routes = new Set(
      log.map((e) => String(findOperation(docFor(e), e.method, e.path)?.op.operationId)),
    );
    for (const route of [
      "users.create",
      "users.list",
      "enrollments.create",
      "entities.list",
      "entities.get",
      "entities.revoke",
      "entities.state",
      "whoami",
      "otks.deposit",
      "otks.inbox",
      "otks.deliver",
      "otks.consume",
      "channels.open",
      "channels.send",
      "sessions.open",
      "sessions.message",
      "sessions.close",
      "model.xstate",
      "api.document",
      "api.page",
      "admin.key",
    ]) {
      expect(routes, route).toContain(route);
    }
    expect(
      log.some((e) => e.origin === gw.url && e.path === "/cpns/v1/whoami" && e.status === 200),
    ).toBe(true);
  });

  it("[OPENAPI-SCHEMAS][OPENAPI-PROBLEMS] every recorded answer has a documented status, media type and body", () => {
    expect(inner.map((e) => `${e.method} ${e.path} ${e.status}`)).toEqual([
      "GET /cpns/v1/whoami 200",
      expect.stringMatching(/^POST \/cpns-gw\/v1\/sessions\/[\w-]+\/messages 200$/),
    ]);
    const problems = [...log, ...inner].flatMap((exchange) =>
      checkExchange(docFor(exchange), exchange),
    );
    expect(problems).toEqual([]);
  });

  it("[OPENAPI-PROBLEMS] every refusal carries a stable code the document lists for its route and status", () => {
    const refusals = log.filter(
      (e) => e.status >= 400 && e.contentType.startsWith("application/problem+json"),
    );
    expect(refusals.length).toBeGreaterThan(8);
    for (const refusal of refusals) {
      expect(checkExchange(docFor(refusal), refusal), `${refusal.method} ${refusal.path}`).toEqual(
        [],
      );
    }
  });

  it("[OPENAPI-DOC] served after the whole story, neither document holds a session, an OTK or a key from it", () => {
    const secrets = new Set<string>();
    for (const e of log) {
      if (!e.contentType.startsWith("application/json")) continue;
      const body = JSON.parse(e.body) as Json;
      for (const field of ["sessionId", "otkId", "sealedKey", "sealedOtk", "x"]) {
        if (typeof body[field] === "string") secrets.add(body[field] as string);
      }
    }
    expect(secrets.size).toBeGreaterThan(4);
    const texts = [JSON.stringify(serverDoc), JSON.stringify(gatewayDoc)];
    for (const secret of secrets) {
      for (const text of texts) expect(text.includes(secret), secret).toBe(false);
    }
  });

  it("[OPENAPI-SCHEMAS] a documented schema that disagrees with the real answer fails the check", () => {
    const whoami = log.find(
      (e) => e.origin === server.url && e.path === "/cpns/v1/whoami" && e.status === 200,
    );
    expect(whoami).toBeDefined();
    const exchange = whoami as Recorded;
    expect(checkExchange(serverDoc, exchange)).toEqual([]);
    // keyVersion documented as a string: the real integer must now fail.
    const changed = structuredClone(serverDoc);
    const schema = (
      ((((changed.paths as Json)["/cpns/v1/whoami"] as Json).get as Json).responses as Json)[
        "200"
      ] as Json
    ).content as Record<string, { schema: { properties: Json } }>;
    (schema["application/json"] as { schema: { properties: Json } }).schema.properties.keyVersion =
      { type: "string" };
    expect(checkExchange(changed, exchange).join("\n")).toMatch(/keyVersion must be string/);
    // A field the answer lacks, made required: fails too.
    const required = structuredClone(serverDoc);
    const s2 = (
      (
        ((((required.paths as Json)["/cpns/v1/whoami"] as Json).get as Json).responses as Json)[
          "200"
        ] as Json
      ).content as Record<string, { schema: { required: string[] } }>
    )["application/json"];
    s2?.schema.required.push("tls");
    expect(checkExchange(required, exchange).join("\n")).toMatch(
      /must have required property 'tls'/,
    );
    // An undocumented problem code fails.
    const refusal = log.find(
      (e) => e.path === "/cpns/v1/whoami" && e.status === 401 && e.origin === server.url,
    ) as Recorded;
    expect(checkExchange(serverDoc, refusal)).toEqual([]);
    expect(
      checkExchange(serverDoc, {
        ...refusal,
        body: refusal.body.replaceAll("ERR_DIGEST_UNAUTHORIZED", "ERR_MADE_UP"),
      }),
    ).not.toEqual([]);
    // An undocumented status fails.
    expect(checkExchange(serverDoc, { ...exchange, status: 418 })).not.toEqual([]);
  });
});
