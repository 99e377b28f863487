/**
 * Issue #9 (mutation testing of src/server): the security log's bounds
 * (src/server/events.ts, issue #9 item 5) with a driven clock. Each test tells
 * apart a mutant the first measurement of events.ts (fb89fc6) left undetected:
 * the time stamp of every line, the 128-character field bound at its edge, an
 * aggregation interval that ends exactly when it should (at the next event or
 * at the once-a-second sweep, never earlier), a sweep that runs at most once a
 * second, an event without an address counted with the other address-less
 * ones, and the bound on (event, address) pairs waiting for their summary.
 */
import { describe, expect, it } from "vitest";
import { MAX_FIELD_CHARS, type SecurityEvent, SecurityLog } from "../../src/server/events.ts";

const T0 = 1_000_000;

function recorded(intervalMs: number) {
  const clock = { now: T0 };
  const lines: string[] = [];
  const log = new SecurityLog(
    (line) => lines.push(line),
    () => clock.now,
    { intervalMs },
  );
  const events = () => lines.map((line) => JSON.parse(line) as SecurityEvent & { ts?: string });
  /** Each line as [event, address, count] (count undefined on a first line). */
  const summary = () => events().map((e) => [e.event, e.address, e.count]);
  return { clock, log, events, summary };
}

const failed = (address?: string): SecurityEvent =>
  address === undefined ? { event: "auth.failed" } : { event: "auth.failed", address };
const created: SecurityEvent = { event: "user.created", userId: "alice" };

describe("SecurityLog: every line", () => {
  // Report: events.ts:86 ObjectLiteral.
  it("[SERVER-SECURITY-LOG] carries the time it was written, from the log's clock", () => {
    const { clock, log, events } = recorded(60_000);
    log.emit(created);
    clock.now += 90_000;
    log.emit(failed("10.0.0.1"));
    expect(events().map((e) => e.ts)).toEqual([
      new Date(T0).toISOString(),
      new Date(T0 + 90_000).toISOString(),
    ]);
  });

  // Report: events.ts:88 EqualityOperator `>=`.
  it("[LOG-FIELDS] a field of exactly 128 characters is written whole and not flagged; 129 are cut and flagged", () => {
    const { log, events } = recorded(60_000);
    const exact = "u".repeat(MAX_FIELD_CHARS);
    log.emit({ event: "user.created", userId: exact });
    log.emit({ event: "user.created", userId: `${exact}v` });
    expect(events()[0]).toEqual({ ts: expect.any(String), event: "user.created", userId: exact });
    expect(events()[1]).toEqual({
      ts: expect.any(String),
      event: "user.created",
      userId: exact,
      truncated: true,
    });
  });
});

describe("SecurityLog: when an interval's summary is written", () => {
  // Report: events.ts:107 (the interval's comparison and arithmetic), :115 BooleanLiteral.
  it("[LOG-AGGREGATE] the sweep writes a summary once its interval is over, exactly then, and not a moment earlier", () => {
    const { clock, log, summary } = recorded(60_000);
    log.emit(failed("10.0.0.1"));
    log.emit(failed("10.0.0.1"));
    // Half-way through the interval another event sweeps: the interval is not over.
    clock.now = T0 + 30_000;
    log.emit(created);
    expect(summary()).toEqual([
      ["auth.failed", "10.0.0.1", undefined],
      ["user.created", undefined, undefined],
    ]);
    clock.now = T0 + 59_000;
    log.emit(created);
    expect(summary()).toHaveLength(3);
    // At exactly 60 s the interval is over: the next sweep (a second after the last) writes its count first.
    clock.now = T0 + 60_000;
    log.emit(created);
    expect(summary().slice(3)).toEqual([
      ["auth.failed", "10.0.0.1", 1],
      ["user.created", undefined, undefined],
    ]);
  });

  // Report: events.ts:113 (the once-a-second sweep: ConditionalExpression true/false, `>`, `<`, `+`).
  it("[LOG-FLOOD] the sweep runs at most once a second: an interval over in between waits for it (or for its own next event)", () => {
    const { clock, log, summary } = recorded(100);
    log.emit(failed("10.0.0.1"));
    clock.now = T0 + 10;
    log.emit(failed("10.0.0.1"));
    // 500 ms later the 100 ms interval is over, but the last sweep was 500 ms ago.
    clock.now = T0 + 500;
    log.emit(created);
    expect(summary()).toEqual([
      ["auth.failed", "10.0.0.1", undefined],
      ["user.created", undefined, undefined],
    ]);
    clock.now = T0 + 999;
    log.emit(created);
    expect(summary()).toHaveLength(3);
    // A second after the last sweep, the next event sweeps.
    clock.now = T0 + 1_000;
    log.emit(created);
    expect(summary().slice(3)).toEqual([
      ["auth.failed", "10.0.0.1", 1],
      ["user.created", undefined, undefined],
    ]);
  });

  // Report: events.ts:123 ConditionalExpression true, EqualityOperator `<=`; :127 ConditionalExpression false.
  it("[LOG-AGGREGATE] between sweeps, the event that ends an interval writes the old interval's count, then itself", () => {
    const { clock, log, summary } = recorded(100);
    log.emit(failed("10.0.0.1"));
    clock.now = T0 + 50;
    log.emit(failed("10.0.0.1"));
    clock.now = T0 + 99;
    log.emit(failed("10.0.0.1"));
    expect(summary()).toHaveLength(1);
    // Exactly 100 ms in: a new interval (no sweep has run since T0).
    clock.now = T0 + 100;
    log.emit(failed("10.0.0.1"));
    expect(summary()).toEqual([
      ["auth.failed", "10.0.0.1", undefined],
      ["auth.failed", "10.0.0.1", 2],
      ["auth.failed", "10.0.0.1", undefined],
    ]);
  });
});

describe("SecurityLog: what is counted together", () => {
  // Report: events.ts:121 StringLiteral (no coverage); :88 ConditionalExpression `true` (`typeof value === "string"` -> true reads .length of the summary's undefined address).
  it("[LOG-AGGREGATE] an event without an address and one with an empty address are one unknown sender", () => {
    const { log, summary } = recorded(60_000);
    log.emit(failed());
    log.emit(failed(""));
    log.emit(failed());
    // Its summary has no address field at all (undefined), and writing it must not throw.
    expect(() => log.flush()).not.toThrow();
    expect(summary()).toEqual([
      ["auth.failed", undefined, undefined],
      ["auth.failed", undefined, 2],
    ]);
  });

  // Report: events.ts:128 BlockStatement (no coverage), ConditionalExpression false, EqualityOperator `>`.
  it("[LOG-FLOOD] at 10,000 waiting (event, address) pairs a new one first writes the oldest's count, so memory stays bounded", () => {
    const { log, summary } = recorded(60_000);
    log.emit(failed("10.0.0.0"));
    log.emit(failed("10.0.0.0"));
    for (let i = 1; i < 10_000; i++) log.emit(failed(`addr-${i}`));
    expect(summary()).toHaveLength(10_000);
    log.emit(failed("addr-10000"));
    expect(summary().slice(10_000)).toEqual([
      ["auth.failed", "10.0.0.0", 1],
      ["auth.failed", "addr-10000", undefined],
    ]);
    // The oldest was let go: its next event starts afresh (written, not counted).
    log.emit(failed("10.0.0.0"));
    expect(summary().at(-1)).toEqual(["auth.failed", "10.0.0.0", undefined]);
  });
});
