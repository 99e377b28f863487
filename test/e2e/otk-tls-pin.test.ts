/**
 * Issue #10 (OTK-TLS-PIN, TLS-GATEWAY-PIN) through the real CPNS Server over
 * loopback HTTP: a PN GW's TLS pin deposited with its OTK reaches the peer
 * with the OTK, and the server refuses a deposit whose pin is not the one the
 * PN GW sealed (swapped or stripped by someone on the path), storing nothing.
 * A man in the middle rewriting the pin in the delivery is refused by the peer.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentError, type EntityAgent } from "../../src/agent/agent.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import { OtkClient } from "../../src/agent/otk-client.ts";
import { PeerSession } from "../../src/agent/peer.ts";
import { fromBase64url, toBase64url } from "../../src/crypto/bytes.ts";
import { randomBytes } from "../../src/crypto/provider.ts";
import type { FetchLike } from "../../src/digest/index.ts";
import { errorCodeOf } from "../../src/errors.ts";
import { OTK_BYTES, sealOtk } from "../../src/protocol/otk-transport.ts";
import { OtkRepository } from "../../src/store/repositories.ts";
import { json, startTestServer, type TestServer } from "./server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-otk-password-Qk2" };
const pinOf = (seed: number) => `sha256//${Buffer.alloc(32, seed).toString("base64")}`;
const GATEWAY_PIN = pinOf(7);
const ATTACKER_PIN = pinOf(9);

let server: TestServer;
let store: MemoryKeyStore;
let agent: EntityAgent;
let otks: OtkClient;
let rewriteDelivery = false;

/** The path: when asked to, rewrites the pin in the delivery's JSON answer. */
const path: FetchLike = async (request) => {
  const res = await fetch(request);
  if (!rewriteDelivery || !new URL(request.url).pathname.endsWith("/delivery")) return res;
  const text = (await res.text()).replace(GATEWAY_PIN, ATTACKER_PIN);
  return new Response(text, { status: res.status, headers: res.headers });
};

beforeAll(async () => {
  server = await startTestServer({});
  await server.createUser(ALICE.userId, ALICE.password);
  store = new MemoryKeyStore();
  agent = server.agent({ store, fetch: path });
  otks = new OtkClient({ agent, store, now: () => server.clock.now });
  await agent.enroll({ ...ALICE, entityId: "gw-1", type: "PNGW" });
  for (const pne of ["pne-1", "pne-2"])
    await agent.enroll({ ...ALICE, entityId: pne, type: "PNE" });
});

afterAll(async () => {
  await server.close();
});

const nowSeconds = () => Math.floor(server.clock.now / 1000);

describe("[OTK-TLS-PIN][TLS-GATEWAY-PIN] the PN GW's pin through the CPNS Server", () => {
  it("[OTK-TLS-PIN][TLS-GATEWAY-PIN] deposited with the OTK, listed in the inbox, delivered with the OTK", async () => {
    const issued = await otks.deposit("gw-1", {
      peerId: "pne-1",
      lifetimeSeconds: 60,
      endpoint: "https://127.0.0.1:8788",
      tlsPin: GATEWAY_PIN,
    });
    const inbox = await otks.inbox("pne-1");
    expect(inbox.find((view) => view.otkId === issued.otkId)?.tlsPin).toBe(GATEWAY_PIN);
    const received = await otks.fetch("pne-1", issued.otkId);
    expect(received.view.tlsPin).toBe(GATEWAY_PIN);
    expect(received.otk).toEqual(issued.otk);
  });

  it("[OTK-TLS-PIN][TLS-IMPOSTOR] an OTK naming a TLS key is never used in clear: PeerSession refuses an http address before any request, and zeroes the OTK", async () => {
    const issued = await otks.deposit("gw-1", {
      peerId: "pne-2",
      lifetimeSeconds: 60,
      endpoint: "https://127.0.0.1:8788",
      tlsPin: GATEWAY_PIN,
    });
    const received = await otks.fetch("pne-2", issued.otkId);
    let requests = 0;
    await expect(
      PeerSession.open({
        entityId: "pne-2",
        received,
        gatewayUrl: "http://127.0.0.1:8788",
        fetch: async () => {
          requests += 1;
          return new Response(null, { status: 500 });
        },
      }),
    ).rejects.toMatchObject({ code: "ERR_TLS_UNTRUSTED" });
    expect(requests).toBe(0);
    expect(received.otk.every((byte) => byte === 0)).toBe(true);
  });

  it("[TLS-GATEWAY-PIN] a deposit whose pin was swapped or stripped on the way: 400 ERR_OTK_UNSEAL, nothing stored", async () => {
    const eukey = fromBase64url((await store.get("gw-1"))?.eukey ?? "");
    const repo = new OtkRepository(server.storage);
    for (const sentPin of [ATTACKER_PIN, undefined]) {
      const otkId = toBase64url(randomBytes(16));
      const expiresAt = nowSeconds() + 60;
      const context = { otkId, issuerId: "gw-1", peerId: "pne-2", expiresAt, tlsPin: GATEWAY_PIN };
      const sealedOtk = await sealOtk("deposit", randomBytes(OTK_BYTES), eukey, context);
      const body = {
        otkId,
        peerId: "pne-2",
        expiresAt,
        sealedOtk,
        ...(sentPin ? { tlsPin: sentPin } : {}),
      };
      const res = await agent.fetchAsEntity("gw-1", "/cpns/v1/otks", json("POST", body));
      expect(res.status).toBe(400);
      expect(((await res.json()) as { code: string }).code).toBe("ERR_OTK_UNSEAL");
      expect(await repo.get(otkId)).toBeUndefined();
    }
    // A malformed pin never reaches the seal check.
    const res = await agent.fetchAsEntity(
      "gw-1",
      "/cpns/v1/otks",
      json("POST", {
        otkId: toBase64url(randomBytes(16)),
        peerId: "pne-2",
        expiresAt: nowSeconds() + 60,
        sealedOtk: toBase64url(randomBytes(60)),
        tlsPin: "sha256//not-a-pin",
      }),
    );
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe("ERR_BODY_INVALID");
  });

  it("[TLS-GATEWAY-PIN][OTK-TLS-PIN] a man in the middle swapping the pin in the delivery: the peer refuses the OTK", async () => {
    const issued = await otks.deposit("gw-1", {
      peerId: "pne-2",
      lifetimeSeconds: 60,
      tlsPin: GATEWAY_PIN,
    });
    rewriteDelivery = true;
    try {
      const outcome = await otks.fetch("pne-2", issued.otkId).then(
        (received) => received.view.tlsPin,
        (err: unknown) => (err instanceof AgentError ? err.code : (errorCodeOf(err) ?? err)),
      );
      // auth-int on the route (rspauth over the body) or the AAD (ERR_KEY_UNWRAP): never accepted.
      expect(["ERR_DIGEST_SERVER_UNAUTHENTICATED", "ERR_KEY_UNWRAP"]).toContain(outcome);
    } finally {
      rewriteDelivery = false;
    }
  });
});
