/**
 * Issue #13, simulation mode of the reviewer page: one step of a machine on a sandbox copy that
 * the browser keeps. The caller sends the snapshot it holds (or an input to create one) and an
 * event; the answer is the next snapshot, computed with xstate's pure `transition()` through the
 * machine gate (src/machine-gate/bridge.ts), plus what the new state accepts. Nothing is read from or written to any store: the server keeps no
 * simulation state at all, so a reviewer's (or an attacker's) events cannot reach a record.
 *
 * Everything the caller sends is checked against the machine before the machine sees it: the
 * state must be one of the machine's, the context must have exactly the machine's fields with
 * their types, the event must be one the machine knows with exactly its payload fields, and
 * every value a short scalar (no nesting, so no depth to exhaust). Anything else is a
 * CpnsError with a stable code naming the field, never echoing a value.
 *
 * Implements: PLAY-SIM-PURE, PLAY-SIM-VALIDATE
 */
import type { AnyStateMachine, AnyStateNode } from "xstate";
import type * as z from "zod";
import { CpnsError, type ErrorCode } from "../errors.ts";
import { machineBridge } from "../machine-gate/bridge.ts";
import type { simAnswerSchema } from "../protocol/responses.ts";
import { guardName, requirementsOf } from "./describe.ts";
import { MACHINES } from "./registry.ts";
import { type Scalar, SIM_EXAMPLES, type SimExample } from "./sim-examples.ts";

/** The longest string any simulated field may hold: ids and names, never documents. */
export const MAX_SIM_STRING = 200;
/** The body limit of `POST /model/simulate/:machineId`: a snapshot and an event fit in far less. */
export const SIM_BODY_LIMIT = 4096;

export interface SimSnapshot {
  value: string;
  context: Record<string, Scalar>;
  /** "done" in a final state: no event is accepted any more. */
  status: "active" | "done";
}

export interface SimEventChoice {
  type: string;
  /** False when the current state has no transition for the event at all. */
  handled: boolean;
  /** The guard of each candidate transition, in the order the machine tries them (null: none). */
  guards: Array<string | null>;
  /** A typed example payload to prefill the editor with (sim-examples.ts). */
  example: Record<string, Scalar>;
}

export interface SimStep {
  event: string;
  accepted: boolean;
  /** Why a refused event was refused: "no transition" or the guards that said no. */
  reason: string | null;
  /** The state id the step went to (the same state for a self-loop), null when refused. */
  target: string | null;
  requirements: string[];
}

/** The answer of one step; its schema is the API document's (src/protocol/responses.ts). */
export type SimAnswer = z.infer<typeof simAnswerSchema>;

function refuse(code: ErrorCode, detail: string): never {
  throw new CpnsError(code, detail.slice(0, 300));
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function isScalar(value: unknown): value is Scalar {
  if (value === null || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  return typeof value === "string" && value.length <= MAX_SIM_STRING;
}

/**
 * `value` as a flat record of scalars whose fields are `shape`'s (all of them but `optional`),
 * each of its example's type or null where `nullable` allows; throws `code` naming the field.
 */
function checkFields(
  value: unknown,
  shape: Record<string, Scalar>,
  nullable: readonly string[],
  optional: readonly string[],
  code: ErrorCode,
  what: string,
): Record<string, Scalar> {
  if (!isRecord(value)) refuse(code, `${what}: must be an object`);
  const out: Record<string, Scalar> = {};
  for (const [key, field] of Object.entries(value)) {
    if (!Object.hasOwn(shape, key))
      refuse(code, `${what}: unknown field ${JSON.stringify(key.slice(0, 40))}`);
    const expected = typeof shape[key];
    const fits =
      (field === null && nullable.includes(key)) || (isScalar(field) && typeof field === expected);
    if (!fits)
      refuse(
        code,
        `${what}.${key}: must be a ${expected}${nullable.includes(key) ? " or null" : ""}`,
      );
    out[key] = field as Scalar;
  }
  for (const key of Object.keys(shape)) {
    if (!Object.hasOwn(out, key) && !optional.includes(key))
      refuse(code, `${what}.${key}: missing`);
  }
  return out;
}

interface Simulated {
  machine: AnyStateMachine;
  example: SimExample;
}

function simulatedMachine(machineId: string): Simulated {
  const registered = MACHINES.find((m) => m.id === machineId);
  if (!registered || !Object.hasOwn(SIM_EXAMPLES, machineId)) {
    refuse("ERR_SIM_MACHINE_UNKNOWN", "no such machine");
  }
  return { machine: registered.machine, example: SIM_EXAMPLES[machineId] as SimExample };
}

function stateNode(machine: AnyStateMachine, value: string): AnyStateNode | undefined {
  return Object.hasOwn(machine.root.states, value)
    ? (machine.root.states[value] as AnyStateNode)
    : undefined;
}

/** Every event the machine has, each with what the current state does with it. */
function choices(sim: Simulated, value: string): SimEventChoice[] {
  const node = stateNode(sim.machine, value);
  return Object.entries(sim.example.events).map(([type, example]) => {
    const candidates = node?.transitions.get(type) ?? [];
    return {
      type,
      handled: candidates.length > 0,
      guards: candidates.map((t) => (t.guard ? guardName(t.guard) : null)),
      example,
    };
  });
}

type Snap = ReturnType<AnyStateMachine["resolveState"]>;

function view(snapshot: Snap): SimSnapshot {
  return {
    value: String(snapshot.value),
    context: { ...(snapshot.context as Record<string, Scalar>) },
    status: snapshot.status === "done" ? "done" : "active",
  };
}

function start(sim: Simulated, body: Record<string, unknown>): Snap {
  const { example } = sim;
  if (body.snapshot !== undefined) {
    if (body.input !== undefined)
      refuse("ERR_SIM_REQUEST_INVALID", "send input or snapshot, not both");
    const snapshot = body.snapshot;
    if (!isRecord(snapshot)) refuse("ERR_SIM_SNAPSHOT_INVALID", "snapshot: must be an object");
    for (const key of Object.keys(snapshot)) {
      if (key !== "value" && key !== "context" && key !== "status") {
        refuse(
          "ERR_SIM_SNAPSHOT_INVALID",
          `snapshot: unknown field ${JSON.stringify(key.slice(0, 40))}`,
        );
      }
    }
    if (typeof snapshot.value !== "string" || !stateNode(sim.machine, snapshot.value)) {
      refuse("ERR_SIM_STATE_UNKNOWN", "snapshot.value: not a state of this machine");
    }
    const context = checkFields(
      snapshot.context,
      example.contextShape,
      example.nullable,
      [],
      "ERR_SIM_SNAPSHOT_INVALID",
      "snapshot.context",
    );
    return sim.machine.resolveState({ value: snapshot.value, context });
  }
  const input =
    body.input === undefined
      ? example.input
      : checkFields(
          body.input,
          example.input,
          example.nullable,
          example.optionalInput,
          "ERR_SIM_INPUT_INVALID",
          "input",
        );
  // Through the one gate (src/machine-gate/bridge.ts), as the server steps its own machines.
  return machineBridge(sim.machine).initial(input) as Snap;
}

function step(sim: Simulated, from: Snap, raw: unknown): { next: Snap; step: SimStep } {
  if (!isRecord(raw)) refuse("ERR_SIM_EVENT_INVALID", "event: must be an object");
  const type = raw.type;
  if (typeof type !== "string" || !Object.hasOwn(sim.example.events, type)) {
    refuse("ERR_SIM_EVENT_UNKNOWN", "event.type: not an event of this machine");
  }
  const { type: _type, ...payload } = raw;
  const fields = checkFields(
    payload,
    sim.example.events[type] as Record<string, Scalar>,
    sim.example.nullable,
    [],
    "ERR_SIM_EVENT_INVALID",
    "event",
  );
  const event = { ...fields, type };
  const node = stateNode(sim.machine, String(from.value));
  const candidates = node?.transitions.get(type) ?? [];
  if (from.status === "done" || !from.can(event)) {
    const guards = candidates.map((t) => (t.guard ? guardName(t.guard) : "")).filter(Boolean);
    const reason =
      from.status === "done"
        ? "final state: the machine accepts no event"
        : candidates.length === 0
          ? `no transition for ${type} in ${String(from.value)}`
          : `guard refused: ${guards.join(", ")}`;
    return {
      next: from,
      step: { event: type, accepted: false, reason, target: null, requirements: [] },
    };
  }
  const taken = sim.machine.getTransitionData(from, event);
  // The gate steps it (CHMODEL-ONE-GATE); `can` was checked above, so a refusal here is a bug.
  const next = machineBridge(sim.machine).step(from, event);
  if (next === undefined) throw new CpnsError("ERR_INTERNAL");
  const requirements = taken.flatMap((t) => requirementsOf(t.meta, type));
  return {
    next: next as Snap,
    step: {
      event: type,
      accepted: true,
      reason: null,
      target: `${sim.machine.id}.${String(next.value)}`,
      requirements,
    },
  };
}

/** One simulation request: create (from `input` or the example input) or restore, then step. */
export function simulate(machineId: string, body: unknown): SimAnswer {
  const sim = simulatedMachine(machineId);
  if (!isRecord(body)) refuse("ERR_SIM_REQUEST_INVALID", "the body must be an object");
  for (const key of Object.keys(body)) {
    if (key !== "input" && key !== "snapshot" && key !== "event") {
      refuse("ERR_SIM_REQUEST_INVALID", `unknown field ${JSON.stringify(key.slice(0, 40))}`);
    }
  }
  const from = start(sim, body);
  const result =
    body.event === undefined ? { next: from, step: null } : step(sim, from, body.event);
  const snapshot = view(result.next);
  return {
    machine: sim.machine.id,
    snapshot,
    step: result.step,
    events: choices(sim, snapshot.value),
  };
}
