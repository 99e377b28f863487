/**
 * Benchmark server (issue: Digest engine performance). One Node process serves
 * the same tiny Hono app twice: on one port behind digestAuth() (SHA-256 only,
 * qop=auth, ledger and uri check on, as in production), on the other without
 * authentication, so both are measured under identical conditions; the same app behind
 * a no-op middleware and behind Hono's basicAuth() are the other columns. It prints
 * one JSON line with the ports, then serves until killed.
 *
 * GET /__stats on the open port runs a full GC (node --expose-gc) and reports
 * heap and ledger figures, so the driver can show that unanswered challenges
 * leave no trace in memory.
 *
 * Implements: DIGEST-PERF-RATIO, DIGEST-SPEED-TABLE
 */
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { basicAuth } from "hono/basic-auth";
import { installHashBackend } from "../src/crypto/hash.ts";
import { ALGORITHMS, computeHa1, digestAuth, MemoryReplayLedger } from "../src/digest/index.ts";
import { nodeHashes } from "../src/runtime/node-hashes.ts";

// As the Node runtime entry does: OpenSSL's hashes for the Digest hot path.
installHashBackend(nodeHashes);

const ledger = new MemoryReplayLedger();
const benchHa1 = computeHa1(ALGORITHMS["SHA-256"], "bench", "bench", "bench-password");

function helloApp(): Hono {
  const app = new Hono();
  app.get("/hello", (c) => c.text("hello\n"));
  return app;
}

const open = helloApp();
open.get("/__stats", (c) => {
  (globalThis as { gc?: () => void }).gc?.();
  const memory = process.memoryUsage();
  return c.json({ heapUsed: memory.heapUsed, rss: memory.rss, ledgerEntries: ledger.size });
});

const authed = new Hono();
authed.use(
  "/hello",
  digestAuth({
    realm: "bench",
    secret: "bench-secret-0123456789abcdef",
    // A server stores HA1, never the password (RFC 7616 §3.4.2), so the lookup returns it.
    lookup: ({ username }) => (username === "bench" ? { ha1: benchHa1 } : undefined),
    algorithms: ["SHA-256"],
    qop: ["auth"],
    ledger,
  }),
);
authed.route("/", helloApp());

// The structural ceiling: a middleware that does only what any Digest middleware
// must do around the handler (await, read Authorization, add a response
// header), with no verification. Measured in the same run so the report can say
// how much of the gap is Hono/@hono/node-server and how much is Digest.
const ceiling = new Hono();
ceiling.use("/hello", async (c, next) => {
  const header = c.req.header("authorization");
  await next();
  c.res.headers.set("Authentication-Info", `rspauth="${header?.length ?? 0}"`);
});
ceiling.route("/", helloApp());

// Hono's own basicAuth(), the column the issue compares against: it hashes the
// presented and the expected credentials with async WebCrypto on each request.
const basic = new Hono();
basic.use("/hello", basicAuth({ username: "bench", password: "bench-password" }));
basic.route("/", helloApp());

const apps = { open, authed, ceiling, basic };
const ports: Record<string, number> = {};
for (const [name, app] of Object.entries(apps)) {
  serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
    ports[name] = info.port;
    if (Object.keys(ports).length === Object.keys(apps).length) console.log(JSON.stringify(ports));
  });
}
