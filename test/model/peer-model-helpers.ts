/**
 * What the model tests of the two session machines share (gateway-session.model.test.ts: a real
 * PN GW; peer-session.model.test.ts: a real PeerSession): watching what the real system asks its
 * machine. Both run their machine through src/machine-gate/bridge.ts, whose `step` asks `can` (and so
 * the machine's getTransitionData) and then `transition` (which asks it again, with the same
 * snapshot and event): the watch hooks getTransitionData and logs each question once, as the
 * coverage names its transition, the refusing branch `(refused)` included.
 *
 * A refusal counts in the coverage only here, where the real system asked its machine and was
 * refused: paths never contain refusals (xstate's traversal drops them), so this is the one
 * honest source of them. The taken transitions are logged too, so that each driver can show
 * what the real system asked and in which order (EXPIRE first, then the traffic); they count in
 * the coverage through the model's path (runPath), not here.
 *
 * Implements: SPEC-MODEL-TESTS
 */
import { expect } from "vitest";
import type { AnyStateMachine, EventObject, SnapshotFrom } from "xstate";
import type { FetchLike } from "../../src/digest/index.ts";
import { type ModelCoverage, type Outcome, settle } from "./model-helpers.ts";

type Check<S> = (snapshot: S) => Promise<void>;

/**
 * Logs, per owner (a real peer: each path has its own), every transition the real system asks
 * of `machine`. Snapshots of other owners (the model's own, named after a model entity) are left
 * out, and so are the coverage's own look-ups.
 */
export class MachineWatch<M extends AnyStateMachine> {
  readonly #logs = new Map<string, string[]>();
  readonly #original: M["getTransitionData"];
  #quiet = false;
  #last: { snapshot: unknown; event: unknown } | undefined;

  constructor(
    private readonly machine: M,
    coverage: ModelCoverage,
    ownerOf: (snapshot: SnapshotFrom<M>) => string,
  ) {
    const original = machine.getTransitionData;
    this.#original = original;
    const watch = this;
    machine.getTransitionData = function (this: M, snapshot, event) {
      const chosen = original.call(this, snapshot, event);
      const log = watch.#logs.get(ownerOf(snapshot as SnapshotFrom<M>));
      // bridge.step asks twice (can, then transition) with the very same snapshot and event.
      const again = watch.#last?.snapshot === snapshot && watch.#last?.event === event;
      if (log && !watch.#quiet && !again) {
        watch.#last = { snapshot, event };
        watch.#quiet = true;
        try {
          // An event the state does not handle at all (any event once final) is no transition.
          const key = coverage.transitionOf(snapshot, event as EventObject);
          if (key) {
            log.push(key);
            if (chosen.length === 0) coverage.step(snapshot, event as EventObject);
          }
        } finally {
          watch.#quiet = false;
        }
      }
      return chosen;
    } as M["getTransitionData"];
  }

  /** Starts logging what `owner`'s machine is asked. */
  watch(owner: string): void {
    this.#logs.set(owner, []);
  }

  unwatch(owner: string): void {
    this.#logs.delete(owner);
  }

  /** The transitions asked for `owner` since the last call, in order (refusals included). */
  take(owner: string): string[] {
    const log = this.#logs.get(owner) ?? [];
    const asked = [...log];
    log.length = 0;
    return asked;
  }

  /** Puts the machine's own getTransitionData back (afterAll). */
  restore(): void {
    this.machine.getTransitionData = this.#original;
  }
}

/**
 * The state checks, each also recording its state as the world's `source` (of the next event).
 * Whatever the real system asked its machine must have been expected by the event before (or by
 * the check itself): nothing is asked unexplained.
 */
export function tracked<S>(
  world: { asked(): string[]; source: S | undefined },
  checks: Record<string, Check<S>>,
): Record<string, Check<S>> {
  return Object.fromEntries(
    Object.entries(checks).map(([key, check]) => [
      key,
      async (snapshot: S) => {
        expect(world.asked(), `asked unexplained before ${key}`).toEqual([]);
        await check(snapshot);
        expect(world.asked(), `asked unexplained in ${key}`).toEqual([]);
        world.source = snapshot;
      },
    ]),
  );
}

/** True the first time a key is seen in this run (a probe that needs doing once per state). */
export function firstTime(): (key: string) => boolean {
  const seen = new Set<string>();
  return (key) => {
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  };
}

/** A GET of the CPNS Server's `path` through a session's relay, settled (the transport may throw). */
export function relayGet(relay: FetchLike, serverUrl: string, path: string) {
  return settle(Promise.resolve(relay(new Request(`${serverUrl}${path}`)))) as Promise<
    Outcome<Response>
  >;
}
