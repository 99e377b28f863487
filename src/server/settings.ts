/**
 * One reading of the CPNS Server's settings for every runtime (issue #11):
 * each runtime entry (src/runtime/) hands its environment or bindings here as
 * a plain string map, so the same variable means the same
 * thing everywhere. Secrets are returned as given or left undefined: the Node
 * entry generates missing ones into its data folder
 * (src/runtime/node-config.ts); a fleet, Deno Deploy or a Worker must be given
 * them (`wrangler secret put`, the platform's secret store), because instances
 * that generate their own would not understand each other.
 *
 *   CPNS_REALM                 Digest realm (default "cpns"; HA1s are bound to it)
 *   CPNS_MASTER_KEY            base64url, 32 bytes: seals EUKeys and HA1s at rest
 *   CPNS_ADMIN_TOKEN           Bearer token of the admin API (>= 16 characters)
 *   CPNS_DIGEST_SECRET         nonce MAC key (>= 16 characters), shared by all instances
 *   CPNS_ADMIN_TRANSPORT_KEY   base64url, 32 bytes: X25519 key admin secrets are sealed to
 *   CPNS_DIGEST_ALGORITHMS     a profile (strong, legacy-first, md5-only: src/digest/profiles.ts) or a
 *                              comma list, in challenge order (default SHA-256,SHA-512-256,MD5)
 *   CPNS_NONCE_LIFETIME_S      Digest nonce lifetime in seconds (default 300)
 *   CPNS_OTK_MAX_LIFETIME_S    longest OTK lifetime a PN GW may ask for (default 300)
 *   CPNS_CHANNEL_LIFETIME_S    secure channel lifetime (default 600)
 *   CPNS_STORAGE_URL           where records live: unset = the runtime's embedded
 *                              default; redis://… (Node fleet); deno-kv:[path] (Deno)
 *   CPNS_PLAIN_HTTP=1          development mode: entities that declared TLS may use HTTP
 *   CPNS_SOURCE_URL            http(s) base the reviewer page links repository paths under
 *                              (issue #13), e.g. https://example.org/cpns/blob/main; unset: paths only
 *
 * A bad value is refused with the variable's name, never its value.
 *
 * Implements: FLEET-CONFIG, DIGEST-CLIENTS-PROFILES
 */
import { fromBase64url } from "../crypto/bytes.ts";
import { type DigestAlgorithm, parseDigestAlgorithmSetting } from "../digest/index.ts";

export type SettingsEnv = Readonly<Record<string, string | undefined>>;

export class SettingsError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable} ${reason}`);
    this.name = "SettingsError";
  }
}

export interface ServerSettings {
  realm: string;
  masterKey: Uint8Array | undefined;
  adminToken: string | undefined;
  digestSecret: string | undefined;
  adminTransportKey: Uint8Array | undefined;
  algorithms: DigestAlgorithm[] | undefined;
  nonceLifetimeSeconds: number | undefined;
  otkMaxLifetimeSeconds: number | undefined;
  channelLifetimeSeconds: number | undefined;
  storageUrl: string | undefined;
  plainHttp: boolean;
  sourceUrl?: string | undefined;
}

/** The settings every instance of a fleet must share; a runtime that cannot generate them requires them. */
export const SHARED_SECRETS = [
  "CPNS_MASTER_KEY",
  "CPNS_ADMIN_TOKEN",
  "CPNS_DIGEST_SECRET",
  "CPNS_ADMIN_TRANSPORT_KEY",
] as const;

const present = (env: SettingsEnv, name: string): string | undefined => {
  const value = env[name]?.trim();
  return value ? value : undefined;
};

function key32(env: SettingsEnv, name: string): Uint8Array | undefined {
  const value = present(env, name);
  if (value === undefined) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = fromBase64url(value);
  } catch {
    throw new SettingsError(name, "must be 32 bytes, base64url");
  }
  if (bytes.length !== 32) throw new SettingsError(name, "must be 32 bytes, base64url");
  return bytes;
}

function longSecret(env: SettingsEnv, name: string): string | undefined {
  const value = present(env, name);
  if (value !== undefined && value.length < 16) {
    throw new SettingsError(name, "must be at least 16 characters");
  }
  return value;
}

function seconds(env: SettingsEnv, name: string, max: number): number | undefined {
  const value = present(env, name);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > max) {
    throw new SettingsError(name, `must be a whole number of seconds from 1 to ${max}`);
  }
  return n;
}

function algorithms(env: SettingsEnv): DigestAlgorithm[] | undefined {
  const value = present(env, "CPNS_DIGEST_ALGORITHMS");
  if (value === undefined) return undefined;
  try {
    // A profile name (strong, legacy-first, md5-only) or a comma list; the CPNS routes keep their own qops.
    return [...parseDigestAlgorithmSetting(value).algorithms];
  } catch (error) {
    throw new SettingsError("CPNS_DIGEST_ALGORITHMS", (error as Error).message);
  }
}

/** Issue #13: only an http(s) URL, so the page never links a `javascript:` or other scheme. */
function sourceUrl(env: SettingsEnv): { sourceUrl?: string } {
  const value = present(env, "CPNS_SOURCE_URL");
  if (value === undefined) return {};
  if (!/^https?:\/\/[^\s"<>]+$/.test(value)) {
    throw new SettingsError("CPNS_SOURCE_URL", "must be an http(s) URL");
  }
  return { sourceUrl: value };
}

export function serverSettingsFromEnv(env: SettingsEnv): ServerSettings {
  return {
    realm: present(env, "CPNS_REALM") ?? "cpns",
    masterKey: key32(env, "CPNS_MASTER_KEY"),
    adminToken: longSecret(env, "CPNS_ADMIN_TOKEN"),
    digestSecret: longSecret(env, "CPNS_DIGEST_SECRET"),
    adminTransportKey: key32(env, "CPNS_ADMIN_TRANSPORT_KEY"),
    algorithms: algorithms(env),
    nonceLifetimeSeconds: seconds(env, "CPNS_NONCE_LIFETIME_S", 86_400),
    otkMaxLifetimeSeconds: seconds(env, "CPNS_OTK_MAX_LIFETIME_S", 86_400),
    channelLifetimeSeconds: seconds(env, "CPNS_CHANNEL_LIFETIME_S", 86_400),
    storageUrl: present(env, "CPNS_STORAGE_URL"),
    plainHttp: /^(1|true|yes)$/i.test(present(env, "CPNS_PLAIN_HTTP") ?? ""),
    ...sourceUrl(env),
  };
}

/** For runtimes that cannot generate secrets (a fleet, Deno Deploy, Workers): all four, or a clear refusal. */
export function requireSharedSecrets(settings: ServerSettings): {
  masterKey: Uint8Array;
  adminToken: string;
  digestSecret: string;
  adminTransportKey: Uint8Array;
} {
  const missing = [
    settings.masterKey ? undefined : "CPNS_MASTER_KEY",
    settings.adminToken ? undefined : "CPNS_ADMIN_TOKEN",
    settings.digestSecret ? undefined : "CPNS_DIGEST_SECRET",
    settings.adminTransportKey ? undefined : "CPNS_ADMIN_TRANSPORT_KEY",
  ].filter((name): name is string => name !== undefined);
  if (missing.length > 0) {
    throw new SettingsError(missing.join(", "), "must be set (shared by every instance)");
  }
  return {
    masterKey: settings.masterKey as Uint8Array,
    adminToken: settings.adminToken as string,
    digestSecret: settings.digestSecret as string,
    adminTransportKey: settings.adminTransportKey as Uint8Array,
  };
}
