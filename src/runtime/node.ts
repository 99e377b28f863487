/**
 * `npm start`: the CPNS Server on Node with embedded storage (unstorage's fs
 * driver under the data folder), Node's OpenSSL hashes for Digest, security
 * events appended to <data>/security.log, and the client address taken from
 * the socket for rate limiting. Prints the URL, where the admin token is, and
 * the pin of the admin transport key (issue #9 item 6), which it also keeps in
 * <data>/admin-key.pin for a CLI on this machine.
 *
 * Issue #9: the data folder is owner-only (items 10) and held by one process
 * at a time (item 11: a second one exits with status 1 and says why); the
 * security log is written asynchronously, rotated by size, and flushed on
 * SIGINT/SIGTERM (item 5).
 *
 * Issue #10 (TLS where both ends support it, TLS-DEV-CERT): HTTPS by default,
 * with the operator's certificate (CPNS_TLS_CERT_FILE / CPNS_TLS_KEY_FILE) or
 * a self-signed one generated on first start and kept in the data folder; its
 * SPKI pin is printed and kept in <data>/tls.pin. CPNS_PLAIN_HTTP=1 is the
 * explicit development mode without TLS, announced as such.
 *
 * Issue #11 (Node fleet): with CPNS_STORAGE_URL=redis://… the records and the
 * coordination (replay ledger, failure budgets, per-id locks) live in that
 * Redis (src/runtime/node-redis.ts), shared by every instance started on it;
 * the data folder keeps only this instance's TLS files, pins and security log,
 * so each instance needs its own folder. A Redis that cannot be reached at
 * startup stops the start; later, each request it cannot serve is a 503.
 *
 * Implements: STORE-PERSISTENCE, DIGEST-REPLAY-RESTART, LOG-SHUTDOWN, FLEET-REDIS-CONFIG, FLEET-REDIS-FLEET
 * Implements: TLS-DEV-CERT, SEED-5.x.4-6, FFS-TLS-VERSION
 */
import { writeFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { join } from "node:path";
import { createStorage, type Storage } from "unstorage";
import { installAeadBackend } from "../crypto/aead.ts";
import { installHashBackend } from "../crypto/hash.ts";
import { importAdminTransportKey } from "../protocol/admin-transport.ts";
import { createServerApp } from "../server/app.ts";
import { SecurityLog } from "../server/events.ts";
import { SettingsError } from "../server/settings.ts";
import type { Coordination } from "../store/coordination.ts";
import { nodeAead } from "./node-aead.ts";
import { atomicFsDriver } from "./node-atomic-fs.ts";
import { nodeServerSettings } from "./node-config.ts";
import { DataFolderError } from "./node-data-folder.ts";
import { acquireFolderLock, type FolderLock, FolderLockedError } from "./node-folder-lock.ts";
import { nodeHashes } from "./node-hashes.ts";
import { RotatingLogWriter } from "./node-log-writer.ts";
import { openRedisBackend, type RedisBackend, RedisUrlError } from "./node-redis.ts";
import { serveNode } from "./node-server.ts";
import {
  developmentHosts,
  forgetPin,
  type ServingCertificate,
  servingCertificate,
  TlsFilesError,
} from "./node-tls-files.ts";
import { nodeRequestIsTls, plainHttpDevMode } from "./request-tls.ts";

installHashBackend(nodeHashes);
installAeadBackend(nodeAead);

let settings: ReturnType<typeof nodeServerSettings>;
let lock: FolderLock;
try {
  settings = nodeServerSettings();
  lock = acquireFolderLock(settings.dataDir);
} catch (err) {
  if (
    !(
      err instanceof FolderLockedError ||
      err instanceof DataFolderError ||
      err instanceof SettingsError
    )
  ) {
    throw err;
  }
  console.error(`cpns server: ${err.message}`);
  process.exit(1);
}

// One host: the fs store under the folder this process holds, coordination in memory.
// A fleet member: both in the shared Redis (the URL may hold a password: never printed).
let storage: Storage;
let coordination: Coordination | undefined;
let redis: RedisBackend | undefined;
if (settings.storageUrl) {
  try {
    redis = await openRedisBackend(settings.storageUrl);
  } catch (err) {
    const why = err instanceof RedisUrlError ? err.message : "cannot reach the Redis it names";
    console.error(`cpns server: CPNS_STORAGE_URL: ${why.replace(/^CPNS_STORAGE_URL /, "")}`);
    lock.release();
    process.exit(1);
  }
  storage = redis.storage;
  coordination = redis.coordination;
} else {
  storage = createStorage({ driver: atomicFsDriver({ base: join(settings.dataDir, "store") }) });
}
const writer = new RotatingLogWriter(settings.securityLogFile);
const securityEvents = new SecurityLog((line) => writer.write(line));
const port = Number(process.env.PORT ?? 8787);
const hostname = process.env.HOST ?? "127.0.0.1";
let certificate: ServingCertificate | undefined;
try {
  if (settings.plainHttp) forgetPin(settings.dataDir);
  else {
    certificate = await servingCertificate({
      folder: settings.dataDir,
      commonName: `CPNS Server ${hostname}`,
      hosts: developmentHosts(hostname),
      certFile: settings.tlsCertFile,
      keyFile: settings.tlsKeyFile,
    });
  }
} catch (err) {
  if (!(err instanceof TlsFilesError)) throw err;
  console.error(`cpns server: ${err.message}`);
  lock.release();
  process.exit(1);
}
const { pin } = await importAdminTransportKey(settings.adminTransportKey);
// Public, but only this process may say which key is ours: rewritten at every start.
writeFileSync(settings.adminKeyPinFile, `${pin}\n`, { mode: 0o600 });

const app = createServerApp({
  realm: settings.realm,
  storage,
  coordination,
  algorithms: settings.algorithms,
  nonceLifetimeSeconds: settings.nonceLifetimeSeconds,
  otkMaxLifetimeSeconds: settings.otkMaxLifetimeSeconds,
  channelLifetimeSeconds: settings.channelLifetimeSeconds,
  ...(settings.sourceUrl ? { sourceUrl: settings.sourceUrl } : {}),
  masterKey: settings.masterKey,
  adminToken: settings.adminToken,
  digestSecret: settings.digestSecret,
  securityEvents,
  adminTransportKey: settings.adminTransportKey,
  clientAddress: (_request, env) =>
    (env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket.remoteAddress,
  requestIsTls: nodeRequestIsTls,
  allowPlainHttpForTlsEntities: plainHttpDevMode(process.env),
});

const tls = certificate ? { cert: certificate.cert, key: certificate.key } : undefined;
const urlHost = hostname.includes(":") ? `[${hostname}]` : hostname;
const server = serveNode({ fetch: app.fetch, port, hostname, tls }, (info) => {
  if (!certificate) {
    console.log("WARNING: CPNS_PLAIN_HTTP=1: PLAIN HTTP, NO TLS (development mode only).");
    console.log(
      "WARNING: anyone on the path sees and can alter every request that is not sealed or in the secure channel.",
    );
  }
  console.log(
    `CPNS Server listening on ${certificate ? "https" : "http"}://${urlHost}:${info.port} (realm "${settings.realm}")`,
  );
  if (certificate) {
    const what = {
      operator: "operator's certificate",
      generated: "self-signed development certificate, generated now",
      kept: "self-signed development certificate",
    }[certificate.origin];
    console.log(`TLS: ${what} ${certificate.certFile}`);
    console.log(`TLS pin: ${certificate.pin} (${certificate.pinFile})`);
  }
  console.log(`data: ${settings.dataDir}`);
  if (redis)
    console.log("store: shared Redis (CPNS_STORAGE_URL): records, replay ledger, budgets, locks");
  if (settings.adminTokenFile) console.log(`admin token: ${settings.adminTokenFile}`);
  console.log(`admin key pin: ${pin} (${settings.adminKeyPinFile})`);
});

/** Pending summaries and buffered lines reach the file before the process ends. */
async function finish(): Promise<void> {
  securityEvents.flush();
  await writer.flush().catch(() => {});
  await redis?.close();
  lock.release();
  process.exit(0);
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.close(() => void finish());
    setTimeout(() => void finish(), 1000).unref();
  });
}
