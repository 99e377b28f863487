/**
 * The entity lifecycle machine (machines/entity.ts) as the server's handlers
 * use it, through the shared bridge (src/machine-gate/bridge.ts): rebuild a snapshot
 * from a record, ask, step, persist. A refused event writes nothing.
 *
 * Implements: ENTITY-LIFECYCLE, SERVER-MODEL-GATE
 */
import type { SnapshotFrom } from "xstate";
import { type EntityEvent, entityMachine } from "../../machines/entity.ts";
import { machineBridge } from "../machine-gate/bridge.ts";
import type { EntityRecord, PersistedMachineState } from "../store/records.ts";

export type EntitySnapshot = SnapshotFrom<typeof entityMachine>;

const bridge = machineBridge(entityMachine);

export function entitySnapshot(entityId: string, record?: EntityRecord): EntitySnapshot {
  return record ? bridge.restore(record.machine) : bridge.initial({ entityId });
}

/** The next snapshot, or undefined when the machine refuses the event. */
export function step(snapshot: EntitySnapshot, event: EntityEvent): EntitySnapshot | undefined {
  return bridge.step(snapshot, event);
}

export function persist(snapshot: EntitySnapshot): PersistedMachineState {
  return bridge.persist(snapshot);
}
