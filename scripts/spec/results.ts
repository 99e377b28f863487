/**
 * Reads vitest's JSON reporter output (`vitest run --reporter=json --outputFile=...`, the
 * Jest-compatible shape) into one record per test, with the requirement ids its titles name.
 *
 * Implements: SPEC-TRACE
 */
import { relative } from "node:path";
import { idsOfTest } from "./ids.ts";

export type Outcome = "passed" | "failed" | "skipped";

export interface TestRecord {
  /** Repository-relative test file, `/` separators. */
  file: string;
  /** The describe chain, outermost first. */
  suites: string[];
  title: string;
  outcome: Outcome;
  ids: string[];
}

/** A test file that failed as a whole (import error, error in a hook outside any test). */
export interface FileError {
  file: string;
  message: string;
}

interface JsonAssertion {
  ancestorTitles?: string[];
  title?: string;
  status?: string;
}
interface JsonFile {
  name?: string;
  status?: string;
  message?: string;
  assertionResults?: JsonAssertion[];
}

function outcome(status: string | undefined): Outcome {
  if (status === "passed") return "passed";
  if (status === "failed") return "failed";
  return "skipped"; // skipped, pending, todo, disabled
}

export function readVitestJson(
  json: unknown,
  repoRoot: string,
): { tests: TestRecord[]; fileErrors: FileError[] } {
  const files = (json as { testResults?: JsonFile[] })?.testResults;
  if (!Array.isArray(files)) throw new Error("not a vitest JSON report: no testResults array");
  const tests: TestRecord[] = [];
  const fileErrors: FileError[] = [];
  for (const f of files) {
    const file = relative(repoRoot, f.name ?? "?")
      .split("\\")
      .join("/");
    const assertions = f.assertionResults ?? [];
    if (f.status === "failed" && (f.message || assertions.length === 0)) {
      fileErrors.push({ file, message: (f.message ?? "").split("\n")[0] || "failed" });
    }
    for (const a of assertions) {
      const suites = a.ancestorTitles ?? [];
      const title = a.title ?? "";
      tests.push({
        file,
        suites,
        title,
        outcome: outcome(a.status),
        ids: idsOfTest(suites, title),
      });
    }
  }
  // Files in path order (vitest reports them in completion order); tests in definition order.
  tests.sort((a, b) => compare(a.file, b.file));
  fileErrors.sort((a, b) => compare(a.file, b.file));
  return { tests, fileErrors };
}

/** `describe › describe › test`. */
export const testName = (t: TestRecord) => [...t.suites, t.title].join(" › ");

/** Code-unit order: the same on every machine and locale. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
