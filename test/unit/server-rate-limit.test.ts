/**
 * FailureLimiter and MemoryBudgetStore (issue #9 items 3 and 4;
 * src/server/rate-limit.ts) with a driven clock: reservation before
 * verification, per (identity, address) budgets with backoff, trusted pairs
 * exempt from the identity and address budgets, refunds, bounded memory.
 */
import { describe, expect, it } from "vitest";
import { FailureLimiter } from "../../src/server/rate-limit.ts";
import { MAX_TRACKED, MemoryBudgetStore } from "../../src/store/budgets.ts";

function limiter(maxFailures = 3, windowSeconds = 60) {
  const clock = { now: 1_000_000 };
  const store = new MemoryBudgetStore();
  return {
    clock,
    store,
    limiter: new FailureLimiter({ maxFailures, windowSeconds, now: () => clock.now, store }),
  };
}

describe("FailureLimiter", () => {
  it("[LIMIT-RESERVE] 1,000 reservations in flight at once get exactly the free budget", async () => {
    const { limiter: l } = limiter(10);
    const granted = (
      await Promise.all(Array.from({ length: 1000 }, () => l.reserve(["n:alice"], "10.0.0.1")))
    ).filter((r) => r.waitSeconds === 0);
    expect(granted).toHaveLength(10);
  });

  it("[LIMIT-BACKOFF] past the free budget each failure doubles the wait (1 s, 2 s, 4 s ...) up to the window; forgotten a quiet window after the last wait", async () => {
    const { clock, limiter: l } = limiter(3, 60);
    for (let i = 0; i < 3; i++) expect((await l.reserve(["n:alice"], "a")).waitSeconds).toBe(0);
    expect((await l.reserve(["n:alice"], "a")).waitSeconds).toBe(1);
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      let wait = (await l.reserve(["n:alice"], "a")).waitSeconds;
      while (wait > 0) {
        clock.now += wait * 1000;
        wait = (await l.reserve(["n:alice"], "a")).waitSeconds;
      }
      waits.push((await l.reserve(["n:alice"], "a")).waitSeconds);
    }
    expect(waits).toEqual([2, 4, 8, 16, 32, 60, 60, 60]);
    clock.now += 60_000;
    expect((await l.reserve(["n:alice"], "a")).waitSeconds).toBe(0); // the last wait is over: one more try
    clock.now += 60_000 + 60_000; // its wait, then a quiet window: forgotten, a whole free budget again
    for (let i = 0; i < 3; i++) expect((await l.reserve(["n:alice"], "a")).waitSeconds).toBe(0);
  });

  it("[LIMIT-RESERVE] a refund gives the charge back: successes cost nothing", async () => {
    const { limiter: l } = limiter(3);
    for (let i = 0; i < 10; i++) await l.refund(await l.reserve(["n:alice"], "a"));
    expect((await l.reserve(["n:alice"], "a")).waitSeconds).toBe(0);
  });

  it("[LIMIT-PAIR] budgets are per (identity, address): one address's failures do not touch another's pair", async () => {
    const { limiter: l } = limiter(3);
    for (let i = 0; i < 3; i++) await l.reserve(["n:alice"], "attacker");
    expect((await l.reserve(["n:alice"], "attacker")).waitSeconds).toBeGreaterThan(0);
    expect((await l.reserve(["n:alice"], "home")).waitSeconds).toBe(0);
  });

  it("[LIMIT-TRUSTED] a pair that proved the identity is limited only by its own pair budget, not by others' identity or address failures", async () => {
    const { limiter: l } = limiter(3);
    await l.succeeded(["n:alice"], "home");
    // Identity budget (9) and address budget (30) exhausted by others.
    for (let i = 0; i < 30; i++) await l.reserve([`n:other-${i}`], "home");
    for (let i = 0; i < 9; i++) await l.reserve(["n:alice"], `bot-${i}`);
    expect((await l.reserve(["n:alice"], "elsewhere")).waitSeconds).toBeGreaterThan(0);
    expect((await l.reserve(["n:nobody"], "home")).waitSeconds).toBeGreaterThan(0);
    expect((await l.reserve(["n:alice"], "home")).waitSeconds).toBe(0);
  });

  it("[LIMIT-MEMORY] memory is bounded: a flood of distinct names keeps at most MAX_TRACKED budgets", async () => {
    const { store, limiter: l } = limiter(1, 60);
    for (let i = 0; i < MAX_TRACKED + 10; i++) await l.reserve([`n:flood-${i}`], `10.${i}`);
    expect(store.size).toBeLessThanOrEqual(MAX_TRACKED);
  });
});
