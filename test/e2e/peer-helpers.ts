/**
 * Harness of the peer tests (seed 5.x.2, second bullet; issue #4): a real
 * CPNS Server (test/e2e/server-helpers.ts) and real PN GWs (PnGateway served
 * by serveNode on loopback), each with its own key store, agent and clock
 * (shared with the server's test clock, in ms, so expiry is driven without
 * sleeping), and peers that enroll, fetch OTKs and open sessions over HTTP.
 */

import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import { EntityAgent } from "../../src/agent/agent.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import { OtkClient, type ReceivedOtk } from "../../src/agent/otk-client.ts";
import { PeerSession } from "../../src/agent/peer.ts";
import type { FetchLike } from "../../src/digest/index.ts";
import { PnGateway, type PnGatewayOptions } from "../../src/gateway/gateway.ts";
import { type NodeTlsOptions, serveNode } from "../../src/runtime/node-server.ts";
import type { TestServer } from "./server-helpers.ts";

export interface Device {
  entityId: string;
  store: MemoryKeyStore;
  agent: EntityAgent;
  otks: OtkClient;
}

/** Enrolls `entityId` for `owner` and gives it an agent and an OTK client. */
export async function enrollDevice(
  server: TestServer,
  owner: { userId: string; password: string },
  entityId: string,
  type: "PNE" | "PNGW",
  fetch?: FetchLike,
): Promise<Device> {
  const store = new MemoryKeyStore();
  const agent = server.agent({ store, ...(fetch ? { fetch } : {}) });
  await agent.enroll({ ...owner, entityId, type });
  const otks = new OtkClient({ agent, store, now: () => server.clock.now });
  return { entityId, store, agent, otks };
}

export interface RunningGateway {
  url: string;
  gateway: PnGateway;
  device: Device;
  close(): Promise<void>;
}

export async function startGateway(
  server: TestServer,
  device: Device,
  { serve, ...options }: Partial<PnGatewayOptions> & { serve?: { tls?: NodeTlsOptions } } = {},
): Promise<RunningGateway> {
  let gateway!: PnGateway;
  let listening!: (port: number) => void;
  const ready = new Promise<number>((resolve) => {
    listening = resolve;
  });
  const http = serveNode(
    { fetch: (request) => gateway.app.fetch(request), ...(serve?.tls ? { tls: serve.tls } : {}) },
    (info) => listening(info.port),
  ) as Server;
  const url = `${serve?.tls ? "https" : "http"}://127.0.0.1:${await ready}`;
  gateway = new PnGateway({
    gatewayId: device.entityId,
    serverUrl: server.url,
    agent: device.agent,
    store: device.store,
    digestSecret: randomBytes(32),
    endpoint: url,
    now: () => server.clock.now,
    ...options,
  });
  return {
    url,
    gateway,
    device,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections?.();
        http.close(() => resolve());
      }),
  };
}

/**
 * A PN GW whose CPNS Server is unreachable (port 9): for tests of its own routes, guard
 * and construction, which never need the server.
 */
export function offlineGateway(
  options: Partial<PnGatewayOptions> & { gatewayId: string },
): PnGateway {
  const store = new MemoryKeyStore();
  return new PnGateway({
    serverUrl: "http://127.0.0.1:9",
    agent: new EntityAgent({ serverUrl: "http://127.0.0.1:9", store }),
    store,
    ...options,
  });
}

/** The peer's whole opening: inbox, fetch the newest OTK from `gatewayId`, open the session. */
export async function connectPeer(
  server: TestServer,
  peer: Device,
  gatewayId: string,
  options: { gatewayUrl?: string; fetch?: FetchLike } = {},
): Promise<{ session: PeerSession; received: ReceivedOtk }> {
  const waiting = (await peer.otks.inbox(peer.entityId)).filter((o) => o.issuerId === gatewayId);
  const newest = waiting[waiting.length - 1];
  if (!newest) throw new Error(`no OTK from ${gatewayId} for ${peer.entityId}`);
  const received = await peer.otks.fetch(peer.entityId, newest.otkId);
  const copy: ReceivedOtk = { view: received.view, otk: new Uint8Array(received.otk) };
  const session = await PeerSession.open({
    entityId: peer.entityId,
    received,
    now: () => server.clock.now,
    ...options,
  });
  return { session, received: copy };
}

/** The peer's agent for the server, reaching it through the PN GW's relay. */
export function relayedAgent(server: TestServer, peer: Device, session: PeerSession): EntityAgent {
  return new EntityAgent({
    serverUrl: server.url,
    store: peer.store,
    fetch: session.relayTransport(),
  });
}
