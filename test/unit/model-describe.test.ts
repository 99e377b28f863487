/**
 * src/reviewer-page/describe.ts (issue #5): the machines as JSON, read from their definitions. Checked
 * against the real machines (states, guards, actions, reenter, and requirement ids exactly as
 * the machine configs name them) and against a synthetic machine with every construct the walk
 * knows: nested and parallel states, delayed, eventless and targetless transitions, guard
 * combinators, several targets, and a malformed `meta.requirements`.
 */

import { describe, expect, it } from "vitest";
import { and, not, setup } from "xstate";
import { agentMachine } from "../../machines/agent.ts";
import { entityMachine } from "../../machines/entity.ts";
import { gatewaySessionMachine } from "../../machines/gateway-session.ts";
import { otkMachine } from "../../machines/otk.ts";
import { peerSessionMachine } from "../../machines/peer-session.ts";
import {
  secureChannelClientMachine,
  secureChannelServerMachine,
} from "../../machines/secure-channel.ts";
import {
  describeMachine,
  describe as describeModel,
  type MachineDescription,
} from "../../src/reviewer-page/describe.ts";
import { MACHINES } from "../../src/reviewer-page/registry.ts";

const model = describeModel();
const machine = (id: string) => model.machines.find((m) => m.id === id) as MachineDescription;
const transition = (m: MachineDescription, id: string) => {
  const found = m.transitions.find((t) => t.id === id);
  if (!found)
    throw new Error(`no transition ${id} in ${m.transitions.map((t) => t.id).join(", ")}`);
  return found;
};

/** `meta.requirements` of a transition as written in the machine config (array form included). */
function configRequirements(
  config: { states?: Record<string, { on?: Record<string, unknown> }> },
  state: string,
  event: string,
  branch = 0,
): string[] {
  const on = config.states?.[state]?.on?.[event];
  const t = (Array.isArray(on) ? on[branch] : on) as
    | { meta?: { requirements?: string[] } }
    | string;
  return typeof t === "object" ? (t.meta?.requirements ?? []) : [];
}

describe("[SPEC-MODEL-PAGE] describe(): the registered machines as JSON", () => {
  it("[SPEC-MODEL-PAGE] registers every machine of machines/ under its own id", () => {
    const ids = [
      "entity",
      "agent",
      "otk",
      "gatewaySession",
      "peerSession",
      "secureChannelClient",
      "secureChannelServer",
    ];
    expect(MACHINES.map((m) => m.id)).toEqual(ids);
    for (const entry of MACHINES) expect(entry.machine.id).toBe(entry.id);
    expect(MACHINES.find((m) => m.id === "entity")?.machine).toBe(entityMachine);
    expect(MACHINES.find((m) => m.id === "agent")?.machine).toBe(agentMachine);
    expect(MACHINES.find((m) => m.id === "otk")?.machine).toBe(otkMachine);
    expect(MACHINES.find((m) => m.id === "gatewaySession")?.machine).toBe(gatewaySessionMachine);
    expect(MACHINES.find((m) => m.id === "peerSession")?.machine).toBe(peerSessionMachine);
    expect(MACHINES.find((m) => m.id === "secureChannelClient")?.machine).toBe(
      secureChannelClientMachine,
    );
    expect(MACHINES.find((m) => m.id === "secureChannelServer")?.machine).toBe(
      secureChannelServerMachine,
    );
    expect(model.machines.map((m) => m.id)).toEqual(ids);
  });

  it("[SPEC-MODEL-PAGE] is pure: deterministic and JSON-serialisable", () => {
    expect(describeModel()).toEqual(model);
    expect(JSON.parse(JSON.stringify(model))).toEqual(model);
  });

  it("[SPEC-MODEL-PAGE][ENTITY-LIFECYCLE] lists the entity machine's states with type, description and initial flag", () => {
    const entity = machine("entity");
    expect(entity.initial).toBe("entity.unassigned");
    expect(entity.source).toBe("machines/entity.ts");
    expect(entity.states.map((s) => [s.id, s.key, s.type, s.parent, s.initial])).toEqual([
      ["entity.unassigned", "unassigned", "atomic", null, true],
      ["entity.active", "active", "atomic", null, false],
      ["entity.revoked", "revoked", "final", null, false],
    ]);
    for (const state of entity.states) {
      const key = state.key as keyof typeof entityMachine.config.states;
      expect(state.description).toBe(entityMachine.config.states?.[key]?.description);
    }
  });

  it("[SPEC-MODEL-PAGE][ENTITY-LIFECYCLE] lists the entity machine's transitions with guard, actions, target, reenter and requirement ids", () => {
    const entity = machine("entity");
    expect(entity.transitions.map((t) => t.id)).toEqual([
      "entity.unassigned:ENROLL",
      "entity.active:ROTATE",
      "entity.active:REVOKE",
      "entity.active:AUTHENTICATE",
    ]);
    expect(transition(entity, "entity.unassigned:ENROLL")).toMatchObject({
      source: "entity.unassigned",
      event: "ENROLL",
      guard: null,
      actions: ["assignOwner", "issueNextKey"],
      target: "entity.active",
      reenter: false,
      label: "ENROLL",
    });
    expect(transition(entity, "entity.unassigned:ENROLL").requirements).toContain("SEED-5.x.1-1");
    expect(transition(entity, "entity.active:ROTATE")).toMatchObject({
      guard: "isOwnerSameType",
      actions: ["issueNextKey"],
      target: "entity.active",
      reenter: true,
      label: "ROTATE [isOwnerSameType]",
    });
    expect(transition(entity, "entity.active:REVOKE")).toMatchObject({
      guard: "isOwner",
      target: "entity.revoked",
    });
    expect(transition(entity, "entity.active:AUTHENTICATE")).toMatchObject({
      guard: "presentsCurrentKey",
      target: "entity.active",
      reenter: false,
    });
    const config = entityMachine.config as Parameters<typeof configRequirements>[0];
    for (const t of entity.transitions) {
      const [state, event] = t.id.replace(/^entity\./, "").split(":") as [string, string];
      expect(t.requirements, t.id).toEqual(configRequirements(config, state, event));
    }
  });

  it("[SPEC-MODEL-PAGE] numbers the branches of a guarded array transition (agent ENROLL_FAILED)", () => {
    const agent = machine("agent");
    expect(agent.states.map((s) => s.id)).toEqual([
      "agent.unenrolled",
      "agent.enrolling",
      "agent.enrolled",
      "agent.authenticating",
      "agent.authenticated",
    ]);
    expect(transition(agent, "agent.enrolling:ENROLL_FAILED:0")).toMatchObject({
      guard: "hadKey",
      target: "agent.enrolled",
      label: "ENROLL_FAILED [hadKey]",
    });
    expect(transition(agent, "agent.enrolling:ENROLL_FAILED:1")).toMatchObject({
      guard: null,
      target: "agent.unenrolled",
    });
    expect(transition(agent, "agent.authenticating:REJECTED")).toMatchObject({
      actions: [],
      target: "agent.enrolled",
    });
    const config = agentMachine.config as Parameters<typeof configRequirements>[0];
    for (const t of agent.transitions) {
      const [path, event, branch] = t.id.replace(/^agent\./, "").split(":") as [
        string,
        string,
        string?,
      ];
      expect(t.requirements, t.id).toEqual(
        configRequirements(config, path, event, Number(branch ?? 0)),
      );
    }
    const ids = agent.transitions.map((t) => t.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("[SPEC-MODEL-PAGE] walks nested and parallel states, delayed, eventless and targetless transitions and guard combinators", () => {
    const synthetic = setup({
      guards: { ready: () => true, allowed: () => true },
      actions: { note: () => {} },
      delays: { soon: 1000 },
    }).createMachine({
      id: "demo",
      description: "A synthetic machine.",
      initial: "idle",
      meta: { requirements: ["DEMO-MACHINE"] },
      states: {
        idle: {
          on: {
            GO: { target: "busy", guard: and(["ready", not("allowed")]) },
            PING: { actions: "note" },
          },
          after: { soon: "busy" },
        },
        busy: {
          initial: "one",
          meta: { requirements: ["DEMO-BUSY"] },
          states: {
            one: { always: { target: "two", guard: "ready" } },
            two: { type: "final" },
          },
          onDone: { target: "split", meta: { requirements: ["DEMO-DONE"] } },
        },
        split: {
          type: "parallel",
          states: {
            left: { initial: "a", states: { a: {}, b: {} } },
            right: { initial: "c", states: { c: {}, d: {} } },
          },
          on: { BOTH: { target: [".left.b", ".right.d"] } },
        },
      },
    });
    const d = describeMachine({ id: "demo", title: "Demo", source: "demo.ts", machine: synthetic });
    expect(d.description).toBe("A synthetic machine.");
    expect(d.requirements).toEqual(["DEMO-MACHINE"]);
    const state = (id: string) => d.states.find((s) => s.id === id);
    expect(state("demo.busy")).toMatchObject({
      type: "compound",
      parent: null,
      requirements: ["DEMO-BUSY"],
    });
    expect(state("demo.busy.one")).toMatchObject({ parent: "demo.busy", initial: true });
    expect(state("demo.busy.two")).toMatchObject({ type: "final", initial: false });
    expect(state("demo.split")?.type).toBe("parallel");
    expect(state("demo.split.left")).toMatchObject({ parent: "demo.split", type: "compound" });
    expect(state("demo.split.right.c")?.initial).toBe(true);

    expect(transition(d, "demo.idle:GO")).toMatchObject({
      guard: "ready && !allowed",
      target: "demo.busy",
    });
    expect(transition(d, "demo.idle:PING")).toMatchObject({ target: null, actions: ["note"] });
    expect(transition(d, "demo.idle:after soon")).toMatchObject({ target: "demo.busy" });
    expect(transition(d, "demo.busy.one:always")).toMatchObject({
      guard: "ready",
      target: "demo.busy.two",
    });
    expect(transition(d, "demo.busy:onDone")).toMatchObject({
      target: "demo.split",
      requirements: ["DEMO-DONE"],
    });
    expect(transition(d, "demo.split:BOTH>0").target).toBe("demo.split.left.b");
    expect(transition(d, "demo.split:BOTH>1").target).toBe("demo.split.right.d");
  });

  it("[SPEC-MODEL-PAGE] refuses a malformed meta.requirements, a registry id that is not the machine's, and duplicate ids", () => {
    const bad = setup({}).createMachine({
      id: "bad",
      initial: "a",
      states: { a: { on: { GO: { target: "a", meta: { requirements: "SEED-1" } } } } },
    });
    expect(() => describeMachine({ id: "bad", title: "", source: "", machine: bad })).toThrow(
      /meta\.requirements must be an array/,
    );
    expect(() =>
      describeMachine({ id: "other", title: "", source: "", machine: entityMachine }),
    ).toThrow(/names machine "entity"/);
    const entry = MACHINES[0] as (typeof MACHINES)[number];
    expect(() => describeModel([entry, entry])).toThrow(/share the id/);
  });
});
