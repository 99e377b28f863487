/**
 * `npm run bench`: requests/s of a Digest-protected GET /hello against the same
 * Hono app without authentication, in one run on one machine, and their ratio
 * (target >= 0.85). Then 1,000,000 challenges are issued and never answered,
 * and the ratio and the server's heap are measured again (target: ratio within
 * 5 %, heap not growing with the challenges).
 *
 * Load comes from wrk (Debian package `wrk`) in a second process over loopback
 * keep-alive connections. Each authenticated request carries a precomputed,
 * distinct nonce-count, so the replay ledger is exercised for real. Phases are
 * interleaved (open, auth, open, auth, ...) so drift on this shared machine hits
 * both sides alike; the ratio uses the median of each side.
 *
 * Implements: DIGEST-PERF-RATIO
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ALGORITHMS, computeHa1, computeHa2, computeResponse } from "../src/digest/index.ts";
import { parseChallenges } from "../src/digest/params.ts";
import { runWrk, type WrkResult } from "./wrk.ts";

const DURATION_S = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CHALLENGES = Number(process.env.BENCH_CHALLENGES ?? 1_000_000);
const HEADERS_PER_RUN = Number(process.env.BENCH_HEADERS ?? 400_000);

if (spawnSync("wrk", ["--version"]).error) {
  console.error("wrk is not installed: apt-get install -y wrk");
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), "cpns-bench-"));
const server = spawn(process.execPath, ["--expose-gc", "--import", "tsx", "bench/server.ts"], {
  stdio: ["ignore", "pipe", "inherit"],
});
const ports = await new Promise<{ open: number; authed: number; ceiling: number }>((resolve) => {
  createInterface({ input: server.stdout }).once("line", (line) => resolve(JSON.parse(line)));
});
const openUrl = `http://127.0.0.1:${ports.open}`;
const authedUrl = `http://127.0.0.1:${ports.authed}`;
const ceilingUrl = `http://127.0.0.1:${ports.ceiling}`;

function wrk(url: string, seconds: number, script?: string, scriptArg?: string): WrkResult {
  const args = ["-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, "--latency"];
  if (script) args.push("-s", script);
  args.push(url);
  if (scriptArg) args.push("--", scriptArg);
  return runWrk("wrk", args);
}

/** Asks for a fresh challenge and writes `count` valid Authorization headers for it. */
async function prepareHeaders(count: number): Promise<string> {
  const res = await fetch(`${authedUrl}/hello`);
  await res.arrayBuffer();
  const challenge = parseChallenges(res.headers.get("www-authenticate") ?? "")[0];
  const nonce = challenge?.params.get("nonce");
  const opaque = challenge?.params.get("opaque");
  if (!nonce || !opaque) throw new Error("no challenge from the bench server");
  const algorithm = ALGORITHMS["SHA-256"];
  const ha1 = computeHa1(algorithm, "bench", "bench", "bench-password");
  const ha2 = computeHa2(algorithm, "GET", "/hello");
  const cnonce = "0a4f113b0a4f113b";
  const lines: string[] = [];
  for (let i = 1; i <= count; i++) {
    const nc = i.toString(16).padStart(8, "0");
    const response = computeResponse(algorithm, { ha1, nonce, nc, cnonce, qop: "auth", ha2 });
    lines.push(
      `Digest username="bench", realm="bench", uri="/hello", algorithm=SHA-256, nonce="${nonce}", nc=${nc}, cnonce="${cnonce}", qop=auth, response="${response}", opaque="${opaque}"`,
    );
  }
  const file = join(work, `headers-${Date.now()}.txt`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

async function stats(): Promise<{ heapUsed: number; rss: number; ledgerEntries: number }> {
  const res = await fetch(`${openUrl}/__stats`);
  return (await res.json()) as { heapUsed: number; rss: number; ledgerEntries: number };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

let refused = 0;

async function measure(
  label: string,
): Promise<{ open: number; auth: number; ceiling: number; ratio: number }> {
  const open: number[] = [];
  const auth: number[] = [];
  const ceiling: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    open.push(wrk(`${openUrl}/hello`, DURATION_S).requestsPerSecond);
    const file = await prepareHeaders(HEADERS_PER_RUN);
    const result = wrk(`${authedUrl}/hello`, DURATION_S, "bench/auth.lua", file);
    // wrk re-sends the first request of a few connections at start-up; the
    // ledger rightly refuses those duplicates. Anything beyond a handful means
    // the run went wrong (out of headers, or a real failure).
    if (result.non2xx > Math.max(32, result.requests / 1000)) {
      throw new Error(`${result.non2xx} authenticated requests failed: raise BENCH_HEADERS`);
    }
    refused += result.non2xx;
    auth.push(result.requestsPerSecond);
    ceiling.push(wrk(`${ceilingUrl}/hello`, DURATION_S, "bench/auth.lua", file).requestsPerSecond);
  }
  const ratio = median(auth) / median(open);
  const show = (values: number[]) => values.map(Math.round).join("/");
  console.log(
    `${label}: open ${show(open)} req/s, digest ${show(auth)} req/s, ratio of medians ${ratio.toFixed(3)}; ` +
      `no-op middleware (ceiling) ${show(ceiling)} req/s, ratio ${(median(ceiling) / median(open)).toFixed(3)}`,
  );
  return { open: median(open), auth: median(auth), ceiling: median(ceiling), ratio };
}

try {
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; wrk -t1 -c${CONNECTIONS} -d${DURATION_S}s x ${ROUNDS} rounds`,
  );
  // Warm both paths up so the JIT has settled before anything is counted.
  wrk(`${openUrl}/hello`, 3);
  wrk(`${authedUrl}/hello`, 3, "bench/auth.lua", await prepareHeaders(100_000));

  const before = await measure("fresh server");
  const heapBefore = await stats();

  let issued = 0;
  const started = Date.now();
  while (issued < CHALLENGES) {
    const result = wrk(`${authedUrl}/hello`, 15);
    issued += result.requests;
  }
  const seconds = (Date.now() - started) / 1000;
  const heapAfter = await stats();
  console.log(
    `issued ${issued} unanswered challenges in ${seconds.toFixed(0)} s; heap ${(heapBefore.heapUsed / 2 ** 20).toFixed(1)} -> ${(heapAfter.heapUsed / 2 ** 20).toFixed(1)} MiB, rss ${(heapBefore.rss / 2 ** 20).toFixed(0)} -> ${(heapAfter.rss / 2 ** 20).toFixed(0)} MiB, ledger entries ${heapBefore.ledgerEntries} -> ${heapAfter.ledgerEntries}`,
  );

  const after = await measure(`after ${issued} challenges`);
  const drift = after.ratio / before.ratio - 1;
  console.log(
    `\nratio ${before.ratio.toFixed(3)} (target >= 0.85) -> ${after.ratio.toFixed(3)} after the challenges (${(drift * 100).toFixed(1)} %, target within 5 %)`,
  );
  console.log(`duplicate requests refused by the replay ledger during the runs: ${refused}`);
  console.log(
    `heap growth over ${issued} challenges: ${((heapAfter.heapUsed - heapBefore.heapUsed) / 2 ** 20).toFixed(2)} MiB`,
  );
} finally {
  server.kill();
}
