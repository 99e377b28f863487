/**
 * Issue #11 ("Architecture on the way"): the CLI and the runtime entries no longer import
 * each other in a circle. Everything the `cpns` command needs from its runtime (key store,
 * files, password prompt, serving, TLS trust) comes in through its context
 * (src/cli/context.ts), built by src/runtime/node-cli.ts, the one runtime file that may
 * import src/cli. This test reads the import specifiers of every file (static, re-exports and
 * dynamic import()) and resolves the relative ones, so a new `../runtime/...` under src/cli
 * fails it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** Every module specifier a source text names: import/export ... from, bare import, import(). */
function specifiers(text: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:import|export)\s[^'"`;]*?\sfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of text.matchAll(pattern)) if (match[1]) found.push(match[1]);
  }
  return found;
}

/** The repository-relative target of a relative specifier of `file`; bare specifiers as they are. */
function target(file: string, specifier: string): string {
  if (!specifier.startsWith(".")) return specifier;
  return relative(ROOT, resolve(ROOT, dirname(file), specifier));
}

/** Each (file, target) pair of `files` whose target starts with one of `forbidden`. */
function crossings(
  files: ReadonlyArray<{ file: string; text: string }>,
  forbidden: readonly string[],
): string[] {
  const out: string[] = [];
  for (const { file, text } of files) {
    for (const specifier of specifiers(text)) {
      const to = target(file, specifier);
      if (
        forbidden.some(
          (prefix) => to === prefix || to.startsWith(`${prefix}/`) || to.startsWith(prefix),
        )
      ) {
        out.push(`${file} -> ${specifier}`);
      }
    }
  }
  return out;
}

const read = (files: string[]) =>
  files.map((file) => ({ file, text: readFileSync(join(ROOT, file), "utf8") }));

describe("[FLEET-SHELL-WALL] the CLI and the runtime entries do not import each other in a circle", () => {
  it("[FLEET-SHELL-WALL] finds every form of import, so the checks below can fail", () => {
    const planted = [
      {
        file: "src/cli/commands/x.ts",
        text: [
          'import { a } from "../../runtime/node-keystore.ts";',
          'import type { B } from "../../runtime/node-gateway.ts";',
          'export { c } from "../../runtime/node-password.ts";',
          'import "../../runtime/side-effect.ts";',
          'const m = await import("../../runtime/node-tls-trust.ts");',
          "import {\n  d,\n  e,\n} from '../../runtime/node-cli-files.ts';",
          'import { fine } from "../context.ts";',
          'import { readFileSync } from "node:fs";',
        ].join("\n"),
      },
    ];
    expect(crossings(planted, ["src/runtime"])).toEqual([
      "src/cli/commands/x.ts -> ../../runtime/node-keystore.ts",
      "src/cli/commands/x.ts -> ../../runtime/node-gateway.ts",
      "src/cli/commands/x.ts -> ../../runtime/node-password.ts",
      "src/cli/commands/x.ts -> ../../runtime/node-cli-files.ts",
      "src/cli/commands/x.ts -> ../../runtime/side-effect.ts",
      "src/cli/commands/x.ts -> ../../runtime/node-tls-trust.ts",
    ]);
    expect(crossings(planted, ["node:"])).toEqual(["src/cli/commands/x.ts -> node:fs"]);
  });

  it("[FLEET-SHELL-WALL] nothing under src/cli imports src/runtime, nor node:* (the runtime comes in through the context)", () => {
    const cli = read(filesUnder("src/cli"));
    expect(cli.length).toBeGreaterThan(10);
    expect(crossings(cli, ["src/runtime"])).toEqual([]);
    expect(crossings(cli, ["node:"])).toEqual([]);
  });

  it("[FLEET-SHELL-WALL] nothing under src/runtime imports src/cli but node-cli.ts, the entry that builds the CLI's context", () => {
    const runtime = read(filesUnder("src/runtime"));
    expect(crossings(runtime, ["src/cli"])).toEqual([
      "src/runtime/node-cli.ts -> ../cli/context.ts",
      "src/runtime/node-cli.ts -> ../cli/errors.ts",
      "src/runtime/node-cli.ts -> ../cli/program.ts",
    ]);
  });
});
