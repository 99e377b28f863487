/**
 * Issue #9, checks the suite could not see (Stryker survivors in src/gateway/handlers.ts), from
 * a peer's side against a real CPNS Server and a real PN GW: the binary echo's exact 64 KiB
 * limit and its content type (parameters and spaces around the media type included), the
 * relay's exact body limit on both sides of it, a relayed HEAD, and the public health and info
 * answers, and (guard.ts survivors, needing a live session) the relay refusing a replayed
 * request (its ledger on the gateway's clock) and the message and close routes'
 * shared nonce ledger. The peer's transport reaches the PN GW's app in process, so every header the PN GW
 * answers with is visible, and lets the test vary the content type the peer sends (auth-int
 * covers the body, not that header).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PeerSession } from "../../src/agent/peer.ts";
import type { FetchLike } from "../../src/digest/index.ts";
import { errorCodeOf } from "../../src/errors.ts";
import { MAX_BINARY_MESSAGE } from "../../src/gateway/handlers.ts";
import {
  connectPeer,
  enrollDevice,
  type RunningGateway,
  startGateway,
} from "../e2e/peer-helpers.ts";
import { expectProblem, startTestServer, type TestServer } from "../e2e/server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-mut-gateway-handlers-1" };
const MAX_RELAY = 4096;

let server: TestServer;
let g: RunningGateway;
let session: PeerSession;
/** A second peer whose requests cross loopback HTTP, so they carry a Content-Length. */
let networked: PeerSession;
/** The content type the peer's messages go out with, when the test sets one. */
let contentType: string | undefined;
/** The Content-Length the peer's messages claim, when the test sets one (the body stays as sent). */
let declaredLength: number | undefined;
let lastAnswer: { status: number; headers: Headers } | undefined;
/** The relayed requests the in-process peer sent, as sent. */
const relayed: Array<{ method: string; url: string; headers: Headers; body?: ArrayBuffer }> = [];
/** Every status the in-process peer's transport saw, in order. */
const statuses: number[] = [];

beforeAll(async () => {
  server = await startTestServer({ rateLimit: { maxFailures: 10_000, windowSeconds: 60 } });
  await server.createUser(ALICE.userId, ALICE.password);
  const gw = await enrollDevice(server, ALICE, "mh-gw", "PNGW");
  const pne = await enrollDevice(server, ALICE, "mh-pne", "PNE");
  g = await startGateway(server, gw, { maxRelayBodyBytes: MAX_RELAY });
  await g.gateway.offer(pne.entityId);
  const inProcess: FetchLike = async (request) => {
    let sent = request;
    if (
      (contentType || declaredLength !== undefined) &&
      new URL(request.url).pathname.endsWith("/messages")
    ) {
      const headers = new Headers(request.headers);
      if (contentType) headers.set("content-type", contentType);
      if (declaredLength !== undefined) headers.set("content-length", String(declaredLength));
      sent = new Request(request, { headers });
    }
    if (
      new URL(sent.url).pathname.startsWith("/cpns/v1/") &&
      sent.headers.has("proxy-authorization")
    ) {
      // Kept whole, to replay it later as an attacker on the path would.
      const body =
        sent.method === "GET" || sent.method === "HEAD" ? undefined : await sent.arrayBuffer();
      relayed.push({
        method: sent.method,
        url: sent.url,
        headers: new Headers(sent.headers),
        body,
      });
      sent = new Request(sent.url, { method: sent.method, headers: sent.headers, body });
    }
    const answer = await g.gateway.app.fetch(sent);
    // Status and headers only: a clone would hold the body (a tee cancels only when both halves do).
    lastAnswer = { status: answer.status, headers: new Headers(answer.headers) };
    statuses.push(answer.status);
    return answer;
  };
  ({ session } = await connectPeer(server, pne, gw.entityId, {
    gatewayUrl: g.url,
    fetch: inProcess,
  }));
  const pne2 = await enrollDevice(server, ALICE, "mh-pne2", "PNE");
  await g.gateway.offer(pne2.entityId);
  ({ session: networked } = await connectPeer(server, pne2, gw.entityId));
}, 60_000);

afterAll(async () => {
  await g?.close();
  await server?.close();
});

function bytes(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7) & 0xff);
}

/** What the peer's client threw: its error code, else its message. */
async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return errorCodeOf(err) ?? String((err as Error).message);
  }
  return "no error";
}

/**
 * A body of exactly the relay limit reaches the server (the answer is the server's own, which
 * wants its Digest, not the PN GW's refusal); one byte more is the PN GW's 413.
 */
async function expectRelayLimit(relay: FetchLike): Promise<void> {
  const post = (length: number) =>
    new Request(`${server.url}/cpns/v1/otks`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: bytes(length) as BodyInit,
    });
  const direct = await fetch(post(MAX_RELAY));
  const relayed = await relay(post(MAX_RELAY));
  expect(relayed.status).toBe(direct.status);
  expect(relayed.status).not.toBe(413);
  await expectProblem(await relay(post(MAX_RELAY + 1)), 413, "ERR_BODY_TOO_LARGE");
}

describe("PN GW handlers (src/gateway/handlers.ts)", () => {
  it("[PEER-SESSION] over HTTP (with Content-Length), echoes exactly 64 KiB and refuses one byte more", async () => {
    const sent = bytes(MAX_BINARY_MESSAGE);
    expect(await networked.sendBytes(sent)).toEqual(sent);
    expect(await refusal(networked.sendBytes(bytes(MAX_BINARY_MESSAGE + 1)))).toMatch(
      /ERR_BODY_TOO_LARGE|too large/i,
    );
  });

  it("[GATEWAY-RELAY] over HTTP (with Content-Length), relays a body of exactly the relay limit", async () => {
    await expectRelayLimit(networked.relayTransport());
  });

  it("[PEER-SESSION] echoes exactly 64 KiB of raw bytes as application/octet-stream, and refuses one byte more", async () => {
    contentType = undefined;
    const sent = bytes(MAX_BINARY_MESSAGE);
    const echoed = await session.sendBytes(sent);
    expect(lastAnswer?.headers.get("content-type")).toBe("application/octet-stream");
    expect(echoed).toEqual(sent);
    expect(await refusal(session.sendBytes(bytes(MAX_BINARY_MESSAGE + 1)))).toMatch(
      /ERR_BODY_TOO_LARGE|too large/i,
    );
    expect(lastAnswer?.status).toBe(413);
  });

  it("[PEER-SESSION] takes `application/octet-stream ; x=y` (space and parameter) for raw bytes", async () => {
    contentType = "application/octet-stream ; x=y";
    try {
      const sent = bytes(100);
      expect(await session.sendBytes(sent)).toEqual(sent);
      expect(lastAnswer?.headers.get("content-type")).toBe("application/octet-stream");
    } finally {
      contentType = undefined;
    }
  });

  it("[PEER-SESSION] refuses raw bytes whose declared Content-Length is over 64 KiB before reading them, though the body sent is small", async () => {
    // Under the shell's ceiling and the session Digest's body limit: only the message route's own
    // check reads the declared length. Reading first would echo the 100 bytes actually sent.
    declaredLength = MAX_BINARY_MESSAGE + 1;
    try {
      expect(await refusal(session.sendBytes(bytes(100)))).toMatch(/ERR_BODY_TOO_LARGE|too large/i);
      expect(lastAnswer?.status).toBe(413);
    } finally {
      declaredLength = undefined;
    }
    expect(await session.sendBytes(bytes(100))).toEqual(bytes(100));
  });

  it("[OPENAPI-DOC] the PN GW's API document names this PN GW and its Digest realm", async () => {
    const answer = await g.gateway.app.fetch(new Request(`${g.url}/openapi.json`));
    expect(answer.status).toBe(200);
    const doc = (await answer.json()) as { info: { title: string } };
    expect(doc.info.title).toBe("PN GW mh-gw");
    expect(JSON.stringify(doc)).toContain("cpns-gw:mh-gw");
  });

  it("[GATEWAY-RELAY] relays a body of exactly the relay limit to the server, and refuses one byte more", async () => {
    await expectRelayLimit(session.relayTransport());
  });

  it("[GATEWAY-RELAY] relays a HEAD (no body read, none sent) and hands back the server's answer", async () => {
    const relay = session.relayTransport();
    const direct = await fetch(`${server.url}/cpns/v1/whoami`, { method: "HEAD" });
    const relayed = await relay(new Request(`${server.url}/cpns/v1/whoami`, { method: "HEAD" }));
    expect(relayed.status).toBe(direct.status);
    expect(relayed.status).not.toBe(502);
    expect(relayed.headers.get("www-authenticate")).toMatch(/^Digest /);
  });

  it("[FLEET-SHELL-GW-POLICY] answers health and info with their documented bodies", async () => {
    const health = await g.gateway.app.fetch(new Request(`${g.url}/health`));
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const info = await g.gateway.app.fetch(new Request(`${g.url}/cpns-gw/v1`));
    expect(info.status).toBe(200);
    expect(await info.json()).toEqual({
      service: "cpns-gw",
      version: 1,
      gatewayId: "mh-gw",
      realm: "cpns-gw:mh-gw",
    });
  });
  it("[GATEWAY-RELAY] [DIGEST-REPLAY] a relayed request replayed word for word (same nonce and nc) is refused at the PN GW", async () => {
    const relay = session.relayTransport();
    const first = await relay(new Request(`${server.url}/cpns/v1/whoami`));
    expect(first.status).not.toBe(407);
    const captured = relayed.at(-1);
    if (!captured) throw new Error("nothing relayed");
    const replay = await g.gateway.app.fetch(
      new Request(captured.url, {
        method: captured.method,
        headers: captured.headers,
        body: captured.body,
      }),
    );
    expect(replay.status).toBe(407);
  });

  // Last: it closes the in-process session.
  it("[PEER-SESSION] a session's message and close routes share one nonce ledger: the close reuses the message's nonce, no new challenge", async () => {
    expect((await session.send("before close")).echo).toBe("before close");
    statuses.length = 0;
    await session.close();
    expect(statuses).toEqual([204]);
  });
});
