/**
 * Issue #9, "tests that could not see a broken check", on the peer side
 * (seed 5.x.2 second bullet, DESIGN §1 relay):
 *
 * - after a genuine peer session opened, an impostor that takes over the PN
 *   GW's address and answers a session message, or a relayed request, with a
 *   2xx and no (Proxy-)Authentication-Info is refused: the session's Digest
 *   clients require rspauth on both hops (PEER-SESSION, GATEWAY-RELAY);
 * - the session view the PN GW answers with must name this peer and the PN GW
 *   the OTK came from, even from a PN GW that proves the OTK (PEER-DIGEST);
 * - the relay forwards no hop-by-hop header upstream (RFC 9110 §7.6.1: Connection
 *   and the headers it names, Keep-Alive, TE, Trailer, Upgrade, Proxy-Connection)
 *   and none of its own hop (Proxy-Authorization, Proxy-Authentication-Info),
 *   while the PNE's Authorization reaches the server byte for byte
 *   (GATEWAY-RELAY, GATEWAY-RELAY-E2E's precondition).
 *
 * Real CPNS Server, real PN GWs, impostors and an upstream recorder, all on loopback.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PeerSession } from "../../src/agent/peer.ts";
import { toBase64url } from "../../src/crypto/bytes.ts";
import { randomBytes } from "../../src/crypto/provider.ts";
import { digestAuth, type FetchLike } from "../../src/digest/index.ts";
import { CpnsError } from "../../src/errors.ts";
import type { PeerSessionView } from "../../src/protocol/schemas.ts";
import { serveNode } from "../../src/runtime/node-server.ts";
import {
  connectPeer,
  enrollDevice,
  type RunningGateway,
  relayedAgent,
  startGateway,
} from "./peer-helpers.ts";
import {
  rawChunkedTransport,
  startTestServer,
  type TestServer,
  transportFrom,
} from "./server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-impostor-password-1" };
const NODE_HTTP = transportFrom("127.0.0.1");

let server: TestServer;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  server = await startTestServer({ rateLimit: { maxFailures: 10_000, windowSeconds: 60 } });
  await server.createUser(ALICE.userId, ALICE.password);
});

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  await server.close();
});

function closeLater(http: Server): void {
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections?.();
        http.close(() => resolve());
      }),
  );
}

async function serve(app: Hono): Promise<string> {
  let listening!: (port: number) => void;
  const ready = new Promise<number>((resolve) => {
    listening = resolve;
  });
  const http = serveNode({ fetch: app.fetch }, (info) => listening(info.port)) as Server;
  closeLater(http);
  return `http://127.0.0.1:${await ready}`;
}

async function scene(prefix: string, serverUrl?: string) {
  const gw = await enrollDevice(server, ALICE, `${prefix}-gw`, "PNGW");
  const pne = await enrollDevice(server, ALICE, `${prefix}-pne`, "PNE");
  const g: RunningGateway = await startGateway(server, gw, serverUrl ? { serverUrl } : {});
  closers.push(() => g.close());
  return { gw, pne, g };
}

/**
 * The PNE's transport: to the real PN GW until `takeOver(url)`, then every
 * request goes to that address instead (the impostor took the PN GW's place).
 */
function hijackable() {
  let impostor: string | undefined;
  const transport: FetchLike = async (request) => {
    if (!impostor) return fetch(request);
    const original = new URL(request.url);
    const body =
      request.method === "GET" || request.method === "HEAD"
        ? undefined
        : await request.arrayBuffer();
    return fetch(
      new Request(`${impostor}${original.pathname}${original.search}`, {
        method: request.method,
        headers: request.headers,
        body,
      }),
    );
  };
  return {
    transport,
    takeOver: (url: string) => {
      impostor = url;
    },
  };
}

async function failureOf(promise: Promise<unknown>): Promise<CpnsError> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(CpnsError);
  return error as CpnsError;
}

describe("[PEER-SESSION][GATEWAY-RELAY][AGENT-REQUIRE-RSPAUTH] an impostor after a genuine session opened", () => {
  it("[PEER-SESSION][AGENT-REQUIRE-RSPAUTH] answers a session message with 200 and a plausible echo but no Authentication-Info: refused (ERR_DIGEST_SERVER_UNAUTHENTICATED)", async () => {
    const { pne, g } = await scene("imp-msg");
    await g.gateway.offer(pne.entityId);
    const { transport, takeOver } = hijackable();
    const { session } = await connectPeer(server, pne, "imp-msg-gw", { fetch: transport });
    const genuine = await session.send("hello");
    expect(genuine.echo).toBe("hello");

    const seen: string[] = [];
    const fake = new Hono();
    fake.all("*", (c) => {
      seen.push(`${c.req.method} ${c.req.path}`);
      return c.json({ ...genuine, echo: "all is well" }, 200);
    });
    takeOver(await serve(fake));
    const error = await failureOf(session.send("are you the PN GW?"));
    expect(error.code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
    expect(seen).toEqual([`POST /cpns-gw/v1/sessions/${session.sessionId}/messages`]);
  });

  it("[GATEWAY-RELAY][AGENT-REQUIRE-RSPAUTH] relays a request to the real server and hands back its genuine answer, but without Proxy-Authentication-Info: refused as the PN GW's failure (ERR_GATEWAY_UNAUTHENTICATED)", async () => {
    const { pne, g } = await scene("imp-relay");
    await g.gateway.offer(pne.entityId);
    const { transport, takeOver } = hijackable();
    const { session } = await connectPeer(server, pne, "imp-relay-gw", { fetch: transport });
    const agent = relayedAgent(server, pne, session);
    expect((await agent.whoami(pne.entityId)).entityId).toBe(pne.entityId);

    // The impostor relays faithfully (so the server's own rspauth is there and
    // valid), only it cannot prove the session's secret on its own hop.
    let relayed = 0;
    const fake = new Hono();
    fake.all("*", async (c) => {
      relayed++;
      const headers = new Headers(c.req.raw.headers);
      headers.delete("proxy-authorization");
      headers.delete("host");
      const answer = await fetch(`${server.url}${new URL(c.req.url).pathname}`, {
        method: c.req.method,
        headers,
        body: c.req.method === "GET" ? undefined : await c.req.arrayBuffer(),
      });
      const back = new Headers(answer.headers);
      back.delete("content-length");
      back.delete("content-encoding");
      return new Response(await answer.arrayBuffer(), { status: answer.status, headers: back });
    });
    takeOver(await serve(fake));
    const error = await failureOf(agent.whoami(pne.entityId));
    expect(error.code).toBe("ERR_GATEWAY_UNAUTHENTICATED");
    expect(relayed).toBeGreaterThan(0);
  });
});

describe("[PEER-DIGEST][PEER-SESSION] the session view must name this peer and the OTK's PN GW", () => {
  type Wrong = "peerId" | "gatewayId";

  /** A PN GW that knows the OTK (it leaked) and proves it in the right realm, but answers a view naming someone else. */
  async function provingGateway(gatewayId: string, peerId: string, otk: Uint8Array, wrong: Wrong) {
    const leaked = toBase64url(otk);
    const app = new Hono();
    app.post(
      "/cpns-gw/v1/sessions",
      digestAuth({
        realm: `cpns-gw:${gatewayId}`,
        secret: randomBytes(32),
        userhash: false,
        lookup: () => ({ password: leaked }),
      }),
      (c) => {
        const view: PeerSessionView = {
          sessionId: toBase64url(randomBytes(16)),
          gatewayId: wrong === "gatewayId" ? "another-gw" : gatewayId,
          peerId: wrong === "peerId" ? "another-peer" : peerId,
          expiresAt: Math.floor(server.clock.now / 1000) + 900,
        };
        return c.json(view, 201);
      },
    );
    return await serve(app);
  }

  it.each<Wrong>(["peerId", "gatewayId"])(
    "[PEER-DIGEST][PEER-SESSION] a PN GW proving the OTK in its realm but answering a view with another %s: refused (ERR_DIGEST_SERVER_UNAUTHENTICATED), nothing opens, the OTK is zeroed",
    async (wrong) => {
      const prefix = `imp-view-${wrong.toLowerCase()}`;
      const { pne, g } = await scene(prefix);
      const offer = await g.gateway.offer(pne.entityId);
      const received = await pne.otks.fetch(pne.entityId, offer.otkId);
      const url = await provingGateway(
        `${prefix}-gw`,
        pne.entityId,
        new Uint8Array(received.otk),
        wrong,
      );
      const error = await failureOf(
        PeerSession.open({
          entityId: pne.entityId,
          received,
          gatewayUrl: url,
          now: () => server.clock.now,
        }),
      );
      expect(error.code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
      expect(error.detail).toBe("the PN GW's answer is not a session");
      expect(received.otk.every((byte) => byte === 0)).toBe(true);
    },
  );
});

describe("[GATEWAY-RELAY][GATEWAY-RELAY-E2E] the relay forwards no hop-by-hop header, and the PNE's Authorization byte for byte", () => {
  interface Seen {
    headers: Array<[string, string]>;
  }

  /** A recording server in front of the CPNS Server: the relay's upstream. */
  async function recorder(
    answerHops: Record<string, string> = {},
  ): Promise<{ url: string; seen: Seen[] }> {
    const seen: Seen[] = [];
    const http = createServer(async (req: IncomingMessage, res) => {
      const headers: Array<[string, string]> = [];
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
        headers.push([
          (req.rawHeaders[i] as string).toLowerCase(),
          req.rawHeaders[i + 1] as string,
        ]);
      }
      seen.push({ headers });
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const forward = new Headers();
      for (const [name, value] of headers) {
        if (!["host", "connection", "content-length", "keep-alive"].includes(name)) {
          forward.append(name, value);
        }
      }
      const answer = await fetch(`${server.url}${req.url}`, {
        method: req.method,
        headers: forward,
        body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
      });
      const out: Record<string, string> = {};
      answer.headers.forEach((value, name) => {
        if (name !== "content-length" && name !== "content-encoding") out[name] = value;
      });
      res.writeHead(answer.status, { ...out, ...answerHops });
      res.end(Buffer.from(await answer.arrayBuffer()));
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    closeLater(http);
    return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, seen };
  }

  /** What the PNE adds to every relayed request, as a PNE (or a device in between) could. */
  const HOP_HEADERS: Record<string, string> = {
    connection: "X-Hop-Secret",
    "x-hop-secret": "hop-secret-value",
    "keep-alive": "timeout=5",
    te: "trailers",
    trailer: "X-Checksum",
    upgrade: "h2c",
    "proxy-connection": "keep-alive",
    "proxy-authentication-info": 'rspauth="0000"',
  };
  const NEVER_UPSTREAM = [
    "proxy-authorization",
    "proxy-authentication-info",
    "x-hop-secret",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "proxy-connection",
  ];

  it("[GATEWAY-RELAY][GATEWAY-RELAY-E2E] Proxy-Authorization, Proxy-Authentication-Info, Connection and the headers it names, Keep-Alive, TE, Trailer, Upgrade and Proxy-Connection never reach upstream; the PNE's Authorization does, unchanged", async () => {
    const upstream = await recorder();
    const { pne, g } = await scene("hop", upstream.url);
    await g.gateway.offer(pne.entityId);

    const sentAuthorizations: string[] = [];
    const withHopHeaders: FetchLike = async (request) => {
      if (!request.headers.has("proxy-authorization")) return NODE_HTTP(request);
      const headers = new Headers(request.headers);
      for (const [name, value] of Object.entries(HOP_HEADERS)) headers.set(name, value);
      const authorization = headers.get("authorization");
      if (authorization) sentAuthorizations.push(authorization);
      const body =
        request.method === "GET" || request.method === "HEAD"
          ? undefined
          : await request.arrayBuffer();
      // A raw socket: node:http would refuse a Trailer header on a request that is not chunked.
      return rawChunkedTransport(
        new Request(request.url, { method: request.method, headers, body }),
      );
    };
    const { session } = await connectPeer(server, pne, "hop-gw", { fetch: withHopHeaders });
    const agent = relayedAgent(server, pne, session);
    expect((await agent.whoami(pne.entityId)).entityId).toBe(pne.entityId);
    const inbox = await agent.fetchAsEntity(pne.entityId, "/cpns/v1/otks/inbox");
    expect(inbox.status).toBe(200);

    // Everything the relay carried (the recorder sees only relayed traffic).
    expect(upstream.seen.length).toBeGreaterThanOrEqual(2);
    for (const { headers } of upstream.seen) {
      const names = headers.map(([name]) => name);
      for (const name of NEVER_UPSTREAM) expect(names).not.toContain(name);
      // fetch may open its own connection with its own Connection header, never the PNE's.
      for (const [name, value] of headers) {
        if (name === "connection") expect(value.toLowerCase()).not.toContain("x-hop-secret");
      }
    }
    const relayedAuthorizations = upstream.seen
      .map(({ headers }) => headers.find(([name]) => name === "authorization")?.[1])
      .filter((value): value is string => value !== undefined);
    expect(sentAuthorizations.length).toBeGreaterThanOrEqual(2);
    expect(relayedAuthorizations).toEqual(sentAuthorizations);
  });

  it("[GATEWAY-RELAY] the way back: hop-by-hop headers of the server's hop (Connection and the headers it names, Keep-Alive, Proxy-Authenticate) never reach the PNE; the server's Authentication-Info does", async () => {
    const upstream = await recorder({
      connection: "X-Up-Hop",
      "x-up-hop": "up-secret",
      "keep-alive": "timeout=99",
      "proxy-authenticate": 'Digest realm="upstream-hop", nonce="x"',
    });
    const { pne, g } = await scene("hop-back", upstream.url);
    await g.gateway.offer(pne.entityId);
    const answers: Headers[] = [];
    const recording: FetchLike = async (request) => {
      const res = await NODE_HTTP(request);
      if (request.headers.has("proxy-authorization")) answers.push(res.headers);
      return res;
    };
    const { session } = await connectPeer(server, pne, "hop-back-gw", { fetch: recording });
    const agent = relayedAgent(server, pne, session);
    expect((await agent.whoami(pne.entityId)).entityId).toBe(pne.entityId);

    expect(upstream.seen.length).toBeGreaterThanOrEqual(1);
    const relayed = answers.filter((headers) => headers.has("authentication-info"));
    expect(relayed.length).toBeGreaterThanOrEqual(1);
    for (const headers of answers) {
      expect(headers.has("x-up-hop")).toBe(false);
      expect(headers.get("keep-alive") ?? "").not.toContain("timeout=99");
      expect(headers.get("connection") ?? "").not.toMatch(/x-up-hop/i);
      expect(headers.get("proxy-authenticate") ?? "").not.toContain("upstream-hop");
    }
  });
});
