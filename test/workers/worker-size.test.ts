/**
 * The Worker bundle's size limit (issue #11: <= 150 KB gzipped), checked by
 * running the very command the README gives: `npm run size:worker`
 * (scripts/worker-size.ts), which bundles with wrangler as a deploy would.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../conformance/spawn.ts";

describe("[FLEET-WORKERS-SIZE] the Worker bundle", () => {
  it("[FLEET-WORKERS-SIZE][FLEET-WORKERS-PASSWORD][LAYOUT-LIBRARY] is at most 150 KB gzipped with the diagram layout library in it, and zxcvbn's dictionaries are not in it", () => {
    const run = spawnSync(
      join(REPO_ROOT, "node_modules", ".bin", "tsx"),
      ["scripts/worker-size.ts"],
      {
        cwd: REPO_ROOT,
        encoding: "utf8",
        timeout: 240_000,
      },
    );
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    const gzipped = Number(run.stdout.match(/gzipped:\s+(\d+) bytes/)?.[1]);
    const minified = Number(run.stdout.match(/minified:\s+(\d+) bytes/)?.[1]);
    expect(gzipped).toBeGreaterThan(10_000);
    expect(gzipped).toBeLessThanOrEqual(150 * 1024);
    expect(minified).toBeGreaterThan(gzipped);
    expect(run.stdout).toContain("OK: under the limit");
    expect(run.stdout).not.toMatch(/@zxcvbn-ts\/language/);
    // The reviewer page's layout (issue #13) is computed in the Worker too, by dagre.
    expect(run.stdout).toMatch(/@dagrejs\/dagre\s+\d+/);
  }, 300_000);
});
