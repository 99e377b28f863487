/**
 * FailureLimiter (SERVER-RATE-LIMIT; src/server/rate-limit.ts) with a driven
 * clock: the limit, the window that starts with the first failure, the
 * Retry-After arithmetic, several keys at once, clearing, and the bound on
 * tracked keys.
 */
import { describe, expect, it } from "vitest";
import { FailureLimiter } from "../../src/server/rate-limit.ts";

function limiter(maxFailures = 3, windowSeconds = 60) {
  const clock = { now: 1_000_000 };
  return {
    clock,
    limiter: new FailureLimiter({ maxFailures, windowSeconds, now: () => clock.now }),
  };
}

describe("[SERVER-RATE-LIMIT] FailureLimiter", () => {
  it("[SERVER-RATE-LIMIT] below the limit: 0; at the limit: the rest of the window, rounded up", () => {
    const { clock, limiter: l } = limiter();
    expect(l.retryAfter(["u:alice"])).toBe(0);
    l.recordFailure(["u:alice"]);
    l.recordFailure(["u:alice"]);
    expect(l.retryAfter(["u:alice"])).toBe(0);
    clock.now += 10_500;
    l.recordFailure(["u:alice"]);
    expect(l.retryAfter(["u:alice"])).toBe(50); // 60 - 10.5, rounded up
    clock.now += 49_000;
    expect(l.retryAfter(["u:alice"])).toBe(1);
    clock.now += 499;
    expect(l.retryAfter(["u:alice"])).toBe(1);
    clock.now += 1;
    expect(l.retryAfter(["u:alice"])).toBe(0);
  });

  it("[SERVER-RATE-LIMIT] the window starts with the first failure; after it a failure starts a new count", () => {
    const { clock, limiter: l } = limiter(2, 10);
    l.recordFailure(["k"]);
    clock.now += 10_000;
    l.recordFailure(["k"]);
    expect(l.retryAfter(["k"])).toBe(0);
    l.recordFailure(["k"]);
    expect(l.retryAfter(["k"])).toBe(10);
  });

  it("[SERVER-RATE-LIMIT] several keys: the longest wait wins; other keys are unaffected", () => {
    const { clock, limiter: l } = limiter(1, 60);
    l.recordFailure(["u:alice", "a:1.2.3.4"]);
    clock.now += 20_000;
    l.recordFailure(["u:bob"]);
    expect(l.retryAfter(["u:bob", "a:1.2.3.4"])).toBe(60);
    expect(l.retryAfter(["u:alice"])).toBe(40);
    expect(l.retryAfter(["u:carol", "a:5.6.7.8"])).toBe(0);
  });

  it("[SERVER-RATE-LIMIT] clear forgets one key only", () => {
    const { limiter: l } = limiter(1, 60);
    l.recordFailure(["u:alice", "a:1.2.3.4"]);
    l.clear("u:alice");
    expect(l.retryAfter(["u:alice"])).toBe(0);
    expect(l.retryAfter(["a:1.2.3.4"])).toBe(60);
  });

  it("[SERVER-RATE-LIMIT] memory is bounded: past 100 000 keys the oldest is dropped", () => {
    const { limiter: l } = limiter(1, 60);
    l.recordFailure(["first"]);
    for (let i = 0; i < 100_000; i++) l.recordFailure([`flood-${i}`]);
    expect(l.retryAfter(["first"])).toBe(0);
    expect(l.retryAfter(["flood-99999"])).toBe(60);
    expect(l.retryAfter(["flood-1"])).toBe(60);
  });
});
