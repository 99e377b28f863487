/**
 * Issue #13 item 7: the traceability matrix names the code that implements each requirement,
 * from the "Implements:" line of each file's top comment (scripts/spec/code.ts), and the check
 * fails on an unknown id or on an implemented requirement that no file claims.
 */
import { describe, expect, it } from "vitest";
import {
  checkCode,
  codeFor,
  implementedIds,
  leadingComment,
  scanCode,
} from "../../scripts/spec/code.ts";
import { REPO_ROOT } from "../../scripts/spec/outputs.ts";
import { buildTrace, renderTrace } from "../../scripts/spec/trace.ts";
import { REQUIREMENTS, type Requirement } from "../../spec/requirements.ts";

const requirement = (id: string, implemented = true): Requirement => ({
  id,
  kind: "addition",
  section: "s",
  statement: `statement of ${id}`,
  status: implemented ? { state: "implemented" } : { state: "deferred", reason: "later" },
});

describe("[SPEC-TRACE] implementing code per requirement", () => {
  it("reads the ids of the top comment's Implements: lines, in order, without duplicates", () => {
    const text = [
      "/**",
      " * What this file does.",
      " *",
      " * Implements: DIGEST-NONCE, DIGEST-EPOCH",
      " * Implements: DIGEST-NONCE SEED-5.x.2-1.",
      " */",
      "// Implements: NOT-IN-THE-TOP-COMMENT",
      "export const x = 1;",
    ].join("\n");
    expect(implementedIds(text)).toEqual(["DIGEST-NONCE", "DIGEST-EPOCH", "SEED-5.x.2-1"]);
  });

  it("takes leading line comments (config files) and ignores ids mentioned in passing", () => {
    expect(
      implementedIds("// Mutation testing.\n//\n// Implements: GAP-MUTATE\nexport {};\n"),
    ).toEqual(["GAP-MUTATE"]);
    expect(implementedIds("# workerd\n# Implements: DIGEST-RUNTIME-WORKERD\nname = 'x'\n")).toEqual(
      ["DIGEST-RUNTIME-WORKERD"],
    );
    expect(implementedIds("/**\n * See DIGEST-NONCE and Implements: in the docs.\n */\n")).toEqual(
      [],
    );
    expect(leadingComment("export const a = 1; /* Implements: X-Y */")).toBe("");
  });

  it("flags unknown and malformed ids, and implemented requirements no file claims", () => {
    const requirements = [
      requirement("A-ONE"),
      requirement("A-TWO"),
      requirement("A-LATER", false),
    ];
    const problems = checkCode(requirements, [
      { file: "src/a.ts", ids: ["A-ONE", "A-GHOST"] },
      { file: "src/b.ts", ids: ["lowercase"] },
    ]);
    expect(problems).toEqual([
      "src/a.ts: implements unknown requirement A-GHOST",
      'src/b.ts: "Implements:" names "lowercase", not an id',
      'implemented requirement A-TWO: no code file says "Implements: A-TWO"',
    ]);
  });

  it("the matrix lists each requirement's code files and fails the trace when code is missing", () => {
    const requirements = [requirement("A-ONE"), requirement("A-TWO")];
    const tests = [
      {
        file: "test/x.test.ts",
        suites: [],
        title: "[A-ONE][A-TWO] works",
        ids: ["A-ONE", "A-TWO"],
        outcome: "passed" as const,
      },
    ];
    const refs = [{ file: "src/a.ts", ids: ["A-ONE"] }];
    const trace = buildTrace(requirements, tests, [], [], null, refs);
    expect(trace.rows.map((r) => r.code)).toEqual([["src/a.ts"], []]);
    expect(trace.problems).toEqual([
      'implemented requirement A-TWO: no code file says "Implements: A-TWO"',
    ]);
    expect(renderTrace(trace)).toContain("- code: [`src/a.ts`](../src/a.ts)");
  });

  it("this repository: every implemented requirement is claimed by a file that exists", () => {
    const refs = scanCode(REPO_ROOT);
    expect(checkCode(REQUIREMENTS, refs)).toEqual([]);
    // A claim a reviewer can follow: the secure channel's keys are in src/channel/keys.ts.
    expect(codeFor("CHANNEL-KEYS", refs)).toContain("src/channel/keys.ts");
    expect(codeFor("SEED-5.x.2-5", refs)).toEqual(
      expect.arrayContaining(["src/server/otks.ts", "src/protocol/otk-transport.ts"]),
    );
  });
});
