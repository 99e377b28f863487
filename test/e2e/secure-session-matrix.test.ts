// Seed 5.x.4 (issue #10): every reference point the seed names, in each secure-session mode, over
// real HTTP(S) on loopback. Reference points: PNE–Server direct (SEED-5.x.4-2), PNE–Server through a
// PN GW's relay (SEED-5.x.4-2), PN GW–Server over CPNS-2/7 (SEED-5.x.4-3), PNE–PN GW over CPNS-1/6
// (SEED-5.x.4-4), PN GW–PN GW over CPNS-3 (SEED-5.x.4-5). Modes: TLS (the CPNS Server and the PN GW
// serve HTTPS with certificates from src/channel/certificate.ts, the clients trust them by CA:
// SEED-5.x.4-6) and the CPNS secure channel over plain HTTP (FFS-NO-TLS). Payloads: text, a few
// hundred binary bytes, and 64 KiB of binary.
//
// "Arrives intact": a PN GW echoes session traffic, so between peers the echo is compared byte for
// byte. The CPNS Server echoes nothing, so there the payload is the body of a POST whose integrity
// the receiving end checks before it answers: the AEAD tag of the channel record that carries it
// (channel mode), or the Digest auth-int hash of the body (TLS mode); the route's own answer (403
// for a PNE, 415 for a PN GW, both only given after that check) then comes back authenticated.

import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import { createStorage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EntityAgent } from "../../src/agent/agent.ts";
import { ServerChannel } from "../../src/agent/channel-client.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import { generateSelfSignedCertificate } from "../../src/channel/certificate.ts";
import type { FetchLike } from "../../src/digest/index.ts";
import { serveNode } from "../../src/runtime/node-server.ts";
import { createServerApp } from "../../src/server/app.ts";
import { createUserSealed } from "../admin-users.ts";
import { nodeTransport } from "./node-transport.ts";
import {
  connectPeer,
  type Device,
  enrollDevice,
  relayedAgent,
  startGateway,
} from "./peer-helpers.ts";
import { ADMIN_TOKEN, REALM, startTestServer, T0, type TestServer } from "./server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-password-1" };
const TEXT = "matrix-plaintext-marker ünïcode";

function binary(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 131 + seed) & 0xff;
  return bytes;
}
const PAYLOADS = [binary(300, 1), binary(64 * 1024, 2)];

/** fetch over node:https that trusts `ca` (and nothing else), recording the TLS version of each exchange. */
function tlsTransport(ca: string[], versions: string[]): FetchLike {
  return nodeTransport({ ca, tlsVersions: versions });
}

/** The CPNS Server on HTTPS only (the same app as startTestServer, with the test clock). */
async function startTlsServer(ca: string[], versions: string[]) {
  const cert = await generateSelfSignedCertificate({ commonName: "cpns", hosts: ["127.0.0.1"] });
  ca.push(cert.certPem);
  const clock = { now: T0 };
  const app = createServerApp({
    realm: REALM,
    adminToken: ADMIN_TOKEN,
    digestSecret: randomBytes(32).toString("base64url"),
    securityLog: () => undefined,
    storage: createStorage({ driver: memoryDriver() }),
    masterKey: new Uint8Array(randomBytes(32)),
    now: () => clock.now,
  });
  let listening!: (port: number) => void;
  const ready = new Promise<number>((resolve) => {
    listening = resolve;
  });
  const http = serveNode(
    { fetch: app.fetch, tls: { cert: cert.certPem, key: cert.keyPem } },
    (info) => listening(info.port),
  ) as Server;
  const url = `https://127.0.0.1:${await ready}`;
  const transport = tlsTransport(ca, versions);
  // Only what the peer helpers use of a TestServer: its URL, clock and agents.
  const server = {
    url,
    clock,
    agent: (options: { fetch?: FetchLike; store?: MemoryKeyStore } = {}) =>
      new EntityAgent({
        serverUrl: url,
        store: options.store ?? new MemoryKeyStore(),
        fetch: options.fetch ?? transport,
      }),
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections?.();
        http.close(() => resolve());
      }),
  } as unknown as TestServer;
  const created = await createUserSealed({
    transport,
    base: url,
    adminToken: ADMIN_TOKEN,
    userId: ALICE.userId,
    password: ALICE.password,
    now: () => clock.now,
  });
  expect(created.status).toBe(201);
  return { server, transport };
}

/** A POST whose body the server checks before it answers (see the header comment). */
function checkedPost(body: Uint8Array): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/octet-stream" },
    body: body as BodyInit,
  };
}

async function whoamiOf(res: Response) {
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------- channel mode

describe("[FFS-NO-TLS][SEED-5.x.4-1] every reference point on the CPNS secure channel (plain HTTP underneath)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
    await server.createUser(ALICE.userId, ALICE.password);
  });
  afterAll(() => server.close());

  const serverChannel = (device: Device, fetch?: FetchLike, agent = device.agent) =>
    ServerChannel.open({
      agent,
      store: device.store,
      entityId: device.entityId,
      serverUrl: server.url,
      now: () => server.clock.now,
      ...(fetch ? { fetch } : {}),
    });

  it("[SEED-5.x.4-2][FFS-NO-TLS][PEERCH-MATRIX] PNE–Server direct: text and binary (64 KiB) arrive intact", async () => {
    const pne = await enrollDevice(server, ALICE, "mx-ch-pne", "PNE");
    const channel = await serverChannel(pne);
    expect(
      await whoamiOf(await channel.fetch(`/cpns/v1/whoami?m=${encodeURIComponent(TEXT)}`)),
    ).toMatchObject({ entityId: "mx-ch-pne" });
    for (const payload of PAYLOADS) {
      const res = await channel.fetch("/cpns/v1/otks", checkedPost(payload));
      expect(res.status, String(payload.length)).toBe(403); // opened (AEAD) and answered as a PNE
    }
  });

  it("[SEED-5.x.4-3][FFS-NO-TLS][PEERCH-MATRIX] PN GW–Server (CPNS-2/7): text and binary (64 KiB) arrive intact", async () => {
    const gw = await enrollDevice(server, ALICE, "mx-ch-gw", "PNGW");
    const channel = await serverChannel(gw);
    expect(await whoamiOf(await channel.fetch("/cpns/v1/whoami"))).toMatchObject({ type: "PNGW" });
    for (const payload of PAYLOADS) {
      const res = await channel.fetch("/cpns/v1/otks", checkedPost(payload));
      expect(res.status, String(payload.length)).toBe(415); // a PN GW may deposit: JSON only
    }
  });

  it("[SEED-5.x.4-2][GATEWAY-RELAY-E2E][FFS-NO-TLS][PEERCH-MATRIX] PNE–Server through the relay: intact at the server, ciphertext only at the PN GW", async () => {
    const handled: Buffer[] = [];
    const upstream: FetchLike = async (request) => {
      handled.push(Buffer.from(await request.clone().arrayBuffer()));
      const answer = await fetch(request);
      handled.push(Buffer.from(await answer.clone().arrayBuffer()));
      return answer;
    };
    const gw = await enrollDevice(server, ALICE, "mx-ch-relay-gw", "PNGW");
    const pne = await enrollDevice(server, ALICE, "mx-ch-relay-pne", "PNE");
    const running = await startGateway(server, gw, { upstream });
    try {
      await running.gateway.offer(pne.entityId);
      const { session } = await connectPeer(server, pne, gw.entityId);
      const channel = await serverChannel(
        pne,
        session.relayTransport(),
        relayedAgent(server, pne, session),
      );
      const from = handled.length;
      expect(
        await whoamiOf(await channel.fetch(`/cpns/v1/whoami?m=${encodeURIComponent(TEXT)}`)),
      ).toMatchObject({ entityId: "mx-ch-relay-pne" });
      for (const payload of PAYLOADS) {
        expect((await channel.fetch("/cpns/v1/otks", checkedPost(payload))).status).toBe(403);
      }
      const seen = Buffer.concat(handled.slice(from));
      expect(seen.length).toBeGreaterThan(64 * 1024);
      for (const plain of ["matrix-plaintext-marker", "whoami", "mx-ch-relay-pne", "otks"]) {
        expect(seen.includes(Buffer.from(plain)), plain).toBe(false);
      }
      for (const payload of PAYLOADS) {
        expect(seen.includes(Buffer.from(payload.subarray(0, 48)))).toBe(false);
      }
    } finally {
      await running.close();
    }
  });

  for (const [id, peerType, seed] of [
    ["SEED-5.x.4-4", "PNE", "CPNS-1/6"],
    ["SEED-5.x.4-5", "PNGW", "CPNS-3"],
  ] as const) {
    it(`[${id}][FFS-NO-TLS][PEERCH-MATRIX] ${peerType}–PN GW (${seed}): text and binary (64 KiB) echoed intact`, async () => {
      const gw = await enrollDevice(server, ALICE, `mx-ch-${peerType}-gw`, "PNGW");
      const peer = await enrollDevice(server, ALICE, `mx-ch-${peerType}-peer`, peerType);
      const running = await startGateway(server, gw);
      try {
        await running.gateway.offer(peer.entityId);
        const { session } = await connectPeer(server, peer, gw.entityId);
        const channel = await session.openChannel();
        expect((await channel.send(TEXT)).echo).toBe(TEXT);
        for (const payload of PAYLOADS) expect(await channel.sendBytes(payload)).toEqual(payload);
      } finally {
        await running.close();
      }
    });
  }
});

// ------------------------------------------------------------------------------------- TLS mode

describe("[SEED-5.x.4-6][SEED-5.x.4-1] every reference point on TLS (HTTPS, certificates trusted by CA)", () => {
  const ca: string[] = [];
  const versions: string[] = [];
  let server: TestServer;
  let transport: FetchLike;
  beforeAll(async () => {
    ({ server, transport } = await startTlsServer(ca, versions));
  });
  afterAll(() => server.close());

  /** A PN GW serving HTTPS with its own certificate (added to what the clients trust). */
  async function tlsGateway(gw: Device) {
    const cert = await generateSelfSignedCertificate({
      commonName: gw.entityId,
      hosts: ["127.0.0.1"],
    });
    ca.push(cert.certPem);
    const running = await startGateway(server, gw, {
      upstream: transport,
      serve: { tls: { cert: cert.certPem, key: cert.keyPem } },
    });
    return running;
  }

  it("[SEED-5.x.4-2][SEED-5.x.4-6][PEERCH-MATRIX] PNE–Server direct over TLS 1.3: text and binary (64 KiB) arrive intact", async () => {
    const pne = await enrollDevice(server, ALICE, "mx-tls-pne", "PNE", transport);
    versions.length = 0;
    expect(
      await whoamiOf(
        await pne.agent.fetchAsEntity(
          pne.entityId,
          `/cpns/v1/whoami?m=${encodeURIComponent(TEXT)}`,
        ),
      ),
    ).toMatchObject({ entityId: "mx-tls-pne" });
    for (const payload of PAYLOADS) {
      // auth-int: the server checked the body's hash before it answered (rspauth verified here).
      const res = await pne.agent.fetchAsEntity(
        pne.entityId,
        "/cpns/v1/otks",
        checkedPost(payload),
      );
      expect(res.status, String(payload.length)).toBe(403);
    }
    expect(new Set(versions)).toEqual(new Set(["TLSv1.3"]));
  });

  it("[SEED-5.x.4-3][SEED-5.x.4-6][PEERCH-MATRIX] PN GW–Server (CPNS-2/7) over TLS: text and binary (64 KiB) arrive intact", async () => {
    const gw = await enrollDevice(server, ALICE, "mx-tls-gw", "PNGW", transport);
    expect(
      await whoamiOf(await gw.agent.fetchAsEntity(gw.entityId, "/cpns/v1/whoami")),
    ).toMatchObject({ type: "PNGW" });
    for (const payload of PAYLOADS) {
      const res = await gw.agent.fetchAsEntity(gw.entityId, "/cpns/v1/otks", checkedPost(payload));
      expect(res.status, String(payload.length)).toBe(415);
    }
  });

  it("[SEED-5.x.4-2][SEED-5.x.4-6][PEERCH-MATRIX] PNE–Server through the relay, TLS on both hops, the secure channel inside: intact", async () => {
    const gw = await enrollDevice(server, ALICE, "mx-tls-relay-gw", "PNGW", transport);
    const pne = await enrollDevice(server, ALICE, "mx-tls-relay-pne", "PNE", transport);
    const running = await tlsGateway(gw);
    try {
      expect(running.url).toMatch(/^https:/);
      await running.gateway.offer(pne.entityId);
      const { session } = await connectPeer(server, pne, gw.entityId, { fetch: transport });
      const agent = relayedAgent(server, pne, session);
      versions.length = 0;
      const channel = await ServerChannel.open({
        agent,
        store: pne.store,
        entityId: pne.entityId,
        serverUrl: server.url,
        fetch: session.relayTransport(),
        now: () => server.clock.now,
      });
      expect(await whoamiOf(await channel.fetch("/cpns/v1/whoami"))).toMatchObject({
        entityId: "mx-tls-relay-pne",
      });
      for (const payload of PAYLOADS) {
        expect((await channel.fetch("/cpns/v1/otks", checkedPost(payload))).status).toBe(403);
      }
      expect(new Set(versions)).toEqual(new Set(["TLSv1.3"]));
    } finally {
      await running.close();
    }
  });

  for (const [id, peerType, seed] of [
    ["SEED-5.x.4-4", "PNE", "CPNS-1/6"],
    ["SEED-5.x.4-5", "PNGW", "CPNS-3"],
  ] as const) {
    it(`[${id}][SEED-5.x.4-6][PEERCH-MATRIX] ${peerType}–PN GW (${seed}) over TLS: text and binary (64 KiB) echoed intact`, async () => {
      const gw = await enrollDevice(server, ALICE, `mx-tls-${peerType}-gw`, "PNGW", transport);
      const peer = await enrollDevice(
        server,
        ALICE,
        `mx-tls-${peerType}-peer`,
        peerType,
        transport,
      );
      const running = await tlsGateway(gw);
      try {
        await running.gateway.offer(peer.entityId);
        const { session } = await connectPeer(server, peer, gw.entityId, { fetch: transport });
        versions.length = 0;
        expect((await session.send(TEXT)).echo).toBe(TEXT);
        for (const payload of PAYLOADS) expect(await session.sendBytes(payload)).toEqual(payload);
        expect(new Set(versions)).toEqual(new Set(["TLSv1.3"]));
      } finally {
        await running.close();
      }
    });
  }
});
