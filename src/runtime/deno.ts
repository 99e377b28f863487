/**
 * The CPNS Server on Deno (issue #11, Deno target): src/server/app.ts served
 * by Deno.serve, settings read by src/server/settings.ts from
 * Deno.env.toObject() as on every runtime, records in Deno KV through
 * unstorage's deno-kv driver, and the coordination (replay ledger, failure
 * budgets, per-id locks) on the SAME KV handle (src/runtime/deno-kv.ts), so
 * any number of Deno processes on one KV behave as one server.
 *
 *   npm run start:deno   (or: deno task serve)
 *
 * deno.json's tasks run Deno as ./node_modules/.bin/deno: inside `deno task`
 * a bare `deno` resolves to node_modules/.bin/deno first, which deno task runs
 * as a JavaScript file, and the npm package installs the native binary there
 * ("Invalid or unexpected token", the ELF header).
 *   PORT (default 8787), HOST (default 127.0.0.1), CPNS_DATA_DIR, CPNS_STORAGE_URL
 *   and the CPNS_* settings of src/server/settings.ts; storage and secrets:
 *   src/runtime/deno-settings.ts.
 *
 * Deno KV needs --unstable-kv on Deno 2. Bare imports resolve from
 * ./node_modules (deno.json: nodeModulesDir "manual"), so no network is needed.
 * HTTPS: CPNS_TLS_CERT_FILE and CPNS_TLS_KEY_FILE (PEM); Deno's TLS (rustls)
 * speaks TLS 1.2 and 1.3 only, our minimum. Without them: plain HTTP, for a
 * TLS-terminating proxy or Deno Deploy (which terminates TLS itself).
 *
 * Implements: FLEET-DENO-SERVER, FLEET-DENO-KV, FLEET-DENO-TASK, FFS-TLS-VERSION
 */
import { createStorage } from "unstorage";
import denoKvDriver from "unstorage/drivers/deno-kv";
import { importAdminTransportKey } from "../protocol/admin-transport.ts";
import { createServerApp } from "../server/app.ts";
import { requireSharedSecrets, SettingsError, serverSettingsFromEnv } from "../server/settings.ts";
import { busyTolerantKv, type DenoKv, denoKvCoordination } from "./deno-kv.ts";
import { denoSharedSecrets, denoStorage } from "./deno-settings.ts";

/** The slice of the Deno namespace used here (Deno's types are not in our TS lib). */
declare const Deno: {
  env: { get(name: string): string | undefined; toObject(): Record<string, string> };
  readTextFileSync(path: string): string;
  writeTextFileSync(path: string, data: string, options?: { mode?: number }): void;
  mkdirSync(path: string, options?: { recursive?: boolean; mode?: number }): void;
  openKv?: (path?: string) => Promise<DenoKv>;
  exit(code: number): never;
  serve(
    options: {
      port: number;
      hostname: string;
      cert?: string;
      key?: string;
      onListen?: (addr: { port: number }) => void;
    },
    handler: (
      request: Request,
      info: { remoteAddr: { hostname?: string } },
    ) => Response | Promise<Response>,
  ): unknown;
};

function fail(message: string): never {
  console.error(`cpns server (deno): ${message}`);
  Deno.exit(1);
}

const env = Deno.env.toObject();
const port = Number(env.PORT ?? 8787);
const hostname = env.HOST ?? "127.0.0.1";
const dataDir = env.CPNS_DATA_DIR?.trim() || "./.cpns-data";
const certFile = env.CPNS_TLS_CERT_FILE;
const keyFile = env.CPNS_TLS_KEY_FILE;
if (Boolean(certFile) !== Boolean(keyFile)) {
  fail("set both CPNS_TLS_CERT_FILE and CPNS_TLS_KEY_FILE, or neither");
}
if (!Deno.openKv) fail("Deno KV is not available: run with --unstable-kv");

let settings: ReturnType<typeof serverSettingsFromEnv>;
let storageAt: ReturnType<typeof denoStorage>;
try {
  settings = serverSettingsFromEnv(env);
  storageAt = denoStorage(settings.storageUrl, dataDir);
  // The platform's KV is shared by every isolate: they cannot each generate secrets.
  if (!storageAt.local) requireSharedSecrets(settings);
} catch (err) {
  if (err instanceof SettingsError) fail(err.message);
  throw err;
}
if (storageAt.local && settings.storageUrl === undefined) {
  Deno.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
}
// One handle for records and coordination; busy-tolerant because other processes may share the file.
const kv = busyTolerantKv(await Deno.openKv(storageAt.kvPath));

let secrets: Awaited<ReturnType<typeof denoSharedSecrets>>;
try {
  secrets = await denoSharedSecrets(kv, settings, storageAt);
} catch (err) {
  if (err instanceof SettingsError) fail(err.message);
  throw err;
}
let adminTokenFile: string | undefined;
if (secrets.fromKv.includes("CPNS_ADMIN_TOKEN")) {
  // For a CLI or an operator on this machine; rewritten (same value) at every start.
  Deno.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  adminTokenFile = `${dataDir.replace(/\/+$/, "")}/admin.token`;
  Deno.writeTextFileSync(adminTokenFile, `${secrets.adminToken}\n`, { mode: 0o600 });
}

const coordination = await denoKvCoordination(kv);
const storage = createStorage({
  driver: denoKvDriver({ openKv: async () => kv as never, base: "cpns-records" }),
});

interface DenoServeEnv {
  remoteAddr?: string;
}

const app = createServerApp({
  realm: settings.realm,
  storage,
  masterKey: secrets.masterKey,
  adminToken: secrets.adminToken,
  digestSecret: secrets.digestSecret,
  adminTransportKey: secrets.adminTransportKey,
  algorithms: settings.algorithms,
  nonceLifetimeSeconds: settings.nonceLifetimeSeconds,
  otkMaxLifetimeSeconds: settings.otkMaxLifetimeSeconds,
  channelLifetimeSeconds: settings.channelLifetimeSeconds,
  ...(settings.sourceUrl ? { sourceUrl: settings.sourceUrl } : {}),
  allowPlainHttpForTlsEntities: settings.plainHttp,
  coordination,
  // One JSON line per security event on stdout, where Deno Deploy and service managers collect logs.
  securityLog: (line) => console.log(line),
  clientAddress: (_request, serveEnv) => (serveEnv as DenoServeEnv | undefined)?.remoteAddr,
});
const { pin } = await importAdminTransportKey(secrets.adminTransportKey);

const tls =
  certFile && keyFile
    ? { cert: Deno.readTextFileSync(certFile), key: Deno.readTextFileSync(keyFile) }
    : {};
const urlHost = hostname.includes(":") ? `[${hostname}]` : hostname;

Deno.serve(
  {
    port,
    hostname,
    ...tls,
    onListen: (addr) => {
      console.log(
        `CPNS Server (deno) listening on ${certFile ? "https" : "http"}://${urlHost}:${addr.port} (realm "${settings.realm}")`,
      );
      console.log(`storage: Deno KV ${storageAt.kvPath ?? "(the platform's default KV)"}`);
      if (secrets.fromKv.length > 0) console.log(`kept in the KV: ${secrets.fromKv.join(", ")}`);
      if (adminTokenFile) console.log(`admin token: ${adminTokenFile}`);
      console.log(`admin key pin: ${pin}`);
    },
  },
  (request, info) =>
    app.fetch(request, { remoteAddr: info.remoteAddr.hostname } satisfies DenoServeEnv),
);
