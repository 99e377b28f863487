/**
 * Harness of the TLS-declaration tests (issue #10, tls-declare): one CPNS
 * Server app served on two loopback listeners at once, HTTPS (serveNode's
 * `tls` option, a certificate from src/channel/certificate.ts) and plain HTTP,
 * with the Node runtime's own `requestIsTls` (the socket), so a test can play
 * a downgrade: the same entity, the same store, the other listener. The HTTPS
 * client is node:https trusting exactly that certificate.
 */
import { randomBytes } from "node:crypto";
import type { Server } from "node:net";
import { createStorage, type Storage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { EntityAgent } from "../../src/agent/agent.ts";
import type { MemoryKeyStore } from "../../src/agent/keystore.ts";
import { generateSelfSignedCertificate } from "../../src/channel/certificate.ts";
import type { FetchLike } from "../../src/digest/index.ts";
import { serveNode } from "../../src/runtime/node-server.ts";
import { nodeRequestIsTls } from "../../src/runtime/request-tls.ts";
import { createServerApp } from "../../src/server/app.ts";
import type { CpnsServerConfig } from "../../src/server/context.ts";
import { createUserSealed } from "../admin-users.ts";
import { nodeTransport } from "./node-transport.ts";
import { ADMIN_TOKEN, REALM, socketAddress, T0 } from "./server-helpers.ts";

/** A fetch over node:https that trusts only `ca` (the test server's self-signed certificate). */
export function httpsTransport(ca: string): FetchLike {
  return nodeTransport({ ca });
}

export const plainTransport: FetchLike = (request) => fetch(request);

export interface DualServer {
  readonly tlsUrl: string;
  readonly plainUrl: string;
  readonly https: FetchLike;
  /** The HTTPS listener's self-signed certificate (PEM), for clients that must trust it. */
  readonly certPem: string;
  readonly storage: Storage;
  readonly clock: { now: number };
  /** Every security log line, parsed. */
  events(): Array<Record<string, unknown>>;
  createUser(userId: string, password: string): Promise<void>;
  /** An agent that talks to the HTTPS listener. */
  tlsAgent(store: MemoryKeyStore): EntityAgent;
  /** An agent that talks to the plain-HTTP listener (the downgrade). */
  plainAgent(store: MemoryKeyStore): EntityAgent;
  /** Every record in the store, as JSON: "nothing changed" is this string unchanged. */
  dump(): Promise<string>;
  close(): Promise<void>;
}

let certificate: Promise<{ certPem: string; keyPem: string }> | undefined;

export async function startDualServer(
  overrides: Partial<CpnsServerConfig> = {},
): Promise<DualServer> {
  certificate ??= generateSelfSignedCertificate({
    commonName: "cpns-tls-declare-test",
    hosts: ["127.0.0.1"],
  });
  const { certPem, keyPem } = await certificate;
  const clock = { now: T0 };
  const storage = createStorage({ driver: memoryDriver() });
  const now = overrides.now ?? (() => clock.now);
  const logLines: string[] = [];
  const app = createServerApp({
    realm: REALM,
    adminToken: ADMIN_TOKEN,
    digestSecret: randomBytes(32).toString("base64url"),
    masterKey: new Uint8Array(randomBytes(32)),
    storage,
    clientAddress: socketAddress,
    requestIsTls: nodeRequestIsTls,
    securityLog: (line) => logLines.push(line),
    ...overrides,
    now,
  });
  const listen = (tls: boolean) =>
    new Promise<{ port: number; server: Server }>((resolve) => {
      const server = serveNode(
        {
          fetch: app.fetch,
          port: 0,
          hostname: "127.0.0.1",
          ...(tls ? { tls: { cert: certPem, key: keyPem } } : {}),
        },
        (info) => resolve({ port: info.port, server: server as unknown as Server }),
      );
    });
  const [secure, plain] = await Promise.all([listen(true), listen(false)]);
  const tlsUrl = `https://127.0.0.1:${secure.port}`;
  const plainUrl = `http://127.0.0.1:${plain.port}`;
  const https = httpsTransport(certPem);
  const close = (server: Server) =>
    new Promise<void>((resolve) => {
      (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
      server.close(() => resolve());
    });
  return {
    tlsUrl,
    plainUrl,
    https,
    certPem,
    storage,
    clock,
    events: () => logLines.map((line) => JSON.parse(line) as Record<string, unknown>),
    async createUser(userId, password) {
      const res = await createUserSealed({
        transport: https,
        base: tlsUrl,
        adminToken: ADMIN_TOKEN,
        userId,
        password,
        // The envelope carries its sealing time: seal by the server's clock.
        now,
      });
      if (res.status !== 201) throw new Error(`user ${userId}: ${res.status} ${await res.text()}`);
    },
    tlsAgent: (store) => new EntityAgent({ serverUrl: tlsUrl, store, fetch: https }),
    plainAgent: (store) => new EntityAgent({ serverUrl: plainUrl, store, fetch: plainTransport }),
    async dump() {
      const keys = (await storage.getKeys()).sort();
      const entries = await Promise.all(keys.map(async (key) => [key, await storage.getItem(key)]));
      return JSON.stringify(entries);
    },
    close: async () => {
      await Promise.all([close(secure.server), close(plain.server)]);
    },
  };
}
