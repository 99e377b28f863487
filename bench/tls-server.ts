/**
 * Benchmark server of `npm run bench:tls` (issue #10, tls-declare): the real
 * CPNS Server app (createServerApp, memory storage, Node's OpenSSL hashes, the
 * Node runtime's TLS detection) served by one process on two listeners, HTTPS
 * (serveNode's `tls` option, a self-signed certificate) and plain HTTP, so the
 * authenticated GET /cpns/v1/whoami is measured over both in the same run. It
 * creates one user, enrolls one PN GW (not TLS-declared, so both listeners
 * serve it), prints one JSON line with the URLs and that entity's Digest
 * secret (a throwaway key), then serves until killed.
 */
import { randomBytes } from "node:crypto";
import { createStorage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { EntityAgent } from "../src/agent/agent.ts";
import { MemoryKeyStore } from "../src/agent/keystore.ts";
import { generateSelfSignedCertificate } from "../src/channel/certificate.ts";
import { installHashBackend } from "../src/crypto/hash.ts";
import { nodeHashes } from "../src/runtime/node-hashes.ts";
import { serveNode } from "../src/runtime/node-server.ts";
import { nodeRequestIsTls } from "../src/runtime/request-tls.ts";
import { createServerApp } from "../src/server/app.ts";
import { createUser, strongPassword } from "./soak/identities.ts";

installHashBackend(nodeHashes);

const ADMIN_TOKEN = randomBytes(24).toString("base64url");
const app = createServerApp({
  realm: "cpns-bench",
  storage: createStorage({ driver: memoryDriver() }),
  masterKey: new Uint8Array(randomBytes(32)),
  adminToken: ADMIN_TOKEN,
  digestSecret: randomBytes(32),
  requestIsTls: nodeRequestIsTls,
  // The load comes from one address with genuine answers only: no budget is ever charged.
  clientAddress: () => "127.0.0.1",
});

const { certPem, keyPem } = await generateSelfSignedCertificate({
  commonName: "cpns-bench",
  hosts: ["127.0.0.1"],
});
const listen = (tls: boolean) =>
  new Promise<number>((resolve) => {
    serveNode(
      {
        fetch: app.fetch,
        port: 0,
        hostname: "127.0.0.1",
        ...(tls ? { tls: { cert: certPem, key: keyPem } } : {}),
      },
      (info) => resolve(info.port),
    );
  });
const [tlsPort, plainPort] = await Promise.all([listen(true), listen(false)]);
const plainUrl = `http://127.0.0.1:${plainPort}`;
const tlsUrl = `https://127.0.0.1:${tlsPort}`;

const password = strongPassword();
await createUser(plainUrl, ADMIN_TOKEN, "bench-user", password);
const store = new MemoryKeyStore();
await new EntityAgent({ serverUrl: plainUrl, store }).enroll({
  userId: "bench-user",
  password,
  entityId: "bench-gw",
  type: "PNGW",
});
const device = await store.get("bench-gw");
console.log(
  JSON.stringify({
    plainUrl,
    tlsUrl,
    realm: "cpns-bench",
    entityId: "bench-gw",
    secret: device?.eukey,
  }),
);
