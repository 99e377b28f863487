/**
 * Cloudflare Workers (workerd) entry point. The app is built once per isolate,
 * from the first request's env (wrangler.toml [vars], or --env-file/.dev.vars in
 * `wrangler dev`); env is fixed for the isolate's lifetime, so caching is safe.
 */
import type { ExecutionContext } from "hono";
import { createDemoApp, demoConfigFromEnv } from "../demo/app.ts";

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
    app ??= createDemoApp(demoConfigFromEnv(stringVars(env)));
    return app.fetch(request, env, ctx);
  },
};
