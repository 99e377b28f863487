// Seed 5.x.4 where TLS is missing or a PN GW relays (our answer to FFS-NO-TLS, spec/channel.md):
// the CPNS secure channel between an entity and the CPNS Server over real HTTP on loopback, direct
// and through a real PN GW relay, and from the attacker's side: a relay that reads (it must see only
// ciphertext), flips, truncates, replays, reorders or moves records, a key rotated or revoked
// mid-channel, and inner requests that try routes the entity may not use.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerChannel } from "../../src/agent/channel-client.ts";
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

function openChannel(device: Device, fetch?: FetchLike, agent = device.agent) {
  return ServerChannel.open({
    agent,
    store: device.store,
    entityId: device.entityId,
    serverUrl: server.url,
    now: () => server.clock.now,
    ...(fetch ? { fetch } : {}),
  });
}

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

describe("[SEED-5.x.4-1][FFS-NO-TLS] the secure channel between an entity and the CPNS Server", () => {
  it("[SEED-5.x.4-2][CHANNEL-KEYS] a PNE: whoami and its OTK inbox through the channel; close ends it at both ends", async () => {
    const pne = await enrollDevice(server, ALICE, "ch-pne-1", "PNE");
    const channel = await openChannel(pne);
    expect(channel.sessionId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const whoami = await channel.fetch("/cpns/v1/whoami");
    expect(whoami.status).toBe(200);
    expect(await json(whoami)).toEqual({
      entityId: "ch-pne-1",
      userId: "alice",
      type: "PNE",
      keyVersion: 1,
    });
    const inbox = await channel.fetch("/cpns/v1/otks/inbox");
    expect(await json(inbox)).toEqual({ otks: [] });
    await channel.close();
    expect(channel.state).toBe("closed");
    await expect(channel.fetch("/cpns/v1/whoami")).rejects.toMatchObject({
      code: "ERR_CHANNEL_CLOSED",
    });
  });

  it("[SEED-5.x.4-3] a PN GW (CPNS-2/7): whoami as a PN GW through its own channel", async () => {
    const gw = await enrollDevice(server, ALICE, "ch-gw-1", "PNGW");
    const channel = await openChannel(gw);
    expect(await json(await channel.fetch("/cpns/v1/whoami"))).toMatchObject({
      entityId: "ch-gw-1",
      type: "PNGW",
    });
  });

  it("[SEED-5.x.3-2] inner requests meet the policy table: a user route is 403 inside the channel; a nested channel is refused", async () => {
    const pne = await enrollDevice(server, ALICE, "ch-pne-policy", "PNE");
    const channel = await openChannel(pne);
    const users = await channel.fetch("/cpns/v1/entities");
    expect(users.status).toBe(403);
    expect(await json(users)).toMatchObject({ code: "ERR_FORBIDDEN" });
    const deposit = await channel.fetch("/cpns/v1/otks", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(deposit.status).toBe(403); // a PNE may not deposit, in a channel or not
    const nested = await channel.fetch("/cpns/v1/channels", { method: "POST", body: "{}" });
    expect(await json(nested)).toMatchObject({ code: "ERR_CHANNEL_NESTED" });
  });

  it("[OTK-CUT-THROUGH][CHANNEL-CLOSE] rotation and revocation cut through an open channel", async () => {
    const pne = await enrollDevice(server, ALICE, "ch-pne-rotate", "PNE");
    const channel = await openChannel(pne);
    expect((await channel.fetch("/cpns/v1/whoami")).status).toBe(200);
    await pne.agent.enroll({ ...ALICE, entityId: "ch-pne-rotate", type: "PNE" }); // key version 2
    await expect(channel.fetch("/cpns/v1/whoami")).rejects.toMatchObject({
      code: "ERR_CHANNEL_CLOSED",
    });
    const fresh = await openChannel(pne);
    expect(await json(await fresh.fetch("/cpns/v1/whoami"))).toMatchObject({ keyVersion: 2 });
    const owner = server.asUser(ALICE.userId, ALICE.password);
    expect((await owner("/cpns/v1/entities/ch-pne-rotate", { method: "DELETE" })).status).toBe(200);
    await expect(fresh.fetch("/cpns/v1/whoami")).rejects.toMatchObject({
      code: "ERR_CHANNEL_CLOSED",
    });
  });

  it("[CHANNEL-REPLAY] a record replayed at the server is refused; an unknown session is 404; a wrong media type is 415", async () => {
    const pne = await enrollDevice(server, ALICE, "ch-pne-replay", "PNE");
    const sent: Array<{ url: string; body: Uint8Array }> = [];
    const recording: FetchLike = async (request) => {
      if (request.headers.get("content-type") === CHANNEL_MEDIA_TYPE) {
        sent.push({ url: request.url, body: new Uint8Array(await request.clone().arrayBuffer()) });
      }
      return fetch(request);
    };
    const channel = await openChannel(pne, recording);
    expect((await channel.fetch("/cpns/v1/whoami")).status).toBe(200);
    const [first] = sent;
    if (!first) throw new Error("no record recorded");
    const post = (url: string, body: Uint8Array, type = CHANNEL_MEDIA_TYPE) =>
      fetch(url, { method: "POST", headers: { "content-type": type }, body: body as BodyInit });
    const replay = await post(first.url, first.body);
    expect(replay.status).toBe(409);
    expect(await json(replay)).toMatchObject({ code: "ERR_CHANNEL_REPLAY" });
    const unknown = await post(`${server.url}/cpns/v1/channels/AAAAAAAAAAAAAAAAAAAAAA`, first.body);
    expect(unknown.status).toBe(404);
    expect((await post(first.url, first.body, "application/octet-stream")).status).toBe(415);
    // Nothing above disturbed the channel.
    expect((await channel.fetch("/cpns/v1/whoami")).status).toBe(200);
  });
});

describe("[GATEWAY-RELAY-E2E][SEED-5.x.4-2] a PNE's channel to the server through a PN GW's relay", () => {
  /** A PN GW whose relay upstream is `upstream` (recording or malicious), a PNE with a peer session. */
  async function relayed(name: string, upstream: FetchLike) {
    const gw = await enrollDevice(server, ALICE, `${name}-gw`, "PNGW");
    const pne = await enrollDevice(server, ALICE, `${name}-pne`, "PNE");
    const running = await startGateway(server, gw, { upstream });
    await running.gateway.offer(pne.entityId);
    const { session } = await connectPeer(server, pne, gw.entityId);
    const agent = relayedAgent(server, pne, session);
    const channel = await openChannel(pne, session.relayTransport(), agent);
    return { channel, running };
  }

  it("[GATEWAY-RELAY-E2E] the relay carries the exchange and sees only ciphertext: no route, no identity, no body", async () => {
    const seen: string[] = [];
    const recording: FetchLike = async (request) => {
      seen.push(request.url, new TextDecoder().decode(await request.clone().arrayBuffer()));
      const answer = await fetch(request);
      seen.push(new TextDecoder().decode(await answer.clone().arrayBuffer()));
      return answer;
    };
    const { channel, running } = await relayed("ch-relay", recording);
    try {
      const opened = seen.length;
      const whoami = await channel.fetch("/cpns/v1/whoami?probe=plaintext-marker-1");
      expect(await json(whoami)).toMatchObject({ entityId: "ch-relay-pne", userId: "alice" });
      const inbox = await channel.fetch("/cpns/v1/otks/inbox");
      expect(inbox.status).toBe(200);
      const carried = seen.slice(opened).join("\n");
      expect(carried.length).toBeGreaterThan(0);
      for (const secret of [
        "whoami",
        "plaintext-marker-1",
        "inbox",
        "alice",
        "ch-relay-pne",
        "keyVersion",
      ]) {
        expect(carried, secret).not.toContain(secret);
      }
    } finally {
      await running.close();
    }
  });

  it("[GATEWAY-RELAY-E2E][CHANNEL-BINDING] a relay that flips a byte or truncates, either way, is detected and the channel still works after", async () => {
    let mode: "none" | "flip-request" | "flip-response" | "truncate" = "none";
    const tampering: FetchLike = async (request) => {
      const isRecord = request.headers.get("content-type") === CHANNEL_MEDIA_TYPE;
      let outgoing = request;
      if (isRecord && (mode === "flip-request" || mode === "truncate")) {
        const bytes = new Uint8Array(await request.arrayBuffer());
        const altered = mode === "truncate" ? bytes.subarray(0, bytes.length - 1) : bytes.slice();
        if (mode === "flip-request")
          altered[altered.length - 20] = (altered[altered.length - 20] as number) ^ 0x40;
        outgoing = new Request(request.url, {
          method: "POST",
          headers: request.headers,
          body: altered as BodyInit,
        });
      }
      const answer = await fetch(outgoing);
      if (!isRecord || mode !== "flip-response" || answer.status !== 200) return answer;
      const bytes = new Uint8Array(await answer.arrayBuffer());
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0x01;
      return new Response(bytes as BodyInit, { status: 200, headers: answer.headers });
    };
    const { channel, running } = await relayed("ch-tamper", tampering);
    try {
      mode = "flip-request";
      await expect(channel.fetch("/cpns/v1/whoami")).rejects.toMatchObject({
        code: "ERR_CHANNEL_RECORD",
      });
      mode = "truncate";
      await expect(channel.fetch("/cpns/v1/whoami")).rejects.toMatchObject({
        code: "ERR_CHANNEL_RECORD",
      });
      mode = "flip-response";
      await expect(channel.fetch("/cpns/v1/whoami")).rejects.toMatchObject({
        code: "ERR_CHANNEL_RECORD",
      });
      mode = "none";
      expect((await channel.fetch("/cpns/v1/whoami")).status).toBe(200);
    } finally {
      await running.close();
    }
  });

  it("[GATEWAY-RELAY-E2E][CHANNEL-REPLAY] a relay that replays a request, or answers with an older response, is detected", async () => {
    const requests: Request[] = [];
    let stale: Uint8Array | undefined;
    let mode: "record" | "answer-stale" = "record";
    const replaying: FetchLike = async (request) => {
      const isRecord = request.headers.get("content-type") === CHANNEL_MEDIA_TYPE;
      if (isRecord) requests.push(request.clone());
      const answer = await fetch(request);
      if (!isRecord || answer.status !== 200) return answer;
      const bytes = new Uint8Array(await answer.arrayBuffer());
      if (mode === "answer-stale" && stale) {
        return new Response(stale as BodyInit, { status: 200, headers: answer.headers });
      }
      stale ??= bytes;
      return new Response(bytes as BodyInit, { status: 200, headers: answer.headers });
    };
    const { channel, running } = await relayed("ch-replay", replaying);
    try {
      expect((await channel.fetch("/cpns/v1/whoami")).status).toBe(200);
      // The relay sends the first record again on its own: the server refuses it.
      const again = requests[0] as Request;
      const replayed = await fetch(again);
      expect(replayed.status).toBe(409);
      // The relay answers a new request with the first request's response: the client refuses it.
      mode = "answer-stale";
      await expect(channel.fetch("/cpns/v1/otks/inbox")).rejects.toMatchObject({
        code: expect.stringMatching(/^ERR_CHANNEL_(RECORD|REPLAY)$/),
      });
    } finally {
      await running.close();
    }
  });
});
