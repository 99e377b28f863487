/**
 * Issue #9, a blind spot of the mutation runs rather than of the machines: a mutant that makes a
 * machine module throw while it loads (`initial: "unenrolled"` -> `""`: xstate 5 refuses a
 * compound machine without an initial state, "No initial state specified for compound state
 * node") breaks every test file that imports the machine, but at load time, with no failing
 * test, and StrykerJS 9.6.1's vitest runner counts such a run as Survived. The runs of
 * 2026-12-04/05 therefore listed the seven `initial` mutants of machines/ as survivors, and
 * docs/mutation.md had called them equivalent. This file imports each machine inside a test
 * (never at the top: the failure must be a failing test) and checks that it starts where the
 * spec says, so a module that no longer loads, or starts elsewhere, fails here by name.
 */
import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";

/** Each machine of machines/, written out by hand: its module, export, and first state. */
const MACHINES: Array<[module: string, exported: string, initial: string, requirement: string]> = [
  ["agent.ts", "agentMachine", "unenrolled", "AGENT-LIFECYCLE"],
  ["entity.ts", "entityMachine", "unassigned", "ENTITY-LIFECYCLE"],
  ["otk.ts", "otkMachine", "created", "OTK-DEPOSIT"],
  ["gateway-session.ts", "gatewaySessionMachine", "created", "PEER-SESSION"],
  ["peer-session.ts", "peerSessionMachine", "holding", "PEER-SESSION"],
  [
    "secure-channel.ts",
    "secureChannelClientMachine",
    "establishing",
    "CHMODEL-NO-DATA-BEFORE-AUTH",
  ],
  [
    "secure-channel.ts",
    "secureChannelServerMachine",
    "establishing",
    "CHMODEL-NO-DATA-BEFORE-AUTH",
  ],
];

describe("[GAP-MUTATE] every machine of machines/ loads and starts in its initial state", () => {
  for (const [module, exported, initial, requirement] of MACHINES) {
    it(`[GAP-MUTATE][${requirement}] machines/${module} ${exported}: loads, starts in "${initial}"`, async () => {
      // Imported here, not at the top: a module that throws on load must fail this test.
      const loaded = (await import(`../../machines/${module}`)) as Record<string, unknown>;
      const machine = loaded[exported] as { root: { initial: { target: Array<{ key: string }> } } };
      expect(machine.root.initial.target.map((state) => state.key)).toEqual([initial]);
    });
  }

  it("[GAP-MUTATE] the list above names every module of machines/", () => {
    const files = readdirSync(new URL("../../machines/", import.meta.url)).filter((name) =>
      name.endsWith(".ts"),
    );
    expect([...new Set(MACHINES.map(([module]) => module))].sort()).toEqual(files.sort());
  });
});
