/**
 * The table of `npm run bench` (issue #12, Speed): the medians of the
 * columns measured in one run (open app, no-op middleware ceiling,
 * digestAuth(), Hono's basicAuth(), and the floor: the unavoidable work of a
 * Digest verification alone) and the three target ratios with PASS or MISS
 * beside each; the floor's two ratios say how high any Digest middleware
 * could reach in this framework on this machine. Pure: figures in, lines out, so the PASS/MISS logic is
 * tested on canned numbers (test/unit/bench-table.test.ts).
 *
 * Implements: DIGEST-SPEED-TABLE
 */

/** Medians (requests/s) of one measurement, all from the same run. */
export interface Columns {
  open: number;
  noop: number;
  digest: number;
  basic: number;
  /** The floor (bench/server.ts): two SHA-256 and a ledger update, nothing checked. */
  floor?: number;
  /** The server's CPU time per request, µs, per column (user + system, all its threads). */
  cpuMicros?: Partial<Record<"open" | "noop" | "digest" | "basic" | "floor", number>>;
}

export interface Target {
  name: string;
  ratio: number;
  goal: number;
  pass: boolean;
}

/** The three targets: digestAuth against the no-op ceiling, the open app (Apache's ratio) and basicAuth. */
export function targets(c: Columns): Target[] {
  const target = (name: string, over: number, goal: number): Target => {
    const ratio = over > 0 ? c.digest / over : 0;
    return { name, ratio, goal, pass: over > 0 && c.digest > 0 && ratio >= goal };
  };
  return [
    target("digestAuth / no-op ceiling", c.noop, 0.85),
    target("digestAuth / open app (Apache's ratio)", c.open, 0.72),
    target("digestAuth / Hono basicAuth()", c.basic, 2),
  ];
}

const grouped = (n: number) => Math.round(n).toLocaleString("en-US");

/** The table as printed: one row of columns, then one line per target ratio. */
export function formatTable(label: string, c: Columns): string[] {
  const withFloor = c.floor !== undefined;
  const header = ["", "open", "no-op", "digestAuth()", "basicAuth()"];
  const row = [label, grouped(c.open), grouped(c.noop), grouped(c.digest), grouped(c.basic)];
  const ratios = [
    "ratio to open",
    "1.000",
    fixed(c.noop, c.open),
    fixed(c.digest, c.open),
    fixed(c.basic, c.open),
  ];
  const cpu = c.cpuMicros;
  const cpuRow = cpu && [
    "server CPU µs/request",
    micros(cpu.open),
    micros(cpu.noop),
    micros(cpu.digest),
    micros(cpu.basic),
  ];
  if (withFloor) {
    header.push("floor");
    row.push(grouped(c.floor ?? 0));
    ratios.push(fixed(c.floor ?? 0, c.open));
    cpuRow?.push(micros(cpu?.floor));
  }
  const rows = cpuRow ? [header, row, ratios, cpuRow] : [header, row, ratios];
  const widths = header.map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join(" | ")} |`;
  const out = [
    line(header),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    line(row),
    line(ratios),
    ...(cpuRow ? [line(cpuRow)] : []),
  ];
  for (const t of targets(c)) {
    out.push(
      `  ${t.name.padEnd(40)} ${t.ratio.toFixed(3)} (target >= ${t.goal}) ${t.pass ? "PASS" : "MISS"}`,
    );
  }
  if (withFloor) {
    // No PASS/MISS: the floor is not an authentication, only the height any Digest middleware could reach.
    out.push(
      `  ${"floor / no-op ceiling, / open app".padEnd(40)} ${fixed(c.floor ?? 0, c.noop)}, ${fixed(c.floor ?? 0, c.open)} (the most a Digest middleware could reach here)`,
    );
  }
  return out;
}

function micros(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? "-" : value.toFixed(1);
}

function fixed(value: number, over: number): string {
  return over > 0 ? (value / over).toFixed(3) : "-";
}

/** The challenge step's verdict: the digest/open ratio within 5 % of the fresh one, the heap after GC not growing. */
export function flatness(
  before: Columns,
  after: Columns,
  heapBefore: number,
  heapAfter: number,
): { drift: number; heapGrowth: number; pass: boolean } {
  const ratioBefore = before.open > 0 ? before.digest / before.open : 0;
  const ratioAfter = after.open > 0 ? after.digest / after.open : 0;
  const drift = ratioBefore > 0 ? ratioAfter / ratioBefore - 1 : Number.NaN;
  const heapGrowth = heapAfter - heapBefore;
  // "Not growing": less than 1 MiB after a full GC, whatever the challenge count.
  const pass = Number.isFinite(drift) && Math.abs(drift) <= 0.05 && heapGrowth < 2 ** 20;
  return { drift, heapGrowth, pass };
}
