/**
 * The traceability matrix: requirement -> the code files that implement it (their "Implements:"
 * line, scripts/spec/code.ts) -> machine states and transitions that name it -> tests that name
 * it -> their results, and the model-based tests' coverage of each machine (from
 * spec/model-coverage.json, when present). Problems (which make `spec.ts trace` fail): an
 * implemented requirement without a passing test or without code that claims it, an id named by
 * a test, a machine or a code file that no requirement has, a failing test, a test file that did
 * not run, a malformed requirement list, model coverage below 100%.
 *
 * Implements: SPEC-TRACE
 * The rendering is deterministic (no times, no durations, fixed order) so it can be committed.
 */
import type { Requirement } from "../../spec/requirements.ts";
import { type CodeRef, checkCode, codeFor } from "./code.ts";
import { cell, table } from "./markdown.ts";
import type { ModelRef } from "./model.ts";
import { MODEL_COVERAGE_JSON, readModelCoverage } from "./outputs.ts";
import { anchor, statusText, validateRequirements } from "./requirements-md.ts";
import { compare, type FileError, type TestRecord, testName } from "./results.ts";

/** One machine's coverage by the model-based tests (test/model/*.model.test.ts). */
export interface MachineCoverage {
  machine: string;
  /** How the generated paths were bounded, e.g. key versions. */
  bound: string;
  paths: { shortest: number; simple: number };
  states: { covered: number; total: number; missing: string[] };
  /** `source --EVENT [guard]--> target`, a guard's refusing branch as `--> (refused)`. */
  transitions: { covered: number; total: number; missing: string[]; all: string[] };
}

/** spec/model-coverage.json. */
export interface ModelCoverage {
  machines: MachineCoverage[];
}

export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

export interface TraceRow extends Counts {
  requirement: Requirement;
  /** The files whose "Implements:" line names it, by path. */
  code: string[];
  /** `entity: state entity.active`, in machine and document order. */
  model: string[];
  tests: TestRecord[];
}

export interface Trace {
  rows: TraceRow[];
  /** Tests whose titles name no requirement. */
  untraced: TestRecord[];
  totals: Counts & { tests: number };
  fileErrors: FileError[];
  /** From spec/model-coverage.json; null when the file is absent. */
  modelCoverage: ModelCoverage | null;
  problems: string[];
}

function counts(tests: readonly TestRecord[]): Counts {
  const c = { passed: 0, failed: 0, skipped: 0 };
  for (const t of tests) c[t.outcome]++;
  return c;
}

const MAX_LISTED = 10;

export function buildTrace(
  requirements: readonly Requirement[],
  tests: readonly TestRecord[],
  modelRefs: readonly ModelRef[],
  fileErrors: readonly FileError[] = [],
  modelCoverage: ModelCoverage | null = readModelCoverage(),
  /** The code's claims; null: not traced (unit tests of the matrix). */
  codeRefs: readonly CodeRef[] | null = null,
): Trace {
  const problems = validateRequirements(requirements);
  if (codeRefs) problems.push(...checkCode(requirements, codeRefs));
  const known = new Set(requirements.map((r) => r.id));

  const unknown = new Map<string, string[]>();
  for (const t of tests) {
    for (const id of t.ids.filter((x) => !known.has(x))) {
      unknown.set(id, [...(unknown.get(id) ?? []), `${t.file}: ${testName(t)}`]);
    }
  }
  for (const [id, where] of [...unknown].sort(([a], [b]) => compare(a, b))) {
    const more = where.length > 1 ? ` (and ${where.length - 1} more)` : "";
    problems.push(`unknown requirement id [${id}] named by test ${where[0]}${more}`);
  }
  for (const ref of modelRefs) {
    for (const id of ref.ids.filter((x) => !known.has(x))) {
      problems.push(`unknown requirement id [${id}] named by machine ${ref.machine}, ${ref.where}`);
    }
  }

  const rows = requirements.map((requirement) => {
    const mine = tests.filter((t) => t.ids.includes(requirement.id));
    const model = modelRefs
      .filter((ref) => ref.ids.includes(requirement.id))
      .map((ref) => `${ref.machine}: ${ref.where}`);
    const code = codeRefs ? codeFor(requirement.id, codeRefs) : [];
    return { requirement, code, model, tests: mine, ...counts(mine) };
  });
  for (const row of rows) {
    if (row.requirement.status.state !== "implemented" || row.passed > 0) continue;
    const seen =
      row.tests.length === 0 ? "no test names it" : `${row.failed} failed, ${row.skipped} skipped`;
    problems.push(`implemented requirement ${row.requirement.id} has no passing test (${seen})`);
  }

  const failed = tests.filter((t) => t.outcome === "failed");
  for (const t of failed.slice(0, MAX_LISTED))
    problems.push(`test failed: ${t.file}: ${testName(t)}`);
  if (failed.length > MAX_LISTED)
    problems.push(`... and ${failed.length - MAX_LISTED} more failed tests`);
  for (const e of fileErrors) problems.push(`test file did not run: ${e.file}: ${e.message}`);
  for (const m of modelCoverage?.machines ?? []) {
    const { states: s, transitions: t } = m;
    if (s.covered < s.total || t.covered < t.total) {
      problems.push(
        `model coverage of machine ${m.machine} below 100%: states ${s.covered}/${s.total}, transitions ${t.covered}/${t.total}`,
      );
    }
  }

  return {
    rows,
    untraced: tests.filter((t) => t.ids.length === 0),
    totals: { tests: tests.length, ...counts(tests) },
    fileErrors: [...fileErrors],
    modelCoverage,
    problems,
  };
}

const ratio = ({ covered, total }: { covered: number; total: number }) =>
  `${covered}/${total} (${total === 0 ? 100 : Math.floor((covered * 100) / total)}%)`;

function renderModelCoverage(coverage: ModelCoverage): string[] {
  const machines = [...coverage.machines].sort((a, b) => compare(a.machine, b.machine));
  const out = [
    "",
    "## Model coverage",
    "",
    `From \`${MODEL_COVERAGE_JSON}\`, written by the model-based tests (\`test/model/*.model.test.ts\`, ` +
      "run with `MODEL_COVERAGE_OUT=1`): paths generated from each machine by xstate's " +
      "`createTestModel` and run against the real system. A transition is a source state, an event, " +
      "a guard branch and a target; a guard's refusing branch counts as one, with target `(refused)`.",
    "",
    ...table(
      ["Machine", "States", "Transitions", "Paths (shortest + simple)", "Bound"],
      machines.map((m) => [
        `\`${m.machine}\``,
        ratio(m.states),
        ratio(m.transitions),
        `${m.paths.shortest} + ${m.paths.simple}`,
        cell(m.bound),
      ]),
    ),
  ];
  for (const m of machines) {
    const missing = [...m.states.missing.map((s) => `state ${s}`), ...m.transitions.missing];
    if (missing.length > 0) {
      out.push("", `Not covered in \`${m.machine}\`:`, "", ...missing.map((x) => `- \`${x}\``));
    }
  }
  return out;
}

const link = (id: string) => `[${id}](requirements.md#${anchor(id)})`;
const numbers = (r: TraceRow) =>
  [
    r.code.length,
    r.model.length,
    new Set(r.tests.map((t) => t.file)).size,
    r.passed,
    r.failed,
    r.skipped,
  ].map(String);

function groupTests(tests: readonly TestRecord[]): string[] {
  const out: string[] = [];
  let file: string | undefined;
  const groups = new Map<string, TestRecord[]>();
  const flush = () => {
    for (const [suite, members] of groups) {
      const c = counts(members);
      const parts = (["passed", "failed", "skipped"] as const).filter((k) => c[k] > 0);
      out.push(`  - ${suite || "(top level)"}: ${parts.map((k) => `${c[k]} ${k}`).join(", ")}`);
      for (const t of members.filter((m) => m.outcome !== "passed")) {
        out.push(`    - ${t.outcome}: ${t.title}`);
      }
    }
    groups.clear();
  };
  for (const t of tests) {
    if (t.file !== file) {
      flush();
      out.push(`- \`${t.file}\``);
      file = t.file;
    }
    const suite = t.suites.join(" › ");
    groups.set(suite, [...(groups.get(suite) ?? []), t]);
  }
  flush();
  return out;
}

export function renderTrace(trace: Trace): string {
  const { rows, totals } = trace;
  const implemented = rows.filter((r) => r.requirement.status.state === "implemented");
  const deferred = rows.filter((r) => r.requirement.status.state === "deferred");
  const out = [
    "<!-- Generated by `tsx scripts/spec.ts trace` from spec/requirements.ts, machines/*.ts and a vitest run. Do not edit. -->",
    "",
    "# Traceability",
    "",
    `${rows.length} requirements (${implemented.length} implemented, ${deferred.length} deferred); ` +
      `${totals.tests} tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped; ` +
      `${trace.untraced.length} name no requirement.`,
    "",
    trace.problems.length === 0
      ? "Result: **OK**: every implemented requirement has a passing test and every named id exists."
      : `Result: **${trace.problems.length} problem(s)**, listed under [Problems](#problems).`,
    "",
    "## Implemented requirements",
    "",
    ...table(
      ["Requirement", "Kind", "Code files", "Model", "Test files", "Passed", "Failed", "Skipped"],
      implemented.map((r) => [link(r.requirement.id), r.requirement.kind, ...numbers(r)]),
    ),
    "",
    "## Deferred requirements",
    "",
    ...table(
      [
        "Requirement",
        "Kind",
        "Reason",
        "Code files",
        "Model",
        "Test files",
        "Passed",
        "Failed",
        "Skipped",
      ],
      deferred.map((r) => [
        link(r.requirement.id),
        r.requirement.kind,
        cell(r.requirement.status.state === "deferred" ? r.requirement.status.reason : ""),
        ...numbers(r),
      ]),
    ),
  ];
  if (trace.modelCoverage) out.push(...renderModelCoverage(trace.modelCoverage));
  if (trace.problems.length > 0) {
    out.push("", "## Problems", "", ...trace.problems.map((p) => `- ${p}`));
  }
  out.push("", "## Code, model and tests by requirement");
  for (const row of rows) {
    if (row.code.length === 0 && row.model.length === 0 && row.tests.length === 0) continue;
    out.push(
      "",
      `### ${row.requirement.id}`,
      "",
      `${row.requirement.statement} (${statusText(row.requirement)})`,
      "",
    );
    for (const file of row.code) out.push(`- code: [\`${file}\`](../${file})`);
    for (const m of row.model) out.push(`- model: ${m}`);
    out.push(...groupTests(row.tests));
  }
  if (trace.untraced.length > 0) {
    out.push("", "## Tests that name no requirement", "", ...groupTests(trace.untraced));
  }
  return `${out.join("\n")}\n`;
}
