/**
 * Running wrk for the benchmarks (bench/digest.ts, bench/tls.ts): one command
 * line in, requests/s, requests and non-2xx answers out, read from wrk's
 * summary. The caller builds the command (plain `wrk`, or under `taskset`).
 *
 * Implements: DIGEST-PERF-RATIO
 */
import { spawnSync } from "node:child_process";

export interface WrkResult {
  requestsPerSecond: number;
  requests: number;
  non2xx: number;
}

export function runWrk(command: string, args: readonly string[]): WrkResult {
  const out = spawnSync(command, args, { encoding: "utf8" });
  if (out.status !== 0) throw new Error(`wrk failed: ${out.stderr}`);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out.stdout);
  const total = /(\d+) requests in/.exec(out.stdout);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out.stdout);
  return {
    requestsPerSecond: Number(rps?.[1] ?? 0),
    requests: Number(total?.[1] ?? 0),
    non2xx: Number(non2xx?.[1] ?? 0),
  };
}
