/**
 * Benchmark server (issue: Digest engine performance). One Node process serves
 * the same tiny Hono app twice: on one port behind digestAuth() (SHA-256 only,
 * qop=auth, ledger and uri check on, as in production), on the other without
 * authentication, so both are measured under identical conditions; the same app behind
 * a no-op middleware and behind Hono's basicAuth() are the other columns, and
 * the floor (below). It prints one JSON line with the ports, then serves until killed.
 *
 * GET /__stats on the open port runs a full GC (node --expose-gc) and reports
 * heap and ledger figures, so the driver can show that unanswered challenges
 * leave no trace in memory, and the process's CPU time, so the driver can
 * report the server's CPU per request for each column.
 *
 * Implements: DIGEST-PERF-RATIO, DIGEST-SPEED-TABLE
 */
import { hash } from "node:crypto";
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
// The process's CPU time (user + system, every thread), no GC: read before and after each wrk run.
open.get("/__cpu", (c) => {
  const cpu = process.cpuUsage();
  return c.json({ cpuMicros: cpu.user + cpu.system });
});
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

// The floor: NOT an authentication, a measurement. Only the work no Digest verification of
// this request can skip, done as cheaply as Node allows: the response hash and the rspauth
// hash (one-shot crypto.hash, HA1 and both HA2 fixed), one replay-ledger update, the four
// fields it needs found with indexOf. No parsing, no realm, uri, nonce MAC, qop, algorithm
// or window check. Its ratios are the most a Digest middleware could reach in this
// framework here: what digestAuth() adds beyond it is the checks and the parsing.
const floorHa2 = hash("sha256", "GET:/hello", "hex");
const floorRspHa2 = hash("sha256", ":/hello", "hex");
const floorLedger = new Map<string, number>();
function field(header: string, name: string): string {
  // With the space before it, "nonce=" is not found inside "cnonce=".
  const at = header.indexOf(` ${name}=`);
  if (at < 0) return "";
  let start = at + name.length + 2;
  const quoted = header.charCodeAt(start) === 0x22;
  if (quoted) start++;
  const end = header.indexOf(quoted ? '"' : ",", start);
  return header.slice(start, end < 0 ? header.length : end);
}
const floor = new Hono();
floor.use("/hello", async (c, next) => {
  const header = c.req.header("authorization") ?? "";
  const nonce = field(header, "nonce");
  const nc = field(header, "nc");
  const cnonce = field(header, "cnonce");
  const answer = `${benchHa1}:${nonce}:${nc}:${cnonce}:auth:`;
  if (hash("sha256", answer + floorHa2, "hex") !== field(header, "response")) {
    return c.text("unauthorized\n", 401);
  }
  floorLedger.set(nonce, Math.max(floorLedger.get(nonce) ?? 0, Number.parseInt(nc, 16)));
  await next();
  const rspauth = hash("sha256", answer + floorRspHa2, "hex");
  c.res.headers.set(
    "Authentication-Info",
    `qop=auth, rspauth="${rspauth}", cnonce="${cnonce}", nc=${nc}`,
  );
});
floor.route("/", helloApp());

const apps = { open, authed, ceiling, basic, floor };
const ports: Record<string, number> = {};
for (const [name, app] of Object.entries(apps)) {
  serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
    ports[name] = info.port;
    if (Object.keys(ports).length === Object.keys(apps).length) console.log(JSON.stringify(ports));
  });
}
