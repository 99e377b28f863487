/**
 * Node entry point: serves the demo app with @hono/node-server. Only this file
 * (and its Deno/workerd siblings) may touch runtime-specific APIs; the app
 * itself is web-standard, so the same code answers on every runtime.
 * Configuration: PORT (default 8787), HOST (default 127.0.0.1), plus the
 * CPNS_* variables read by demoConfigFromEnv.
 */
import { serve } from "@hono/node-server";
import { createDemoApp, demoConfigFromEnv } from "../demo/app.ts";

const port = Number(process.env.PORT ?? 8787);
const hostname = process.env.HOST ?? "127.0.0.1";
const app = createDemoApp(demoConfigFromEnv(process.env));

const server = serve({ fetch: app.fetch, port, hostname }, (info) => {
  console.log(`cpns demo (node) listening on http://${hostname}:${info.port}`);
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
