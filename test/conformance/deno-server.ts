/**
 * Starts the CPNS Server on Deno (src/runtime/deno.ts) as real processes on
 * loopback, for any suite that reaches a server by base URL only (issue #11's
 * whole-story conformance suite, the fleet scenarios). Several servers given
 * one `kvPath` share one Deno KV sqlite file, as a fleet on one store.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { bin, freePort, type RuntimeProcess, startRuntime } from "./spawn.ts";

export const DENO_KV_FLAGS = [
  "run",
  "--unstable-kv",
  "--allow-net=127.0.0.1",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--no-prompt",
];

/** The four shared secrets, fresh, in their environment form. */
export function sharedSecretsEnv(): Record<string, string> {
  return {
    CPNS_MASTER_KEY: randomBytes(32).toString("base64url"),
    CPNS_ADMIN_TOKEN: `deno-admin-${randomBytes(16).toString("hex")}`,
    CPNS_DIGEST_SECRET: randomBytes(32).toString("base64url"),
    CPNS_ADMIN_TRANSPORT_KEY: randomBytes(32).toString("base64url"),
  };
}

export interface DenoServer {
  baseUrl: string;
  adminToken: string;
  runtime: RuntimeProcess;
  close(): Promise<void>;
}

export interface DenoServerOptions {
  /** A KV file shared with other servers; default a fresh one, removed on close. */
  kvPath?: string;
  /**
   * Environment (the shared secrets of a fleet); default fresh secrets. Without
   * secrets the server keeps generated ones in the KV and writes admin.token
   * beside the KV file.
   */
  env?: Record<string, string>;
}

/** One `deno run --unstable-kv src/runtime/deno.ts` on a free port; resolves once /health answers. */
export async function startDenoServer(options: DenoServerOptions = {}): Promise<DenoServer> {
  const own = options.kvPath === undefined ? mkdtempSync(join(tmpdir(), "cpns-deno-")) : undefined;
  const kvPath = options.kvPath ?? join(own as string, "deno.kv");
  const env = options.env ?? sharedSecretsEnv();
  const port = await freePort();
  const runtime = await startRuntime({
    name: "deno-cpns",
    command: bin("deno"),
    args: [...DENO_KV_FLAGS, "src/runtime/deno.ts"],
    port,
    env: {
      CPNS_REALM: "cpns-deno",
      CPNS_PLAIN_HTTP: "1",
      ...env,
      CPNS_STORAGE_URL: `deno-kv:${kvPath}`,
      CPNS_DATA_DIR: dirname(kvPath),
      PORT: String(port),
      HOST: "127.0.0.1",
    },
    startupTimeoutMs: 90_000,
    cleanup: () => {
      if (own) rmSync(own, { recursive: true, force: true });
    },
  });
  return {
    baseUrl: runtime.baseUrl,
    adminToken: env.CPNS_ADMIN_TOKEN ?? "",
    runtime,
    close: () => runtime.stop(),
  };
}
