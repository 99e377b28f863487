/**
 * Issue #9, mutation testing as a habit: `npm run mutate` (stryker.config.mjs)
 * must mutate the five security folders and nothing else, run the tests that
 * cover each of them (globs that match real files, never the interop or
 * conformance suites, which start other runtimes), one mutant at a time, with
 * reports under the ignored reports/ folder.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const FOLDERS = ["src/digest", "machines", "src/agent", "src/gateway", "src/server"];

function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

/**
 * The config as Stryker reads it for one MUTATE_SCOPE (undefined = all), loaded by a
 * separate node process (the config sets STRYKER_TESTS for the vitest config it names).
 */
function configFor(scope: string | undefined, files?: string) {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.MUTATE_FILES;
  if (files !== undefined) env.MUTATE_FILES = files;
  delete env.MUTATE_SCOPE;
  delete env.STRYKER_TESTS;
  delete env.MUTATE_TESTS;
  if (scope !== undefined) env.MUTATE_SCOPE = scope;
  const script = `const { default: config } = await import(${JSON.stringify(
    pathToFileURL(join(ROOT, "stryker.config.mjs")).href,
  )}); console.log(JSON.stringify({ config, tests: process.env.STRYKER_TESTS }));`;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: ROOT,
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const parsed = JSON.parse(out) as {
    config: Record<string, unknown> & { mutate: string[] };
    tests: string;
  };
  return { config: parsed.config, tests: parsed.tests.split(",") };
}

describe("[GAP-MUTATE] npm run mutate", () => {
  it("[GAP-MUTATE] is a package script running Stryker with the vitest runner, one mutant at a time, reports in the ignored reports/ folder", async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(pkg.scripts.mutate).toBe("stryker run stryker.config.mjs");
    expect(pkg.scripts.test).not.toContain("stryker");
    const { config } = configFor(undefined);
    expect(config.testRunner).toBe("vitest");
    expect(config.concurrency).toBe(1);
    expect(readFileSync(join(ROOT, ".gitignore"), "utf8").split("\n")).toContain("reports/");
    expect(JSON.stringify(config)).not.toMatch(/"(?!reports\/mutation\/)[^"]*\.(html|json)"/);
  });

  it("[GAP-MUTATE] by default mutates exactly the five security folders", async () => {
    const { config } = configFor(undefined);
    expect([...config.mutate].sort()).toEqual(FOLDERS.map((dir) => `${dir}/**/*.ts`).sort());
  });

  it.each(["digest", "machines", "agent", "gateway", "server"])(
    "[GAP-MUTATE] scope %s: its own folder only, and tests that exist, none of them interop or conformance",
    async (scope) => {
      const { config, tests } = configFor(scope);
      expect(config.mutate).toHaveLength(1);
      expect(FOLDERS.map((dir) => `${dir}/**/*.ts`)).toContain(config.mutate[0]);
      const testFiles = [
        ...filesUnder("test/unit"),
        ...filesUnder("test/e2e"),
        ...filesUnder("test/model"),
      ];
      for (const glob of tests) {
        expect(glob).not.toMatch(/interop|conformance/);
        const pattern = new RegExp(
          `^${glob
            .replace(/\./g, "\\.")
            .replace(/\*\*\//g, "(.*/)?")
            .replace(/\*/g, "[^/]*")}$`,
        );
        expect(
          testFiles.some((file) => pattern.test(file)),
          glob,
        ).toBe(true);
      }
    },
  );

  it("[GAP-MUTATE] MUTATE_FILES narrows a scope to some of its files, with reports of their own", () => {
    const { config, tests } = configFor("digest", "src/digest/nonce.ts, src/digest/ledger.ts");
    expect(config.mutate).toEqual(["src/digest/nonce.ts", "src/digest/ledger.ts"]);
    expect(tests).toEqual(configFor("digest").tests);
    expect(config.incrementalFile).toBe("reports/mutation/digest--nonce+ledger/incremental.json");
    expect(configFor("digest").config.incrementalFile).toBe(
      "reports/mutation/digest/incremental.json",
    );
  });

  it("[GAP-MUTATE] an unknown scope is refused rather than silently mutating nothing", () => {
    expect(() => configFor("digets")).toThrow(/unknown scope digets/);
  });
});
