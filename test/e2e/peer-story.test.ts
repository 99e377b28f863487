/**
 * Seed 5.x.2, second bullet, the whole story over real HTTP on loopback (issue
 * #4): a CPNS Server, a PN GW and a PNE (and a second PN GW), three servers in
 * one test. The user enrolls both entities; the PN GW deposits an OTK for the
 * PNE; the PNE fetches it; PNE and PN GW authenticate each other with Digest
 * over the OTK (rspauth required); they exchange a message; the PNE reaches
 * the server through the PN GW's relay with its own end-to-end Digest.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { digestExchangeOf } from "../../src/digest/index.ts";
import { connectPeer, enrollDevice, relayedAgent, startGateway } from "./peer-helpers.ts";
import { startTestServer, type TestServer } from "./server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-password-1" };

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  await server.createUser(ALICE.userId, ALICE.password);
});
afterAll(() => server.close());

describe("[SEED-5.x.2-3][SEED-5.x.2-4][SEED-5.x.2-5][SEED-5.x.2-6][SEED-5.x.2-7] PN GW and PNE", () => {
  it("[PEER-DIGEST][PEER-SESSION][GATEWAY-RELAY] deposit, fetch, mutual Digest, a message, and the relay", async () => {
    const gw = await enrollDevice(server, ALICE, "story-gw", "PNGW");
    const pne = await enrollDevice(server, ALICE, "story-pne", "PNE");
    const running = await startGateway(server, gw);
    try {
      const offer = await running.gateway.offer("story-pne");
      expect(offer).toMatchObject({ peerId: "story-pne", peerType: "PNE" });
      const { session } = await connectPeer(server, pne, "story-gw");
      expect(session.state).toBe("open");
      expect(session.sessionId).toMatch(/^[A-Za-z0-9_-]{22}$/);
      const echo = await session.send("hello gateway");
      expect(echo).toEqual({
        sessionId: session.sessionId,
        from: "story-pne",
        echo: "hello gateway",
      });

      const viaRelay = relayedAgent(server, pne, session);
      const res = await viaRelay.fetchAsEntity("story-pne", "/cpns/v1/whoami");
      expect(res.status).toBe(200);
      expect(digestExchangeOf(res)?.realm).toBe("cpns-e2e");
      expect(await res.json()).toMatchObject({ entityId: "story-pne", type: "PNE" });
      expect(running.gateway.states().map((s) => s.state)).toEqual(["open"]);
      await session.close();
      expect(session.state).toBe("closed");
      expect(running.gateway.states().map((s) => s.state)).toEqual(["closed"]);
    } finally {
      await running.close();
    }
  });
});
