/**
 * Issue #9 "Reliability figures", the CI version of `npm run soak`: the same
 * code (bench/soak/) with small numbers (PROFILES.ci), against a real CPNS
 * Server process and a real PN GW process (`cpns gateway serve`) on loopback,
 * asserting the same zero-targets. One run in beforeAll (45-105 s on this shared
 * machine); each test reads its figures from it.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  type Figure,
  formatTable,
  PROFILES,
  runSoak,
  type SoakReport,
} from "../../bench/soak/soak.ts";

let report: SoakReport;

const figure = (prefix: string): Figure => {
  const found = report.figures.find((f) => f.what.startsWith(prefix));
  if (!found) throw new Error(`no figure "${prefix}"\n${formatTable(report)}`);
  return found;
};
const value = (prefix: string) => figure(prefix).value;

// In the test command again: its intermittent load failure was a 429 from the failure limiter
// to a genuine enrollment when 10+ of one owner's attempts were in flight from 127.0.0.1 on a
// slow machine (test/soak/load-owner-gate.test.ts); the load now keeps each owner under that.
describe("soak, CI version (bench/soak, PROFILES.ci)", () => {
  beforeAll(async () => {
    report = await runSoak(PROFILES.ci);
    console.log(formatTable(report));
  }, 180_000);

  it("[SOAK-FUZZ] mutated and generated Authorization / Proxy-Authorization headers and hostile JSON bodies: no crash, no 5xx, no accepted forgery", () => {
    const fuzz = report.details.fuzz as {
      mutated: number;
      generated: number;
      bodies: number;
      samples: Record<string, string[]>;
    };
    const samples = JSON.stringify(fuzz.samples, null, 1);
    // The budget is 10,000; on a loaded machine the time cap may stop it first.
    expect(fuzz.mutated + fuzz.generated + fuzz.bodies).toBeGreaterThanOrEqual(500);
    expect(fuzz.mutated).toBeGreaterThan(0);
    expect(value("fuzz: crashes")).toBe(0);
    expect(value("fuzz: valid HTTP requests whose connection closed"), samples).toBe(0);
    expect(value("fuzz: 5xx answers"), samples).toBe(0);
    expect(value("fuzz: accepted forgeries"), samples).toBe(0);
    expect(value("fuzz: genuine requests refused"), samples).toBe(0);
    expect(figure("fuzz: PN GW peers").ok).toBe(true);
  });

  it("[SOAK-LOAD] mixed traffic of simulated entities: no 5xx, every acknowledged enrollment authenticates, no OTK delivered twice, peer sessions through the PN GW", () => {
    // The table lists every failed operation (op, entity, status, code, message) below the figures.
    const table = formatTable(report);
    expect(value("load: 5xx among"), table).toBe(0);
    expect(value("load: 429 answers"), table).toBe(0);
    expect(value("load: operations failed other than"), table).toBe(0);
    expect(figure("load: entities enrolled and acknowledged").ok).toBe(true);
    expect(value("load: acknowledged enrollments that do not authenticate")).toBe(0);
    expect(value("load: OTKs delivered twice")).toBe(0);
    expect(value("load: second delivery attempts accepted")).toBe(0);
    expect(figure("load: peer sessions through the PN GW").ok).toBe(true);
    const ops = (report.details.load as { ops: Record<string, unknown> }).ops;
    for (const op of [
      "enroll",
      "authenticate",
      "rotate",
      "otk deposit",
      "otk fetch",
      "peer session",
    ]) {
      expect(ops, op).toHaveProperty([op]);
    }
  });

  it("[SOAK-CONCURRENT] 100 concurrent clients on one entity's EUKey: no spurious 401", () => {
    expect(value("100 clients on one EUKey: spurious 401")).toBe(0);
    expect(value("same: other failures")).toBe(0);
  });

  it("[SOAK-CRASH] SIGKILL mid-load and restart on the same folder: every acknowledged enrollment authenticates, every stored record validates", () => {
    expect(figure("crash: acknowledged enrollments before SIGKILL").ok).toBe(true);
    expect(value("crash: acknowledged enrollments that no longer authenticate")).toBe(0);
    expect(value("crash: store files that do not validate")).toBe(0);
    expect(value("crash: replay of an accepted request, before the kill")).toBe(401);
  });

  it("[SOAK-CRASH-REPLAY] a request accepted before the SIGKILL is refused after the restart (no replay window reopened)", () => {
    expect(value("crash: the same replay after the restart")).toBe(401);
  });

  it("[SOAK-LEDGER] a flood of authenticated requests over many nonce lifetimes keeps the replay ledger bounded", () => {
    expect(figure("ledger: largest size").ok).toBe(true);
    expect(figure("ledger: size after a quiet nonce lifetime").ok).toBe(true);
    expect(value("ledger: replays accepted")).toBe(0);
  });
});
