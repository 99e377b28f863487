/**
 * The embedded CPNS Server's configuration on Node (issue #3, "embedded
 * default"): everything comes from the environment, and what is missing is
 * generated once and kept beside the data, owner-readable only, so that a
 * restart keeps every user and entity working.
 *
 *   CPNS_DATA_DIR     data folder (default ./.cpns-data): store/, keys, security.log
 *   CPNS_MASTER_KEY   base64url, 32 bytes (else <data>/master.key)
 *   CPNS_ADMIN_TOKEN  Bearer token of the admin API (else <data>/admin.token)
 *   CPNS_DIGEST_SECRET nonce MAC key (else <data>/digest.secret)
 *   CPNS_REALM        Digest realm (default "cpns"; HA1s are bound to it)
 *   CPNS_ADMIN_TRANSPORT_KEY base64url, 32 bytes: X25519 private key that admin
 *                     secrets are sealed to (else <data>/admin-transport.key);
 *                     its pin is written to <data>/admin-key.pin (issue #9 item 6)
 *   CPNS_TLS_CERT_FILE, CPNS_TLS_KEY_FILE  the operator's PEM certificate chain and
 *                     key (issue #10); else a self-signed development certificate is
 *                     generated once into <data>/tls-cert.pem and <data>/tls-key.pem
 *   CPNS_PLAIN_HTTP=1 development mode: serve plain HTTP, no TLS at all
 *   CPNS_STORAGE_URL=redis://host:port[/db][?prefix=name]  a Node fleet (issue #11):
 *                     records and coordination on that Redis; then the four shared
 *                     secrets must be given (instances cannot each generate them)
 *                     and the data folder keeps only this instance's TLS files,
 *                     pins and security log (one folder per instance)
 *
 * Every variable is read through src/server/settings.ts (one reading for every
 * runtime); only what is missing on one host is generated here.
 *
 * Implements: SERVER-ADMIN-API, STORE-PERSISTENCE, ADMIN-TRANSPORT-KEY, FLEET-CONFIG, FLEET-REDIS-CONFIG
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fromBase64url, toBase64url } from "../crypto/bytes.ts";
import type { DigestAlgorithm } from "../digest/index.ts";
import { requireSharedSecrets, serverSettingsFromEnv } from "../server/settings.ts";
import { prepareDataFolder } from "./node-data-folder.ts";

export interface NodeServerSettings {
  dataDir: string;
  realm: string;
  masterKey: Uint8Array;
  adminToken: string;
  adminTokenFile: string | undefined;
  digestSecret: string;
  securityLogFile: string;
  adminTransportKey: Uint8Array;
  /** Where the admin transport key's pin is kept for a local CLI (beside admin.token). */
  adminKeyPinFile: string;
  /** Development mode (CPNS_PLAIN_HTTP=1): plain HTTP instead of HTTPS. */
  plainHttp: boolean;
  /** The operator's TLS certificate and key files, when given. */
  tlsCertFile: string | undefined;
  tlsKeyFile: string | undefined;
  algorithms: DigestAlgorithm[] | undefined;
  nonceLifetimeSeconds: number | undefined;
  otkMaxLifetimeSeconds: number | undefined;
  channelLifetimeSeconds: number | undefined;
  /** redis://… : a fleet member (records and coordination on that Redis); else the fs store. */
  storageUrl: string | undefined;
  /** Issue #13: where the reviewer page links repository paths (CPNS_SOURCE_URL). */
  sourceUrl?: string | undefined;
}

/** Reads `<dataDir>/<name>`, creating it with fresh random content (mode 0600) if absent. */
function keptSecret(dataDir: string, name: string, bytes: number): { value: string; file: string } {
  const file = join(dataDir, name);
  if (!existsSync(file)) {
    writeFileSync(file, `${toBase64url(randomBytes(bytes))}\n`, { mode: 0o600, flag: "wx" });
  }
  return { value: readFileSync(file, "utf8").trim(), file };
}

/** CPNS_PLAIN_HTTP=1 (or "true"/"yes"): the explicit development mode without TLS. */
export function isPlainHttp(env: NodeJS.ProcessEnv): boolean {
  return /^(1|true|yes)$/i.test(env.CPNS_PLAIN_HTTP ?? "");
}

export function nodeServerSettings(env: NodeJS.ProcessEnv = process.env): NodeServerSettings {
  // Validated first (a bad value names its variable), before any folder is touched.
  const given = serverSettingsFromEnv(env);
  // A fleet member cannot generate its secrets: the other instances would not share them.
  if (given.storageUrl) requireSharedSecrets(given);
  const dataDir = resolve(env.CPNS_DATA_DIR || ".cpns-data");
  // Owner-only, created or tightened, umask 077 (issue #9 item 10).
  prepareDataFolder(dataDir);
  const masterKey = given.masterKey ?? fromBase64url(keptSecret(dataDir, "master.key", 32).value);
  if (masterKey.length !== 32) throw new Error("CPNS_MASTER_KEY must be 32 bytes, base64url");
  const transportKey =
    given.adminTransportKey ?? fromBase64url(keptSecret(dataDir, "admin-transport.key", 32).value);
  if (transportKey.length !== 32) {
    throw new Error("CPNS_ADMIN_TRANSPORT_KEY must be 32 bytes, base64url");
  }
  const admin = given.adminToken ? undefined : keptSecret(dataDir, "admin.token", 24);
  return {
    dataDir,
    realm: given.realm,
    masterKey,
    adminToken: given.adminToken ?? (admin?.value as string),
    adminTokenFile: admin?.file,
    digestSecret: given.digestSecret ?? keptSecret(dataDir, "digest.secret", 32).value,
    securityLogFile: join(dataDir, "security.log"),
    adminTransportKey: transportKey,
    adminKeyPinFile: join(dataDir, "admin-key.pin"),
    plainHttp: given.plainHttp,
    tlsCertFile: env.CPNS_TLS_CERT_FILE ? resolve(env.CPNS_TLS_CERT_FILE) : undefined,
    tlsKeyFile: env.CPNS_TLS_KEY_FILE ? resolve(env.CPNS_TLS_KEY_FILE) : undefined,
    algorithms: given.algorithms,
    nonceLifetimeSeconds: given.nonceLifetimeSeconds,
    otkMaxLifetimeSeconds: given.otkMaxLifetimeSeconds,
    channelLifetimeSeconds: given.channelLifetimeSeconds,
    storageUrl: given.storageUrl,
    sourceUrl: given.sourceUrl,
  };
}
