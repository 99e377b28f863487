/**
 * The generated files of spec/ as path -> content, rendered in memory from spec/requirements.ts and
 * machines/*.ts, and the comparison with what is on disk (for `--check` and the up-to-date test);
 * and spec/model-coverage.json, which the model-based tests write and the matrix reads.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { REQUIREMENTS } from "../../spec/requirements.ts";
import { diagramPath, renderDiagramPage } from "./diagrams.ts";
import { loadMachines } from "./model.ts";
import { renderRequirements } from "./requirements-md.ts";
import type { ModelCoverage } from "./trace.ts";

export const REPO_ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const REQUIREMENTS_MD = "spec/requirements.md";
export const TRACEABILITY_MD = "spec/traceability.md";
export const DIAGRAMS_DIR = "spec/diagrams";
/** Written by `MODEL_COVERAGE_OUT=1 vitest run test/model`; read by the traceability matrix. */
export const MODEL_COVERAGE_JSON = "spec/model-coverage.json";

/** spec/model-coverage.json, or null when there is none. */
export function readModelCoverage(root = REPO_ROOT): ModelCoverage | null {
  const path = join(root, MODEL_COVERAGE_JSON);
  if (!existsSync(path)) return null;
  const parsed = JSON.parse(readFileSync(path, "utf8")) as ModelCoverage;
  if (!Array.isArray(parsed?.machines))
    throw new Error(`${MODEL_COVERAGE_JSON}: no "machines" list`);
  return parsed;
}

/** The seed text: $CPNS_SEED, else the copy in spec/seed/ (the normative source, kept in the repository). */
export function findSeed(root = REPO_ROOT): string | undefined {
  const path = process.env.CPNS_SEED ?? join(root, "spec", "seed", "cpns-security-cr.txt");
  return existsSync(path) ? path : undefined;
}

export function renderRequirementsFile(): Map<string, string> {
  return new Map([[REQUIREMENTS_MD, renderRequirements(REQUIREMENTS)]]);
}

export async function renderDiagramFiles(root = REPO_ROOT): Promise<Map<string, string>> {
  const machines = await loadMachines(join(root, "machines"), root);
  return new Map(machines.map((m) => [diagramPath(m.machine.id), renderDiagramPage(m)]));
}

/**
 * Files whose content on disk differs from `expected`, or that are missing; with `orphanDir`, also
 * the `.md` files in it that `expected` does not produce (a diagram of a removed machine).
 */
export function staleFiles(
  expected: ReadonlyMap<string, string>,
  root = REPO_ROOT,
  orphanDir?: string,
): string[] {
  const stale = [...expected]
    .filter(([path, content]) => {
      const full = join(root, path);
      return !existsSync(full) || readFileSync(full, "utf8") !== content;
    })
    .map(([path]) => path);
  if (orphanDir && existsSync(join(root, orphanDir))) {
    for (const name of readdirSync(join(root, orphanDir)).sort()) {
      const path = `${orphanDir}/${name}`;
      if (name.endsWith(".md") && !expected.has(path)) stale.push(path);
    }
  }
  return stale;
}
