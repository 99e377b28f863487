/**
 * Running wrk for the benchmarks (bench/digest.ts, bench/tls.ts): one command
 * line in, requests/s, requests and non-2xx answers out, read from wrk's
 * summary. The caller builds the command (plain `wrk`, or under `taskset`).
 *
 * Implements: DIGEST-PERF-RATIO, DIGEST-SPEED-TABLE
 */
import { spawnSync } from "node:child_process";

export interface WrkResult {
  requestsPerSecond: number;
  requests: number;
  non2xx: number;
}

export function runWrk(command: string, args: readonly string[]): WrkResult {
  const out = spawnSync(command, args, { encoding: "utf8", maxBuffer: 16 * 2 ** 20 });
  // Say why: a spawn error (wrk missing, ENOBUFS), a signal, or wrk's own exit
  // status with its stderr and the end of its stdout (Lua errors land there).
  if (out.error || out.status !== 0) {
    const why = out.error
      ? out.error.message
      : out.signal
        ? `killed by ${out.signal}`
        : `exit status ${out.status}`;
    throw new Error(
      `wrk failed (${why}): ${command} ${args.join(" ")}\n${out.stderr ?? ""}${(out.stdout ?? "").slice(-2000)}`,
    );
  }
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out.stdout);
  const total = /(\d+) requests in/.exec(out.stdout);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out.stdout);
  return {
    requestsPerSecond: Number(rps?.[1] ?? 0),
    requests: Number(total?.[1] ?? 0),
    non2xx: Number(non2xx?.[1] ?? 0),
  };
}
