/**
 * The machines of machines/ as plain JSON (issue #5): what the reviewer page draws and what
 * `GET /model/machines.json` serves. Read from the machine definitions themselves (xstate v5
 * `machine.root`, state nodes in document order), never written by hand, so the picture cannot
 * drift from the model the handlers consult. Requirement ids come from
 * `meta: { requirements: [...] }` on states and transitions, as in scripts/spec/model.ts (which
 * src/ does not import: the same walk, kept web-standard and pure here).
 *
 * Implements: SPEC-MODEL-PAGE
 */
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from "xstate";
import { MACHINES, type RegisteredMachine } from "./registry.ts";

export type StateType = "atomic" | "compound" | "parallel" | "final" | "history";

export interface StateDescription {
  /** `entity.active`: the machine id, then the state's path. */
  id: string;
  /** `active`: the state's key in its parent. */
  key: string;
  type: StateType;
  description: string | null;
  /** The id of the parent state, or null for a top-level state. */
  parent: string | null;
  /** True for the initial child of its parent (top level: the machine's initial state). */
  initial: boolean;
  requirements: string[];
}

export interface TransitionDescription {
  /** Unique within the machine: `entity.active:REVOKE`, `agent.enrolling:ENROLL_FAILED:1`. */
  id: string;
  /** State id, or the machine id for a transition on the machine itself. */
  source: string;
  /** The event type; `after 1000`, `always`, `onDone`, `done: x`, `error: x` for the built-ins. */
  event: string;
  guard: string | null;
  actions: string[];
  /** Target state id; null for a targetless (internal) transition, which stays where it is. */
  target: string | null;
  /** True when the target is re-entered (its exit and entry actions run again). */
  reenter: boolean;
  requirements: string[];
  /** `EVENT [guard]`: how the diagram labels the transition. */
  label: string;
}

export interface MachineDescription {
  id: string;
  title: string;
  source: string;
  description: string | null;
  /** Id of the machine's initial state. */
  initial: string | null;
  states: StateDescription[];
  transitions: TransitionDescription[];
  /** Requirement ids named on the machine itself. */
  requirements: string[];
}

export interface ModelDescription {
  machines: MachineDescription[];
}

/** A node's child states in document order. */
export function childStates(node: AnyStateNode): AnyStateNode[] {
  return (Object.values(node.states) as AnyStateNode[]).sort((a, b) => a.order - b.order);
}

/** Every state node under `node` (itself excluded), parents before children, in document order. */
function descendants(node: AnyStateNode): AnyStateNode[] {
  return childStates(node).flatMap((child) => [child, ...descendants(child)]);
}

/** A node's outgoing transitions in document order: event transitions, delayed ones, `always`. */
export function transitionsOf(node: AnyStateNode): AnyTransitionDefinition[] {
  return [...[...node.transitions.values()].flat(), ...(node.always ?? [])];
}

/** `entity.active`, or `entity` for the root. */
export function stateId(node: AnyStateNode): string {
  return [node.machine.id, ...node.path].join(".");
}

/** Readable event name: the built-in delayed, eventless and done/error events get short names. */
export function eventName(transition: AnyTransitionDefinition): string {
  const type = String(transition.eventType ?? "");
  const own = `.${transition.source.id}`;
  if (type === "") return "always";
  if (type.startsWith("xstate.after.") && type.endsWith(own)) {
    return `after ${type.slice("xstate.after.".length, -own.length)}`;
  }
  if (type === `xstate.done.state${own}`) return "onDone";
  if (type.startsWith("xstate.done.actor.")) return `done: ${type.slice(18)}`;
  if (type.startsWith("xstate.error.actor.")) return `error: ${type.slice(19)}`;
  return type;
}

type Named = { type?: unknown; name?: unknown; guards?: unknown; stateValue?: unknown };
const INLINE_NAMES = new Set(["", "anonymous", "actions", "guard", "entry", "exit"]);

/** `isOwner`, `!a`, `a && (b || c)`, `in("x")`; an inline function by its name or `inline`. */
export function guardName(guard: unknown, nested = false): string {
  if (typeof guard === "string") return guard;
  const g = guard as Named;
  if (typeof guard === "function") {
    const inner = Array.isArray(g.guards) ? g.guards.map((x) => guardName(x, true)) : [];
    if (g.name === "not" && inner.length === 1) return `!${inner[0]}`;
    if (g.name === "and" || g.name === "or") {
      const joined = inner.join(g.name === "and" ? " && " : " || ");
      return nested ? `(${joined})` : joined;
    }
    if (g.name === "stateIn") return `in(${JSON.stringify(g.stateValue)})`;
    return typeof g.name === "string" && !INLINE_NAMES.has(g.name) ? g.name : "inline";
  }
  return typeof g?.type === "string" ? g.type : "inline";
}

/** `issueNextKey`, `assign` for xstate's built-in `xstate.assign`, or `inline`. */
export function actionName(action: unknown): string {
  if (typeof action === "string") return action;
  const a = action as Named;
  if (typeof a?.type === "string") return a.type.replace(/^xstate\./, "");
  if (typeof action === "function" && typeof a.name === "string" && !INLINE_NAMES.has(a.name)) {
    return a.name;
  }
  return "inline";
}

/** The ids of `meta.requirements`; anything but an array of strings there is a modelling error. */
export function requirementsOf(meta: unknown, where: string): string[] {
  if (typeof meta !== "object" || meta === null || !("requirements" in meta)) return [];
  const ids = (meta as { requirements: unknown }).requirements;
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === "string")) {
    throw new TypeError(`${where}: meta.requirements must be an array of requirement ids`);
  }
  return [...ids];
}

const STATE_TYPES = new Set<string>(["atomic", "compound", "parallel", "final", "history"]);

function describeState(node: AnyStateNode): StateDescription {
  const id = stateId(node);
  const parent = node.parent && node.parent !== node.machine.root ? stateId(node.parent) : null;
  const initialOfParent = node.parent?.initial?.target?.[0];
  if (!STATE_TYPES.has(node.type)) throw new TypeError(`${id}: unknown state type ${node.type}`);
  return {
    id,
    key: node.key,
    type: node.type as StateType,
    description: node.description ?? null,
    parent,
    initial: initialOfParent === node,
    requirements: requirementsOf(node.meta, `state ${id}`),
  };
}

function describeTransitions(node: AnyStateNode): TransitionDescription[] {
  const source = stateId(node);
  const all = transitionsOf(node);
  const out: TransitionDescription[] = [];
  all.forEach((t) => {
    const event = eventName(t);
    const branches = all.filter((other) => eventName(other) === event);
    const base =
      branches.length > 1 ? `${source}:${event}:${branches.indexOf(t)}` : `${source}:${event}`;
    const guard = t.guard === undefined ? null : guardName(t.guard);
    const targets: ReadonlyArray<AnyStateNode | null> =
      t.target && t.target.length > 0 ? t.target : [null];
    const requirements = requirementsOf(t.meta, `transition ${base}`);
    targets.forEach((target, i) => {
      out.push({
        id: targets.length > 1 ? `${base}>${i}` : base,
        source,
        event,
        guard,
        actions: t.actions.map(actionName),
        target: target === null ? null : stateId(target),
        reenter: Boolean(t.reenter),
        requirements: [...requirements],
        label: guard === null ? event : `${event} [${guard}]`,
      });
    });
  });
  return out;
}

/** One machine as JSON. */
export function describeMachine(entry: RegisteredMachine): MachineDescription {
  const machine: AnyStateMachine = entry.machine;
  if (machine.id !== entry.id) {
    throw new TypeError(`registry id "${entry.id}" names machine "${machine.id}"`);
  }
  const root = machine.root;
  const nodes = descendants(root);
  const initial = root.initial?.target?.[0];
  return {
    id: machine.id,
    title: entry.title,
    source: entry.source,
    description: root.description ?? null,
    initial: initial ? stateId(initial) : null,
    states: nodes.map(describeState),
    transitions: [root, ...nodes].flatMap(describeTransitions),
    requirements: requirementsOf(root.meta, `machine ${machine.id}`),
  };
}

/** Every registered machine as JSON; pure and deterministic. */
export function describe(registry: readonly RegisteredMachine[] = MACHINES): ModelDescription {
  const seen = new Set<string>();
  for (const { id } of registry) {
    if (seen.has(id)) throw new TypeError(`two registered machines share the id "${id}"`);
    seen.add(id);
  }
  return { machines: registry.map(describeMachine) };
}
