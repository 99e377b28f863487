/**
 * Issue #13 item 5: the CLI's JSON output says times the way its text output
 * does, in ISO 8601 UTC; everything else passes through unchanged.
 */
import { describe, expect, it } from "vitest";
import { cliJson } from "../../src/cli/context.ts";

describe("[FIRSTRUN-ISO-TIMES] times in the CLI's JSON", () => {
  it("[FIRSTRUN-ISO-TIMES] every numeric ...At field (epoch seconds) becomes ISO 8601; other fields stay as they are", () => {
    const printed = JSON.parse(
      cliJson({
        otkId: "o-1",
        expiresAt: 1_780_000_000,
        otks: [{ sessionExpiresAt: 1_780_000_060, keyVersion: 2 }],
        createdAt: "2026-12-04T18:00:00.000Z",
        at: 5,
        closedAt: null,
      }),
    );
    expect(printed).toEqual({
      otkId: "o-1",
      expiresAt: "2026-05-28T20:26:40.000Z",
      otks: [{ sessionExpiresAt: "2026-05-28T20:27:40.000Z", keyVersion: 2 }],
      createdAt: "2026-12-04T18:00:00.000Z",
      at: 5,
      closedAt: null,
    });
    expect(cliJson({ a: 1 }, 2)).toBe('{\n  "a": 1\n}');
  });
});
