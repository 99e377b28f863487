/**
 * Issue #9 item 5 (security log disk fill), deterministic: capped fields,
 * aggregation per (event, address) and interval with a driven clock
 * (src/server/events.ts), and the rotating asynchronous writer on real files
 * (src/runtime/node-log-writer.ts).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { RotatingLogWriter } from "../../src/runtime/node-log-writer.ts";
import { MAX_FIELD_CHARS, SecurityLog } from "../../src/server/events.ts";

let folder: string | undefined;
afterEach(() => {
  if (folder) rmSync(folder, { recursive: true, force: true });
  folder = undefined;
});

function recorded(intervalMs = 60_000) {
  const clock = { now: 1_000_000 };
  const lines: string[] = [];
  const log = new SecurityLog(
    (line) => lines.push(line),
    () => clock.now,
    { intervalMs },
  );
  return { clock, lines, log, events: () => lines.map((l) => JSON.parse(l)) };
}

describe("SecurityLog limits", () => {
  it("[LOG-FIELDS] a 15 KB username is cut to 128 chars and the line says truncated", () => {
    const { log, events, lines } = recorded();
    log.emit({ event: "auth.failed", username: "x".repeat(15_000), address: "10.0.0.1" });
    expect(events()[0]).toMatchObject({ username: "x".repeat(MAX_FIELD_CHARS), truncated: true });
    expect(lines[0]?.length).toBeLessThan(300);
    log.emit({ event: "user.created", userId: "alice" });
    expect(events()[1]).not.toHaveProperty("truncated");
  });

  it("[LOG-AGGREGATE] 10,000 failures from one address in one interval are two lines: the first, then a summary with the count", () => {
    const { clock, log, events } = recorded(60_000);
    for (let i = 0; i < 10_000; i++) {
      log.emit({ event: "auth.rate_limited", username: `n-${i}`, address: "10.0.0.1" });
    }
    expect(events()).toHaveLength(1);
    clock.now += 60_000;
    log.emit({ event: "auth.rate_limited", username: "later", address: "10.0.0.1" });
    expect(events().map((e) => [e.event, e.count, e.username])).toEqual([
      ["auth.rate_limited", undefined, "n-0"],
      ["auth.rate_limited", 9_999, undefined],
      ["auth.rate_limited", undefined, "later"],
    ]);
    // Other addresses and other events are not folded into it; flush() writes what waits.
    log.emit({ event: "auth.rate_limited", address: "10.0.0.2" });
    log.emit({ event: "auth.rate_limited", address: "10.0.0.1" });
    log.flush();
    expect(
      events()
        .slice(3)
        .map((e) => [e.address, e.count]),
    ).toEqual([
      ["10.0.0.2", undefined],
      ["10.0.0.1", 1],
    ]);
  });
});

describe("RotatingLogWriter", () => {
  it("[LOG-ROTATE] rotates by size into a bounded number of 0600 files and keeps every line of the newest files in order", async () => {
    folder = mkdtempSync(join(tmpdir(), "cpns-log-"));
    const file = join(folder, "security.log");
    const writer = new RotatingLogWriter(file, { maxBytes: 1000, keep: 3 });
    for (let i = 0; i < 200; i++) {
      writer.write(`{"n":${i},"pad":"${"p".repeat(30)}"}`);
      if (i % 7 === 0) await new Promise((r) => setImmediate(r));
    }
    await writer.flush();
    const names = readdirSync(folder).sort();
    expect(names).toEqual(["security.log", "security.log.1", "security.log.2", "security.log.3"]);
    const lines: number[] = [];
    for (const name of [...names.slice(1)].reverse().concat(names[0] as string)) {
      const path = join(folder, name);
      expect(statSync(path).size).toBeLessThanOrEqual(1000);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      for (const line of readFileSync(path, "utf8").trim().split("\n")) {
        lines.push((JSON.parse(line) as { n: number }).n);
      }
    }
    // The newest lines, contiguous up to the last one written.
    expect(lines.at(-1)).toBe(199);
    expect(lines).toEqual(lines.map((_, i) => (lines[0] as number) + i));
  });

  it("[LOG-ROTATE] a backlog past the buffer bound drops lines and says how many", async () => {
    folder = mkdtempSync(join(tmpdir(), "cpns-log-"));
    const file = join(folder, "security.log");
    const writer = new RotatingLogWriter(file, { maxBufferedBytes: 100 });
    for (let i = 0; i < 50; i++) writer.write(`{"n":${i},"pad":"${"p".repeat(20)}"}`);
    await writer.flush();
    const events = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { event?: string; count?: number });
    const dropped = events.find((e) => e.event === "log.dropped");
    expect((dropped?.count ?? 0) + events.length - 1).toBe(50);
  });
});
