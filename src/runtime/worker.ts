/**
 * Cloudflare Workers (workerd) entry point. The app is built once per isolate,
 * from the first request's env (wrangler.toml [vars], or --env-file/.dev.vars in
 * `wrangler dev`); env is fixed for the isolate's lifetime, so caching is safe.
 * Requests that reached the edge over TLS 1.0/1.1 are refused (seed 5.x.4 FFS
 * resolution: TLS 1.2 minimum; src/channel/tls-policy.ts).
 *
 * Implements: DIGEST-RUNTIME-WORKERD, FFS-TLS-VERSION
 */
import type { ExecutionContext } from "hono";
import { isRefusedTlsVersion } from "../channel/tls-policy.ts";
import { createDemoApp, demoConfigFromEnv } from "../demo/app.ts";
import { problemResponse } from "../errors.ts";

type WorkerEnv = Record<string, unknown>;

let app: ReturnType<typeof createDemoApp> | undefined;

function stringVars(env: WorkerEnv): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(env)) {
    if (typeof value === "string") out[key] = value;
  }
  return out;
}

export default {
  fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Response | Promise<Response> {
    // TLS ends at Cloudflare's edge: the version it negotiated is only visible here.
    const { cf } = request as Request & { cf?: { tlsVersion?: string } };
    if (isRefusedTlsVersion(cf?.tlsVersion)) return problemResponse("ERR_TLS_VERSION");
    app ??= createDemoApp(demoConfigFromEnv(stringVars(env)));
    return app.fetch(request, env, ctx);
  },
};
