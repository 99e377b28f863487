/**
 * Issue #9, checks the suite could not see (Stryker survivors in src/gateway/guard.ts and
 * handlers.ts whose code runs when a PN GW is built): each test builds its own PN GW inside the
 * test, so that Stryker's per-test coverage sees the construction (a PN GW built in beforeAll
 * counts for no test). From the attacker's side against a real CPNS Server: a relayed request
 * and a session message, each replayed word for word (same nonce and nc), are refused: the
 * relay's and the session routes' replay ledgers run on the PN GW's clock, the one that stamps
 * their nonces. And the opening hands the peer every challenge of the session routes, so the
 * first message needs no 401.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PeerSession } from "../../src/agent/peer.ts";
import type { FetchLike } from "../../src/digest/index.ts";
import {
  connectPeer,
  type Device,
  enrollDevice,
  type RunningGateway,
  startGateway,
} from "../e2e/peer-helpers.ts";
import { startTestServer, type TestServer } from "../e2e/server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-mut-gateway-replay-1" };

let server: TestServer;
let gw: Device;
let running: RunningGateway | undefined;

beforeAll(async () => {
  server = await startTestServer({ rateLimit: { maxFailures: 10_000, windowSeconds: 60 } });
  await server.createUser(ALICE.userId, ALICE.password);
  gw = await enrollDevice(server, ALICE, "mr-gw", "PNGW");
}, 60_000);

afterAll(async () => {
  await running?.close();
  await server?.close();
});

interface Sent {
  method: string;
  url: string;
  headers: Headers;
  body?: ArrayBuffer;
  status: number;
  answer: Headers;
}

/**
 * A PN GW built now, and a fresh peer's session with it through an in-process transport that
 * keeps every request whole (to replay it as an attacker on the path would) and its answer's
 * status and headers.
 */
async function fresh(peerId: string): Promise<{
  g: RunningGateway;
  session: PeerSession;
  sent: Sent[];
}> {
  await running?.close();
  const g = await startGateway(server, gw);
  running = g;
  const pne = await enrollDevice(server, ALICE, peerId, "PNE");
  await g.gateway.offer(pne.entityId);
  const sent: Sent[] = [];
  const transport: FetchLike = async (request) => {
    const body =
      request.method === "GET" || request.method === "HEAD"
        ? undefined
        : await request.arrayBuffer();
    const headers = new Headers(request.headers);
    const answer = await g.gateway.app.fetch(
      new Request(request.url, { method: request.method, headers, body }),
    );
    sent.push({
      method: request.method,
      url: request.url,
      headers,
      body,
      status: answer.status,
      answer: new Headers(answer.headers),
    });
    return answer;
  };
  const { session } = await connectPeer(server, pne, gw.entityId, {
    gatewayUrl: g.url,
    fetch: transport,
  });
  return { g, session, sent };
}

async function replay(g: RunningGateway, captured: Sent): Promise<Response> {
  return g.gateway.app.fetch(
    new Request(captured.url, {
      method: captured.method,
      headers: captured.headers,
      body: captured.body,
    }),
  );
}

describe("PN GW replay ledgers and primed challenges, on a PN GW built in the test", () => {
  it("[GATEWAY-RELAY] [DIGEST-REPLAY] a relayed request replayed word for word (same nonce and nc) is refused 407", async () => {
    const { g, session, sent } = await fresh("mr-pne-1");
    const first = await session.relayTransport()(new Request(`${server.url}/cpns/v1/whoami`));
    expect(first.status).not.toBe(407);
    const captured = sent.filter((s) => s.headers.has("proxy-authorization")).at(-1);
    if (!captured) throw new Error("nothing relayed");
    expect((await replay(g, captured)).status).toBe(407);
  });

  it("[PEER-SESSION] [DIGEST-REPLAY] a session message replayed word for word (same nonce and nc) is refused 401", async () => {
    const { g, session, sent } = await fresh("mr-pne-2");
    expect((await session.send("once")).echo).toBe("once");
    const captured = sent
      .filter((s) => s.url.endsWith("/messages") && s.headers.has("authorization"))
      .at(-1);
    if (!captured) throw new Error("no message sent");
    expect(captured.status).toBe(200);
    expect((await replay(g, captured)).status).toBe(401);
  });

  it("[PEER-SESSION-PRIMED] the opening carries every challenge of the session routes, and the first message meets no 401", async () => {
    const { g, session, sent } = await fresh("mr-pne-3");
    const opening = sent.find((s) => s.url.endsWith("/cpns-gw/v1/sessions") && s.status === 201);
    if (!opening) throw new Error("no opening");
    // What an unauthenticated message is challenged with: one challenge per algorithm.
    const unauthenticated = await g.gateway.app.fetch(
      new Request(`${g.url}/cpns-gw/v1/sessions/none/messages`, { method: "POST" }),
    );
    const count = (value: string | null) => (value ?? "").match(/Digest /g)?.length ?? 0;
    const expected = count(unauthenticated.headers.get("www-authenticate"));
    expect(expected).toBeGreaterThan(1);
    expect(count(opening.answer.get("www-authenticate"))).toBe(expected);
    const before = sent.length;
    expect((await session.send("first")).echo).toBe("first");
    expect(sent.slice(before).map((s) => s.status)).toEqual([200]);
  });
});
