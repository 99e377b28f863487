/**
 * Where the CPNS Server on Deno keeps its data, and its four shared secrets
 * (issue #11, Deno target). Settings are read by src/server/settings.ts like
 * on every runtime; this file adds what only the Deno entry decides:
 *
 *   CPNS_STORAGE_URL  unset: a local sqlite KV file <CPNS_DATA_DIR>/deno.kv
 *                     (CPNS_DATA_DIR default ./.cpns-data), the embedded default;
 *                     deno-kv:<path>  that KV file;
 *                     deno-kv:        Deno.openKv() with no path (Deno Deploy's KV).
 *
 * Secrets: a value in the environment always wins. On a local KV file a
 * missing one is generated ONCE into the KV with a set-if-absent commit (a
 * check on a null versionstamp), so every process on that file (started
 * together or later) reads the same one; the admin token is also written to
 * <CPNS_DATA_DIR>/admin.token by the entry. On Deno Deploy's KV all four must
 * be given (requireSharedSecrets), as for every fleet.
 *
 * Implements: FLEET-DENO-SECRETS, FLEET-CONFIG
 */
import { toBase64url } from "../crypto/bytes.ts";
import { requireSharedSecrets, type ServerSettings, SettingsError } from "../server/settings.ts";
import type { DenoKv, KvKey } from "./deno-kv.ts";

export interface DenoStorage {
  /** The path given to Deno.openKv, or undefined for the platform's own KV. */
  kvPath: string | undefined;
  /** True when the KV is a local file this process may generate secrets into. */
  local: boolean;
}

/** Reads CPNS_STORAGE_URL for the Deno entry; anything but deno-kv: is refused by name. */
export function denoStorage(storageUrl: string | undefined, dataDir: string): DenoStorage {
  if (storageUrl === undefined) {
    return { kvPath: `${dataDir.replace(/\/+$/, "")}/deno.kv`, local: true };
  }
  if (!storageUrl.startsWith("deno-kv:")) {
    throw new SettingsError("CPNS_STORAGE_URL", "must be deno-kv:<path> or deno-kv: on Deno");
  }
  const path = storageUrl.slice("deno-kv:".length);
  return path ? { kvPath: path, local: true } : { kvPath: undefined, local: false };
}

export interface SharedSecrets {
  masterKey: Uint8Array;
  adminToken: string;
  digestSecret: string;
  adminTransportKey: Uint8Array;
  /** Which secrets were taken from (or generated into) the KV rather than the environment. */
  fromKv: string[];
}

const SECRET_ROOT = "cpns-secrets";

/** Reads `name` from the KV, creating it from `make()` if absent; concurrent creators agree. */
async function keptInKv<T>(kv: DenoKv, name: string, make: () => T): Promise<T> {
  const secretKey: KvKey = [SECRET_ROOT, name];
  for (let tries = 0; tries < 20; tries++) {
    const entry = await kv.get<T>(secretKey);
    if (entry.value !== null) return entry.value;
    await kv.atomic().check({ key: secretKey, versionstamp: null }).set(secretKey, make()).commit();
  }
  throw new SettingsError(name, "could not be kept in the KV");
}

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));

export async function denoSharedSecrets(
  kv: DenoKv,
  settings: ServerSettings,
  storage: DenoStorage,
): Promise<SharedSecrets> {
  if (!storage.local) return { ...requireSharedSecrets(settings), fromKv: [] };
  const fromKv: string[] = [];
  const kept = async <T>(given: T | undefined, name: string, make: () => T): Promise<T> => {
    if (given !== undefined) return given;
    fromKv.push(name);
    return keptInKv(kv, name, make);
  };
  return {
    masterKey: await kept(settings.masterKey, "CPNS_MASTER_KEY", () => random(32)),
    adminToken: await kept(settings.adminToken, "CPNS_ADMIN_TOKEN", () => toBase64url(random(32))),
    digestSecret: await kept(settings.digestSecret, "CPNS_DIGEST_SECRET", () =>
      toBase64url(random(32)),
    ),
    adminTransportKey: await kept(settings.adminTransportKey, "CPNS_ADMIN_TRANSPORT_KEY", () =>
      random(32),
    ),
    fromKv,
  };
}
