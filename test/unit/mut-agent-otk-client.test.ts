/**
 * Issue #9 (mutation testing of src/agent): the PN GW's OTK deposit and the
 * peer's OTK fetch (src/agent/otk-client.ts, seed 5.x.2, spec/otk.md), from
 * the attacker's side. The first run (main at 8e7d0c4) left undetected: the
 * client's checks that the server's answer names the OTK and the peer it
 * asked for (deposit and delivery), the refusal of a delivery whose seal does
 * not open, the TLS pin and endpoint carried with a deposit, an inbox the
 * server refused, and a device that holds no EUKey.
 *
 * A real CPNS Server on loopback (test/e2e/server-helpers.ts). The server
 * demands qop=auth-int on every OTK route (src/server/policy.ts), so a path
 * that rewrites an answer is caught by rspauth before the OTK client looks
 * (the first test shows it). The OTK client's own checks are the wall against
 * a server that proves the EUKey and still answers about another deposit (a
 * faulty or compromised server: it holds every EUKey): each device reaches the
 * real server through such a front, a Digest verifier (src/digest) holding the
 * device's EUKey that forwards each request with the device's honest agent and
 * signs whatever answer it chooses to send back.
 */
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EntityAgent } from "../../src/agent/agent.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import { OtkClient } from "../../src/agent/otk-client.ts";
import { digestAuth, type FetchLike, staticCredentials } from "../../src/digest/index.ts";
import { startTestServer, type TestServer } from "../e2e/server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-agent-otk-mut-Pw7" };
const PIN = `sha256//${Buffer.alloc(32, 7).toString("base64")}`;
const OTHER_PIN = `sha256//${Buffer.alloc(32, 9).toString("base64")}`;

type Json = Record<string, unknown>;
interface Edit {
  match: RegExp;
  answer: (body: Json) => Json;
  status?: number;
}

interface Device {
  entityId: string;
  store: MemoryKeyStore;
  /** The OTK client under test: its agent reaches the server through the lying front. */
  otks: OtkClient;
  /** While set, the front rewrites the matching answer (and signs it). */
  front: { edit: Edit | undefined; sent: string[] };
}

let server: TestServer;
let gateway: Device;
let peer: Device;
let other: Device;

async function enroll(entityId: string, type: "PNE" | "PNGW"): Promise<Device> {
  const store = new MemoryKeyStore();
  const honest = server.agent({ store });
  await honest.enroll({ ...ALICE, entityId, type });
  const eukey = (await store.get(entityId))?.eukey ?? "";
  const front: Device["front"] = { edit: undefined, sent: [] };
  const app = new Hono();
  app.use(
    "*",
    digestAuth({
      realm: "cpns-front",
      secret: "mut-agent-otk-front-secret-0123456789",
      lookup: staticCredentials({ [entityId]: eukey }),
      algorithms: ["SHA-256"],
    }),
  );
  app.all("*", async (c) => {
    const url = new URL(c.req.url);
    const body = c.req.method === "POST" ? await c.req.text() : "";
    const res = await honest.fetchAsEntity(entityId, url.pathname, {
      method: c.req.method,
      ...(body ? { headers: { "content-type": "application/json" }, body } : {}),
    });
    const edit = front.edit;
    const answer = (await res.json()) as Json;
    if (!edit?.match.test(url.pathname) || !res.ok) {
      return c.json(answer, res.status as 200);
    }
    return c.json(edit.answer(answer), (edit.status ?? res.status) as 200);
  });
  const transport: FetchLike = async (request) => {
    front.sent.push(`${request.method} ${new URL(request.url).pathname}`);
    return app.fetch(request);
  };
  const agent = new EntityAgent({ serverUrl: server.url, store, fetch: transport });
  const otks = new OtkClient({ agent, store, now: () => server.clock.now });
  return { entityId, store, otks, front };
}

beforeAll(async () => {
  server = await startTestServer({ rateLimit: { maxFailures: 1_000_000, windowSeconds: 1 } });
  await server.createUser(ALICE.userId, ALICE.password);
  gateway = await enroll("gw-otk-mut", "PNGW");
  peer = await enroll("pne-otk-mut", "PNE");
  other = await enroll("pne-otk-mut-other", "PNE");
});
afterAll(async () => {
  await server?.close();
});

async function refusal(promise: Promise<unknown>): Promise<{ code: unknown; message: unknown }> {
  const err = await promise.then(
    (value) => ({ resolved: value }),
    (error: unknown) => error,
  );
  const { code, message } = err as { code?: unknown; message?: unknown };
  return { code, message };
}

describe("[AGENT-REQUIRE-RSPAUTH] a path that rewrites an OTK answer", () => {
  it("[AGENT-REQUIRE-RSPAUTH][OTK-DEPOSIT] is caught by rspauth (qop=auth-int covers the answer's body) before the OTK client reads it", async () => {
    const store = new MemoryKeyStore();
    const honest = server.agent({ store });
    await honest.enroll({ ...ALICE, entityId: "gw-otk-mut-path", type: "PNGW" });
    const transport: FetchLike = async (request) => {
      const res = await fetch(request);
      if (!new URL(request.url).pathname.endsWith("/otks") || res.status !== 201) return res;
      const answer = (await res.json()) as Json;
      const headers = new Headers(res.headers);
      headers.delete("content-length");
      const swapped = JSON.stringify({ ...answer, peerId: other.entityId });
      return new Response(swapped, { status: res.status, headers });
    };
    const agent = new EntityAgent({ serverUrl: server.url, store, fetch: transport, qop: "auth" });
    const otks = new OtkClient({ agent, store, now: () => server.clock.now });
    const refused = await refusal(
      otks.deposit("gw-otk-mut-path", { peerId: peer.entityId, lifetimeSeconds: 60 }),
    );
    expect(refused.code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
  });
});

describe("[OTK-DEPOSIT] the PN GW checks the server's answer to its deposit", () => {
  // Only a party holding the EUKey can sign these answers (the server, or its impostor with
  // a stolen key): the check is what keeps the PN GW from recording an OTK the server holds
  // under another id, for another peer, issuer, expiry or pin.
  // Answers: otk-client.ts:126 ConditionalExpression `false` ×4 (the whole test, the first
  // four, the first two, `answer.otkId !== otkId`), :127 ConditionalExpression `false`
  // (`answer.peerId !== input.peerId`), :126 LogicalOperator ×3 (`&&` for `||` at each
  // level), and (no coverage) :131 BlockStatement, :132 StringLiteral ×2.
  const swaps: Array<[string, (answer: Json) => Json]> = [
    ["the OTK id", (answer) => ({ ...answer, otkId: "c3dhcHBlZC1vdGstaWQtMDE" })],
    ["the peer", (answer) => ({ ...answer, peerId: other.entityId })],
    ["the issuer", (answer) => ({ ...answer, issuerId: "gw-someone-else" })],
    ["the expiry", (answer) => ({ ...answer, expiresAt: Number(answer.expiresAt) + 3600 })],
    ["the TLS pin (added)", (answer) => ({ ...answer, tlsPin: OTHER_PIN })],
  ];
  for (const [what, swap] of swaps) {
    it(`[OTK-DEPOSIT] an answer whose ${what} differs from the deposit, signed by a front that proves the EUKey, is refused as ERR_KEY_UNWRAP and nothing is returned as issued`, async () => {
      gateway.front.edit = { match: /^\/cpns\/v1\/otks$/, answer: swap };
      try {
        const refused = await refusal(
          gateway.otks.deposit(gateway.entityId, { peerId: peer.entityId, lifetimeSeconds: 60 }),
        );
        expect(refused.code).toBe("ERR_KEY_UNWRAP");
        expect(String(refused.message)).toContain("the server's answer does not match the deposit");
      } finally {
        gateway.front.edit = undefined;
      }
      // The same deposit, answered as sent, is accepted: the refusal above was the swap's.
      const issued = await gateway.otks.deposit(gateway.entityId, {
        peerId: peer.entityId,
        lifetimeSeconds: 60,
      });
      expect(issued.peerId).toBe(peer.entityId);
    });
  }
});

describe("[OTK-DELIVERY] the peer checks the OTK it is delivered", () => {
  async function depositForPeer(options: { tlsPin?: string } = {}) {
    return gateway.otks.deposit(gateway.entityId, {
      peerId: peer.entityId,
      lifetimeSeconds: 60,
      ...options,
    });
  }

  // Answers: otk-client.ts:165 ConditionalExpression `false` ×4 (the whole test,
  // `otkId || peerId`, `body.otkId !== otkId`, `body.peerId !== entityId`), :165
  // LogicalOperator ×2, and (no coverage) :165 BlockStatement, :166 StringLiteral. The AAD
  // is built from the ids the peer asked with, so a renamed answer still opens: only the
  // check at :165 stops the peer from taking an OTK under another id or addressee.
  const renames: Array<[string, (body: Json) => Json]> = [
    ["OTK id", (body) => ({ ...body, otkId: "cmVuYW1lZC1vdGstaWQtMDE" })],
    ["addressee", (body) => ({ ...body, peerId: other.entityId })],
    // Answers :165 ConditionalExpression `false` on `body.alg !== OTK_TRANSPORT_ALG` (counted
    // killed in the first run, survived the re-run): the label is not in the AAD, so an OTK
    // said to be sealed another way would open as if it were this code's own algorithm.
    ["algorithm", (body) => ({ ...body, alg: "A128GCM+HKDF-SHA1" })],
  ];
  for (const [what, rename] of renames) {
    it(`[OTK-DELIVERY] a delivery whose ${what} was renamed by a front that proves the EUKey is refused as ERR_KEY_UNWRAP`, async () => {
      const issued = await depositForPeer();
      peer.front.edit = { match: /\/delivery$/, answer: rename };
      try {
        const refused = await refusal(peer.otks.fetch(peer.entityId, issued.otkId));
        expect(refused).toEqual({ code: "ERR_KEY_UNWRAP", message: expect.any(String) });
      } finally {
        peer.front.edit = undefined;
      }
    });
  }

  // Answers: otk-client.ts:182 ConditionalExpression `false` and (no coverage) :182
  // StringLiteral: a seal that does not open must never come back as an OTK.
  const alterations: Array<[string, (body: Json) => Json]> = [
    ["its expiry extended", (body) => ({ ...body, expiresAt: Number(body.expiresAt) + 3600 })],
    ["its issuer swapped", (body) => ({ ...body, issuerId: "gw-someone-else" })],
    ["its TLS pin added", (body) => ({ ...body, tlsPin: OTHER_PIN })],
    [
      "its sealed OTK altered",
      (body) => {
        const sealed = String(body.sealedOtk);
        const last = sealed.at(-2) === "A" ? "B" : "A";
        return { ...body, sealedOtk: `${sealed.slice(0, -2)}${last}${sealed.slice(-1)}` };
      },
    ],
  ];
  for (const [what, alter] of alterations) {
    it(`[OTK-DELIVERY] a delivery with ${what} by a front that proves the EUKey does not open: ERR_KEY_UNWRAP, no OTK`, async () => {
      const issued = await depositForPeer();
      peer.front.edit = { match: /\/delivery$/, answer: alter };
      try {
        const refused = await refusal(peer.otks.fetch(peer.entityId, issued.otkId));
        expect(refused).toEqual({ code: "ERR_KEY_UNWRAP", message: expect.any(String) });
      } finally {
        peer.front.edit = undefined;
      }
    });
  }

  // Answers: otk-client.ts:101 ObjectLiteral (the pin left out of the deposit's AAD), :115
  // ObjectLiteral (the pin left out of the deposit sent), :178 ObjectLiteral (the pin left
  // out of the delivery's AAD); all three no coverage.
  it("[OTK-TLS-PIN][OTK-DELIVERY] a deposit with an endpoint and a TLS pin reaches the peer with both, and the OTK opens", async () => {
    const endpoint = "https://127.0.0.1:8788";
    const issued = await gateway.otks.deposit(gateway.entityId, {
      peerId: peer.entityId,
      lifetimeSeconds: 60,
      endpoint,
      tlsPin: PIN,
    });
    const listed = (await peer.otks.inbox(peer.entityId)).find((v) => v.otkId === issued.otkId);
    expect(listed).toMatchObject({ endpoint, tlsPin: PIN, issuerId: gateway.entityId });
    const received = await peer.otks.fetch(peer.entityId, issued.otkId);
    expect(received.view).toMatchObject({ otkId: issued.otkId, endpoint, tlsPin: PIN });
    expect(received.otk).toEqual(issued.otk);
  });
});

describe("[SEED-5.x.2-4] the peer's inbox", () => {
  // Answers: otk-client.ts:151 ConditionalExpression `false` (a refused inbox read as a list).
  it("[SEED-5.x.2-4] an authenticated answer that is not a 200 is reported as the refusal it is, never read as an inbox", async () => {
    peer.front.edit = {
      match: /\/otks\/inbox$/,
      status: 503,
      answer: () => ({
        type: "about:blank",
        title: "Storage is unavailable; nothing was changed",
        status: 503,
        code: "ERR_STORE_UNAVAILABLE",
      }),
    };
    try {
      const err = await peer.otks.inbox(peer.entityId).then(
        (list) => ({ list }),
        (error: unknown) => error,
      );
      expect(err).toMatchObject({ status: 503, code: "ERR_STORE_UNAVAILABLE" });
    } finally {
      peer.front.edit = undefined;
    }
  });
});

describe("[OTK-DEPOSIT] a device that holds no EUKey", () => {
  // Answers: otk-client.ts:68 ConditionalExpression `false`, OptionalChaining `record.eukey`,
  // and (no coverage) :68 StringLiteral ×2 (the code and the detail).
  it("[OTK-DEPOSIT] a gateway this store holds no record for is refused as ERR_ENTITY_STATE naming it, before anything is sent", async () => {
    const sent: string[] = [];
    const transport: FetchLike = async (request) => {
      sent.push(request.url);
      return fetch(request);
    };
    const store = new MemoryKeyStore();
    const agent = new EntityAgent({ serverUrl: server.url, store, fetch: transport });
    const otks = new OtkClient({ agent, store, now: () => server.clock.now });
    const err = await otks
      .deposit("gw-not-here", { peerId: peer.entityId, lifetimeSeconds: 60 })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(err).toMatchObject({ code: "ERR_ENTITY_STATE", detail: "gw-not-here holds no EUKey" });
    expect(sent).toEqual([]);
  });
});
