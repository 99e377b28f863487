/**
 * Cloudflare Workers (workerd) entry point of the Digest demo app
 * (src/demo/app.ts), which the cross-runtime Digest suite
 * (test/conformance/workerd.test.ts) runs on workerd; deployed with its own
 * config, wrangler.demo.toml, so the CPNS Server's Worker (worker.ts) never
 * carries demo accounts. The app is built once per isolate, from the first
 * request's env (env is fixed for the isolate's lifetime). Requests that
 * reached the edge over TLS 1.0/1.1 are refused (seed 5.x.4 FFS resolution:
 * TLS 1.2 minimum; src/channel/tls-policy.ts).
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
