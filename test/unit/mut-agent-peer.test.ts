/**
 * Issue #9 (mutation testing of src/agent): the peer's side of a PN GW peer
 * session (src/agent/peer.ts, seed 5.x.2/5.x.3), from the attacker's side. The
 * first run (main at 8e7d0c4, docs/mutation.md "src/agent: peer.ts") left
 * undetected: the session's expiry by the peer's clock, the https choice an OTK
 * with a TLS pin demands, a PN GW with no address, what the peer-session
 * machine is told when an opening fails, the PN GW's 410 (session over) against
 * its other refusals, the relay's tests of whose refusal an answer is (the PN
 * GW's, proven by Proxy-Authentication-Info, or the server's), a relayed GET,
 * the primed first challenge and a gateway URL with trailing slashes.
 *
 * A real CPNS Server and a real PN GW on loopback (test/e2e/peer-helpers.ts),
 * the PN GW on its own clock (so it can be past a session the peer still holds);
 * the peer's transport injects faults (a refused connection, answers rewritten
 * on the path: their status, Content-Type and Authentication-Info are not under
 * any rspauth). What the peer-session machine is asked is watched as
 * test/unit/mut-agent-channel-client.test.ts watches its machine.
 */

import type { Server } from "node:http";
import { Hono } from "hono";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { EventObject } from "xstate";
import { peerSessionMachine } from "../../machines/peer-session.ts";
import type { ReceivedOtk } from "../../src/agent/otk-client.ts";
import { PeerSession } from "../../src/agent/peer.ts";
import { toBase64url } from "../../src/crypto/bytes.ts";
import { randomBytes } from "../../src/crypto/provider.ts";
import { digestAuth, type FetchLike } from "../../src/digest/index.ts";
import { serveNode } from "../../src/runtime/node-server.ts";
import {
  type Device,
  enrollDevice,
  type RunningGateway,
  startGateway,
} from "../e2e/peer-helpers.ts";
import { startTestServer, type TestServer } from "../e2e/server-helpers.ts";
import { isHkdfImport, spyingCrypto } from "../spying-crypto.ts";

const ALICE = { userId: "alice", password: "alice-agent-peer-mut-Pw7" };
const GW = "mutpeer-gw";
const LIFETIME_S = 600;

/** Every event put to the peer's session machine (bridge.step asks twice: kept once). */
const asked: string[] = [];
const original = peerSessionMachine.getTransitionData;
let last: { snapshot: unknown; event: unknown } | undefined;
peerSessionMachine.getTransitionData = function (this: unknown, snapshot, event) {
  if (last?.snapshot !== snapshot || last?.event !== event) {
    last = { snapshot, event };
    asked.push(String((event as EventObject).type));
  }
  return original.call(peerSessionMachine, snapshot, event);
} as typeof original;

let server: TestServer;
let g: RunningGateway;
let pne: Device;
/** The PN GW's clock runs this far ahead of the server's (and the peer's). */
const gatewayAhead = { ms: 0 };
/** The peer's clock runs this far ahead of the server's. */
const peerAhead = { ms: 0 };

beforeAll(async () => {
  server = await startTestServer({ rateLimit: { maxFailures: 1_000_000, windowSeconds: 1 } });
  await server.createUser(ALICE.userId, ALICE.password);
  const gw = await enrollDevice(server, ALICE, GW, "PNGW");
  pne = await enrollDevice(server, ALICE, "mutpeer-pne", "PNE");
  g = await startGateway(server, gw, {
    sessionLifetimeSeconds: LIFETIME_S,
    now: () => server.clock.now + gatewayAhead.ms,
  });
}, 60_000);
afterAll(async () => {
  peerSessionMachine.getTransitionData = original;
  await g?.close();
  await server?.close();
});
afterEach(() => {
  asked.length = 0;
  gatewayAhead.ms = 0;
  peerAhead.ms = 0;
});

interface Wire {
  fetch: FetchLike;
  /** "METHOD path" of every request the peer's transport carried. */
  sent: string[];
  /** Refuse the connection for the requests it matches (as fetch does: a TypeError). */
  fail?: (request: Request) => boolean;
  /** Rewrite the answers it matches, as a path attacker would. */
  rewrite?: (request: Request, res: Response) => Promise<Response> | Response;
}

function wire(): Wire {
  const w: Wire = {
    sent: [],
    fetch: async (request) => {
      const url = new URL(request.url);
      w.sent.push(`${request.method} ${url.pathname}`);
      if (w.fail?.(request)) throw new TypeError("fetch failed");
      const res = await fetch(request);
      return w.rewrite ? w.rewrite(request, res) : res;
    },
  };
  return w;
}

/** The same answer with another status and headers (body and rspauth untouched). */
async function rewritten(
  res: Response,
  status: number,
  edit: (headers: Headers) => void = () => {},
): Promise<Response> {
  const headers = new Headers(res.headers);
  headers.delete("content-length");
  headers.delete("content-encoding");
  edit(headers);
  return new Response(await res.arrayBuffer(), { status, headers });
}

async function freshOtk(): Promise<ReceivedOtk> {
  await g.gateway.offer(pne.entityId);
  const waiting = (await pne.otks.inbox(pne.entityId)).filter((o) => o.issuerId === GW);
  const newest = waiting[waiting.length - 1];
  if (!newest) throw new Error("no OTK");
  return pne.otks.fetch(pne.entityId, newest.otkId);
}

async function connect(w: Wire, gatewayUrl = g.url): Promise<PeerSession> {
  return PeerSession.open({
    entityId: pne.entityId,
    received: await freshOtk(),
    gatewayUrl,
    fetch: w.fetch,
    now: () => server.clock.now + peerAhead.ms,
  });
}

/** The error a promise fails with: a CpnsError, or the AgentError of a problem+json answer. */
async function failureOf(
  promise: Promise<unknown>,
): Promise<{ code: string; status: number; message: string }> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(Error);
  expect(typeof (error as { code?: unknown }).code).toBe("string");
  return error as { code: string; status: number; message: string };
}

/** Puts the PN GW 10 s past the session's expiry (within its relay nonces' extra minute); the peer's clock stays. */
function gatewayPastExpiry(session: PeerSession): void {
  gatewayAhead.ms = (session.expiresAt ?? 0) * 1000 - server.clock.now + 10_000;
}

const messagesPath = (s: PeerSession) => `/cpns-gw/v1/sessions/${s.sessionId}/messages`;

describe("[PEER-SESSION][PEER-SESSION-PRIMED] the session's traffic", () => {
  // Answers :66 (Regex /\/+/, /\/$/, replacement "Stryker was here!"), :221 ObjectLiteral,
  // :101 ConditionalExpression true and LogicalOperator, :265-267 (NoCoverage).
  it("[PEER-SESSION][PEER-SESSION-PRIMED] a PN GW address with trailing slashes; the first message is one request (primed), the machine is asked MESSAGE each time, bytes come back as sent", async () => {
    const w = wire();
    const opened = await connect(w, `${g.url}///`).catch((err: unknown) => err);
    expect(opened).toBeInstanceOf(PeerSession);
    const session = opened as PeerSession;
    expect(w.sent).toEqual(["POST /cpns-gw/v1/sessions", "POST /cpns-gw/v1/sessions"]);
    w.sent.length = 0;
    asked.length = 0;
    expect((await session.send("hello")).echo).toBe("hello");
    expect(w.sent).toEqual([`POST ${messagesPath(session)}`]);
    expect(asked).toEqual(["EXPIRE", "MESSAGE"]);
    const bytes = new Uint8Array([0, 1, 2, 255]);
    expect(await session.sendBytes(bytes)).toEqual(bytes);
    expect(session.state).toBe("open");
  });

  // Answers :98 BlockStatement, :101 ObjectLiteral and StringLiteral, :389 ConditionalExpression false.
  it("[PEER-SESSION] past the session's expiry by the peer's own clock: send, sendBytes, relay and openChannel are refused before any request, and close() sends nothing", async () => {
    const w = wire();
    const session = await connect(w);
    peerAhead.ms = ((session.expiresAt ?? 0) + 1) * 1000 - server.clock.now;
    w.sent.length = 0;
    expect((await failureOf(session.send("late"))).code).toBe("ERR_PEER_SESSION_GONE");
    expect(session.state).toBe("expired");
    expect((await failureOf(session.sendBytes(new Uint8Array([1])))).code).toBe(
      "ERR_PEER_SESSION_GONE",
    );
    const relay = session.relayTransport();
    expect(
      (await failureOf(Promise.resolve(relay(new Request(`${server.url}/cpns/v1/entities/x`)))))
        .code,
    ).toBe("ERR_PEER_SESSION_GONE");
    expect((await failureOf(session.openChannel())).code).toBe("ERR_PEER_SESSION_GONE");
    await session.close();
    expect(w.sent).toEqual([]);
  });

  // Answers :248 ConditionalExpression true, :267 ConditionalExpression true.
  it("[PEER-SESSION] a refusal other than 410 (an oversized message, 413) leaves the session open", async () => {
    const w = wire();
    const session = await connect(w);
    const tooBig = await failureOf(session.sendBytes(new Uint8Array(64 * 1024 + 1)));
    expect(tooBig.status).toBe(413);
    expect(session.state).toBe("open");
    expect((await session.send("still here")).echo).toBe("still here");
    w.rewrite = async (request, res) =>
      request.method === "POST" && new URL(request.url).pathname.endsWith("/messages")
        ? rewritten(res, 503)
        : res;
    await failureOf(session.send("rewritten"));
    expect(session.state).toBe("open");
    w.rewrite = undefined;
    expect(await session.sendBytes(new Uint8Array([7]))).toEqual(new Uint8Array([7]));
  });

  // Answers :265 StringLiteral, :266 BlockStatement, :267 false and EqualityOperator (NoCoverage), and :248's 410.
  it("[PEER-SESSION] the PN GW's 410 (its clock is past the session) ends the peer's session too, for send and for sendBytes", async () => {
    for (const how of ["send", "sendBytes"] as const) {
      const w = wire();
      const session = await connect(w);
      gatewayPastExpiry(session);
      const gone = await failureOf(
        how === "send" ? session.send("x") : session.sendBytes(new Uint8Array([1])),
      );
      expect(gone.code).toBe("ERR_PEER_SESSION_GONE");
      expect(session.state).toBe("closed");
      gatewayAhead.ms = 0;
      w.sent.length = 0;
      expect((await failureOf(session.send("after"))).code).toBe("ERR_PEER_SESSION_GONE");
      expect(w.sent).toEqual([]);
    }
  });

  // Answers :395 ConditionalExpression false.
  it("[PEER-SESSION] close() whose DELETE is answered other than 204 (rewritten to 503 on the path) throws, and the session is closed anyway", async () => {
    const w = wire();
    const session = await connect(w);
    w.rewrite = (request, res) => (request.method === "DELETE" ? rewritten(res, 503) : res);
    const refused = await failureOf(session.close());
    expect(refused.status).toBe(503);
    expect(w.sent.at(-1)).toBe(`DELETE /cpns-gw/v1/sessions/${session.sessionId}`);
    expect(session.state).toBe("closed");
  });
});

describe("[PEER-DIGEST][OTK-TLS-PIN] before and during the opening", () => {
  // Answers :158 and :216 BooleanLiteral (userhash true): the PN GW knows peers by their
  // Entity ID, so challenges a path rewrote to offer userhash must not make the peer hide it.
  it("[PEER-DIGEST][PEER-SESSION-PRIMED] challenges rewritten on the path to offer userhash=true: the peer still names itself, the session opens and its first message is one request", async () => {
    const w = wire();
    const offerUserhash = (h: Headers) => {
      for (const name of ["www-authenticate", "proxy-authenticate"]) {
        const challenges = h.get(name);
        if (challenges) h.set(name, challenges.replace(/Digest /g, "Digest userhash=true, "));
      }
    };
    w.rewrite = (_request, res) =>
      res.headers.has("www-authenticate") ? rewritten(res, res.status, offerUserhash) : res;
    const opened = await connect(w).catch((err: unknown) => err);
    expect(opened).toBeInstanceOf(PeerSession);
    const session = opened as PeerSession;
    w.sent.length = 0;
    const echoed = await session.send("named").catch((err: unknown) => err);
    expect((echoed as { echo?: unknown }).echo).toBe("named");
    expect(w.sent).toEqual([`POST ${messagesPath(session)}`]);
  });

  // Answers :112 ConditionalExpression false and BlockStatement, :114 StringLiterals.
  it("[PEER-DIGEST] an OTK whose PN GW left no address, and no address given: ERR_CONFIG before any request, the OTK zeroed", async () => {
    const received = await freshOtk();
    const { endpoint: _dropped, ...view } = received.view;
    const w = wire();
    const otk = received.otk;
    const error = await failureOf(
      PeerSession.open({ entityId: pne.entityId, received: { view, otk }, fetch: w.fetch }),
    );
    expect(error.code).toBe("ERR_CONFIG");
    expect(error.message).toContain("no address for the PN GW");
    expect(otk.every((b) => b === 0)).toBe(true);
    expect(w.sent).toEqual([]);
  });

  // Answers :118 (ConditionalExpression true/false, EqualityOperator, StringLiteral, BlockStatement), :121, :122.
  it("[OTK-TLS-PIN] an OTK that names the PN GW's TLS key: never opened over http (ERR_TLS_UNTRUSTED, nothing sent, OTK zeroed); over https it is tried", async () => {
    const received = await freshOtk();
    const view = { ...received.view, tlsPin: `sha256//${"A".repeat(43)}=` };
    const w = wire();
    const otk = received.otk;
    const refused = await failureOf(
      PeerSession.open({
        entityId: pne.entityId,
        received: { view, otk },
        gatewayUrl: g.url,
        fetch: w.fetch,
      }),
    );
    expect(refused.code).toBe("ERR_TLS_UNTRUSTED");
    expect(refused.message).toContain(
      `the OTK names a TLS key for ${GW}, but ${g.url} is not https`,
    );
    expect(otk.every((b) => b === 0)).toBe(true);
    expect(w.sent).toEqual([]);

    // Over https the opening goes ahead (here the transport refuses the connection).
    const https = g.url.replace("http:", "https:");
    w.fail = () => true;
    const tried = await PeerSession.open({
      entityId: pne.entityId,
      received: { view, otk: new Uint8Array(32).fill(1) },
      gatewayUrl: https,
      fetch: w.fetch,
      now: () => server.clock.now,
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(tried).toBeInstanceOf(TypeError);
    expect(w.sent).toEqual(["POST /cpns-gw/v1/sessions"]);
  });

  // Answers :167 (ConditionalExpression true/false, EqualityOperator, StringLiteral), :169 ObjectLiteral and StringLiteral.
  it("[PEER-DIGEST][AGENT-REQUIRE-RSPAUTH] the machine is told why an opening failed: a 201 stripped of Authentication-Info is GATEWAY_UNPROVEN, a refused connection is REJECTED", async () => {
    const w = wire();
    w.rewrite = (_request, res) =>
      res.status === 201 ? rewritten(res, 201, (h) => h.delete("authentication-info")) : res;
    const unproven = await failureOf(connect(w));
    expect(unproven.code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
    expect(asked.at(-1)).toBe("GATEWAY_UNPROVEN");

    asked.length = 0;
    const down = wire();
    down.fail = (request) => new URL(request.url).pathname === "/cpns-gw/v1/sessions";
    const received = await freshOtk();
    const error = await PeerSession.open({
      entityId: pne.entityId,
      received,
      gatewayUrl: g.url,
      fetch: down.fetch,
      now: () => server.clock.now,
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(TypeError);
    expect(asked).toEqual(["EXPIRE", "OPEN", "REJECTED"]);
  });
});

describe("[GATEWAY-RELAY] the relay: whose refusal an answer is", () => {
  const whoami = () => new Request(`${server.url}/cpns/v1/entities/${pne.entityId}`);

  /** A fresh session whose relayed requests the PN GW refuses 410 (its clock is past the session). */
  async function goneRelay(rewrite?: Wire["rewrite"]) {
    gatewayAhead.ms = 0;
    const w = wire();
    const session = await connect(w);
    gatewayPastExpiry(session);
    w.rewrite = rewrite;
    const outcome = await Promise.resolve(session.relayTransport()(whoami())).then(
      (res: Response) => ({ res, error: undefined }),
      (error: unknown) => ({ res: undefined, error: error as { code?: string } }),
    );
    return { session, ...outcome };
  }

  // Answers :284 (ConditionalExpression false, StringLiteral): a GET is relayed without a body.
  it("[GATEWAY-RELAY] a relayed GET reaches the server and its own answer comes back", async () => {
    const w = wire();
    const session = await connect(w);
    w.sent.length = 0;
    const res = await session.relayTransport()(whoami());
    expect(w.sent).toEqual([`GET /cpns/v1/entities/${pne.entityId}`]);
    // The server's own answer (a challenge for the entity's agent), handed back as it came.
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Digest /);
    // A HEAD too goes without a body (a Request for HEAD cannot carry one).
    w.sent.length = 0;
    const head = await Promise.resolve(
      session.relayTransport()(
        new Request(`${server.url}/cpns/v1/entities/${pne.entityId}`, { method: "HEAD" }),
      ),
    ).catch((err: unknown) => err);
    expect(head).not.toBeInstanceOf(Error);
    expect(w.sent).toEqual([`HEAD /cpns/v1/entities/${pne.entityId}`]);
    expect((head as Response).status).toBe(401);
  });

  // Answers the :326 LogicalOperator: the PN GW's own proven refusal is the PN GW's problem.
  it("[GATEWAY-RELAY] the PN GW's own proven 410 is thrown as its problem and ends the session", async () => {
    const { session, res, error } = await goneRelay();
    expect(res).toBeUndefined();
    expect(error?.code).toBe("ERR_PEER_SESSION_GONE");
    expect(session.state).toBe("closed");
  });

  // Answers :326 ConditionalExpression false (res.ok), :326 the second false
  // (!has proxy-authentication-info), :329 MethodExpression, :329 StringLiteral "", :330 BlockStatement.
  it("[GATEWAY-RELAY] an answer that is not the PN GW's own refusal is handed back, not thrown: a 2xx, one without Proxy-Authentication-Info, one with the server's Authentication-Info, one that is not problem+json; a problem+json with parameters still is the PN GW's", async () => {
    const relayed = (request: Request) => new URL(request.url).pathname.startsWith("/cpns/");
    const cases: Array<[string, (h: Headers) => void, number]> = [
      ["2xx", () => {}, 200],
      ["no proxy-authentication-info", (h) => h.delete("proxy-authentication-info"), 410],
      ["server's authentication-info", (h) => h.set("authentication-info", 'rspauth="00"'), 410],
      ["not problem+json", (h) => h.set("content-type", "application/json"), 410],
    ];
    for (const [name, edit, status] of cases) {
      const { session, res, error } = await goneRelay((request, answer) =>
        relayed(request) ? rewritten(answer, status, edit) : answer,
      );
      expect({ name, error: error?.code, status: res?.status }).toEqual({
        name,
        error: undefined,
        status,
      });
      expect(session.state).toBe("open");
    }
    const { session, error } = await goneRelay((request, answer) =>
      relayed(request)
        ? rewritten(answer, 410, (h) =>
            h.set("content-type", "application/problem+json; charset=utf-8"),
          )
        : answer,
    );
    expect(error?.code).toBe("ERR_PEER_SESSION_GONE");
    expect(session.state).toBe("closed");
  });

  // Answers :300 ConditionalExpression true, :303 true and false, :307, :308.
  it("[GATEWAY-RELAY] a relay the transport cannot carry is ERR_PEER_SESSION_GONE; an error with a code of its own is passed on as it is", async () => {
    const w = wire();
    const session = await connect(w);
    w.fail = (request) => new URL(request.url).pathname.startsWith("/cpns/");
    const down = await failureOf(Promise.resolve(session.relayTransport()(whoami())));
    expect(down.code).toBe("ERR_PEER_SESSION_GONE");
    expect(down.message).toContain("the PN GW refused the relay or is unreachable");
    w.fail = undefined;
    // A relay answer that asks for a weak algorithm (a downgrade): the Digest client's
    // own code, passed on.
    w.rewrite = (request, res) =>
      new URL(request.url).pathname.startsWith("/cpns/")
        ? rewritten(res, 407, (h) =>
            h.set(
              "proxy-authenticate",
              'Digest realm="x", nonce="bm9uY2U", algorithm=MD5, qop="auth"',
            ),
          )
        : res;
    const forged = await failureOf(Promise.resolve(session.relayTransport()(whoami())));
    expect(forged.code).not.toBe("ERR_PEER_SESSION_GONE");
    expect(forged.code).not.toBe("ERR_GATEWAY_UNAUTHENTICATED");
  });
});

describe("[PEER-SESSION] the secure channel's opening under the session", () => {
  // Answers :350/:351 (headers and body of the opening), :353-:355 (NoCoverage), :373.
  it("[PEER-SESSION] opens a channel; a rewritten 503 leaves the session open; the PN GW's 410 ends it", async () => {
    const w = wire();
    const session = await connect(w);
    const channel = await session.openChannel();
    expect(channel).toBeDefined();
    w.rewrite = (request, res) =>
      new URL(request.url).pathname === "/cpns-gw/v1/channels" ? rewritten(res, 503) : res;
    expect((await failureOf(session.openChannel())).status).toBe(503);
    expect(session.state).toBe("open");
    w.rewrite = undefined;
    gatewayPastExpiry(session);
    expect((await failureOf(session.openChannel())).code).toBe("ERR_PEER_SESSION_GONE");
    expect(session.state).toBe("closed");
  });
});

describe("[PEER-DIGEST] a PN GW that proves the OTK (it leaked) but is not the one, or answers no session", () => {
  /** Digest with the leaked OTK in `realm`; the opening answers `answer`. */
  async function leakedOtkGateway(realm: string, otk: Uint8Array, answer: unknown) {
    const leaked = toBase64url(otk);
    const app = new Hono();
    app.post(
      "/cpns-gw/v1/sessions",
      digestAuth({
        realm,
        secret: randomBytes(32),
        userhash: false,
        lookup: () => ({ password: leaked }),
      }),
      (c) => (answer === null ? c.body(null, 201) : c.json(answer, 201)),
    );
    let listening!: (port: number) => void;
    const ready = new Promise<number>((resolve) => {
      listening = resolve;
    });
    const http = serveNode({ fetch: app.fetch }, (info) => listening(info.port)) as Server;
    const url = `http://127.0.0.1:${await ready}`;
    const close = () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections?.();
        http.close(() => resolve());
      });
    return { url, close };
  }

  // Answers :181 OptionalChaining (res.body.cancel): a bodiless 201 (the path hands it on as a
  // Response with a null body) in another realm is refused as the CpnsError it is, not a TypeError.
  it("[PEER-DIGEST] another realm, with a bodiless 201: ERR_DIGEST_SERVER_UNAUTHENTICATED, the machine told GATEWAY_UNPROVEN", async () => {
    const received = await freshOtk();
    const fake = await leakedOtkGateway("cpns-gw:another-gw", new Uint8Array(received.otk), null);
    try {
      const w = wire();
      w.rewrite = async (_request, res) =>
        res.status === 201 ? new Response(null, { status: 201, headers: res.headers }) : res;
      const error = await failureOf(
        PeerSession.open({
          entityId: pne.entityId,
          received,
          gatewayUrl: fake.url,
          fetch: w.fetch,
          now: () => server.clock.now,
        }),
      );
      expect(error.code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
      expect(error.message).toContain("not the PN GW that created the OTK");
      expect(asked.at(-1)).toBe("GATEWAY_UNPROVEN");
    } finally {
      await fake.close();
    }
  });

  // Answers :193 ObjectLiteral and StringLiteral (the event for an answer that is not a session).
  it("[PEER-DIGEST] the right realm, but an answer that is no session: ERR_DIGEST_SERVER_UNAUTHENTICATED, the machine told GATEWAY_UNPROVEN", async () => {
    const received = await freshOtk();
    const fake = await leakedOtkGateway(`cpns-gw:${GW}`, new Uint8Array(received.otk), {
      hello: "not a session",
    });
    try {
      const error = await failureOf(
        PeerSession.open({
          entityId: pne.entityId,
          received,
          gatewayUrl: fake.url,
          now: () => server.clock.now,
        }),
      );
      expect(error.code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
      expect(asked.slice(-3)).toEqual(["EXPIRE", "OPEN", "GATEWAY_UNPROVEN"]);
    } finally {
      await fake.close();
    }
  });
});

describe("[PEER-SESSION] the crypto provider", () => {
  // Answers :373 ObjectLiteral (the crypto provider not handed to the channel).
  it("[PEER-SESSION] a session opened with a crypto provider derives its channel's keys through that provider too", async () => {
    let hkdfImports = 0;
    const provider = spyingCrypto((name, args) => {
      if (isHkdfImport(name, args)) hkdfImports++;
    });
    const session = await PeerSession.open({
      entityId: pne.entityId,
      received: await freshOtk(),
      gatewayUrl: g.url,
      now: () => server.clock.now,
      crypto: provider,
    });
    const before = hkdfImports;
    const channel = await session.openChannel();
    expect(channel).toBeDefined();
    expect(hkdfImports).toBeGreaterThan(before);
  });
});
