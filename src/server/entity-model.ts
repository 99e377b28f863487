/**
 * The bridge between stored entity records and the entity lifecycle machine
 * (machines/entity.ts): rebuild a snapshot from a record, ask the machine
 * whether an event is allowed, and compute the next state. Handlers write only
 * what `step` returns; a refused event writes nothing.
 */
import { initialTransition, type SnapshotFrom, transition } from "xstate";
import { type EntityContext, type EntityEvent, entityMachine } from "../../machines/entity.ts";
import { CpnsError } from "../errors.ts";
import type { EntityRecord, PersistedMachineState } from "../store/records.ts";

export type EntitySnapshot = SnapshotFrom<typeof entityMachine>;

/** The states a stored record may name; anything else is a damaged record. */
const STATE_NAMES = new Set(Object.keys(entityMachine.root.states));

export function entitySnapshot(entityId: string, record?: EntityRecord): EntitySnapshot {
  if (!record) return initialTransition(entityMachine, { entityId })[0];
  if (!STATE_NAMES.has(record.machine.value)) throw new CpnsError("ERR_STORE_CORRUPT");
  return entityMachine.resolveState({
    value: record.machine.value,
    context: record.machine.context as unknown as EntityContext,
  });
}

/** The next snapshot, or undefined when the machine refuses the event. */
export function step(snapshot: EntitySnapshot, event: EntityEvent): EntitySnapshot | undefined {
  if (!snapshot.can(event)) return undefined;
  return transition(entityMachine, snapshot, event)[0];
}

export function persist(snapshot: EntitySnapshot): PersistedMachineState {
  return {
    value: snapshot.value as string,
    context: { ...snapshot.context } as unknown as Record<string, unknown>,
  };
}
