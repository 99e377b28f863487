/**
 * The spec/ generators (see spec/requirements.ts):
 *
 *   tsx scripts/spec.ts requirements [--check]   spec/requirements.md from spec/requirements.ts
 *   tsx scripts/spec.ts diagrams [--check]       spec/diagrams/<machine-id>.md from machines/*.ts
 *   tsx scripts/spec.ts generate                 both of the above, and the reviewer page's
 *                                                requirement index (scripts/spec/requirement-index.ts)
 *   tsx scripts/spec.ts check                    both with --check: exit 1 if a file is stale,
 *                                                or an implemented requirement has no code that
 *                                                says "Implements: <id>" (scripts/spec/code.ts)
 *   tsx scripts/spec.ts trace [--results FILE] [--check]
 *       runs the whole vitest suite (or reads FILE, a vitest JSON report) and writes
 *       spec/traceability.md; exit 1 on an implemented requirement without a passing test, an
 *       unknown id, a failing test or a test file that did not run.
 *
 * With --check nothing is written. Exit codes: 0 ok, 1 problems or stale files, 2 usage.
 *
 * Implements: SPEC-REQUIREMENTS, SPEC-TRACE, SPEC-DIAGRAMS
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { REQUIREMENTS } from "../spec/requirements.ts";
import { checkCode, scanCode } from "./spec/code.ts";
import { loadMachines, modelRefs } from "./spec/model.ts";
import {
  DIAGRAMS_DIR,
  findSeed,
  REPO_ROOT,
  renderDiagramFiles,
  renderRequirementsFile,
  staleFiles,
  TRACEABILITY_MD,
} from "./spec/outputs.ts";
import { renderRequirementIndexFile } from "./spec/requirement-index.ts";
import { checkQuotes, validateRequirements } from "./spec/requirements-md.ts";
import { readVitestJson } from "./spec/results.ts";
import { buildTrace, renderTrace } from "./spec/trace.ts";

const USAGE =
  "usage: tsx scripts/spec.ts requirements|diagrams|generate|check [--check]\n" +
  "       tsx scripts/spec.ts trace [--results FILE] [--check]";

function fail(message: string, code = 1): never {
  console.error(message);
  process.exit(code);
}

/** Writes `files`, or with `check` only reports the stale ones. Returns false when stale. */
function writeOrCheck(
  files: ReadonlyMap<string, string>,
  check: boolean,
  command: string,
  orphanDir?: string,
): boolean {
  const stale = staleFiles(files, REPO_ROOT, orphanDir);
  if (check) {
    for (const path of stale) console.error(`stale: ${path} (run: tsx scripts/spec.ts ${command})`);
    return stale.length === 0;
  }
  for (const path of stale) {
    const full = join(REPO_ROOT, path);
    if (!files.has(path)) {
      unlinkSync(full);
      console.log(`removed ${path} (no such machine)`);
      continue;
    }
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, files.get(path) as string);
    console.log(`wrote ${path}`);
  }
  return true;
}

function requirementsCommand(check: boolean): boolean {
  const problems = validateRequirements(REQUIREMENTS);
  const seed = findSeed();
  if (seed) problems.push(...checkQuotes(REQUIREMENTS, readFileSync(seed, "utf8")));
  else console.warn("seed text not found (set CPNS_SEED): quotes not checked against it");
  if (problems.length > 0) fail(`spec/requirements.ts:\n  ${problems.join("\n  ")}`);
  return writeOrCheck(renderRequirementsFile(), check, "requirements");
}

/** Every implemented requirement is claimed by a code file, and code claims only known ids. */
function codeCommand(): boolean {
  const problems = checkCode(REQUIREMENTS, scanCode(REPO_ROOT));
  for (const problem of problems) console.error(`code: ${problem}`);
  return problems.length === 0;
}

/** Issue #13: the reviewer page's requirement index (ids -> text, test files, code files). */
function requirementIndexCommand(check: boolean): boolean {
  const files = renderRequirementIndexFile(REQUIREMENTS, scanCode(REPO_ROOT), REPO_ROOT);
  return writeOrCheck(files, check, "generate");
}

async function diagramsCommand(check: boolean): Promise<boolean> {
  return writeOrCheck(await renderDiagramFiles(), check, "diagrams", DIAGRAMS_DIR);
}

/** Runs the whole suite with the JSON reporter next to the default one. */
function runVitest(): { report: unknown; status: number | null } {
  const dir = mkdtempSync(join(tmpdir(), "cpns-trace-"));
  const out = join(dir, "vitest.json");
  try {
    const args = [
      "vitest",
      "run",
      "--reporter=default",
      "--reporter=json",
      `--outputFile.json=${out}`,
    ];
    const run = spawnSync("npx", args, { cwd: REPO_ROOT, stdio: "inherit" });
    if (run.error) fail(`could not run vitest: ${run.error.message}`);
    try {
      return { report: JSON.parse(readFileSync(out, "utf8")), status: run.status };
    } catch {
      return fail(`vitest wrote no JSON report (exit status ${run.status})`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function traceCommand(resultsFile: string | undefined, check: boolean): Promise<boolean> {
  const { report, status } = resultsFile
    ? { report: JSON.parse(readFileSync(resolve(resultsFile), "utf8")), status: 0 }
    : runVitest();
  const { tests, fileErrors } = readVitestJson(report, REPO_ROOT);
  const machines = await loadMachines(join(REPO_ROOT, "machines"), REPO_ROOT);
  const trace = buildTrace(
    REQUIREMENTS,
    tests,
    machines.flatMap((m) => modelRefs(m.machine)),
    fileErrors,
    undefined,
    scanCode(REPO_ROOT),
  );
  // e.g. an unhandled error outside any test: vitest fails the run without failing a test.
  if (status !== 0) trace.problems.push(`vitest exited with status ${status}`);
  const fresh = writeOrCheck(new Map([[TRACEABILITY_MD, renderTrace(trace)]]), check, "trace");
  const { passed, failed, skipped } = trace.totals;
  console.log(
    `trace: ${tests.length} tests (${passed} passed, ${failed} failed, ${skipped} skipped)`,
  );
  if (trace.problems.length > 0) {
    console.error(`trace: ${trace.problems.length} problem(s):\n  ${trace.problems.join("\n  ")}`);
    return false;
  }
  return fresh;
}

async function main(argv: string[]): Promise<boolean> {
  const [command, ...rest] = argv;
  const check = rest.includes("--check");
  const at = rest.indexOf("--results");
  const results = at >= 0 ? rest[at + 1] : undefined;
  const known = new Set(["--check", "--results", ...(results ? [results] : [])]);
  if (rest.some((arg) => !known.has(arg)) || (at >= 0 && !results?.match(/^[^-]/))) {
    fail(USAGE, 2);
  }
  switch (command) {
    case "requirements":
      return requirementsCommand(check);
    case "diagrams":
      return diagramsCommand(check);
    case "generate":
    case "check": {
      const asCheck = check || command === "check";
      const a = requirementsCommand(asCheck);
      const b = await diagramsCommand(asCheck);
      const c = codeCommand();
      const d = requirementIndexCommand(asCheck);
      if (asCheck && a && b && c && d) {
        console.log(
          "spec: requirements.md and diagrams are up to date, every requirement has code",
        );
      }
      return a && b && c && d;
    }
    case "trace":
      return traceCommand(results, check);
    default:
      return fail(USAGE, 2);
  }
}

main(process.argv.slice(2)).then(
  (ok) => process.exit(ok ? 0 : 1),
  (error: unknown) => fail(error instanceof Error ? (error.stack ?? error.message) : String(error)),
);
