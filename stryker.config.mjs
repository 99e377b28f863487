// Mutation testing (issue #9): `npm run mutate` mutates the security code
// (src/digest, machines, src/agent, src/gateway, src/server) and runs the
// vitest tests that cover it against each mutant. Not part of CI: a full run
// takes hours on two cores. Choose a part with MUTATE_SCOPE (digest, machines,
// agent, gateway, server; default: all five), e.g.
//   MUTATE_SCOPE=digest npm run mutate
//   MUTATE_SCOPE=machines MUTATE_TESTS='test/unit/machines-*.test.ts' npm run mutate
// Reports go to reports/mutation/ (ignored); the summary lives in docs/mutation.md.
//
// Implements: GAP-MUTATE

/** Which source files each scope mutates, and which tests can kill its mutants. */
const SCOPES = {
  digest: {
    mutate: ["src/digest/**/*.ts"],
    tests: [
      "test/unit/digest-*.test.ts",
      "test/unit/mut-digest-*.test.ts",
      "test/unit/crypto-providers.test.ts",
    ],
  },
  machines: {
    mutate: ["machines/**/*.ts"],
    tests: [
      "test/unit/machines-*.test.ts",
      "test/unit/mut-machines-*.test.ts",
      "test/model/**/*.test.ts",
    ],
  },
  agent: {
    mutate: ["src/agent/**/*.ts"],
    tests: [
      "test/unit/otk-transport.test.ts",
      "test/e2e/server-*.test.ts",
      "test/e2e/peer-*.test.ts",
      // The secure channel's client end (record-channel.ts, channel-client.ts) is driven by these.
      "test/e2e/channel-*.test.ts",
      "test/e2e/secure-session-matrix.test.ts",
      "test/e2e/tls-declare*.test.ts",
      // The agents' Digest protection (qop and algorithm floors, rspauth) under a path attacker.
      "test/e2e/mitm-downgrade.test.ts",
      "test/e2e/defence-in-depth.test.ts",
      // Hand-checked kills of the first run's survivors (docs/mutation.md, src/agent).
      "test/unit/mut-agent-*.test.ts",
    ],
  },
  gateway: {
    mutate: ["src/gateway/**/*.ts"],
    tests: [
      "test/e2e/peer-*.test.ts",
      "test/unit/gateway-*.test.ts",
      "test/unit/app-shell.test.ts",
      "test/unit/mut-gateway-*.test.ts",
      "test/e2e/mitm-downgrade.test.ts",
      "test/e2e/channel-safety.test.ts",
      "test/e2e/channel-server.test.ts",
      "test/e2e/secure-session-matrix.test.ts",
      "test/e2e/tls-declare-relay.test.ts",
      "test/e2e/defence-in-depth.test.ts",
      "test/model/gateway-session.model.test.ts",
      "test/model/peer-session.model.test.ts",
    ],
  },
  server: {
    mutate: ["src/server/**/*.ts"],
    tests: [
      "test/unit/server-*.test.ts",
      "test/unit/store-*.test.ts",
      "test/unit/mut-server-*.test.ts",
      "test/e2e/server-*.test.ts",
      "test/e2e/defence-in-depth.test.ts",
      // These drive src/server too and start no outside process (no Deno, workerd,
      // curl, spawned servers): without them their kills were not counted.
      "test/unit/tls-declare-runtime.test.ts",
      "test/unit/security-log-limits.test.ts",
      "test/e2e/tls-declare.test.ts",
      "test/e2e/tls-declare-relay.test.ts",
      "test/e2e/mitm-downgrade.test.ts",
      "test/e2e/otk-tls-pin.test.ts",
    ],
  },
};

const chosen = (process.env.MUTATE_SCOPE ?? Object.keys(SCOPES).join(","))
  .split(",")
  .map((name) => name.trim())
  .filter((name) => name.length > 0);
for (const name of chosen) {
  if (!(name in SCOPES)) throw new Error(`MUTATE_SCOPE: unknown scope ${name}`);
}
const pick = (key) => [...new Set(chosen.flatMap((name) => SCOPES[name][key]))];
// MUTATE_TESTS (comma-separated globs) replaces the scope's tests, for a quicker, weaker run:
// a mutant only the left-out tests would kill then counts as a survivor.
process.env.STRYKER_TESTS = process.env.MUTATE_TESTS || pick("tests").join(",");
// MUTATE_FILES (comma-separated paths or globs inside the scope) mutates only those files, for
// a run that finishes on a loaded machine; its reports get their own folder (label) so that
// runs over different files of one scope do not overwrite each other's incremental results.
const files = (process.env.MUTATE_FILES ?? "")
  .split(",")
  .map((file) => file.trim())
  .filter((file) => file.length > 0);
const label =
  chosen.join("+") +
  (files.length > 0
    ? `--${files.map((file) => file.replace(/^.*\//, "").replace(/\.ts$/, "")).join("+")}`
    : "");

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "vitest",
  plugins: ["@stryker-mutator/vitest-runner"],
  vitest: { configFile: "vitest.stryker.config.ts", related: false },
  mutate: files.length > 0 ? files : pick("mutate"),
  coverageAnalysis: "perTest",
  // Two cores shared by several people: one mutant at a time.
  concurrency: 1,
  // Added to 1.5 x the tests' own time: enough for a loaded machine, short enough that
  // mutants looping forever (sticky regexes, cursors) do not cost half a minute each.
  timeoutMS: 10000,
  incremental: true,
  incrementalFile: `reports/mutation/${label}/incremental.json`,
  reporters: ["clear-text", "progress", "html", "json"],
  htmlReporter: { fileName: `reports/mutation/${label}/mutation.html` },
  jsonReporter: { fileName: `reports/mutation/${label}/mutation.json` },
  tempDirName: ".stryker-tmp",
  // Runs of different files may overlap (--tempDirName .stryker-tmp-<x>): never copy another
  // run's sandbox (or the reports) into this one's.
  ignorePatterns: ["/.stryker-tmp*", "/reports"],
  cleanTempDir: "always",
  thresholds: { high: 95, low: 85, break: null },
};
