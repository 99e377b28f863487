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
 *
 * Implements: SERVER-ADMIN-API, STORE-PERSISTENCE, ADMIN-TRANSPORT-KEY
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fromBase64url, toBase64url } from "../crypto/bytes.ts";
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
  const dataDir = resolve(env.CPNS_DATA_DIR || ".cpns-data");
  // Owner-only, created or tightened, umask 077 (issue #9 item 10).
  prepareDataFolder(dataDir);
  const master = env.CPNS_MASTER_KEY || keptSecret(dataDir, "master.key", 32).value;
  const masterKey = fromBase64url(master);
  if (masterKey.length !== 32) throw new Error("CPNS_MASTER_KEY must be 32 bytes, base64url");
  const transportKey = fromBase64url(
    env.CPNS_ADMIN_TRANSPORT_KEY || keptSecret(dataDir, "admin-transport.key", 32).value,
  );
  if (transportKey.length !== 32) {
    throw new Error("CPNS_ADMIN_TRANSPORT_KEY must be 32 bytes, base64url");
  }
  const admin = env.CPNS_ADMIN_TOKEN ? undefined : keptSecret(dataDir, "admin.token", 24);
  return {
    dataDir,
    realm: env.CPNS_REALM || "cpns",
    masterKey,
    adminToken: env.CPNS_ADMIN_TOKEN || (admin?.value as string),
    adminTokenFile: admin?.file,
    digestSecret: env.CPNS_DIGEST_SECRET || keptSecret(dataDir, "digest.secret", 32).value,
    securityLogFile: join(dataDir, "security.log"),
    adminTransportKey: transportKey,
    adminKeyPinFile: join(dataDir, "admin-key.pin"),
    plainHttp: isPlainHttp(env),
    tlsCertFile: env.CPNS_TLS_CERT_FILE ? resolve(env.CPNS_TLS_CERT_FILE) : undefined,
    tlsKeyFile: env.CPNS_TLS_KEY_FILE ? resolve(env.CPNS_TLS_KEY_FILE) : undefined,
  };
}
