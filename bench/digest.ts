/**
 * `npm run bench` (issue #12, Speed): requests/s of the same tiny Hono app
 * open, behind a no-op middleware (the structural ceiling), behind
 * digestAuth(), behind Hono's basicAuth() and behind the floor (the work no
 * Digest verification can skip, nothing checked: bench/server.ts), in one run
 * on one machine, with the three target ratios and PASS/MISS beside each, and
 * the server's CPU time per request for each column (bench/table.ts). Then
 * `--challenges N` (default 1,000,000) challenges are issued and never
 * answered, and the table is measured again with the server's heap after a
 * full GC (target: digest/open ratio within 5 %, heap not growing).
 *
 * Where the machine has two cores or more and `taskset` exists, the server is
 * pinned to core 0 and wrk (Debian package `wrk`) to core 1. 64 keep-alive
 * connections over loopback (`--connections`). Each authenticated request
 * carries a precomputed, distinct nonce-count, so the replay ledger is
 * exercised for real. Columns are interleaved round by round so drift on a
 * shared machine hits every side alike; the table uses the medians.
 *
 * Flags: --challenges N, --seconds S (per column per round, default 3),
 * --rounds R (default 3), --connections C (default 64).
 *
 * Implements: DIGEST-PERF-RATIO, DIGEST-SPEED-TABLE
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { ALGORITHMS, computeHa1, computeHa2, computeResponse } from "../src/digest/index.ts";
import { parseChallenges } from "../src/digest/params.ts";
import { type Columns, flatness, formatTable } from "./table.ts";
import { runWrk, type WrkResult } from "./wrk.ts";

const { values: flags } = parseArgs({
  options: {
    challenges: { type: "string", default: "1000000" },
    seconds: { type: "string", default: "3" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "64" },
  },
});
const DURATION_S = Number(flags.seconds);
const CONNECTIONS = Number(flags.connections);
const ROUNDS = Number(flags.rounds);
const CHALLENGES = Number(flags.challenges);

if (spawnSync("wrk", ["--version"]).error) {
  console.error("wrk is not installed: apt-get install -y wrk");
  process.exit(2);
}
const pin = cpus().length >= 2 && !spawnSync("taskset", ["-c", "0", "true"]).error;
const pinned = (core: number, command: string, args: string[]): [string, string[]] =>
  pin ? ["taskset", ["-c", String(core), command, ...args]] : [command, args];

const work = mkdtempSync(join(tmpdir(), "cpns-bench-"));
const [serverCommand, serverArgs] = pinned(0, process.execPath, [
  "--expose-gc",
  "--import",
  "tsx",
  "bench/server.ts",
]);
const server = spawn(serverCommand, serverArgs, { stdio: ["ignore", "pipe", "inherit"] });
const ports = await new Promise<{
  open: number;
  authed: number;
  ceiling: number;
  basic: number;
  floor: number;
}>((resolve) => {
  createInterface({ input: server.stdout }).once("line", (line) => resolve(JSON.parse(line)));
});
const openUrl = `http://127.0.0.1:${ports.open}`;
const authedUrl = `http://127.0.0.1:${ports.authed}`;
const ceilingUrl = `http://127.0.0.1:${ports.ceiling}`;
const basicUrl = `http://127.0.0.1:${ports.basic}`;
const floorUrl = `http://127.0.0.1:${ports.floor}`;
const basicHeader = `Authorization: Basic ${btoa("bench:bench-password")}`;

function wrk(
  url: string,
  seconds: number,
  options: { script?: string; scriptArg?: string; header?: string } = {},
): WrkResult {
  const args = ["-t1", `-c${CONNECTIONS}`, `-d${seconds}s`];
  if (options.header) args.push("-H", options.header);
  if (options.script) args.push("-s", options.script);
  args.push(url);
  if (options.scriptArg) args.push("--", options.scriptArg);
  const [command, full] = pinned(1, "wrk", args);
  return runWrk(command, full);
}

let headersPerRound = 100_000;
/**
 * Writes `count` valid Authorization headers, spread over NONCES fresh
 * challenges in turn (request i answers nonce i mod NONCES with the next nc of
 * that nonce). With 64 connections in flight, one nonce's nc values would
 * arrive up to 64 apart, beyond the ledger's 32-wide window (a real client
 * keeps one nonce per connection); with 8 nonces they arrive at most ~8 apart.
 */
const NONCES = 8;

/** fetch, once more if the pooled keep-alive socket was closed by the server's idle timeout meanwhile. */
async function fetchRetrying(url: string): Promise<{ headers: Headers; body: string }> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(url);
      return { headers: res.headers, body: await res.text() };
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}
async function prepareHeaders(count: number): Promise<string> {
  const algorithm = ALGORITHMS["SHA-256"];
  const ha1 = computeHa1(algorithm, "bench", "bench", "bench-password");
  const ha2 = computeHa2(algorithm, "GET", "/hello");
  const cnonce = "0a4f113b0a4f113b";
  const challenges: { nonce: string; opaque: string }[] = [];
  for (let k = 0; k < NONCES; k++) {
    const res = await fetchRetrying(`${authedUrl}/hello`);
    const challenge = parseChallenges(res.headers.get("www-authenticate") ?? "")[0];
    const nonce = challenge?.params.get("nonce");
    const opaque = challenge?.params.get("opaque");
    if (!nonce || !opaque) throw new Error("no challenge from the bench server");
    challenges.push({ nonce, opaque });
  }
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const { nonce, opaque } = challenges[i % NONCES] as { nonce: string; opaque: string };
    const nc = (Math.floor(i / NONCES) + 1).toString(16).padStart(8, "0");
    const response = computeResponse(algorithm, { ha1, nonce, nc, cnonce, qop: "auth", ha2 });
    lines.push(
      `Digest username="bench", realm="bench", uri="/hello", algorithm=SHA-256, nonce="${nonce}", nc=${nc}, cnonce="${cnonce}", qop=auth, response="${response}", opaque="${opaque}"`,
    );
  }
  const file = join(work, `headers-${Date.now()}.txt`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

async function serverCpuMicros(): Promise<number> {
  const res = await fetchRetrying(`${openUrl}/__cpu`);
  return (JSON.parse(res.body) as { cpuMicros: number }).cpuMicros;
}

async function stats(): Promise<{ heapUsed: number; rss: number; ledgerEntries: number }> {
  const res = await fetchRetrying(`${openUrl}/__stats`);
  return JSON.parse(res.body) as { heapUsed: number; rss: number; ledgerEntries: number };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
};

let refused = 0;

type Column = "open" | "noop" | "digest" | "basic" | "floor";

async function measure(label: string): Promise<Columns> {
  const rps: Record<Column, number[]> = { open: [], noop: [], digest: [], basic: [], floor: [] };
  const cpu: Record<Column, number[]> = { open: [], noop: [], digest: [], basic: [], floor: [] };
  /** One wrk run, and the server's CPU time per request over it. */
  const run = async (column: Column, url: string, options: Parameters<typeof wrk>[2] = {}) => {
    const before = await serverCpuMicros();
    const result = wrk(`${url}/hello`, DURATION_S, options);
    const after = await serverCpuMicros();
    rps[column].push(result.requestsPerSecond);
    if (result.requests > 0) cpu[column].push((after - before) / result.requests);
    return result;
  };
  for (let round = 0; round < ROUNDS; round++) {
    const file = await prepareHeaders(headersPerRound);
    const auth = { script: "bench/auth.lua", scriptArg: file };
    // The order turns each round, so no column always runs first or last.
    const steps: Array<() => Promise<unknown>> = [
      () => run("open", openUrl),
      () => run("noop", ceilingUrl, auth),
      async () => {
        const result = await run("digest", authedUrl, auth);
        // wrk re-sends the first request of a few connections at start-up; the
        // ledger rightly refuses those duplicates. Anything beyond a handful means
        // the run went wrong (out of headers, or a real failure).
        if (result.non2xx > Math.max(2 * CONNECTIONS, result.requests / 1000)) {
          throw new Error(`${result.non2xx} of ${result.requests} authenticated requests failed`);
        }
        refused += result.non2xx;
        // Enough headers for the next round with room to spare.
        headersPerRound = Math.max(headersPerRound, Math.ceil(result.requests * 1.5));
      },
      () => run("basic", basicUrl, { header: basicHeader }),
      async () => {
        // The same answers as digestAuth() gets (the floor's ledger is its own).
        const result = await run("floor", floorUrl, auth);
        if (result.non2xx > Math.max(2 * CONNECTIONS, result.requests / 1000)) {
          throw new Error(`${result.non2xx} of ${result.requests} floor requests failed`);
        }
      },
    ];
    for (let i = 0; i < steps.length; i++)
      await (steps[(i + round) % steps.length] as () => Promise<unknown>)();
    rmSync(file);
  }
  const show = (values: number[]) => values.map(Math.round).join("/");
  console.log(
    `${label} rounds (req/s): open ${show(rps.open)}, no-op ${show(rps.noop)}, digestAuth ${show(rps.digest)}, basicAuth ${show(rps.basic)}, floor ${show(rps.floor)}`,
  );
  const columns: Columns = {
    open: median(rps.open),
    noop: median(rps.noop),
    digest: median(rps.digest),
    basic: median(rps.basic),
    floor: median(rps.floor),
    cpuMicros: {
      open: median(cpu.open),
      noop: median(cpu.noop),
      digest: median(cpu.digest),
      basic: median(cpu.basic),
      floor: median(cpu.floor),
    },
  };
  for (const line of formatTable(label, columns)) console.log(line);
  return columns;
}

const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(2);

try {
  console.log(
    `${new Date().toISOString()} machine: ${cpus().length} x ${cpus()[0]?.model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; ` +
      `server ${pin ? "on core 0, wrk on core 1 (taskset)" : "and wrk unpinned"}; wrk -t1 -c${CONNECTIONS} -d${DURATION_S}s, ${ROUNDS} interleaved rounds`,
  );
  // Warm every path up so the JIT has settled before anything is counted.
  wrk(`${openUrl}/hello`, 2);
  wrk(`${authedUrl}/hello`, 2, {
    script: "bench/auth.lua",
    scriptArg: await prepareHeaders(50_000),
  });
  wrk(`${basicUrl}/hello`, 2, { header: basicHeader });
  wrk(`${floorUrl}/hello`, 2, {
    script: "bench/auth.lua",
    scriptArg: await prepareHeaders(50_000),
  });

  const before = await measure("fresh server");
  const heapBefore = await stats();

  let issued = 0;
  const started = Date.now();
  while (issued < CHALLENGES) {
    // Without a script wrk sends no Authorization: every answer is a fresh 401 challenge.
    const result = wrk(`${authedUrl}/hello`, 10);
    issued += result.requests;
  }
  const seconds = (Date.now() - started) / 1000;
  const heapAfter = await stats();
  console.log(
    `\nissued ${issued.toLocaleString("en-US")} unanswered challenges in ${seconds.toFixed(0)} s; heap after GC ${mib(heapBefore.heapUsed)} -> ${mib(heapAfter.heapUsed)} MiB, ` +
      `rss ${mib(heapBefore.rss)} -> ${mib(heapAfter.rss)} MiB, replay ledger entries ${heapBefore.ledgerEntries} -> ${heapAfter.ledgerEntries}\n`,
  );

  const after = await measure(`after ${issued.toLocaleString("en-US")} challenges`);
  const flat = flatness(before, after, heapBefore.heapUsed, heapAfter.heapUsed);
  console.log(
    `\ndigest/open ratio drift ${(flat.drift * 100).toFixed(1)} % (target within 5 %), heap growth ${mib(flat.heapGrowth)} MiB (target: not growing) ${flat.pass ? "PASS" : "MISS"}`,
  );
  console.log(`duplicate requests refused by the replay ledger during the runs: ${refused}`);
} finally {
  server.kill();
  rmSync(work, { recursive: true, force: true });
}
