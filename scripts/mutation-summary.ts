/**
 * Issue #9, mutation testing: turns a Stryker JSON report
 * (reports/mutation/<scope>/mutation.json, mutation-testing-report-schema) into
 * the Markdown summary kept in docs/mutation.md: the score per folder and every
 * surviving (or untested) mutant with file:line, mutator and replacement, for a
 * person to mark as equivalent or missing a test.
 *
 *   tsx scripts/mutation-summary.ts reports/mutation/digest/mutation.json
 *
 * Implements: GAP-MUTATE
 */
import { readFileSync } from "node:fs";

interface Mutant {
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: { line: number; column: number } };
}
interface Report {
  files: Record<string, { mutants: Mutant[] }>;
}

const path = process.argv[2];
if (!path) {
  console.error("usage: tsx scripts/mutation-summary.ts <mutation.json>");
  process.exit(2);
}
const report = JSON.parse(readFileSync(path, "utf8")) as Report;

// Stryker's own definition: killed + timeout are detected; survived + no coverage are not;
// compile and runtime errors and ignored mutants are not counted at all.
const DETECTED = new Set(["Killed", "Timeout"]);
const UNDETECTED = new Set(["Survived", "NoCoverage"]);

const folders = new Map<string, { detected: number; undetected: number; other: number }>();
const survivors: string[] = [];
for (const [file, { mutants }] of Object.entries(report.files).sort(([a], [b]) =>
  a.localeCompare(b),
)) {
  const folder = file.split("/").slice(0, -1).join("/") || ".";
  const tally = folders.get(folder) ?? { detected: 0, undetected: 0, other: 0 };
  for (const mutant of mutants) {
    if (DETECTED.has(mutant.status)) tally.detected++;
    else if (UNDETECTED.has(mutant.status)) {
      tally.undetected++;
      const replacement = (mutant.replacement ?? "").replace(/\s+/g, " ").slice(0, 60);
      survivors.push(
        `| ${file}:${mutant.location.start.line} | ${mutant.mutatorName} | ${mutant.status} | \`${replacement.replace(/\|/g, "\\|").replace(/`/g, "'")}\` |`,
      );
    } else tally.other++;
  }
  folders.set(folder, tally);
}

const percent = (detected: number, undetected: number) =>
  detected + undetected === 0
    ? "n/a"
    : `${((100 * detected) / (detected + undetected)).toFixed(2)} %`;
console.log("| Folder | Detected | Undetected | Not counted | Score |");
console.log("| --- | --- | --- | --- | --- |");
let detected = 0;
let undetected = 0;
for (const [folder, tally] of folders) {
  detected += tally.detected;
  undetected += tally.undetected;
  console.log(
    `| ${folder} | ${tally.detected} | ${tally.undetected} | ${tally.other} | ${percent(tally.detected, tally.undetected)} |`,
  );
}
console.log(`| **total** | ${detected} | ${undetected} | | **${percent(detected, undetected)}** |`);
console.log("");
console.log("| Survivor | Mutator | Status | Replacement |");
console.log("| --- | --- | --- | --- |");
for (const line of survivors) console.log(line);
