/**
 * Issue #9, checks the suite could not see (Stryker survivors in src/gateway/gateway.ts): a PN
 * GW built without a configured Digest secret still challenges (it draws its own), and an offer
 * the server refuses is left "refused" in the state view, with no live offer, and a PN GW with
 * a TLS pin seals it with every OTK it offers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PnGateway } from "../../src/gateway/gateway.ts";
import {
  enrollDevice,
  offlineGateway,
  type RunningGateway,
  startGateway,
} from "../e2e/peer-helpers.ts";
import { startTestServer, type TestServer } from "../e2e/server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-mut-gateway-gateway-1" };

let server: TestServer;
let g: RunningGateway;

beforeAll(async () => {
  server = await startTestServer();
  await server.createUser(ALICE.userId, ALICE.password);
  g = await startGateway(server, await enrollDevice(server, ALICE, "mg-gw", "PNGW"));
}, 60_000);

afterAll(async () => {
  await g?.close();
  await server?.close();
});

function offline(digestSecret?: string): PnGateway {
  return offlineGateway({ gatewayId: "gw-mut", ...(digestSecret ? { digestSecret } : {}) });
}

describe("PN GW construction (src/gateway/gateway.ts)", () => {
  it("[PEER-DIGEST] without a configured Digest secret, the PN GW still challenges a peer (own random secret)", async () => {
    const res = await offline().app.fetch(
      new Request("http://gw.test/cpns-gw/v1/sessions", { method: "POST" }),
    );
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toMatch(/^Digest realm="cpns-gw:gw-mut"/);
  });

  it("[OTK-PAIRING] an offer the server refuses (no such peer) is left refused, with no live offer", async () => {
    await expect(g.gateway.offer("nobody-enrolled")).rejects.toThrow();
    const states = g.gateway.states().filter((s) => s.peerId === "nobody-enrolled");
    expect(states.map((s) => s.state)).toEqual(["refused"]);
  });
  it("[TLS-GATEWAY-PIN] [OTK-TLS-PIN] a PN GW with a TLS pin seals it with each OTK it offers: the peer's inbox names it", async () => {
    const pin = `sha256//${Buffer.alloc(32, 5).toString("base64")}`;
    const pinned = await startGateway(
      server,
      await enrollDevice(server, ALICE, "mg-gw-pin", "PNGW"),
      {
        tlsPin: pin,
      },
    );
    try {
      const pne = await enrollDevice(server, ALICE, "mg-pne-pin", "PNE");
      await pinned.gateway.offer(pne.entityId);
      const inbox = await pne.otks.inbox(pne.entityId);
      expect(inbox.map((view) => view.tlsPin)).toEqual([pin]);
    } finally {
      await pinned.close();
    }
  });
});
