/**
 * The CPNS Server's Worker handler (issue #11; the entry is worker.ts, which
 * adds the Durable Object class): the app of
 * src/server/app.ts, built once per isolate from the env's string bindings
 * through the one settings module (src/server/settings.ts). A Worker cannot
 * generate secrets, so the four shared ones must be given (`wrangler secret
 * put CPNS_MASTER_KEY` etc.; .dev.vars or --env-file under `wrangler dev`);
 * without them every request answers 503 and the log names what is missing.
 *
 * Records and coordination live in SQLite-backed Durable Objects, sharded
 * (src/runtime/worker-coordination.ts, worker-store.ts); Workers KV is not
 * used: none of these records may be read stale (a revocation, a spent OTK, a
 * replayed nonce). The password estimator is the light one
 * (worker-password.ts), so zxcvbn's dictionaries stay out of the bundle.
 * Requests that reached the edge over TLS 1.0/1.1 are refused (seed 5.x.4 FFS
 * resolution: TLS 1.2 minimum). The Digest demo has its own entry
 * (worker-demo.ts, wrangler.demo.toml).
 *
 * Implements: FLEET-WORKERS-ENTRY, FLEET-CONFIG, FFS-TLS-VERSION, TLSDECL-RUNTIME
 */
import type { ExecutionContext, Hono } from "hono";
import { createStorage } from "unstorage";
import { isRefusedTlsVersion } from "../channel/tls-policy.ts";
import { problemResponse } from "../errors.ts";
import { createServerApp } from "../server/app.ts";
import type { ServerEnv } from "../server/context.ts";
import { requireSharedSecrets, SettingsError, serverSettingsFromEnv } from "../server/settings.ts";
import { workerRequestIsTls } from "./request-tls.ts";
import {
  durableCoordination,
  durableEpoch,
  durableObjectDriver,
  type StoreNamespace,
} from "./worker-coordination.ts";
import { lightEstimator } from "./worker-password.ts";

export interface WorkerEnv {
  /** The Durable Object namespace of CpnsStore (wrangler.toml [[durable_objects.bindings]]). */
  CPNS_STORE: StoreNamespace;
  [binding: string]: unknown;
}

export function stringVars(env: Record<string, unknown>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(env)) {
    if (typeof value === "string") out[key] = value;
  }
  return out;
}

/** The server app of this isolate's env (the ledger epoch is read once from the "meta" object). */
export async function buildWorkerApp(env: WorkerEnv): Promise<Hono<ServerEnv>> {
  const settings = serverSettingsFromEnv(stringVars(env));
  const secrets = requireSharedSecrets(settings);
  const namespace = env.CPNS_STORE;
  const coordination = durableCoordination(namespace, await durableEpoch(namespace));
  return createServerApp({
    realm: settings.realm,
    ...secrets,
    storage: createStorage({ driver: durableObjectDriver({ namespace }) }),
    coordination,
    ...(settings.algorithms ? { algorithms: settings.algorithms } : {}),
    ...(settings.nonceLifetimeSeconds
      ? { nonceLifetimeSeconds: settings.nonceLifetimeSeconds }
      : {}),
    ...(settings.otkMaxLifetimeSeconds
      ? { otkMaxLifetimeSeconds: settings.otkMaxLifetimeSeconds }
      : {}),
    ...(settings.channelLifetimeSeconds
      ? { channelLifetimeSeconds: settings.channelLifetimeSeconds }
      : {}),
    ...(settings.sourceUrl ? { sourceUrl: settings.sourceUrl } : {}),
    allowPlainHttpForTlsEntities: settings.plainHttp,
    // Set by Cloudflare's edge (a client's own header of that name is replaced there).
    clientAddress: (request) => request.headers.get("cf-connecting-ip") ?? undefined,
    requestIsTls: (request) => workerRequestIsTls(request),
    passwordStrength: lightEstimator,
    securityLog: (line) => console.log(line),
  });
}

let app: Promise<Hono<ServerEnv>> | undefined;

/** The production handler; test workers (test/workers/) wrap it. */
export async function handleRequest(
  request: Request,
  env: WorkerEnv,
  ctx: ExecutionContext,
): Promise<Response> {
  // TLS ends at Cloudflare's edge: the version it negotiated is only visible here.
  const { cf } = request as Request & { cf?: { tlsVersion?: string } };
  if (isRefusedTlsVersion(cf?.tlsVersion)) return problemResponse("ERR_TLS_VERSION");
  app ??= buildWorkerApp(env);
  const building = app;
  let server: Hono<ServerEnv>;
  try {
    server = await building;
  } catch (error) {
    if (app === building) app = undefined; // try again on the next request
    const reason = error instanceof SettingsError ? error.message : "storage did not answer";
    console.error(`cpns worker: not serving: ${reason}`);
    return problemResponse("ERR_WORKER_NOT_CONFIGURED");
  }
  return server.fetch(request, env, ctx);
}
