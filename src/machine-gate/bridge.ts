/**
 * "Formal-model-backed" (DESIGN §3): the one bridge between a machine of
 * machines/ and the code it gates. Rebuild a snapshot from its persisted form,
 * ask the machine whether an event is allowed, compute the next snapshot, and
 * persist it. Callers write only what `step` returns; a refused event writes
 * nothing. A persisted state the machine does not know is a damaged record.
 *
 * Implements: SERVER-MODEL-GATE
 * Implements: CHMODEL-ONE-GATE
 */
import {
  type AnyStateMachine,
  type ContextFrom,
  type EventFromLogic,
  type InputFrom,
  initialTransition,
  type SnapshotFrom,
  transition,
} from "xstate";
import { CpnsError } from "../errors.ts";

export interface PersistedMachineState {
  value: string;
  context: Record<string, unknown>;
}

export interface MachineBridge<M extends AnyStateMachine> {
  initial(input: InputFrom<M>): SnapshotFrom<M>;
  /** Throws ERR_STORE_CORRUPT for a state this machine does not have. */
  restore(persisted: PersistedMachineState): SnapshotFrom<M>;
  /** The next snapshot, or undefined when the machine refuses the event. */
  step(snapshot: SnapshotFrom<M>, event: EventFromLogic<M>): SnapshotFrom<M> | undefined;
  persist(snapshot: SnapshotFrom<M>): PersistedMachineState;
}

export function machineBridge<M extends AnyStateMachine>(machine: M): MachineBridge<M> {
  const stateNames = new Set(Object.keys(machine.root.states));
  return {
    initial: (input) => initialTransition(machine, input)[0] as SnapshotFrom<M>,
    restore(persisted) {
      if (!stateNames.has(persisted.value)) throw new CpnsError("ERR_STORE_CORRUPT");
      return machine.resolveState({
        value: persisted.value,
        context: persisted.context as unknown as ContextFrom<M>,
      }) as SnapshotFrom<M>;
    },
    step(snapshot, event) {
      if (!(snapshot as { can(e: unknown): boolean }).can(event)) return undefined;
      return transition(machine, snapshot, event)[0] as SnapshotFrom<M>;
    },
    persist(snapshot) {
      const { value, context } = snapshot as { value: unknown; context: unknown };
      return { value: String(value), context: { ...(context as Record<string, unknown>) } };
    },
  };
}
