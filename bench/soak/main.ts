/**
 * `npm run soak` (issue #9 "Reliability figures"): runs the soak (full profile
 * unless `--profile ci`), prints every figure beside its target, writes the
 * details as JSON (`--out <file>`, default .soak/last.json), and exits 1 when a
 * target is missed.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { formatTable, PROFILES, runSoak } from "./soak.ts";

const args = process.argv.slice(2);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const profileName = option("--profile") ?? "full";
if (profileName !== "full" && profileName !== "ci") {
  console.error(
    "usage: npm run soak [-- --profile full|ci] [--fuzz-only] [--fuzz-budget N] [--fuzz-max-s S] [--out file.json]",
  );
  process.exit(2);
}
const out = option("--out") ?? ".soak/last.json";
// --fuzz-only [--fuzz-budget N] [--fuzz-max-s S]: the fuzz phase alone, e.g. to reach 1,000,000 requests.
const fuzzBudget = option("--fuzz-budget");
const fuzzMaxS = option("--fuzz-max-s");
const profile = {
  ...PROFILES[profileName],
  ...(args.includes("--fuzz-only") ? { fuzzOnly: true } : {}),
  ...(fuzzBudget ? { fuzzBudget: Number(fuzzBudget) } : {}),
  ...(fuzzMaxS ? { fuzzMaxMs: Number(fuzzMaxS) * 1000 } : {}),
};
const stamp = () => new Date().toISOString().slice(11, 19);
const report = await runSoak(profile, (line) => console.log(`[${stamp()}] ${line}`));
console.log(`\nsoak (${profileName}), ${Math.round(report.wallMs / 1000)} s wall\n`);
console.log(formatTable(report));
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\ndetails: ${out}`);
process.exit(report.figures.every((f) => f.ok) ? 0 : 1);
