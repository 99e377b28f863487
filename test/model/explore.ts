/**
 * Exhaustive exploration of a machine's reachable states (issue #5,
 * "properties checked over the model"): breadth-first over every event in an
 * explicit payload list, so guarded branches are not silently skipped. Each
 * state is reached by a shortest path, which is what a failing property prints.
 * Context values that grow without bound (key versions) are cut off by a
 * `bound` predicate, and the caller says so in its test title.
 *
 * Implements: SPEC-MODEL-TESTS
 */
import { type AnyStateMachine, initialTransition, transition } from "xstate";

/** The part of a machine snapshot the exploration needs. */
export interface ExplorableSnapshot {
  value: unknown;
  context: unknown;
  status: string;
  // biome-ignore lint/suspicious/noExplicitAny: each machine has its own event type.
  can(event: any): boolean;
}

export interface Explored<S extends ExplorableSnapshot> {
  snapshot: S;
  path: string[];
}

export function describeEvent(event: { type: string }): string {
  const { type, ...payload } = event;
  const fields = Object.entries(payload).map(([key, value]) => `${key}=${String(value)}`);
  return fields.length ? `${type}(${fields.join(", ")})` : type;
}

function keyOf(snapshot: { value: unknown; context: unknown; status: string }): string {
  return JSON.stringify([snapshot.value, snapshot.context, snapshot.status]);
}

export function explore<S extends ExplorableSnapshot>(
  machine: AnyStateMachine,
  input: unknown,
  events: ReadonlyArray<{ type: string }>,
  bound: (snapshot: S) => boolean = () => true,
): Array<Explored<S>> {
  const [initial] = initialTransition(machine, input) as unknown as [S];
  const seen = new Map<string, Explored<S>>([[keyOf(initial), { snapshot: initial, path: [] }]]);
  const queue: Array<Explored<S>> = [{ snapshot: initial, path: [] }];
  while (queue.length > 0) {
    const current = queue.shift() as Explored<S>;
    for (const event of events) {
      if (!current.snapshot.can(event)) continue;
      // biome-ignore lint/suspicious/noExplicitAny: the snapshot belongs to `machine`.
      const [next] = transition(machine, current.snapshot as any, event) as unknown as [S];
      if (!bound(next)) continue;
      const key = keyOf(next);
      if (seen.has(key)) continue;
      const explored = { snapshot: next, path: [...current.path, describeEvent(event)] };
      seen.set(key, explored);
      queue.push(explored);
    }
  }
  return [...seen.values()];
}
