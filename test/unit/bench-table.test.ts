/**
 * The table of `npm run bench` (issue #12, Speed) on canned figures: the three
 * target ratios and their PASS/MISS, and the challenge step's flatness verdict.
 * No timing here: the bench prints figures, tests check the arithmetic.
 */
import { describe, expect, it } from "vitest";
import { flatness, formatTable, targets } from "../../bench/table.ts";

describe("bench table", () => {
  it("[DIGEST-SPEED-TABLE] the issue's own figures: open 35,342, no-op 0.83, digest 0.59, basic 0.24 of open", () => {
    const open = 35_342;
    const c = { open, noop: open * 0.83, digest: open * 0.59, basic: open * 0.24 };
    const [ceiling, apache, basic] = targets(c);
    expect(ceiling?.ratio).toBeCloseTo(0.59 / 0.83, 6);
    expect(ceiling?.pass).toBe(false); // 0.71 < 0.85
    expect(apache?.ratio).toBeCloseTo(0.59, 6);
    expect(apache?.pass).toBe(false); // 0.59 < 0.72
    expect(basic?.ratio).toBeCloseTo(0.59 / 0.24, 6);
    expect(basic?.pass).toBe(true); // 2.46 >= 2
    const lines = formatTable("fresh server", c).join("\n");
    expect(lines).toContain("35,342");
    expect(lines).toMatch(/no-op ceiling\s+0\.711 \(target >= 0\.85\) MISS/);
    expect(lines).toMatch(/Apache's ratio\)\s+0\.590 \(target >= 0\.72\) MISS/);
    expect(lines).toMatch(/basicAuth\(\)\s+2\.458 \(target >= 2\) PASS/);
  });

  it("[DIGEST-SPEED-TABLE] each target passes exactly at its goal and misses just below it", () => {
    const at = targets({ open: 1000, noop: 850 / 0.85, digest: 850, basic: 425 });
    // digest/noop = 0.85, digest/open = 0.85, digest/basic = 2: all at or above the goal.
    expect(at.map((t) => t.pass)).toEqual([true, true, true]);
    const below = targets({ open: 1000, noop: 1000, digest: 719, basic: 360 });
    // 0.719 < 0.85, 0.719 < 0.72, 1.997 < 2.
    expect(below.map((t) => t.pass)).toEqual([false, false, false]);
  });

  it("[DIGEST-SPEED-TABLE] a column that measured nothing (wrk gave 0 req/s) is a MISS, never a PASS or NaN", () => {
    const none = targets({ open: 0, noop: 0, digest: 500, basic: 0 });
    expect(none.every((t) => !t.pass && Number.isFinite(t.ratio))).toBe(true);
    const noDigest = targets({ open: 1000, noop: 900, digest: 0, basic: 100 });
    expect(noDigest.every((t) => !t.pass)).toBe(true);
    expect(formatTable("x", { open: 0, noop: 0, digest: 0, basic: 0 }).join("\n")).not.toContain(
      "NaN",
    );
  });

  it("[DIGEST-SPEED-TABLE] flatness: within 5 % and heap not growing passes; a 6 % drop or 1 MiB of heap growth misses", () => {
    const before = { open: 1000, noop: 800, digest: 600, basic: 200 };
    expect(flatness(before, { ...before, digest: 571 }, 10 * 2 ** 20, 10 * 2 ** 20).pass).toBe(
      true,
    ); // -4.8 %
    expect(flatness(before, { ...before, digest: 564 }, 10 * 2 ** 20, 10 * 2 ** 20).pass).toBe(
      false,
    ); // -6 %
    expect(flatness(before, before, 10 * 2 ** 20, 11 * 2 ** 20).pass).toBe(false);
    expect(flatness(before, before, 10 * 2 ** 20, 10.5 * 2 ** 20).pass).toBe(true);
  });

  it("[DIGEST-SPEED-TABLE] the floor column: its ratios to the no-op and the open app, without PASS or MISS; the server's CPU per request row", () => {
    const lines = formatTable("fresh server", {
      open: 40_000,
      noop: 30_000,
      digest: 21_000,
      basic: 8_000,
      floor: 27_000,
      cpuMicros: { open: 25, noop: 33.3, digest: 47.6, basic: 125, floor: 37 },
    });
    const text = lines.join("\n");
    expect(lines[0]).toMatch(/\|\s+floor \|$/);
    expect(text).toContain("27,000");
    expect(text).toMatch(/floor \/ no-op ceiling, \/ open app\s+0\.900, 0\.675 \(the most/);
    expect(text).toMatch(
      /server CPU µs\/request \|\s+25\.0 \|\s+33\.3 \|\s+47\.6 \|\s+125\.0 \|\s+37\.0 \|/,
    );
    // Still exactly three PASS/MISS verdicts: the floor is not a target.
    expect(text.match(/ (PASS|MISS)$/gm)).toHaveLength(3);
    // Without a floor the table is as before.
    expect(formatTable("x", { open: 1, noop: 1, digest: 1, basic: 1 }).join("\n")).not.toContain(
      "floor",
    );
  });
});
