/**
 * Node entry point of the Digest demo (the conformance suite runs it): serves the demo app with @hono/node-server. Only this file
 * (and its Deno/workerd siblings) may touch runtime-specific APIs; the app
 * itself is web-standard, so the same code answers on every runtime.
 * It also installs Node's OpenSSL hashes as the Digest hash backend (same
 * results as the portable @noble/hashes one, faster), so the conformance suite
 * exercises that backend over HTTP too.
 * Configuration: PORT (default 8787), HOST (default 127.0.0.1), plus the
 * CPNS_* variables read by demoConfigFromEnv.
 *
 * Implements: DIGEST-RUNTIME-NODE
 */
import { randomBytes } from "node:crypto";
import { installAeadBackend } from "../crypto/aead.ts";
import { activeHashBackend, installHashBackend } from "../crypto/hash.ts";
import { createDemoApp, demoConfigFromEnv } from "../demo/app.ts";
import { nodeAead } from "./node-aead.ts";
import { nodeHashes } from "./node-hashes.ts";
import { serveNode } from "./node-server.ts";

installHashBackend(nodeHashes);
installAeadBackend(nodeAead);

const port = Number(process.env.PORT ?? 8787);
const hostname = process.env.HOST ?? "127.0.0.1";
// A fresh clone must start with no configuration: make up what is missing and
// say so. The nonce secret only has to outlive this process; the demo user is
// printed because it is a demo.
const env = { ...process.env };
if (!env.CPNS_DIGEST_SECRET) env.CPNS_DIGEST_SECRET = randomBytes(32).toString("base64url");
if (!env.CPNS_DEMO_USERS) {
  env.CPNS_DEMO_USERS = "alice:wonderland";
  console.log("demo user alice, password wonderland (set CPNS_DEMO_USERS to change)");
}
const app = createDemoApp(demoConfigFromEnv(env));

const server = serveNode({ fetch: app.fetch, port, hostname }, (info) => {
  console.log(
    `cpns demo (node) listening on http://${hostname}:${info.port} (hashes: ${activeHashBackend().name})`,
  );
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
