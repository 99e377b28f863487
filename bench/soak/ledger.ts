/**
 * Issue #9 "Reliability figures", fifth bullet: a flood of authenticated
 * requests does not grow the replay ledger without bound. In process, with
 * the ledger the server uses (MemoryReplayLedger, RFC 7616 §5.5 nc window)
 * and a fake clock that crosses many nonce lifetimes: `noncesPerSecond` new
 * nonces every simulated second, each answered with a few nc values, plus one
 * hot nonce hammered for its whole life. Bound: the nonces that can be alive
 * at once (lifetime + one sweep interval) times the rate, plus the hot one.
 *
 * Implements: SOAK-LEDGER
 */
import { MemoryReplayLedger } from "../../src/digest/index.ts";

export interface LedgerResult {
  accepts: number;
  simulatedSeconds: number;
  maxSize: number;
  bound: number;
  sizeAfterQuiet: number;
  replaysAccepted: number;
}

export async function ledgerFlood(input: {
  simulatedSeconds: number;
  noncesPerSecond: number;
  ncPerNonce: number;
  lifetimeSeconds?: number;
  sweepSeconds?: number;
}): Promise<LedgerResult> {
  const lifetimeMs = (input.lifetimeSeconds ?? 300) * 1000;
  const sweepMs = (input.sweepSeconds ?? 30) * 1000;
  let now = 1_700_000_000_000;
  const ledger = new MemoryReplayLedger({ now: () => now, sweepIntervalMs: sweepMs });
  let accepts = 0;
  let maxSize = 0;
  let replaysAccepted = 0;
  let serial = 0;
  let hot = { nonce: "hot-0", born: now, nc: 0 };
  for (let second = 0; second < input.simulatedSeconds; second++) {
    now += 1000;
    if (now - hot.born >= lifetimeMs) hot = { nonce: `hot-${second}`, born: now, nc: 0 };
    for (let i = 0; i < input.noncesPerSecond; i++) {
      const nonce = `n-${serial++}`;
      for (let nc = 1; nc <= input.ncPerNonce; nc++) {
        if (await ledger.accept(nonce, nc, now + lifetimeMs)) accepts++;
      }
      // The attacker's replay of the last one: must be refused.
      if (await ledger.accept(nonce, input.ncPerNonce, now + lifetimeMs)) replaysAccepted++;
    }
    for (let i = 0; i < input.noncesPerSecond; i++) {
      hot.nc++;
      if (await ledger.accept(hot.nonce, hot.nc, hot.born + lifetimeMs)) accepts++;
    }
    maxSize = Math.max(maxSize, ledger.size);
  }
  // Quiet: past every lifetime and a sweep, one request is enough to clear the rest.
  now += lifetimeMs + sweepMs + 1000;
  await ledger.accept("after-quiet", 1, now + lifetimeMs);
  return {
    accepts,
    simulatedSeconds: input.simulatedSeconds,
    maxSize,
    bound: Math.ceil(((lifetimeMs + sweepMs) / 1000 + 1) * input.noncesPerSecond) + 1,
    sizeAfterQuiet: ledger.size,
    replaysAccepted,
  };
}
