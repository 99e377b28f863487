/**
 * Smoke test of `npm run bench:story` (issue #12, Speed): the whole CPNS story
 * on loopback, three runs, through the same code the bench runs. Figures are
 * printed by the bench, never asserted here: the test checks that every step
 * ran in every run and that the report says PASS or MISS on the target.
 */
import { describe, expect, it } from "vitest";
import { formatStory, quantile, runStory, STEPS } from "../../bench/story.ts";

describe("bench:story", () => {
  it("[DIGEST-SPEED-STORY] three runs of enroll -> whoami -> OTK deposit -> delivery -> peer session -> first message", async () => {
    const report = await runStory(3);
    for (const step of [...STEPS, "whole"] as const) {
      expect(report.samples[step], step).toHaveLength(3);
      expect(report.samples[step].every((ms) => Number.isFinite(ms) && ms >= 0)).toBe(true);
    }
    // The whole is the sum of its steps, run by run (nothing timed twice or left out).
    for (let run = 0; run < 3; run++) {
      const sum = STEPS.reduce((total, step) => total + (report.samples[step][run] as number), 0);
      expect(report.samples.whole[run]).toBeCloseTo(sum, 6);
    }
    const lines = formatStory(report);
    expect(lines).toHaveLength(2 + STEPS.length + 1 + 2);
    expect(report.cpuMsPerRun).toBeGreaterThan(0);
    expect(lines.at(-2)).toMatch(/^CPU time per run .* [\d.]+ ms$/);
    expect(lines[lines.length - 1]).toMatch(
      /^whole story p50 [\d.]+ ms \(target < 20 ms\) (PASS|MISS)$/,
    );
  }, 120_000);

  it("[DIGEST-SPEED-STORY] quantiles are nearest-rank: p50 and p99 of 1..1000", () => {
    const values = Array.from({ length: 1000 }, (_, i) => 1000 - i);
    expect(quantile(values, 0.5)).toBe(500);
    expect(quantile(values, 0.99)).toBe(990);
    expect(quantile([7], 0.99)).toBe(7);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it("[DIGEST-SPEED-STORY] the verdict: p50 under 20 ms is PASS, 20 ms or more is MISS", () => {
    const report = (ms: number) => ({
      runs: 1,
      cpuMsPerRun: ms,
      samples: Object.fromEntries([...STEPS, "whole"].map((s) => [s, [ms]])) as never,
    });
    expect(formatStory(report(19.99)).at(-1)).toMatch(/PASS$/);
    expect(formatStory(report(20)).at(-1)).toMatch(/MISS$/);
  });
});
