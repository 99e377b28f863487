/**
 * Issue #9, checks the suite could not see (Stryker survivors in src/gateway/channels.ts and the
 * channel's liveness hook in src/gateway/gateway.ts), from the peer's side against a real CPNS
 * Server and a real PN GW on loopback: the channel opening answers the channel's own expiry in
 * epoch seconds (the channel lifetime, inside the session's), and a peer whose clock lags
 * behind the PN GW's can open no channel once the session is past its expiry at the PN GW, nor
 * send a record past the channel's lifetime, and a record replayed after the peer closed its
 * channel finds no channel.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PeerSession } from "../../src/agent/peer.ts";
import type { FetchLike } from "../../src/digest/index.ts";
import { enrollDevice, type RunningGateway, startGateway } from "../e2e/peer-helpers.ts";
import { expectProblem, startTestServer, type TestServer } from "../e2e/server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-mut-gateway-channels-1" };
const CHANNEL_SECONDS = 60;
const SESSION_SECONDS = 900;

let server: TestServer;
let g: RunningGateway;
/** The PN GW's answers to channel openings, as the peer's transport received them. */
const openings: Array<{ status: number; body: string }> = [];

/** The records the peers sent, as sent. */
const records: Array<{ url: string; headers: Headers; body: Uint8Array }> = [];

const recording: FetchLike = async (request) => {
  const path = new URL(request.url).pathname;
  if (path.startsWith("/cpns-gw/v1/channels/")) {
    // A record: kept whole, to replay it later as an attacker on the path would.
    const body = new Uint8Array(await request.arrayBuffer());
    records.push({ url: request.url, headers: new Headers(request.headers), body });
    return fetch(new Request(request.url, { method: "POST", headers: request.headers, body }));
  }
  const answer = await fetch(request);
  if (path !== "/cpns-gw/v1/channels") return answer;
  // Read whole and handed on as a fresh Response (a clone's tee would hold the body).
  const body = await answer.text();
  openings.push({ status: answer.status, body });
  return new Response(body, {
    status: answer.status,
    statusText: answer.statusText,
    headers: answer.headers,
  });
};

beforeAll(async () => {
  server = await startTestServer({ rateLimit: { maxFailures: 10_000, windowSeconds: 60 } });
  await server.createUser(ALICE.userId, ALICE.password);
  const gw = await enrollDevice(server, ALICE, "mc-gw", "PNGW");
  g = await startGateway(server, gw, {
    channelLifetimeSeconds: CHANNEL_SECONDS,
    sessionLifetimeSeconds: SESSION_SECONDS,
  });
}, 60_000);

afterAll(async () => {
  await g?.close();
  await server?.close();
});

/** A peer of the gateway (`through`, by default the one above) with its own clock, its session open through `recording`. */
async function peer(
  entityId: string,
  now: () => number,
  through: RunningGateway = g,
): Promise<PeerSession> {
  const device = await enrollDevice(server, ALICE, entityId, "PNE");
  await through.gateway.offer(entityId);
  const [waiting] = await device.otks.inbox(entityId);
  if (!waiting) throw new Error("no OTK");
  const received = await device.otks.fetch(entityId, waiting.otkId);
  return PeerSession.open({ entityId, received, now, fetch: recording });
}

describe("PN GW channels (src/gateway/channels.ts)", () => {
  it("[PEERCH-OPEN] [PEERCH-SESSION-BOUND] the opening answers the channel's expiry in epoch seconds: its lifetime from now", async () => {
    const session = await peer("mc-pne-1", () => server.clock.now);
    const openedAt = server.clock.now;
    const channel = await session.openChannel();
    const opened = openings.at(-1);
    expect(opened?.status).toBe(201);
    const body = JSON.parse(opened?.body ?? "{}") as { expiresAt: number };
    expect(body.expiresAt).toBe(Math.floor((openedAt + CHANNEL_SECONDS * 1000) / 1000));
    expect((await channel.send("inside")).echo).toBe("inside");
  });

  it("[PEERCH-SESSION-BOUND] [PEER-SESSION] a peer whose clock lags opens no channel once the session is past its expiry at the PN GW", async () => {
    // A PN GW built in the test: its liveness hook runs at construction, which Stryker's
    // per-test coverage only sees inside a test.
    const device = await enrollDevice(server, ALICE, "mc-gw-2", "PNGW");
    const own = await startGateway(server, device, {
      channelLifetimeSeconds: CHANNEL_SECONDS,
      sessionLifetimeSeconds: SESSION_SECONDS,
    });
    try {
      let peerClock = server.clock.now;
      const session = await peer("mc-pne-2", () => peerClock, own);
      peerClock = server.clock.now;
      const before = openings.length;
      // The PN GW's clock (the server's test clock) runs past the session's end; the peer's does not.
      server.clock.now += (SESSION_SECONDS + 1) * 1000;
      await expect(session.openChannel()).rejects.toThrow();
      const answers = openings.slice(before).map((o) => o.status);
      // Possibly a fresh challenge first (the nonce outlived at the PN GW), then the refusal.
      expect(answers.at(-1)).toBe(410);
      expect(answers).not.toContain(201);
      // The session's own refusal (settled at the opening), not a channel born dead.
      expect(JSON.parse(openings.at(-1)?.body ?? "{}").code).toBe("ERR_PEER_SESSION_GONE");
    } finally {
      await own.close();
    }
  });
  it("[PEERCH-SESSION-BOUND] [PEERCH-ATTACKS] a record sent after the channel's lifetime is refused at the PN GW, though its session lives on", async () => {
    let peerClock = server.clock.now;
    const session = await peer("mc-pne-3", () => peerClock);
    peerClock = server.clock.now;
    const channel = await session.openChannel();
    expect((await channel.send("in time")).echo).toBe("in time");
    // Past the channel's 60 s at the PN GW, well inside the session's 900 s; the peer's clock lags.
    server.clock.now += (CHANNEL_SECONDS + 1) * 1000;
    await expect(channel.send("too late")).rejects.toThrow();
    expect((await session.send("session still open")).echo).toBe("session still open");
  });
  it("[PEERCH-SESSION-BOUND] [CHANNEL-CLOSE] once the peer closed its channel, a replayed record of it finds no channel (404)", async () => {
    const session = await peer("mc-pne-4", () => server.clock.now);
    const channel = await session.openChannel();
    expect((await channel.send("before close")).echo).toBe("before close");
    const captured = records.at(-1);
    if (!captured) throw new Error("no record sent");
    await channel.close();
    const replay = await fetch(
      new Request(captured.url, {
        method: "POST",
        headers: captured.headers,
        body: captured.body as BodyInit,
      }),
    );
    await expectProblem(replay, 404, "ERR_CHANNEL_UNKNOWN");
  });
});

/**
 * A CryptoProvider that counts the AES-GCM operations made through it: the PN GW's, not the
 * peer's (the peer in this process uses globalThis.crypto directly).
 */
function countingCrypto(): { crypto: Crypto; sealed: () => number } {
  let operations = 0;
  const subtle = globalThis.crypto.subtle;
  const counting = new Proxy(subtle, {
    get(target, name) {
      const value = Reflect.get(target, name, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (name === "encrypt" || name === "decrypt") operations += 1;
        return value.apply(target, args);
      };
    },
  });
  const crypto = {
    subtle: counting,
    getRandomValues: <T extends ArrayBufferView>(array: T) =>
      globalThis.crypto.getRandomValues(array),
    randomUUID: () => globalThis.crypto.randomUUID(),
  } as Crypto;
  return { crypto, sealed: () => operations };
}

describe("PN GW channels with the gateway's own CryptoProvider", () => {
  it("[PEERCH-OPEN] a PN GW given a CryptoProvider opens and seals its channels' records with it", async () => {
    const provider = countingCrypto();
    const device = await enrollDevice(server, ALICE, "mc-gw-crypto", "PNGW");
    const own = await startGateway(server, device, { crypto: provider.crypto });
    try {
      const session = await peer("mc-pne-crypto", () => server.clock.now, own);
      const channel = await session.openChannel();
      const before = provider.sealed();
      expect((await channel.send("through the provider")).echo).toBe("through the provider");
      // The PN GW opened the peer's record and sealed its answer: at least one of each.
      expect(provider.sealed() - before).toBeGreaterThanOrEqual(2);
    } finally {
      await own.close();
    }
  });
});
