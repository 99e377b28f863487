/**
 * Seed 5.x.2, second bullet, between PN GWs (reference point CPNS-3) and with
 * several peers at once: "Authentication between PN GWs and between a PNE and
 * a PN GW uses a one-time security key" (SEED-5.x.2-3), "PN GW creates onetime
 * security key and share it with another entity (i.e., the other PN GW or
 * PNE)" (SEED-5.x.2-4), "The two entities authenticate each other using the
 * onetime security key as a shared secret" (SEED-5.x.2-6), by Digest
 * (SEED-5.x.2-7); PEER-DIGEST, PEER-SESSION, OTK-FORMAT (one session per OTK),
 * GATEWAY-RELAY (PNEs only). Real CPNS Server and real PN GWs on loopback
 * (test/e2e/peer-helpers.ts); the clock is the server's test clock.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentError } from "../../src/agent/agent.ts";
import { PeerSession } from "../../src/agent/peer.ts";
import { toBase64url } from "../../src/crypto/bytes.ts";
import { createDigestFetch, type FetchLike } from "../../src/digest/index.ts";
import {
  connectPeer,
  enrollDevice,
  type RunningGateway,
  relayedAgent,
  startGateway,
} from "./peer-helpers.ts";
import {
  expectProblem,
  recordingTransport,
  startTestServer,
  type TestServer,
} from "./server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-password-1" };

let server: TestServer;
const running: RunningGateway[] = [];

beforeAll(async () => {
  server = await startTestServer();
  await server.createUser(ALICE.userId, ALICE.password);
});
afterAll(async () => {
  await Promise.all(running.map((gateway) => gateway.close()));
  await server.close();
});

/** A gateway closed with the server, so a failing assertion never leaves a listener behind. */
async function gatewayFor(...args: Parameters<typeof startGateway>): Promise<RunningGateway> {
  const gateway = await startGateway(...args);
  running.push(gateway);
  return gateway;
}

/** Counts what a gateway's relay sends to the server, to prove a refused relay sent nothing. */
function countingUpstream(): { upstream: FetchLike; sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    upstream: (request) => {
      sent.push(`${request.method} ${new URL(request.url).pathname}`);
      return fetch(request);
    },
  };
}

describe("[SEED-5.x.2-3][SEED-5.x.2-6][SEED-5.x.2-7] PN GW to PN GW (CPNS-3)", () => {
  it("[PEER-DIGEST][PEER-SESSION] gw-a offers to gw-b, gw-b fetches and opens a session; every message and every answer is authenticated", async () => {
    const gwA = await enrollDevice(server, ALICE, "gw-a", "PNGW");
    const gwB = await enrollDevice(server, ALICE, "gw-b", "PNGW");
    const counting = countingUpstream();
    const a = await gatewayFor(server, gwA, { upstream: counting.upstream });

    const offer = await a.gateway.offer("gw-b");
    // The server tells the issuer what the peer is: a PN GW, so no relay for it later.
    expect(offer).toMatchObject({ peerId: "gw-b", peerType: "PNGW" });
    const rec = recordingTransport();
    const { session } = await connectPeer(server, gwB, "gw-a", { fetch: rec.transport });
    expect(session.state).toBe("open");
    expect(session.gatewayId).toBe("gw-a");
    expect(a.gateway.states()).toEqual([
      expect.objectContaining({
        state: "open",
        peerId: "gw-b",
        peerType: "PNGW",
        otkId: offer.otkId,
        sessionId: session.sessionId,
      }),
    ]);

    // Both directions of the traffic carry proof: gw-b's requests a Digest
    // response under the session secret, gw-a's answers an rspauth (required).
    for (const message of ["hello gw-a", "second message", ""]) {
      expect(await session.send(message)).toEqual({
        sessionId: session.sessionId,
        from: "gw-b",
        echo: message,
      });
    }
    const traffic = rec.exchanges.filter((e) => e.url.endsWith("/messages"));
    const answered = traffic.filter((e) => e.status === 200);
    expect(answered).toHaveLength(3);
    for (const exchange of answered) {
      expect(exchange.authorization).toMatch(
        new RegExp(`^Digest username="${session.sessionId}", realm="cpns-gw:gw-a"`),
      );
      expect(exchange.authenticationInfo).toMatch(/rspauth="[0-9a-f]{64}"/);
    }
    // The opening itself: gw-b named itself and gw-a proved the OTK back.
    const opening = rec.exchanges.find(
      (e) => e.url.endsWith("/cpns-gw/v1/sessions") && e.status === 201,
    );
    expect(opening?.authorization).toMatch(/^Digest username="gw-b", realm="cpns-gw:gw-a"/);
    expect(opening?.authenticationInfo).toMatch(/rspauth="[0-9a-f]{64}"/);

    // A message without the session's credentials is not taken for gw-b's.
    const forged = createDigestFetch({
      username: session.sessionId ?? "",
      password: toBase64url(new Uint8Array(32).fill(7)),
      userhash: false,
    });
    await expectProblem(
      await forged(`${a.url}/cpns-gw/v1/sessions/${session.sessionId}/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ message: "not from gw-b" }),
      }),
      401,
      "ERR_DIGEST_UNAUTHORIZED",
    );
    await session.close();
    expect(session.state).toBe("closed");
    expect(a.gateway.states().map((s) => s.state)).toEqual(["closed"]);
  });

  it("[GATEWAY-RELAY][PEER-SESSION] a PN GW peer's session may not use the relay: 403 ERR_FORBIDDEN, nothing reaches the server, and the session stays open", async () => {
    const gwA = await enrollDevice(server, ALICE, "relay-gw-a", "PNGW");
    const gwB = await enrollDevice(server, ALICE, "relay-gw-b", "PNGW");
    const counting = countingUpstream();
    const a = await gatewayFor(server, gwA, { upstream: counting.upstream });
    await a.gateway.offer("relay-gw-b");
    const { session } = await connectPeer(server, gwB, "relay-gw-a");

    // The relay transport reports the gateway's own answer (a 403, not a 407:
    // the session credentials are good, the relay is just not for PN GWs).
    const relay = session.relayTransport();
    for (const path of ["/cpns/v1/whoami", "/cpns/v1/otks/inbox", "/cpns/v1"]) {
      const refusal = await Promise.resolve(relay(new Request(`${server.url}${path}`))).catch(
        (err: unknown) => err,
      );
      expect(refusal).toBeInstanceOf(AgentError);
      expect(refusal).toMatchObject({ status: 403, code: "ERR_FORBIDDEN" });
    }
    expect(counting.sent).toEqual([]);
    // Through an agent the refusal cannot pass for the server's answer either.
    const viaRelay = relayedAgent(server, gwB, session);
    const refused = await viaRelay.whoami("relay-gw-b").catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(AgentError);
    expect(refused).toMatchObject({ status: 403, code: "ERR_FORBIDDEN" });
    expect(counting.sent).toEqual([]);

    // A refused relay changes nothing: the session lives on at both ends.
    expect(session.state).toBe("open");
    expect(a.gateway.states()).toEqual([
      expect.objectContaining({ state: "open", peerType: "PNGW", sessionId: session.sessionId }),
    ]);
    expect((await session.send("still here")).echo).toBe("still here");
    // A PN GW has a route of its own to the server.
    expect(await gwB.agent.whoami("relay-gw-b")).toMatchObject({
      entityId: "relay-gw-b",
      type: "PNGW",
    });
  });

  it("[PEER-SESSION][PEER-DIGEST] each PN GW can be the other's gateway: sessions in both directions at once, each under its own credentials", async () => {
    const gwA = await enrollDevice(server, ALICE, "both-gw-a", "PNGW");
    const gwB = await enrollDevice(server, ALICE, "both-gw-b", "PNGW");
    const a = await gatewayFor(server, gwA);
    const b = await gatewayFor(server, gwB);
    await Promise.all([a.gateway.offer("both-gw-b"), b.gateway.offer("both-gw-a")]);
    const [bAtA, aAtB] = await Promise.all([
      connectPeer(server, gwB, "both-gw-a"),
      connectPeer(server, gwA, "both-gw-b"),
    ]);
    expect(bAtA.session.gatewayId).toBe("both-gw-a");
    expect(aAtB.session.gatewayId).toBe("both-gw-b");
    expect(bAtA.session.sessionId).not.toBe(aAtB.session.sessionId);
    expect(await bAtA.session.send("b to a")).toMatchObject({ from: "both-gw-b", echo: "b to a" });
    expect(await aAtB.session.send("a to b")).toMatchObject({ from: "both-gw-a", echo: "a to b" });
    expect(a.gateway.states()).toEqual([
      expect.objectContaining({ state: "open", peerId: "both-gw-b" }),
    ]);
    expect(b.gateway.states()).toEqual([
      expect.objectContaining({ state: "open", peerId: "both-gw-a" }),
    ]);
  });
});

describe("[OTK-FORMAT][PEER-DIGEST][SEED-5.x.2-6] two OTKs in a row to the same peer", () => {
  it("[OTK-FORMAT][PEER-DIGEST] the newer replaces the older at the gateway: the older cannot open a session, the newer can, once", async () => {
    const gw = await enrollDevice(server, ALICE, "twice-gw", "PNGW");
    const pne = await enrollDevice(server, ALICE, "twice-pne", "PNE");
    const g = await gatewayFor(server, gw);
    const older = await g.gateway.offer("twice-pne");
    const newer = await g.gateway.offer("twice-pne");
    expect(newer.otkId).not.toBe(older.otkId);
    // The server holds both (it cannot know the gateway replaced one)...
    const inbox = await pne.otks.inbox("twice-pne");
    expect(inbox.map((o) => o.otkId).sort()).toEqual([older.otkId, newer.otkId].sort());

    // ...and the peer can fetch the older, but the gateway no longer accepts it.
    const stale = await pne.otks.fetch("twice-pne", older.otkId);
    const staleCopy = new Uint8Array(stale.otk);
    const refused = await PeerSession.open({
      entityId: "twice-pne",
      received: stale,
      now: () => server.clock.now,
    }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(AgentError);
    expect(refused).toMatchObject({ status: 401, code: "ERR_DIGEST_UNAUTHORIZED" });
    // Tried once, then zeroed on the peer's side.
    expect(stale.otk.every((byte) => byte === 0)).toBe(true);
    expect(g.gateway.states().filter((s) => s.state === "open")).toEqual([]);

    const fresh = await pne.otks.fetch("twice-pne", newer.otkId);
    const session = await PeerSession.open({
      entityId: "twice-pne",
      received: fresh,
      now: () => server.clock.now,
    });
    expect(session.state).toBe("open");
    expect((await session.send("the newer one")).echo).toBe("the newer one");
    // Exactly one session, opened by the newer OTK; the older never got past its offer.
    const states = g.gateway.states();
    expect(states.filter((s) => s.state === "open")).toEqual([
      expect.objectContaining({ otkId: newer.otkId, sessionId: session.sessionId }),
    ]);
    const olderState = states.find((s) => s.otkId === older.otkId)?.state;
    expect(["open", "consuming"]).not.toContain(olderState);
    // The server consumed only the newer one.
    const consumed = server
      .events()
      .filter((e) => e.event === "otk.consumed" && e.entityId === "twice-gw")
      .map((e) => (e as { otkId?: string }).otkId);
    expect(consumed).toEqual([newer.otkId]);

    // The older key still opens nothing now that the newer is used.
    const withOlder = createDigestFetch({
      username: "twice-pne",
      password: toBase64url(staleCopy),
      userhash: false,
    });
    await expectProblem(
      await withOlder(`${g.url}/cpns-gw/v1/sessions`, { method: "POST" }),
      401,
      "ERR_DIGEST_UNAUTHORIZED",
    );
    expect(g.gateway.states().filter((s) => s.state === "open")).toHaveLength(1);
  });
});

describe("[SEED-5.x.2-3][PEER-SESSION] one PN GW, many peers at once", () => {
  it("[PEER-SESSION][GATEWAY-RELAY][SEED-5.x.2-3] a PN GW that is itself a peer of another PN GW offers to several PNEs at once, each with its own session, messages and relay", async () => {
    const upper = await enrollDevice(server, ALICE, "tier-gw-up", "PNGW");
    const middle = await enrollDevice(server, ALICE, "tier-gw-mid", "PNGW");
    const pneIds = ["tier-pne-1", "tier-pne-2", "tier-pne-3"];
    const pnes = await Promise.all(pneIds.map((id) => enrollDevice(server, ALICE, id, "PNE")));
    const up = await gatewayFor(server, upper);
    const counting = countingUpstream();
    const mid = await gatewayFor(server, middle, { upstream: counting.upstream });

    // The middle PN GW is a peer of the upper one (CPNS-3)...
    await up.gateway.offer("tier-gw-mid");
    const { session: upward } = await connectPeer(server, middle, "tier-gw-up");
    // ...and the gateway of three PNEs (CPNS-1/6), offered and opened all at once.
    const offers = await Promise.all(pneIds.map((id) => mid.gateway.offer(id)));
    expect(offers.map((o) => o.peerType)).toEqual(["PNE", "PNE", "PNE"]);
    const sessions = (
      await Promise.all(pnes.map((pne) => connectPeer(server, pne, "tier-gw-mid")))
    ).map((connected) => connected.session);
    const ids = sessions.map((s) => s.sessionId);
    expect(new Set(ids).size).toBe(3);

    const echoes = await Promise.all(sessions.map((s, i) => s.send(`from ${pneIds[i]}`)));
    echoes.forEach((echo, i) => {
      expect(echo).toEqual({ sessionId: ids[i], from: pneIds[i], echo: `from ${pneIds[i]}` });
    });
    // Each PNE reaches the server through the relay as itself, end to end.
    const whoami = await Promise.all(
      pnes.map((pne, i) =>
        relayedAgent(server, pne, sessions[i] as PeerSession).whoami(pne.entityId),
      ),
    );
    expect(whoami.map((w) => w.entityId)).toEqual(pneIds);
    expect(counting.sent.filter((line) => line === "GET /cpns/v1/whoami").length).toBeGreaterThan(
      0,
    );
    expect((await upward.send("the middle tier")).from).toBe("tier-gw-mid");

    const byPeer = (states: ReturnType<typeof mid.gateway.states>) =>
      Object.fromEntries(states.map((s) => [s.peerId, s.state]));
    expect(byPeer(mid.gateway.states())).toEqual({
      "tier-pne-1": "open",
      "tier-pne-2": "open",
      "tier-pne-3": "open",
    });
    expect(up.gateway.states()).toEqual([
      expect.objectContaining({ state: "open", peerId: "tier-gw-mid", peerType: "PNGW" }),
    ]);

    // Sessions are independent: closing one leaves the others (and the upper one) working.
    await sessions[1]?.close();
    expect(byPeer(mid.gateway.states())).toEqual({
      "tier-pne-1": "open",
      "tier-pne-2": "closed",
      "tier-pne-3": "open",
    });
    expect((await sessions[0]?.send("still open"))?.from).toBe("tier-pne-1");
    expect((await sessions[2]?.send("still open"))?.from).toBe("tier-pne-3");
    const closed = await sessions[1]?.send("closed").catch((err: unknown) => err);
    expect(closed).toMatchObject({ code: "ERR_PEER_SESSION_GONE" });
    expect((await upward.send("upper still open")).from).toBe("tier-gw-mid");
  });
});
