/**
 * The vitest configuration Stryker runs (issue #9, mutation testing): the same
 * defaults as `vitest run`, but only the test files chosen by STRYKER_TESTS
 * (comma-separated globs, set by stryker.config.mjs for the scope being
 * mutated), so a mutant never starts Deno, workerd or the interop peers.
 */
import { defineConfig } from "vitest/config";

const include = (process.env.STRYKER_TESTS ?? "test/unit/**/*.test.ts")
  .split(",")
  .map((glob) => glob.trim())
  .filter((glob) => glob.length > 0);

export default defineConfig({
  // The machine is shared and loaded during a run: a test that takes 2 s alone (agent
  // enrolment over HTTP) can pass 5 s, and a timeout in the dry run stops Stryker.
  test: { include, testTimeout: 30_000 },
});
