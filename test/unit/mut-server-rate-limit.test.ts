/**
 * Issue #9 (mutation testing of src/server): FailureLimiter
 * (src/server/rate-limit.ts) with a driven clock. Each test tells apart a
 * mutant the first measurement left undetected: the in-process store used
 * when none is given (and the given one when one is), the 30-day default
 * trust of a proven pair, no store round trip for an attempt that names no
 * identity, a refused reservation that holds nothing to refund, and a success
 * that gives its pair a whole fresh budget.
 */
import { describe, expect, it } from "vitest";
import { FailureLimiter } from "../../src/server/rate-limit.ts";
import { type BudgetStore, MemoryBudgetStore } from "../../src/store/budgets.ts";

/** A MemoryBudgetStore that records which of its methods were called. */
function spiedStore() {
  const inner = new MemoryBudgetStore();
  const calls: string[] = [];
  const store: BudgetStore = {
    take(claims, now) {
      calls.push("take");
      return inner.take(claims, now);
    },
    refund(claims) {
      calls.push("refund");
      return inner.refund(claims);
    },
    clear(keys) {
      calls.push("clear");
      return inner.clear(keys);
    },
    trust(pairs, until) {
      calls.push("trust");
      return inner.trust(pairs, until);
    },
    trusted(pairs, now) {
      calls.push("trusted");
      return inner.trusted(pairs, now);
    },
  };
  return { store, calls };
}

const DAY_MS = 24 * 3600 * 1000;

/** A limiter over a spied store: 2 free failures, a 60 s window, the clock at 1 s. */
function spiedLimiter() {
  const { store, calls } = spiedStore();
  return {
    limiter: new FailureLimiter({ maxFailures: 2, windowSeconds: 60, now: () => 1_000, store }),
    calls,
  };
}

describe("FailureLimiter: its store", () => {
  it("[LIMIT-MEMORY] with no store given it keeps budgets in memory and still limits", async () => {
    const limiter = new FailureLimiter({ maxFailures: 2, windowSeconds: 60, now: () => 1_000 });
    expect((await limiter.reserve(["n:alice"], "a")).waitSeconds).toBe(0);
    expect((await limiter.reserve(["n:alice"], "a")).waitSeconds).toBe(0);
    expect((await limiter.reserve(["n:alice"], "a")).waitSeconds).toBeGreaterThan(0);
  });

  it("[LIMIT-RESERVE] a given store (a shared one, issue #11) is the one charged", async () => {
    const { limiter, calls } = spiedLimiter();
    await limiter.reserve(["n:alice"], "a");
    expect(calls).toEqual(["trusted", "take"]);
  });

  it("[LIMIT-KEYS] an attempt naming no identity is charged nothing and costs no store round trip", async () => {
    const { limiter, calls } = spiedLimiter();
    expect(await limiter.claimsFor([], "a")).toEqual([]);
    expect(await limiter.reserve([], "a")).toEqual({ waitSeconds: 0, claims: [] });
    expect(calls).toEqual([]);
  });
});

describe("FailureLimiter: trust and refunds", () => {
  it("[LIMIT-TRUSTED] by default a proven (identity, address) pair stays trusted 30 days, and no longer", async () => {
    const clock = { now: 1_000_000 };
    const limiter = new FailureLimiter({ maxFailures: 2, windowSeconds: 60, now: () => clock.now });
    await limiter.succeeded(["n:alice"], "home");
    const start = clock.now;
    clock.now = start + 30 * DAY_MS - 60_000;
    expect((await limiter.claimsFor(["n:alice"], "home")).map((c) => c.key)).toEqual([
      "p:n:alice\u0000home",
    ]);
    clock.now = start + 30 * DAY_MS + 60_000;
    expect((await limiter.claimsFor(["n:alice"], "home")).map((c) => c.key)).toEqual([
      "p:n:alice\u0000home",
      "i:n:alice",
      "a:home",
    ]);
  });

  it("[LIMIT-RESERVE] a refused reservation holds no claims, so refunding it gives nothing back", async () => {
    const limiter = new FailureLimiter({ maxFailures: 1, windowSeconds: 60, now: () => 1_000 });
    expect((await limiter.reserve(["n:alice"], "a")).waitSeconds).toBe(0);
    const refused = await limiter.reserve(["n:alice"], "a");
    expect(refused.waitSeconds).toBeGreaterThan(0);
    expect(refused.claims).toEqual([]);
  });

  it("[LIMIT-TRUSTED] a success gives its pair a whole fresh budget at that address", async () => {
    const limiter = new FailureLimiter({ maxFailures: 3, windowSeconds: 60, now: () => 1_000 });
    await limiter.reserve(["n:alice"], "home");
    await limiter.reserve(["n:alice"], "home");
    await limiter.succeeded(["n:alice"], "home");
    for (let i = 0; i < 3; i++) {
      expect((await limiter.reserve(["n:alice"], "home")).waitSeconds).toBe(0);
    }
    expect((await limiter.reserve(["n:alice"], "home")).waitSeconds).toBeGreaterThan(0);
  });
});
