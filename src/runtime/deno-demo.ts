/**
 * Deno entry point of the Digest demo (the cross-runtime Digest suite,
 * test/conformance/deno.test.ts): serves the demo app with Deno.serve. The
 * CPNS Server itself is src/runtime/deno.ts. Bare imports (hono,
 * @noble/hashes) resolve from ./node_modules because deno.json sets
 * nodeModulesDir to "manual", so no network is needed at run time.
 * Run: deno task serve:demo
 * Configuration: PORT (default 8787), HOST (default 127.0.0.1), CPNS_*.
 * HTTPS: CPNS_TLS_CERT_FILE and CPNS_TLS_KEY_FILE (PEM); Deno's TLS (rustls)
 * speaks TLS 1.2 and 1.3 only, which is our minimum (seed 5.x.4 FFS resolution).
 *
 * Implements: DIGEST-RUNTIME-DENO, FFS-TLS-VERSION
 */
import { createDemoApp, demoConfigFromEnv } from "../demo/app.ts";

/** The slice of the Deno namespace used here (Deno's types are not in our TS lib). */
declare const Deno: {
  env: { get(name: string): string | undefined; toObject(): Record<string, string> };
  readTextFileSync(path: string): string;
  serve(
    options: {
      port: number;
      hostname: string;
      cert?: string;
      key?: string;
      onListen?: (addr: { port: number }) => void;
    },
    handler: (request: Request) => Response | Promise<Response>,
  ): unknown;
};

const port = Number(Deno.env.get("PORT") ?? 8787);
const hostname = Deno.env.get("HOST") ?? "127.0.0.1";
const app = createDemoApp(demoConfigFromEnv(Deno.env.toObject()));
const certFile = Deno.env.get("CPNS_TLS_CERT_FILE");
const keyFile = Deno.env.get("CPNS_TLS_KEY_FILE");
if (Boolean(certFile) !== Boolean(keyFile)) {
  throw new Error("set both CPNS_TLS_CERT_FILE and CPNS_TLS_KEY_FILE, or neither");
}
const tls =
  certFile && keyFile
    ? { cert: Deno.readTextFileSync(certFile), key: Deno.readTextFileSync(keyFile) }
    : {};

Deno.serve(
  {
    port,
    hostname,
    ...tls,
    onListen: (addr) =>
      console.log(
        `cpns demo (deno) listening on ${certFile ? "https" : "http"}://${hostname}:${addr.port}`,
      ),
  },
  (request) => app.fetch(request),
);
