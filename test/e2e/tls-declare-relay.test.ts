// Issue #10 (tls-declare): what "declared TLS" means for a PNE relayed by a PN GW. The server sees
// the PN GW's connection, and the relay forwards the PNE's request unchanged, so the declaration is
// judged on the hop that reaches the server: a declared PNE's relayed requests pass only when the
// PN GW's upstream to the server is TLS; the PNE's traffic across the relay is protected end to
// end by the secure channel (spec/decisions.md, "TLS declared at enrollment"). Real PN GWs (src/gateway/)
// relay to the HTTPS or the plain-HTTP listener of one server app (tls-declare-helpers.ts).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EntityAgent } from "../../src/agent/agent.ts";
import { ServerChannel } from "../../src/agent/channel-client.ts";
import type { MemoryKeyStore } from "../../src/agent/keystore.ts";
import type { FetchLike } from "../../src/digest/index.ts";
import { connectPeer, enrollDevice, relayedAgent, startGateway } from "./peer-helpers.ts";
import type { TestServer } from "./server-helpers.ts";
import { type DualServer, plainTransport, startDualServer } from "./tls-declare-helpers.ts";

const ALICE = { userId: "alice", password: "alice-password-relay-1" };

let server: DualServer;
beforeAll(async () => {
  server = await startDualServer();
  await server.createUser(ALICE.userId, ALICE.password);
});
afterAll(() => server.close());

/**
 * The peer helpers take a TestServer; they use only its URL, clock and agent factory. This one
 * points them at the HTTPS listener (every entity's own traffic is TLS) or at the plain one.
 */
function view(tls: boolean): TestServer {
  return {
    url: tls ? server.tlsUrl : server.plainUrl,
    clock: server.clock,
    agent: (options: { store?: MemoryKeyStore; fetch?: FetchLike } = {}) =>
      tls
        ? server.tlsAgent(options.store as MemoryKeyStore)
        : server.plainAgent(options.store as MemoryKeyStore),
  } as unknown as TestServer;
}

/** A declared PNE reaching the server through a PN GW whose upstream is HTTPS or plain HTTP. */
async function relayedPne(name: string, upstreamTls: boolean) {
  const secure = view(true);
  const gw = await enrollDevice(secure, ALICE, `${name}-gw`, "PNGW");
  const pne = await enrollDevice(secure, ALICE, `${name}-pne`, "PNE");
  // Declare TLS for the PNE (a rotation that adds the declaration, over HTTPS).
  await pne.agent.enroll({ ...ALICE, entityId: pne.entityId, type: "PNE", tls: true });
  const running = await startGateway(secure, gw, {
    serverUrl: upstreamTls ? server.tlsUrl : server.plainUrl,
    upstream: upstreamTls ? server.https : plainTransport,
  });
  await running.gateway.offer(pne.entityId);
  const { session } = await connectPeer(secure, pne, gw.entityId);
  const agent: EntityAgent = relayedAgent(secure, pne, session);
  const open = () =>
    ServerChannel.open({
      agent,
      store: pne.store,
      entityId: pne.entityId,
      serverUrl: server.tlsUrl,
      fetch: session.relayTransport(),
      now: () => server.clock.now,
    });
  return { pne, running, agent, open };
}

describe("[SEED-5.x.4-6][TLSDECL-REFUSE-PLAIN] a declared PNE relayed by a PN GW", () => {
  it("[TLSDECL-REFUSE-PLAIN][SEED-5.x.4-2] the PN GW's upstream is HTTPS: the PNE's secure channel through the relay works", async () => {
    const { pne, running, open } = await relayedPne("relay-tls", true);
    try {
      const channel = await open();
      const whoami = await channel.fetch("/cpns/v1/whoami");
      expect(await whoami.json()).toMatchObject({ entityId: pne.entityId, type: "PNE" });
      await channel.close();
    } finally {
      await running.close();
    }
  });

  it("[TLSDECL-REFUSE-PLAIN] the PN GW's upstream is plain HTTP: the declared PNE's relayed requests are refused (ERR_TLS_REQUIRED)", async () => {
    const { pne, running, agent, open } = await relayedPne("relay-plain", false);
    try {
      const res = await agent.fetchAsEntity(pne.entityId, "/cpns/v1/whoami");
      expect(res.status).toBe(403);
      expect(((await res.json()) as { code?: string }).code).toBe("ERR_TLS_REQUIRED");
      await expect(open()).rejects.toMatchObject({ code: "ERR_TLS_REQUIRED" });
    } finally {
      await running.close();
    }
  });
});
