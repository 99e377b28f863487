/**
 * Issue #13 item 7: which code implements a requirement. Every source file says in its top
 * comment which requirements it implements, on a line of its own:
 *
 *    * Implements: SEED-5.x.2-1, DIGEST-NONCE
 *
 * (several such lines may follow each other). This module finds those lines in src/, machines/,
 * scripts/, bench/, the Promela model and the root config files, so the traceability matrix can
 * name the code beside the tests, and `spec.ts check` can fail on an id nobody knows or on an
 * implemented requirement that no file claims. Only the first comment of a file counts: an id
 * mentioned in passing further down is not a claim.
 *
 * Implements: SPEC-TRACE
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import type { Requirement } from "../../spec/requirements.ts";

export interface CodeRef {
  /** Repository-relative path with `/` separators. */
  file: string;
  ids: string[];
}

/** Where implementing code lives (tests are traced by their titles, not here). */
export const CODE_ROOTS = [
  "src",
  "machines",
  "scripts",
  "bench",
  "spec/promela",
  // Not tests themselves: the published vectors and the model-based tests' harness.
  "test/vectors",
  "test/model",
  // The conformance suite's harness (issue #11): the suite, run by the *.test.ts files beside it.
  "test/conformance",
] as const;
const ROOT_FILES = ["stryker.config.mjs", "wrangler.toml"] as const;
const CODE_FILE = /\.(ts|mjs|pml)$/;
const IMPLEMENTS_LINE = /^\s*(?:\*|\/\/|#)?\s*Implements:\s*(.+?)\s*$/;
const ID = /^[A-Z][A-Z0-9]*(?:-[A-Za-z0-9.]+)+$/;

/** The first comment of a source file: a block comment, or leading line comments. */
export function leadingComment(text: string): string {
  const trimmed = text.replace(/^#!.*\n/, "").trimStart();
  if (trimmed.startsWith("/*")) {
    const end = trimmed.indexOf("*/");
    return end < 0 ? trimmed : trimmed.slice(0, end);
  }
  const lines: string[] = [];
  for (const line of trimmed.split("\n")) {
    if (!/^\s*(\/\/|#)/.test(line)) break;
    lines.push(line);
  }
  return lines.join("\n");
}

/** The ids an `Implements:` line of the leading comment names, in order, without duplicates. */
export function implementedIds(text: string): string[] {
  const ids: string[] = [];
  for (const line of leadingComment(text).split("\n")) {
    const match = IMPLEMENTS_LINE.exec(line);
    if (!match) continue;
    for (const part of (match[1] as string).split(/[,\s]+/)) {
      const id = part.replace(/[.;]$/, "");
      if (id && !ids.includes(id)) ids.push(id);
    }
  }
  return ids;
}

function walk(dir: string, out: string[]): void {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir).sort()) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (CODE_FILE.test(name) && !/\.(test|d)\.ts$/.test(name)) out.push(path);
  }
}

/** Every code file that claims at least one requirement, sorted by path. */
export function scanCode(root: string): CodeRef[] {
  const files: string[] = [];
  for (const dir of CODE_ROOTS) walk(join(root, dir), files);
  for (const name of ROOT_FILES) {
    if (existsSync(join(root, name))) files.push(join(root, name));
  }
  return files
    .map((path) => ({
      file: relative(root, path).split("\\").join("/"),
      ids: implementedIds(readFileSync(path, "utf8")),
    }))
    .filter((ref) => ref.ids.length > 0)
    .sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/** The files that claim `id`. */
export function codeFor(id: string, refs: readonly CodeRef[]): string[] {
  return refs.filter((ref) => ref.ids.includes(id)).map((ref) => ref.file);
}

/** Malformed or unknown ids in code, and implemented requirements no file claims. */
export function checkCode(
  requirements: readonly Requirement[],
  refs: readonly CodeRef[],
): string[] {
  const known = new Set(requirements.map((r) => r.id));
  const problems: string[] = [];
  for (const ref of refs) {
    for (const id of ref.ids) {
      if (!ID.test(id)) problems.push(`${ref.file}: "Implements:" names "${id}", not an id`);
      else if (!known.has(id)) problems.push(`${ref.file}: implements unknown requirement ${id}`);
    }
  }
  for (const r of requirements) {
    if (r.status.state === "implemented" && codeFor(r.id, refs).length === 0) {
      problems.push(`implemented requirement ${r.id}: no code file says "Implements: ${r.id}"`);
    }
  }
  return problems;
}
