/**
 * Each machine of machines/ as XState JSON (issue #13, the reviewer page):
 * the machine's own config, which Stately's editor and `createMachine()` open,
 * so reviewers can take the formal model into Stately's tools. Our machines
 * name every guard, action and delay (setup()), so the config is data; the one
 * function in it, the context factory (context comes from the machine's
 * input), is left out and said so in the description. Read from the machine
 * definitions, never written by hand.
 *
 * Implements: MODEL-XSTATE-EXPORT
 */
import { MACHINES } from "./registry.ts";

export type XStateJson = Record<string, unknown>;

/** The machine's config as JSON data: functions left out, everything else as defined. */
export function xstateJsonOf(machineId: string): XStateJson | undefined {
  const registered = MACHINES.find((entry) => entry.id === machineId);
  if (!registered) return undefined;
  const config = registered.machine.config as Record<string, unknown>;
  const data = JSON.parse(
    JSON.stringify(config, (_key, value) => (typeof value === "function" ? undefined : value)),
  ) as XStateJson;
  delete data.schemas;
  const note = `Exported from ${registered.source} (CPNS Security). Guards, actions and delays are named here and implemented in that file; the context comes from the machine's input and is not part of this export.`;
  return { ...data, description: note };
}

/** The ids that have an export (every registered machine). */
export function exportableMachineIds(): string[] {
  return MACHINES.map((entry) => entry.id);
}
