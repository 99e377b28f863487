/**
 * The machines of machines/*.ts as data: every export that is an xstate StateMachine, walked
 * through `machine.root` (state nodes in document order), and the requirement ids they carry in
 * `meta: { requirements: [...] }` on the machine, a state or a transition.
 */
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import type { AnyStateMachine, AnyStateNode } from "xstate";
import {
  childStates,
  eventName,
  requirementsOf,
  transitionsOf,
} from "../../src/reviewer-page/describe.ts";

export interface LoadedMachine {
  machine: AnyStateMachine;
  /** Repository-relative path of the defining module, with `/` separators. */
  file: string;
  exportName: string;
}

/** Duck-typed, so a second copy of xstate in node_modules does not hide a machine. */
export function isStateMachine(value: unknown): value is AnyStateMachine {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.id === "string" &&
    typeof candidate.root === "object" &&
    typeof candidate.transition === "function" &&
    typeof candidate.getInitialSnapshot === "function"
  );
}

/** Imports every `*.ts` module of `dir` (not tests, not declarations), sorted by file name. */
export async function loadMachines(dir: string, repoRoot: string): Promise<LoadedMachine[]> {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith(".ts") && !/\.(test|spec|d)\.ts$/.test(name))
    .sort();
  const found: LoadedMachine[] = [];
  for (const name of files) {
    const path = join(dir, name);
    const module: Record<string, unknown> = await import(pathToFileURL(path).href);
    for (const exportName of Object.keys(module).sort()) {
      const value = module[exportName];
      if (!isStateMachine(value) || found.some((m) => m.machine === value)) continue;
      const clash = found.find((m) => m.machine.id === value.id);
      if (clash) {
        throw new Error(
          `two machines share the id "${value.id}": ${clash.file} (${clash.exportName}) and ${name} (${exportName})`,
        );
      }
      found.push({
        machine: value,
        file: relative(repoRoot, path).split("\\").join("/"),
        exportName,
      });
    }
  }
  return found;
}

/** Every state node under `node` (itself included), parents before children, in document order. */
export { childStates, transitionsOf };

export function stateNodes(node: AnyStateNode): AnyStateNode[] {
  return [node, ...childStates(node).flatMap(stateNodes)];
}

/** Readable event name (`after 1000`, `always`, `onDone`, `done: id`, ...): one definition, in src/reviewer-page. */
export const eventLabel = eventName;

/** `entity.active`, or `entity` for the root: a state's path from the machine. */
export function statePath(node: AnyStateNode): string {
  return [node.machine.id, ...node.path].join(".");
}

export interface ModelRef {
  machine: string;
  /** `state entity.active`, `transition entity.active --ROTATE--> entity.active`, or `machine entity`. */
  where: string;
  ids: string[];
}

/** The requirement ids named by a machine's states and transitions, in document order. */
export function modelRefs(machine: AnyStateMachine): ModelRef[] {
  const refs: ModelRef[] = [];
  const push = (where: string, meta: unknown) => {
    const ids = requirementsOf(meta, `${machine.id}: ${where}`);
    if (ids.length > 0) refs.push({ machine: machine.id, where, ids });
  };
  for (const node of stateNodes(machine.root)) {
    push(node === machine.root ? `machine ${machine.id}` : `state ${statePath(node)}`, node.meta);
    for (const t of transitionsOf(node)) {
      const targets = t.target?.map(statePath).join(", ") ?? "(internal)";
      push(`transition ${statePath(node)} --${eventLabel(t)}--> ${targets}`, t.meta);
    }
  }
  return refs;
}
