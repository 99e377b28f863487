// Seed 5.x.4 between peers (issue #10; our answer to FFS-NO-TLS, spec/channel.md): the CPNS secure
// channel between a PNE and a PN GW (CPNS-1/6) and between two PN GWs (CPNS-3), opened under a live
// peer session, over real HTTP on loopback. From the attacker's side: anything on the path between
// the peers reads (it must see only ciphertext), flips, truncates, swaps answers, replays, holds a
// record back and delivers it later, moves a record into another channel or the other direction;
// all refused and nothing applied. The channel dies with its session.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerChannel } from "../../src/agent/channel-client.ts";
import type { PeerChannel } from "../../src/agent/peer-channel.ts";
import { CHANNEL_MEDIA_TYPE } from "../../src/channel/record.ts";
import type { FetchLike } from "../../src/digest/index.ts";
import {
  connectPeer,
  type Device,
  enrollDevice,
  relayedAgent,
  startGateway,
} from "./peer-helpers.ts";
import { startTestServer, type TestServer } from "./server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-password-1" };

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  await server.createUser(ALICE.userId, ALICE.password);
});
afterAll(() => server.close());

interface Carried {
  url: string;
  request: Uint8Array;
  response: Uint8Array;
}

/**
 * Everything between the peer and its PN GW goes through here: it keeps a copy of every request and
 * answer it handled, and `tamper` may rewrite records on the way (or drop them: throw).
 */
class OnPath {
  readonly carried: Carried[] = [];
  tamper: ((record: Uint8Array, url: string) => Uint8Array | "drop") | undefined;
  answerTamper: ((record: Uint8Array) => Uint8Array) | undefined;

  readonly fetch: FetchLike = async (request) => {
    const isRecord = request.headers.get("content-type") === CHANNEL_MEDIA_TYPE;
    let body: Uint8Array = new Uint8Array(await request.clone().arrayBuffer());
    let outgoing = request;
    if (isRecord && this.tamper) {
      const altered = this.tamper(body, request.url);
      if (altered === "drop") throw new TypeError("fetch failed (dropped on the path)");
      body = altered;
      outgoing = new Request(request.url, {
        method: "POST",
        headers: request.headers,
        body: altered as BodyInit,
      });
    }
    const answer = await fetch(outgoing);
    let response: Uint8Array = new Uint8Array(await answer.clone().arrayBuffer());
    this.carried.push({ url: request.url, request: body, response });
    if (!isRecord || !this.answerTamper || answer.status !== 200) return answer;
    response = this.answerTamper(response);
    return new Response(response as BodyInit, { status: 200, headers: answer.headers });
  };

  /** Every byte it handled from `from` on, as latin1 text (so any UTF-8 plaintext shows). */
  seenSince(from: number): string {
    return this.carried
      .slice(from)
      .map(
        (c) =>
          `${c.url}\n${Buffer.from(c.request).toString("latin1")}\n${Buffer.from(c.response).toString("latin1")}`,
      )
      .join("\n");
  }

  records(): Carried[] {
    return this.carried.filter((c) => c.url.includes("/cpns-gw/v1/channels/"));
  }
}

async function peered(name: string, peerType: "PNE" | "PNGW" = "PNE") {
  const gw = await enrollDevice(server, ALICE, `${name}-gw`, "PNGW");
  const peer: Device = await enrollDevice(server, ALICE, `${name}-peer`, peerType);
  const running = await startGateway(server, gw);
  await running.gateway.offer(peer.entityId);
  const path = new OnPath();
  const { session } = await connectPeer(server, peer, gw.entityId, { fetch: path.fetch });
  const channel = await session.openChannel();
  const sessionState = () =>
    running.gateway.states().find((s) => s.sessionId === session.sessionId)?.state;
  return { gw, peer, running, path, session, channel, sessionState };
}

async function post(url: string, body: Uint8Array): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": CHANNEL_MEDIA_TYPE },
    body: body as BodyInit,
  });
}

function binary(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 131 + 7) & 0xff;
  return bytes;
}

describe("[FFS-NO-TLS][PEERCH-OPEN] the secure channel between peers, opened under a live peer session", () => {
  it("[SEED-5.x.4-4][SEED-5.x.4-1][PEERCH-OPEN][PEERCH-DISPATCH] PNE–PN GW: a message, binary bytes and 64 KiB arrive intact; the path sees only ciphertext", async () => {
    const { running, path, session, channel } = await peered("pc-pne");
    try {
      expect(channel.sessionId).toMatch(/^[A-Za-z0-9_-]{22}$/);
      const from = path.carried.length;
      const echo = await channel.send("plaintext-marker-pne");
      expect(echo).toEqual({
        sessionId: session.sessionId,
        from: "pc-pne-peer",
        echo: "plaintext-marker-pne",
      });
      const small = binary(300);
      expect(await channel.sendBytes(small)).toEqual(small);
      const large = binary(64 * 1024);
      expect(await channel.sendBytes(large)).toEqual(large);
      const seen = path.seenSince(from);
      for (const plain of ["plaintext-marker-pne", "messages", "pc-pne-peer", "echo", "octet"]) {
        expect(seen, plain).not.toContain(plain);
      }
      expect(seen).not.toContain(String(session.sessionId)); // the inner route names the session
      expect(Buffer.from(seen, "latin1").includes(Buffer.from(large.subarray(0, 64)))).toBe(false);
    } finally {
      await running.close();
    }
  });

  it("[PEERCH-DISPATCH] a message the PN GW refuses inside the channel is thrown as its problem, never returned as an echo", async () => {
    const { running, channel } = await peered("pc-refused");
    try {
      await expect(channel.send("x".repeat(4097))).rejects.toMatchObject({ status: 400 });
      await expect(channel.sendBytes(binary(64 * 1024 + 1))).rejects.toMatchObject({
        code: "ERR_BODY_TOO_LARGE",
      });
      expect((await channel.send("after the refusals")).echo).toBe("after the refusals");
    } finally {
      await running.close();
    }
  });

  it("[SEED-5.x.4-5][PEERCH-OPEN] PN GW–PN GW (CPNS-3): the visiting PN GW's message and 64 KiB of bytes arrive intact", async () => {
    const { running, path, channel } = await peered("pc-gw2", "PNGW");
    try {
      const from = path.carried.length;
      expect((await channel.send("plaintext-marker-gw")).echo).toBe("plaintext-marker-gw");
      const large = binary(64 * 1024);
      expect(await channel.sendBytes(large)).toEqual(large);
      expect(path.seenSince(from)).not.toContain("plaintext-marker-gw");
    } finally {
      await running.close();
    }
  });

  it("[PEERCH-DISPATCH] inner requests reach only this session's routes: another session, the relay, a nested channel are refused", async () => {
    const a = await peered("pc-scope");
    try {
      const other = await a.channel.fetch("/cpns-gw/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA/messages", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ message: "x" }),
      });
      expect(other.status).toBe(403);
      for (const target of ["/cpns/v1/whoami", "/cpns-gw/v1/channels", "/cpns-gw/v1"]) {
        const res = await a.channel.fetch(target, { method: "POST", body: "{}" });
        expect(res.status, target).toBe(404);
      }
      expect(a.sessionState()).toBe("open");
    } finally {
      await a.running.close();
    }
  });

  it("[PEERCH-SESSION-BOUND][CHANNEL-CLOSE] the session's close (inside the channel or by Digest) and its expiry end the channel", async () => {
    const inside = await peered("pc-close-in");
    const outside = await peered("pc-close-out");
    const expiring = await peered("pc-expire");
    try {
      const closed = await inside.channel.fetch(
        `/cpns-gw/v1/sessions/${inside.session.sessionId}`,
        {
          method: "DELETE",
        },
      );
      expect(closed.status).toBe(204);
      expect(inside.sessionState()).toBe("closed");
      const [last] = inside.path.records().slice(-1);
      if (!last) throw new Error("no record carried");
      // The channel went with the session: an unknown channel now.
      expect((await post(last.url, last.request)).status).toBe(404);

      // A record held back on the path, delivered after the session closed by Digest.
      let held: { url: string; record: Uint8Array } | undefined;
      outside.path.tamper = (record, url) => {
        held = { url, record: record.slice() };
        return "drop";
      };
      await expect(outside.channel.send("held back")).rejects.toThrow();
      outside.path.tamper = undefined;
      await outside.session.close();
      await expect(outside.channel.send("after close")).rejects.toMatchObject({
        code: "ERR_PEER_SESSION_GONE",
      });
      if (!held) throw new Error("nothing held");
      expect((await post(held.url, held.record)).status).toBe(404);

      expect((await expiring.channel.send("before")).echo).toBe("before");
      server.clock.now += 16 * 60 * 1000; // past the 900 s session
      const late = expiring.channel.send("after expiry");
      await expect(late).rejects.toMatchObject({ code: "ERR_CHANNEL_CLOSED" });
    } finally {
      server.clock.now -= 16 * 60 * 1000;
      await Promise.all([
        inside.running.close(),
        outside.running.close(),
        expiring.running.close(),
      ]);
    }
  });
});

describe("[PEERCH-SESSION-BOUND] a peer channel's own expiry", () => {
  it("[PEERCH-SESSION-BOUND][CHANNEL-CLOSE] a channel expires at its lifetime (600 s) inside a longer session (900 s); the session goes on and a new channel opens", async () => {
    const { running, session, channel } = await peered("pc-lifetime");
    try {
      expect((await channel.send("now")).echo).toBe("now");
      server.clock.now += 601 * 1000;
      await expect(channel.send("late")).rejects.toMatchObject({ code: "ERR_CHANNEL_CLOSED" });
      expect((await session.send("plain still live")).echo).toBe("plain still live");
      const fresh = await session.openChannel();
      expect((await fresh.send("fresh")).echo).toBe("fresh");
    } finally {
      server.clock.now -= 601 * 1000;
      await running.close();
    }
  });
});

describe("[GATEWAY-RELAY-E2E][PEERCH-ATTACKS] an attacker on the path between peers", () => {
  /** The inner DELETE closes the session: the one request whose effect is visible at the PN GW. */
  const closeInside = (channel: PeerChannel, sessionId: string | null) =>
    channel.fetch(`/cpns-gw/v1/sessions/${sessionId}`, { method: "DELETE" });

  it("[SEED-5.x.4-4][PEERCH-ATTACKS][CHANNEL-BINDING] a flipped byte or a truncated record, either way, is refused and nothing is applied", async () => {
    const { running, path, session, channel, sessionState } = await peered("pc-flip");
    try {
      path.tamper = (record) => {
        const altered = record.slice();
        altered[20] = (altered[20] as number) ^ 0x01;
        return altered;
      };
      await expect(closeInside(channel, session.sessionId)).rejects.toMatchObject({
        code: "ERR_CHANNEL_RECORD",
      });
      path.tamper = (record) => record.subarray(0, record.length - 1);
      await expect(closeInside(channel, session.sessionId)).rejects.toMatchObject({
        code: "ERR_CHANNEL_RECORD",
      });
      path.tamper = (record) => record.subarray(0, 10); // shorter than a header
      await expect(channel.send("short")).rejects.toMatchObject({ code: "ERR_CHANNEL_RECORD" });
      expect(sessionState()).toBe("open");
      path.tamper = undefined;
      path.answerTamper = (record) => {
        const altered = record.slice();
        altered[altered.length - 1] = (altered[altered.length - 1] as number) ^ 0x80;
        return altered;
      };
      await expect(channel.send("answer flipped")).rejects.toMatchObject({
        code: "ERR_CHANNEL_RECORD",
      });
      path.answerTamper = undefined;
      expect((await channel.send("still works")).echo).toBe("still works");
    } finally {
      await running.close();
    }
  });

  it("[PEERCH-ATTACKS][CHANNEL-REPLAY] a replayed record is refused (409); a concurrent burst of one record is accepted once", async () => {
    const { running, path, session, channel, sessionState } = await peered("pc-replay");
    try {
      expect((await channel.send("once")).echo).toBe("once");
      const [first] = path.records();
      if (!first) throw new Error("no record carried");
      const again = await post(first.url, first.request);
      expect(again.status).toBe(409);
      expect(await again.json()).toMatchObject({ code: "ERR_CHANNEL_REPLAY" });
      // A close sent once, then replayed twenty times at once: applied once, the replays refused.
      path.tamper = (record) => record; // keep the record as sent
      const before = path.records().length;
      const closed = await closeInside(channel, session.sessionId);
      expect(closed.status).toBe(204);
      const close = path.records()[before];
      if (!close) throw new Error("no record carried");
      const burst = await Promise.all(
        Array.from({ length: 20 }, () => post(close.url, close.request)),
      );
      for (const res of burst) expect([404, 409, 410]).toContain(res.status);
      expect(sessionState()).toBe("closed");
    } finally {
      await running.close();
    }
  });

  it("[PEERCH-ATTACKS][CHANNEL-BINDING] answers swapped between two requests (reordered on the way back) are refused", async () => {
    const { running, path, channel } = await peered("pc-swap");
    try {
      expect((await channel.send("first")).echo).toBe("first");
      const [firstAnswer] = path.records().map((c) => c.response);
      if (!firstAnswer) throw new Error("no record carried");
      path.answerTamper = () => firstAnswer; // the answer to request 0, given for request 1
      await expect(channel.send("second")).rejects.toMatchObject({ code: "ERR_CHANNEL_RECORD" });
      path.answerTamper = undefined;
      expect((await channel.send("third")).echo).toBe("third");
    } finally {
      await running.close();
    }
  });

  it("[PEERCH-ATTACKS][PEERCH-ONE-PER-SESSION] a record held back (dropped) and delivered later finds no channel once the peer opened a new one or closed", async () => {
    const { running, path, session, channel, sessionState } = await peered("pc-hold");
    try {
      let held: { url: string; record: Uint8Array } | undefined;
      path.tamper = (record, url) => {
        held = { url, record: record.slice() };
        return "drop";
      };
      await expect(closeInside(channel, session.sessionId)).rejects.toThrow();
      path.tamper = undefined;
      if (!held) throw new Error("nothing held");
      // The peer does not know whether its request arrived: it opens a new channel.
      const fresh = await session.openChannel();
      const late = await post(held.url, held.record);
      expect(late.status).toBe(404);
      expect(await late.json()).toMatchObject({ code: "ERR_CHANNEL_UNKNOWN" });
      expect(sessionState()).toBe("open");
      expect((await fresh.send("new channel")).echo).toBe("new channel");
      // The same after an explicit close of the new channel.
      path.tamper = (record, url) => {
        held = { url, record: record.slice() };
        return "drop";
      };
      await expect(fresh.send("dropped")).rejects.toThrow();
      path.tamper = undefined;
      const third = await session.openChannel();
      await third.close();
      expect((await post(held.url, held.record)).status).toBe(404);
      expect(sessionState()).toBe("open");
    } finally {
      await running.close();
    }
  });

  it("[PEERCH-ATTACKS][CHANNEL-KEYS] a record moved into another session's channel, or sent back as the answer (the other direction), is refused", async () => {
    const a = await peered("pc-move-a");
    const b = await peered("pc-move-b");
    try {
      expect((await a.channel.send("for a")).echo).toBe("for a");
      const [fromA] = a.path.records();
      if (!fromA) throw new Error("no record carried");
      expect((await b.channel.send("for b")).echo).toBe("for b");
      const [fromB] = b.path.records();
      if (!fromB) throw new Error("no record carried");
      // A's record posted to B's channel (another session, other keys, other path in the AAD).
      const moved = await post(fromB.url, fromA.request);
      expect(moved.status).toBe(400);
      expect(await moved.json()).toMatchObject({ code: "ERR_CHANNEL_RECORD" });
      // The peer's own request record handed back to it as the PN GW's answer.
      a.path.answerTamper = (answer) => a.path.records()[0]?.request ?? answer;
      await expect(a.channel.send("reflected")).rejects.toMatchObject({
        code: "ERR_CHANNEL_RECORD",
      });
      // A PN GW answer record posted to the PN GW as a request (server-to-client direction).
      const reflected = await post(fromA.url, fromA.response);
      expect(reflected.status).toBe(400);
      a.path.answerTamper = undefined;
      expect((await a.channel.send("a again")).echo).toBe("a again");
      expect((await b.channel.send("b again")).echo).toBe("b again");
    } finally {
      await Promise.all([a.running.close(), b.running.close()]);
    }
  });
});

describe("[GATEWAY-RELAY-E2E][PEERCH-ATTACKS] a PN GW relay attacking a PNE's channel with the CPNS Server", () => {
  /** A PN GW whose relay upstream is `upstream`, and a PNE with a channel to the server through it. */
  async function relayedChannel(name: string, upstream: FetchLike) {
    const gw = await enrollDevice(server, ALICE, `${name}-gw`, "PNGW");
    const pne = await enrollDevice(server, ALICE, `${name}-pne`, "PNE");
    const running = await startGateway(server, gw, { upstream });
    await running.gateway.offer(pne.entityId);
    const { session } = await connectPeer(server, pne, gw.entityId);
    const channel = await ServerChannel.open({
      agent: relayedAgent(server, pne, session),
      store: pne.store,
      entityId: pne.entityId,
      serverUrl: server.url,
      fetch: session.relayTransport(),
      now: () => server.clock.now,
    });
    return { gw, pne, running, channel };
  }

  const isRecord = (request: Request) => request.headers.get("content-type") === CHANNEL_MEDIA_TYPE;

  it("[GATEWAY-RELAY-E2E][PEERCH-ATTACKS][PEERCH-ABANDON][SEED-5.x.4-2] a record held back (the relay feigns an upstream failure) and then delivered finds no channel (the PNE's channel closed itself): the OTK it asked for is not delivered", async () => {
    let hold = false;
    let held: { url: string; body: Uint8Array } | undefined;
    const upstream: FetchLike = async (request) => {
      if (hold && isRecord(request)) {
        hold = false; // one record only: the PNE's close that follows goes through
        held = { url: request.url, body: new Uint8Array(await request.arrayBuffer()) };
        throw new TypeError("feigned upstream failure");
      }
      return fetch(request);
    };
    const { pne, running, channel } = await relayedChannel("pc-relay-hold", upstream);
    // Another PN GW offers pne an OTK: its delivery (POST, once only) is the effect to watch.
    const other = await enrollDevice(server, ALICE, "pc-relay-hold-gw2", "PNGW");
    const otherGateway = await startGateway(server, other);
    try {
      const offer = await otherGateway.gateway.offer(pne.entityId);
      hold = true;
      const asked = channel.fetch(`/cpns/v1/otks/${offer.otkId}/delivery`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      await expect(asked).rejects.toMatchObject({ code: "ERR_RELAY_UPSTREAM" });
      // The PNE cannot know the fate of its request: its channel closed itself.
      expect(channel.state).toBe("closed");
      await expect(channel.fetch("/cpns/v1/whoami")).rejects.toMatchObject({
        code: "ERR_CHANNEL_CLOSED",
      });
      if (!held) throw new Error("nothing held");
      const late = await post(held.url, held.body);
      expect(late.status).toBe(404);
      expect(await late.json()).toMatchObject({ code: "ERR_CHANNEL_UNKNOWN" });
      const waiting = await pne.otks.inbox(pne.entityId);
      expect(waiting.map((o) => o.otkId)).toContain(offer.otkId);
    } finally {
      await Promise.all([running.close(), otherGateway.close()]);
    }
  });

  it("[GATEWAY-RELAY-E2E][PEERCH-ATTACKS][CHANNEL-KEYS] a record moved into another PNE's channel, or the server's answer sent back to it as a request, is refused", async () => {
    const records: Array<{ url: string; request: Uint8Array; response: Uint8Array }> = [];
    const recording: FetchLike = async (request) => {
      const body = new Uint8Array(await request.clone().arrayBuffer());
      const answer = await fetch(request);
      if (isRecord(request)) {
        records.push({
          url: request.url,
          request: body,
          response: new Uint8Array(await answer.clone().arrayBuffer()),
        });
      }
      return answer;
    };
    const a = await relayedChannel("pc-relay-move-a", recording);
    const b = await relayedChannel("pc-relay-move-b", recording);
    try {
      expect((await a.channel.fetch("/cpns/v1/whoami")).status).toBe(200);
      const fromA = records[records.length - 1];
      expect((await b.channel.fetch("/cpns/v1/whoami")).status).toBe(200);
      const fromB = records[records.length - 1];
      if (!fromA || !fromB) throw new Error("no record carried");
      const moved = await post(fromB.url, fromA.request);
      expect(moved.status).toBe(400);
      expect(await moved.json()).toMatchObject({ code: "ERR_CHANNEL_RECORD" });
      const reflected = await post(fromA.url, fromA.response);
      expect(reflected.status).toBe(400);
      expect(await reflected.json()).toMatchObject({ code: "ERR_CHANNEL_RECORD" });
      expect((await a.channel.fetch("/cpns/v1/whoami")).status).toBe(200);
    } finally {
      await Promise.all([a.running.close(), b.running.close()]);
    }
  });

  it("[GATEWAY-RELAY-E2E][PEERCH-ATTACKS][CHANNEL-BINDING] a relay that reorders a concurrent burst: every answer still opens only for its own request, and none can be replayed", async () => {
    const records: Array<{ url: string; body: Uint8Array }> = [];
    let gate: Promise<void> | undefined;
    let release!: () => void;
    const reordering: FetchLike = async (request) => {
      if (isRecord(request)) {
        records.push({
          url: request.url,
          body: new Uint8Array(await request.clone().arrayBuffer()),
        });
        // The first record waits until the others have been delivered.
        if (records.length === 1) await gate;
        else if (records.length === 5) release();
      }
      return fetch(request);
    };
    const { running, channel, pne } = await relayedChannel("pc-relay-reorder", reordering);
    try {
      records.length = 0;
      gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const answers = await Promise.all([
        channel.fetch("/cpns/v1/whoami"),
        channel.fetch("/cpns/v1/otks/inbox"),
        channel.fetch("/cpns/v1/whoami?second"),
        channel.fetch("/cpns/v1/entities"),
        channel.fetch("/cpns/v1/otks/inbox?second"),
      ]);
      expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 403, 200]);
      expect(await answers[0]?.json()).toMatchObject({ entityId: pne.entityId });
      expect(await answers[1]?.json()).toEqual({ otks: [] });
      for (const record of records) expect((await post(record.url, record.body)).status).toBe(409);
    } finally {
      await running.close();
    }
  });
});
