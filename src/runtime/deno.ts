/**
 * Deno entry point: serves the demo app with Deno.serve. Bare imports (hono,
 * @noble/hashes) resolve from ./node_modules because deno.json sets
 * nodeModulesDir to "manual", so no network is needed at run time.
 * Run: deno run --allow-net --allow-env --allow-read src/runtime/deno.ts
 * Configuration: PORT (default 8787), HOST (default 127.0.0.1), CPNS_*.
 */
import { createDemoApp, demoConfigFromEnv } from "../demo/app.ts";

/** The slice of the Deno namespace used here (Deno's types are not in our TS lib). */
declare const Deno: {
  env: { get(name: string): string | undefined; toObject(): Record<string, string> };
  serve(
    options: { port: number; hostname: string; onListen?: (addr: { port: number }) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): unknown;
};

const port = Number(Deno.env.get("PORT") ?? 8787);
const hostname = Deno.env.get("HOST") ?? "127.0.0.1";
const app = createDemoApp(demoConfigFromEnv(Deno.env.toObject()));

Deno.serve(
  {
    port,
    hostname,
    onListen: (addr) =>
      console.log(`cpns demo (deno) listening on http://${hostname}:${addr.port}`),
  },
  (request) => app.fetch(request),
);
