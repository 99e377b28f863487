/**
 * Issue #14: the composed protocol model-checked against a Dolev-Yao attacker. SPIN verifies our
 * profile (0 errors for every property) and finds the expected attack in each weakened variant;
 * the committed attack diagrams equal what the trails regenerate; the Promela names agree with
 * machines/. Needs `spin` and `gcc` (Debian packages spin, gcc).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadMachines } from "../../scripts/spec/model.ts";
import {
  attackPath,
  findProperty,
  MODEL,
  mtypeLists,
  omittedNames,
  PROPERTIES,
  REPO_ROOT,
  renderAttackPage,
  trailToMermaid,
  VARIANTS,
  verify,
} from "../../scripts/spec/promela.ts";

const SPIN_TIMEOUT = 120_000;

describe("the composed protocol in SPIN: our profile", () => {
  for (const property of PROPERTIES) {
    it(
      `[${property.id}] holds in our profile: pan finds 0 errors over the whole bounded state space`,
      () => {
        const result = verify(property);
        expect(result.errors).toBe(0);
        // The search really ran over the composed model (not a trivial one).
        expect(result.statesStored).toBeGreaterThan(10_000);
      },
      SPIN_TIMEOUT,
    );
  }
});

describe("the composed protocol in SPIN: each weakened design is attacked", () => {
  for (const variant of VARIANTS) {
    for (const name of variant.breaks) {
      const property = findProperty(name);
      it(
        `[MODEL-VARIANTS][${property.id}] ${variant.define}: SPIN finds the attack, and its committed diagram is current`,
        () => {
          const result = verify(property, variant);
          expect(result.errors).toBeGreaterThanOrEqual(1);
          const trail = result.trail ?? "";
          // The violated assertion is the property's own (the model numbers them P_*).
          expect(trail).toContain(
            `text of failed assertion: assert(((${property.prop}!=${property.prop})||`,
          );
          const path = attackPath(variant, property);
          const committed = existsSync(join(REPO_ROOT, path))
            ? readFileSync(join(REPO_ROOT, path), "utf8")
            : "";
          expect(committed, `${path} is stale: run npx tsx scripts/spec/promela.ts`).toBe(
            renderAttackPage(variant, property, trail),
          );
        },
        SPIN_TIMEOUT,
      );
    }
  }
});

describe("the model's names", () => {
  it("[MODEL-NAMES] every state and event name in the Promela model is a machine's, and every machine name is used or listed as omitted", async () => {
    const source = readFileSync(join(REPO_ROOT, MODEL), "utf8");
    const lists = mtypeLists(source);
    const omitted = omittedNames(source);
    const machines = await loadMachines(join(REPO_ROOT, "machines"), REPO_ROOT);
    const modelled = [...lists.keys()].filter((name) => name !== "msg");
    // Every list names a real machine; a machine with no list must have all its names omitted.
    const ids = machines.map((m) => m.machine.id);
    expect(modelled.filter((id) => !ids.includes(id))).toEqual([]);
    for (const loaded of machines) {
      const id = loaded.machine.id;
      const names = new Set<string>();
      for (const [state, node] of Object.entries(loaded.machine.root.states)) {
        names.add(`${id}_${state}`);
        for (const event of Object.keys(node.config.on ?? {})) names.add(`${id}_${event}`);
      }
      const used = lists.get(id) ?? [];
      const declared = [...used, ...omitted.filter((n) => n.startsWith(`${id}_`))];
      // A name renamed in one place and not the other fails one of these two.
      expect(
        used.filter((n) => !names.has(n)),
        `${id}: Promela names unknown to machines/`,
      ).toEqual([]);
      expect(
        [...names].filter((n) => !declared.includes(n)),
        `${id}: machine names neither modelled nor omitted`,
      ).toEqual([]);
    }
  });

  it("[MODEL-NAMES] a trail becomes a sequence diagram with the machines' names", () => {
    const trail = [
      "  EVENT 4 5 agent_authenticating",
      "  MSG 4 1 11 15 0 16 6",
      "  FORGE 1 4 AUTH_OK 15 0 19 10",
      "spin: text of failed assertion: assert(((2!=2)||(x==1)))",
    ].join("\n");
    expect(trailToMermaid(trail, "t")).toBe(
      [
        "sequenceDiagram",
        "  title t",
        "  participant PNE",
        "  participant G1",
        "  participant G2",
        "  participant Server",
        "  participant A as Attacker (network, relay)",
        "  Note over PNE: agent_AUTHENTICATE → agent_authenticating",
        "  PNE->>A: AUTH_REQ(a=N2, body=B1, key=KP)",
        "  A->>PNE: forged AUTH_OK(a=N2, body=R2, key=KX)",
        "  Note over PNE,A: an assertion violated",
        "",
      ].join("\n"),
    );
  });
});
