/**
 * `npm run bench:tls` (issue #10, tls-declare): requests/s of the authenticated
 * GET /cpns/v1/whoami (an entity's Digest, qop=auth-int, rspauth in the answer)
 * over HTTPS and over plain HTTP, in the same run, against the same server
 * process (bench/tls-server.ts), and their ratio. Not a test: figures only.
 *
 * The server is pinned to core 0 and wrk to core 1 (taskset), so the load
 * generator does not take the server's CPU. Rounds are interleaved (HTTPS,
 * HTTP, then HTTP, HTTPS, ...) so drift on this shared machine hits both alike;
 * the ratio uses the median of each side. wrk keeps its connections alive, so
 * this is the cost of TLS records (and of the few handshakes at start), not of
 * a handshake per request.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { hashHex, installHashBackend } from "../src/crypto/hash.ts";
import { ALGORITHMS, computeHa1, computeHa2, computeResponse } from "../src/digest/index.ts";
import { parseChallenges } from "../src/digest/params.ts";
import { nodeHashes } from "../src/runtime/node-hashes.ts";
import { runWrk, type WrkResult } from "./wrk.ts";

installHashBackend(nodeHashes);

const DURATION_S = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const HEADERS_PER_RUN = Number(process.env.BENCH_HEADERS ?? 100_000);
const SERVER_CORE = process.env.BENCH_SERVER_CORE ?? "0";
const LOAD_CORE = process.env.BENCH_LOAD_CORE ?? "1";

for (const tool of ["wrk", "taskset"]) {
  if (spawnSync(tool, ["--version"]).error) {
    console.error(`${tool} is not installed (apt-get install -y wrk util-linux)`);
    process.exit(2);
  }
}

const work = mkdtempSync(join(tmpdir(), "cpns-bench-tls-"));
const server = spawn(
  "taskset",
  ["-c", SERVER_CORE, process.execPath, "--import", "tsx", "bench/tls-server.ts"],
  { stdio: ["ignore", "pipe", "inherit"], detached: true },
);
const info = await new Promise<{
  plainUrl: string;
  tlsUrl: string;
  realm: string;
  entityId: string;
  secret: string;
}>((resolve) => {
  createInterface({ input: server.stdout }).once("line", (line) => resolve(JSON.parse(line)));
});

/** The 401 with a fresh challenge; retried once on a fresh socket (a keep-alive race after wrk). */
async function challengeResponse(): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(`${info.plainUrl}/cpns/v1/whoami`);
      await res.arrayBuffer();
      return res;
    } catch (err) {
      if (attempt >= 2) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** A fresh challenge from the server, and `count` valid auth-int answers to it (distinct nc). */
async function prepareHeaders(count: number): Promise<string> {
  const res = await challengeResponse();
  const challenge = parseChallenges(res.headers.get("www-authenticate") ?? "").find(
    (c) => c.params.get("algorithm")?.toUpperCase() === "SHA-256",
  );
  const nonce = challenge?.params.get("nonce");
  const opaque = challenge?.params.get("opaque");
  if (!nonce || !opaque) throw new Error("no SHA-256 challenge from the bench server");
  const algorithm = ALGORITHMS["SHA-256"];
  const ha1 = computeHa1(algorithm, info.entityId, info.realm, info.secret);
  const uri = "/cpns/v1/whoami";
  // qop=auth-int over an empty request body: HA2 = H(method:uri:H("")).
  const ha2 = computeHa2(algorithm, "GET", uri, hashHex(algorithm.hash, ""));
  const cnonce = "0a4f113b0a4f113b";
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) {
    const nc = i.toString(16).padStart(8, "0");
    const response = computeResponse(algorithm, {
      ha1,
      nonce,
      nc,
      cnonce,
      qop: "auth-int",
      ha2,
    });
    lines.push(
      `Digest username="${info.entityId}", realm="${info.realm}", uri="${uri}", algorithm=SHA-256, nonce="${nonce}", nc=${nc}, cnonce="${cnonce}", qop=auth-int, response="${response}", opaque="${opaque}"`,
    );
  }
  const file = join(work, `headers-${Date.now()}.txt`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

function wrk(url: string, seconds: number, file: string): WrkResult {
  const args = ["-c", LOAD_CORE, "wrk", "-t1", `-c${CONNECTIONS}`, `-d${seconds}s`];
  args.push("-s", "bench/auth.lua", `${url}/cpns/v1/whoami`, "--", file);
  return runWrk("taskset", args);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

let refused = 0;
async function run(url: string, seconds: number): Promise<number> {
  const result = wrk(url, seconds, await prepareHeaders(HEADERS_PER_RUN));
  // wrk re-sends the first request of a few connections at start-up; the ledger rightly
  // refuses those duplicates. More than a handful means the run went wrong.
  if (result.non2xx > Math.max(32, result.requests / 1000)) {
    throw new Error(`${result.non2xx} of ${result.requests} requests failed: raise BENCH_HEADERS`);
  }
  refused += result.non2xx;
  return result.requestsPerSecond;
}

try {
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; ` +
      `server on core ${SERVER_CORE}, wrk on core ${LOAD_CORE}; wrk -t1 -c${CONNECTIONS} -d${DURATION_S}s x ${ROUNDS} rounds`,
  );
  // Warm both listeners up so the JIT has settled before anything is counted.
  await run(info.tlsUrl, 3);
  await run(info.plainUrl, 3);
  const https: number[] = [];
  const http: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? (["tls", "plain"] as const) : (["plain", "tls"] as const);
    for (const side of order) {
      if (side === "tls") https.push(await run(info.tlsUrl, DURATION_S));
      else http.push(await run(info.plainUrl, DURATION_S));
    }
  }
  const show = (values: number[]) => values.map(Math.round).join("/");
  const ratio = median(https) / median(http);
  console.log(`GET /cpns/v1/whoami (entity Digest, qop=auth-int, rspauth):`);
  console.log(`  HTTPS ${show(https)} req/s (median ${Math.round(median(https))})`);
  console.log(`  HTTP  ${show(http)} req/s (median ${Math.round(median(http))})`);
  console.log(`  HTTPS / HTTP ratio of medians: ${ratio.toFixed(3)}`);
  console.log(`duplicate requests refused by the replay ledger: ${refused}`);
} finally {
  if (server.pid !== undefined) process.kill(-server.pid, "SIGTERM");
}
