/**
 * Mermaid `stateDiagram-v2` from an xstate v5 machine definition (never drawn by hand): nested,
 * parallel, history and final states, initial arrows, transitions labelled `EVENT [guard] /
 * actions`, entry/exit/invoke inside the state box, and state descriptions as notes. Each
 * transition is written in the block of the lowest composite state holding both of its ends.
 *
 * Implements: SPEC-DIAGRAMS
 */
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from "xstate";
import { actionName, guardName } from "../../src/reviewer-page/describe.ts";
import { childStates, eventLabel, stateNodes, transitionsOf } from "./model.ts";

/** Words the stateDiagram lexer (case-insensitive) takes for keywords: never used as a state id. */
const RESERVED = new Set(
  "as class classdef default direction end hide note scale state".split(" "),
);

/**
 * Text after ` : ` (a transition label or a line in a state box): the lexer ends it at `:`, `;` or
 * a line break and takes `%%` for a comment, so those are replaced by look-alikes.
 */
export function mermaidLabel(text: string): string {
  return text.replace(/\s+/g, " ").replace(/;/g, ",").replace(/:/g, "\u2236").replace(/%%/g, "% %");
}

/** Text inside `state "..." as id`: anything but a double quote. */
const quoted = (text: string) => text.replace(/\s+/g, " ").replace(/"/g, "'");

/** A multi-line note ends at the first `end note` (any case). */
const noteText = (text: string) => text.replace(/end(\s+)note/gi, "end-note");

/** Guard and action names: one definition, in src/reviewer-page (the reviewer page uses the same). */
export const guardLabel = guardName;
export const actionLabel = actionName;

/**
 * The entry or exit actions as written: `node.entry` also holds the raise/cancel pairs xstate adds
 * to implement `after`, which are drawn as the delayed transitions instead.
 */
export function configured(actions: unknown): unknown[] {
  if (actions === undefined) return [];
  return Array.isArray(actions) ? actions : [actions];
}

/** `EVENT [guard] / a, b`. */
export function transitionLabel(t: AnyTransitionDefinition): string {
  let label = eventLabel(t);
  if (t.guard !== undefined) label += ` [${guardLabel(t.guard)}]`;
  if (t.actions.length > 0) label += ` / ${t.actions.map(actionLabel).join(", ")}`;
  return label;
}

function wrap(text: string, width = 48): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  return line === "" ? lines : [...lines, line];
}

/** The root is drawn as a box of its own only when it has transitions or actions of its own. */
function drawRoot(machine: AnyStateMachine): boolean {
  const root = machine.root;
  const own = [root.config.entry, root.config.exit].flatMap(configured);
  return transitionsOf(root).length > 0 || own.length > 0;
}

export function toMermaid(machine: AnyStateMachine): string {
  const root = machine.root;
  const withRoot = drawRoot(machine);
  const ids = new Map<AnyStateNode, string>();
  const owners = new Map<string, AnyStateNode>();
  for (const node of stateNodes(root)) {
    const raw = node === root ? machine.id : node.path.join("__");
    let id = raw.replace(/[^A-Za-z0-9_]/g, "_");
    if (RESERVED.has(id.toLowerCase())) id = `${id}_`;
    const other = owners.get(id);
    if (other)
      throw new Error(`${machine.id}: states ${other.id} and ${node.id} both draw as "${id}"`);
    owners.set(id, node);
    ids.set(node, id);
  }
  const idOf = (node: AnyStateNode) => ids.get(node) as string;
  // The block a node is declared in: its parent, or the document (null) for top-level boxes.
  const blockOf = (node: AnyStateNode | undefined): AnyStateNode | null =>
    node === undefined || (node === root && !withRoot) ? null : node;
  const blocks = new Map<AnyStateNode | null, string[]>();
  const emit = (block: AnyStateNode | null, line: string) => {
    blocks.set(block, [...(blocks.get(block) ?? []), line]);
  };

  for (const node of stateNodes(root)) {
    const here = blockOf(node);
    if (node.type === "compound") {
      const initial = node.initial?.target?.[0];
      if (initial) emit(here, `[*] --> ${idOf(initial)}`);
    }
    if (node.type === "final" && node !== root) emit(blockOf(node.parent), `${idOf(node)} --> [*]`);
    for (const t of transitionsOf(node)) {
      const targets = t.target && t.target.length > 0 ? t.target : [node];
      for (const target of targets) {
        emit(
          blockOf(commonParent(node, target)),
          `${idOf(node)} --> ${idOf(target)} : ${mermaidLabel(transitionLabel(t))}`,
        );
      }
    }
  }

  const lines = ["stateDiagram-v2"];
  const declare = (node: AnyStateNode, indent: string) => {
    const id = idOf(node);
    const label = node === root ? machine.id : node.key;
    const shown =
      node.type === "history" ? `${label} (H${node.history === "deep" ? "*" : ""})` : label;
    const children = childStates(node);
    const alias = shown !== id ? `state "${quoted(shown)}" as ${id}` : undefined;
    if (children.length > 0) {
      lines.push(`${indent}state "${quoted(shown)}" as ${id} {`);
      body(node, children, `${indent}  `);
      lines.push(`${indent}}`);
    } else if (alias) lines.push(`${indent}${alias}`);
    else lines.push(`${indent}${id}`);
    const boxLines = [
      ...configured(node.config.entry).map((a) => `entry / ${actionLabel(a)}`),
      ...configured(node.config.exit).map((a) => `exit / ${actionLabel(a)}`),
      ...node.invoke.map((inv) => `invoke ${typeof inv.src === "string" ? inv.src : inv.id}`),
    ];
    for (const text of boxLines) lines.push(`${indent}${id} : ${mermaidLabel(text)}`);
    if (node.description) {
      lines.push(`${indent}note right of ${id}`);
      for (const l of wrap(noteText(node.description))) lines.push(`${indent}  ${l}`);
      lines.push(`${indent}end note`);
    }
  };
  const body = (block: AnyStateNode | null, children: AnyStateNode[], indent: string) => {
    children.forEach((child, i) => {
      if (i > 0 && block?.type === "parallel") lines.push(`${indent}--`);
      declare(child, indent);
    });
    for (const line of blocks.get(block) ?? []) lines.push(`${indent}${line}`);
  };
  if (withRoot) {
    declare(root, "  ");
    for (const line of blocks.get(null) ?? []) lines.push(`  ${line}`);
  } else {
    body(null, childStates(root), "  ");
  }
  return `${lines.join("\n")}\n`;
}

/** The nearest state containing both ends' parents: the block a transition is drawn in. */
function commonParent(source: AnyStateNode, target: AnyStateNode): AnyStateNode | undefined {
  const chain = (node: AnyStateNode | undefined): AnyStateNode[] =>
    node ? [...chain(node.parent), node] : [];
  const a = chain(source.parent);
  const b = chain(target.parent);
  let common: AnyStateNode | undefined;
  for (let i = 0; i < Math.min(a.length, b.length) && a[i] === b[i]; i++) common = a[i];
  return common;
}
