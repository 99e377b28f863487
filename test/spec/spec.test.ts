/**
 * The spec/ generators (scripts/spec/): Mermaid diagrams from machine definitions, requirement ids
 * parsed from test titles, the traceability matrix and its failure conditions, the well-formedness
 * of spec/requirements.ts, and that the committed requirements.md and diagrams are current.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { and, not, setup } from "xstate";
import { entityMachine } from "../../machines/entity.ts";
import { renderDiagramPage } from "../../scripts/spec/diagrams.ts";
import { idsOfTest, parseIds } from "../../scripts/spec/ids.ts";
import { cell, table } from "../../scripts/spec/markdown.ts";
import { guardLabel, mermaidLabel, toMermaid } from "../../scripts/spec/mermaid.ts";
import { isStateMachine, loadMachines, modelRefs } from "../../scripts/spec/model.ts";
import {
  DIAGRAMS_DIR,
  findSeed,
  REPO_ROOT,
  renderDiagramFiles,
  renderRequirementsFile,
  staleFiles,
} from "../../scripts/spec/outputs.ts";
import {
  checkQuotes,
  renderRequirements,
  validateRequirements,
} from "../../scripts/spec/requirements-md.ts";
import { readVitestJson, type TestRecord } from "../../scripts/spec/results.ts";
import {
  buildTrace,
  type MachineCoverage,
  type ModelCoverage,
  renderTrace,
} from "../../scripts/spec/trace.ts";
import { IMPLEMENTED, REQUIREMENTS, type Requirement } from "../../spec/requirements.ts";

const lamp = setup({
  guards: { hasPower: () => true },
  actions: { countOn: () => {} },
}).createMachine({
  id: "lamp",
  initial: "off",
  states: {
    off: {
      description: "Dark.",
      on: { SWITCH: { target: "on", guard: "hasPower", actions: "countOn" } },
    },
    on: {
      initial: "dim",
      states: {
        dim: { on: { UP: "bright" } },
        bright: { on: { DOWN: "dim", BREAK: "#lamp.broken" } },
      },
      on: { SWITCH: "off", PING: { actions: "countOn" } },
    },
    broken: { type: "final" },
  },
});

/** Table cells are padded to the column width; compare them with single spaces. */
const squash = (text: string) => text.replace(/ +/g, " ");

const LAMP_MERMAID = `stateDiagram-v2
  off
  note right of off
    Dark.
  end note
  state "on" as on {
    state "dim" as on__dim
    state "bright" as on__bright
    [*] --> on__dim
    on__dim --> on__bright : UP
    on__bright --> on__dim : DOWN
  }
  broken
  [*] --> off
  off --> on : SWITCH [hasPower] / countOn
  on --> off : SWITCH
  on --> on : PING / countOn
  on__bright --> broken : BREAK
  broken --> [*]
`;

describe("[SPEC-DIAGRAMS] Mermaid stateDiagram-v2 from machine definitions", () => {
  it("draws nested and final states, initial arrows and `EVENT [guard] / actions` labels", () => {
    expect(toMermaid(lamp)).toBe(LAMP_MERMAID);
  });

  it("draws the root as a box when it has transitions of its own; history, parallel, after, always", () => {
    const m = setup({ guards: { ok: () => true } }).createMachine({
      id: "door",
      initial: "a",
      on: { RESET: ".a" },
      states: {
        a: {
          after: { 500: "b" },
          initial: "s",
          states: { s: {}, h: { type: "history", history: "deep" } },
        },
        b: {
          type: "parallel",
          states: {
            x: {},
            y: { initial: "p", states: { p: { always: { target: "q", guard: "ok" } }, q: {} } },
          },
        },
      },
    });
    const text = toMermaid(m);
    expect(text).toContain('  state "door" as door {\n');
    expect(text).toContain("  door --> a : RESET\n");
    expect(text).toContain('state "h (H*)" as a__h');
    expect(text).toContain("    a --> b : after 500\n");
    expect(text).not.toContain("raise"); // xstate's own entry action for `after` is not drawn
    expect(text).toContain('      state "x" as b__x\n      --\n      state "y" as b__y {\n');
    expect(text).toContain("b__y__p --> b__y__q : always [ok]");
  });

  it("labels are safe for the stateDiagram lexer; guards combine; keywords are not ids", () => {
    expect(mermaidLabel("ns:EV; x %% y")).toBe("ns\u2236EV, x % % y");
    expect(guardLabel(and(["a", not("b")]))).toBe("a && !b");
    const m = setup({}).createMachine({ id: "k", initial: "end", states: { end: {}, note: {} } });
    expect(toMermaid(m)).toContain('state "end" as end_');
    expect(toMermaid(m)).toContain("[*] --> end_");
  });

  it("renders the page with the diagram and the state and transition tables", () => {
    const page = renderDiagramPage({ machine: lamp, file: "machines/lamp.ts", exportName: "lamp" });
    expect(page).toContain(`\`\`\`mermaid\n${LAMP_MERMAID}\`\`\``);
    expect(squash(page)).toContain("| `lamp.off` | atomic | Dark. | |");
    expect(squash(page)).toContain("| `lamp.on` | PING | | countOn | (stays) | |");
  });

  it("lays tables out as Biome does: padded to the display width, at least 3", () => {
    expect(
      table(
        ["A", "Bé"],
        [
          ["x–y §", "中文"],
          ["a\\|b", ""],
        ],
      ),
    ).toEqual(["| A     | Bé   |", "| ----- | ---- |", "| x–y § | 中文 |", "| a\\|b  |      |"]);
    expect(cell(" two\nlines | pipe ")).toBe("two lines \\| pipe");
  });

  it("finds every StateMachine exported by machines/*.ts, and nothing else", async () => {
    const machines = await loadMachines(join(REPO_ROOT, "machines"), REPO_ROOT);
    expect(machines.map((m) => [m.file, m.exportName, m.machine.id])).toContainEqual([
      "machines/entity.ts",
      "entityMachine",
      "entity",
    ]);
    expect(machines.every((m) => isStateMachine(m.machine))).toBe(true);
    expect(isStateMachine({ id: "x", root: {} })).toBe(false);
  });
});

describe("[SPEC-TRACE] requirement ids in test and machine names", () => {
  it.each([
    ["[DIGEST-REPLAY] replayed answers", ["DIGEST-REPLAY"]],
    ["[DIGEST-VECTORS][DIGEST-PARSE] literal headers", ["DIGEST-VECTORS", "DIGEST-PARSE"]],
    ["[A-1, B-2] two in one group", ["A-1", "B-2"]],
    [" [SEED-5.x.1-1] [FFS-NO-TLS] spaced", ["SEED-5.x.1-1", "FFS-NO-TLS"]],
    ["no ids here [DIGEST-REPLAY]", []],
    ["[not an id] prose in brackets", []],
    ["[A, b] one bad token spoils the group", []],
    ["[X][regex [a-z]] stops at the first non-id group", ["X"]],
  ])("ids of %s", (title, ids) => {
    expect(parseIds(title)).toEqual(ids);
  });

  it("a test's ids are the union of its describe chain and its title", () => {
    expect(idsOfTest(["[A][B] outer", "inner", "[B, C] deeper"], "[D] test")).toEqual([
      "A",
      "B",
      "C",
      "D",
    ]);
  });

  it("machines name requirements in meta on states and transitions", () => {
    const m = setup({}).createMachine({
      id: "m",
      initial: "a",
      meta: { requirements: ["R-ROOT"] },
      states: {
        a: {
          meta: { requirements: ["R-A"] },
          on: { GO: { target: "b", meta: { requirements: ["R-GO"] } } },
        },
        b: {},
      },
    });
    expect(modelRefs(m)).toEqual([
      { machine: "m", where: "machine m", ids: ["R-ROOT"] },
      { machine: "m", where: "state m.a", ids: ["R-A"] },
      { machine: "m", where: "transition m.a --GO--> m.b", ids: ["R-GO"] },
    ]);
    expect(modelRefs(entityMachine)).toContainEqual({
      machine: "entity",
      where: "transition entity.active --REVOKE--> entity.revoked",
      ids: ["ENTITY-LIFECYCLE", "SERVER-OWNERSHIP"],
    });
    const bad = setup({}).createMachine({ id: "bad", meta: { requirements: "R-A" } });
    expect(() => modelRefs(bad)).toThrow(/meta.requirements must be an array/);
  });

  it("reads vitest's JSON report: repository-relative files, outcomes, ids, file errors", () => {
    const report = {
      testResults: [
        {
          name: join(REPO_ROOT, "test/b.test.ts"),
          status: "failed",
          message: "Failed to load\nstack",
          assertionResults: [],
        },
        {
          name: join(REPO_ROOT, "test/a.test.ts"),
          status: "passed",
          assertionResults: [
            { ancestorTitles: ["[R-1] suite"], title: "one", status: "passed" },
            { ancestorTitles: ["[R-1] suite"], title: "[R-2] two", status: "pending" },
            { ancestorTitles: [], title: "three", status: "todo" },
          ],
        },
      ],
    };
    const { tests, fileErrors } = readVitestJson(report, REPO_ROOT);
    expect(tests.map((t) => [t.file, t.title, t.outcome, t.ids])).toEqual([
      ["test/a.test.ts", "one", "passed", ["R-1"]],
      ["test/a.test.ts", "[R-2] two", "skipped", ["R-1", "R-2"]],
      ["test/a.test.ts", "three", "skipped", []],
    ]);
    expect(fileErrors).toEqual([{ file: "test/b.test.ts", message: "Failed to load" }]);
    expect(() => readVitestJson({}, REPO_ROOT)).toThrow(/not a vitest JSON report/);
  });
});

const req = (id: string, status: Requirement["status"] = IMPLEMENTED): Requirement => ({
  id,
  kind: "addition",
  section: "Test",
  statement: `${id} holds.`,
  status,
});
const record = (
  title: string,
  outcome: TestRecord["outcome"],
  file = "test/x.test.ts",
): TestRecord => ({
  file,
  suites: ["[R-SUITE] suite"],
  title,
  outcome,
  ids: idsOfTest(["[R-SUITE] suite"], title),
});
const later = { state: "deferred", reason: "issue #9" } as const;

describe("[SPEC-TRACE] the traceability matrix", () => {
  const requirements = [req("R-SUITE"), req("R-DONE"), req("R-LATER", later)];

  it("passes when every implemented requirement has a passing test and every id is known", () => {
    const trace = buildTrace(
      requirements,
      [record("[R-DONE] a", "passed"), record("b", "skipped")],
      [],
    );
    expect(trace.problems).toEqual([]);
    const row = trace.rows.find((r) => r.requirement.id === "R-DONE");
    expect([row?.passed, row?.failed, row?.skipped, row?.tests.length]).toEqual([1, 0, 0, 1]);
    expect(trace.rows.find((r) => r.requirement.id === "R-SUITE")?.skipped).toBe(1);
    const md = renderTrace(trace);
    expect(md).toContain("Result: **OK**");
    expect(squash(md)).toContain(
      "| [R-LATER](requirements.md#r-later) | addition | issue #9 | 0 | 0 |",
    );
  });

  it("reports an unknown id named by a test or by a machine", () => {
    const trace = buildTrace(
      requirements,
      [record("[R-DONE][R-TYPO] a", "passed")],
      [{ machine: "m", where: "state m.a", ids: ["R-GHOST"] }],
    );
    expect(trace.problems).toEqual([
      "unknown requirement id [R-TYPO] named by test test/x.test.ts: [R-SUITE] suite › [R-DONE][R-TYPO] a",
      "unknown requirement id [R-GHOST] named by machine m, state m.a",
    ]);
  });

  it("reports an implemented requirement without a test, or with only skipped or failed ones", () => {
    const none = buildTrace(requirements, [record("a", "passed")], []);
    expect(none.problems).toEqual([
      "implemented requirement R-DONE has no passing test (no test names it)",
    ]);
    const skipped = buildTrace(
      requirements,
      [record("[R-DONE] a", "skipped"), record("[R-DONE] b", "failed")],
      [],
    );
    expect(skipped.problems).toEqual([
      "implemented requirement R-SUITE has no passing test (1 failed, 1 skipped)",
      "implemented requirement R-DONE has no passing test (1 failed, 1 skipped)",
      "test failed: test/x.test.ts: [R-SUITE] suite › [R-DONE] b",
    ]);
    expect(renderTrace(skipped)).toContain("## Problems\n\n- implemented requirement R-SUITE");
  });

  it("a deferred requirement needs no test; model references are listed", () => {
    const trace = buildTrace(
      requirements,
      [record("[R-DONE] a", "passed")],
      [{ machine: "m", where: "state m.a", ids: ["R-LATER"] }],
    );
    expect(trace.problems).toEqual([]);
    expect(renderTrace(trace)).toContain(
      "### R-LATER\n\nR-LATER holds. (deferred: issue #9)\n\n- model: m: state m.a\n",
    );
  });

  it("[SPEC-MODEL-TESTS] shows the model coverage from spec/model-coverage.json; below 100% is a problem", () => {
    const machine = (name: string, covered: number): MachineCoverage => ({
      machine: name,
      bound: "key versions <= 3",
      paths: { shortest: 4, simple: 9 },
      states: { covered: 3, total: 3, missing: [] },
      transitions: {
        covered,
        total: 2,
        missing: covered < 2 ? ["a --GO [!ok]--> (refused)"] : [],
        all: ["a --GO [!ok]--> (refused)", "a --GO [ok]--> b"],
      },
    });
    const tests = [record("[R-DONE] a", "passed"), record("b", "passed")];
    const full: ModelCoverage = { machines: [machine("zeta", 2), machine("alpha", 2)] };
    const ok = buildTrace(requirements, tests, [], [], full);
    expect(ok.problems).toEqual([]);
    const md = squash(renderTrace(ok));
    expect(md).toContain("## Model coverage");
    expect(
      md.indexOf("| `alpha` | 3/3 (100%) | 2/2 (100%) | 4 + 9 | key versions <= 3 |"),
    ).toBeLessThan(md.indexOf("| `zeta` |"));
    const partial = buildTrace(requirements, tests, [], [], { machines: [machine("m", 1)] });
    expect(partial.problems).toEqual([
      "model coverage of machine m below 100%: states 3/3, transitions 1/2",
    ]);
    expect(renderTrace(partial)).toContain(
      "Not covered in `m`:\n\n- `a --GO [!ok]--> (refused)`\n",
    );
    expect(renderTrace(buildTrace(requirements, tests, [], [], null))).not.toContain(
      "Model coverage",
    );
  });

  it("is deterministic: the order vitest reports files in does not change the matrix", () => {
    const file = (name: string, title: string) => ({
      name: join(REPO_ROOT, name),
      status: "passed",
      assertionResults: [{ ancestorTitles: [], title, status: "passed" }],
    });
    const a = file("test/a.test.ts", "[R-DONE] a");
    const b = file("test/b.test.ts", "[R-SUITE] b");
    const render = (files: unknown[]) =>
      renderTrace(
        buildTrace(requirements, readVitestJson({ testResults: files }, REPO_ROOT).tests, []),
      );
    expect(render([b, a])).toBe(render([a, b]));
    expect(render([a, b])).not.toMatch(/\d{4}-\d{2}-\d{2}|\d+(\.\d+)? ?ms\b/);
  });
});

describe("[SPEC-REQUIREMENTS] spec/requirements.ts", () => {
  it("is well-formed: unique ids, known references, complete resolutions", () => {
    expect(validateRequirements(REQUIREMENTS)).toEqual([]);
  });

  it("has the seed's three FFS resolved, and every id the tooling's own tests name", () => {
    const ids = REQUIREMENTS.map((r) => r.id);
    expect(ids).toEqual(
      expect.arrayContaining(["FFS-SERVER-AUTH", "FFS-NO-TLS", "FFS-TLS-VERSION"]),
    );
    expect(ids).toEqual(
      expect.arrayContaining(["SPEC-TRACE", "SPEC-DIAGRAMS", "SPEC-REQUIREMENTS"]),
    );
  });

  it("validation reports duplicates, malformed ids, unknown references, incomplete entries", () => {
    const bad: Requirement[] = [
      req("R-1"),
      req("R-1"),
      { ...req("bad id"), refines: ["R-404"] },
      { ...req("SEED-1"), kind: "seed" },
      { ...req("FFS-X"), kind: "resolution", quote: "q" },
      req("R-2", { state: "deferred", reason: " " }),
    ];
    expect(validateRequirements(bad)).toEqual([
      "R-1: duplicate id",
      "bad id: not a well-formed requirement id",
      "SEED-1: a seed requirement has a SEED- id and quotes the seed",
      "FFS-X: a resolution quotes the seed and gives its resolution and reasons",
      "R-2: a deferred requirement says why",
      "bad id: refines unknown requirement R-404",
    ]);
  });

  const seed = findSeed();
  it.skipIf(seed === undefined)("quotes the seed verbatim (whitespace aside)", () => {
    const text = readFileSync(seed as string, "utf8");
    expect(checkQuotes(REQUIREMENTS, text)).toEqual([]);
    expect(
      checkQuotes([{ ...req("SEED-9"), quote: "CPNS Server may skip authentication." }], text),
    ).toHaveLength(1);
  });

  it("renders every requirement with its anchor, statement and status", () => {
    const md = renderRequirements(REQUIREMENTS);
    for (const r of REQUIREMENTS) expect(md).toContain(`\n#### ${r.id}\n`);
    expect(squash(md)).toContain("| [SEED-5.x.1-1](#seed-5x1-1) | seed | implemented |");
  });
});

describe("[SPEC-REQUIREMENTS][SPEC-DIAGRAMS] the committed generated files are current", () => {
  it("spec/requirements.md (else: tsx scripts/spec.ts requirements)", () => {
    expect(staleFiles(renderRequirementsFile())).toEqual([]);
  });

  it("spec/diagrams/*.md, one per machine and no other (else: tsx scripts/spec.ts diagrams)", async () => {
    expect(staleFiles(await renderDiagramFiles(), REPO_ROOT, DIAGRAMS_DIR)).toEqual([]);
  });

  it("[CHMODEL-PAGE] both secure-channel machines have their current diagram, every state drawn", async () => {
    const files = await renderDiagramFiles();
    for (const id of ["secureChannelClient", "secureChannelServer"]) {
      const path = `spec/diagrams/${id}.md`;
      const content = files.get(path);
      expect(content, id).toBeDefined();
      expect(readFileSync(join(REPO_ROOT, path), "utf8")).toBe(content);
      for (const state of ["establishing", "open", "closing", "closed", "expired"]) {
        expect(content).toContain(`| \`${id}.${state}\``); // the states table
        expect(content).toMatch(new RegExp(`^  ${state}$`, "m")); // the Mermaid diagram
      }
    }
  });
});

describe("[SPEC-TRACE][SPEC-DIAGRAMS] the command line", () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", join(REPO_ROOT, "scripts/spec.ts"), ...args], {
      cwd: REPO_ROOT,
      encoding: "utf8",
    });

  it("`check` exits 0 when the files are current; an unknown command exits 2", () => {
    expect(run("check").status).toBe(0);
    const bad = run("frobnicate");
    expect([bad.status, bad.stderr]).toEqual([2, expect.stringContaining("usage:")]);
  }, 30_000);

  it("`trace --results FILE --check` fails with a clear message on an unknown id", () => {
    const dir = mkdtempSync(join(tmpdir(), "spec-test-"));
    const file = join(dir, "results.json");
    const title = "[DIGEST-NO-SUCH-THING] made up";
    const report = {
      testResults: [
        {
          name: join(REPO_ROOT, "test/fake.test.ts"),
          status: "passed",
          assertionResults: [{ ancestorTitles: [], title, status: "passed" }],
        },
      ],
    };
    writeFileSync(file, JSON.stringify(report));
    const result = run("trace", "--results", file, "--check");
    rmSync(dir, { recursive: true, force: true });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      "unknown requirement id [DIGEST-NO-SUCH-THING] named by test test/fake.test.ts: [DIGEST-NO-SUCH-THING] made up",
    );
    expect(result.stderr).toContain("implemented requirement DIGEST-PARSE has no passing test");
  }, 30_000);
});
