/**
 * One machine's layout (layout.ts) as a standalone SVG document fragment, written by hand
 * (issue #5). Colours and fonts are presentation attributes, so the drawing reads the same on its
 * own as on the reviewer page, whose stylesheet overrides them by class (presentation attributes
 * lose to CSS, and they are not inline styles, so a strict Content-Security-Policy allows them).
 *
 * Hooks for the page: each state is `<g class="state" data-state="entity.active">`, each
 * transition `<g class="transition" data-transition="entity.active:REVOKE"
 * data-source="entity.active" data-requirements="...">` whose `<title>` lists its requirement
 * ids and whose link points at the transition's row in the page's table (`#row-<domId>`).
 * A compound state's dashed line to its initial child (issue #13) is
 * `<g class="initial-child" data-parent="..." data-child="...">`.
 *
 * Implements: SPEC-MODEL-PAGE
 */
import type { MachineDescription, TransitionDescription } from "./describe.ts";
import {
  type EdgeRoute,
  layoutMachine,
  type MachineLayout,
  METRICS,
  type NodeBox,
} from "./layout.ts";

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Text or attribute value for XML and HTML. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ESCAPES[ch] as string);
}

/** An id usable in HTML ids, URL fragments and CSS selectors without escaping. */
export function domId(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "");
}

export const FONT_FAMILY = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace";

/** What a transition's tooltip says: label, actions, where it goes, requirement ids. */
export function transitionTitle(t: TransitionDescription): string {
  const actions = t.actions.length > 0 ? ` / ${t.actions.join(", ")}` : "";
  const target = t.target === null ? `${t.source} (stays)` : t.target;
  const reenter = t.reenter ? " (re-entered)" : "";
  const requirements =
    t.requirements.length > 0 ? t.requirements.join(", ") : "none named in the machine";
  return `${t.label}${actions}\n${t.source} \u2192 ${target}${reenter}\nRequirements: ${requirements}`;
}

const round = (n: number) => String(Math.round(n * 10) / 10);

function attrs(values: Record<string, string | number | undefined>): string {
  let out = "";
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    out += ` ${name}="${escapeXml(typeof value === "number" ? round(value) : value)}"`;
  }
  return out;
}

function renderState(node: NodeBox): string {
  const { state } = node;
  const classes = ["state", state.type, state.initial ? "initial" : ""].filter(Boolean).join(" ");
  const title = state.description ? `${state.id}\n${state.description}` : state.id;
  const lines = [
    `<g${attrs({ class: classes, "data-state": state.id, id: `state-${domId(state.id)}` })}>`,
    `<title>${escapeXml(title)}</title>`,
    `<rect${attrs({ class: "box", x: node.x, y: node.y, width: node.width, height: node.height, rx: 10, fill: "#ffffff", stroke: "#334155", "stroke-width": 1.5 })}/>`,
  ];
  if (state.type === "final") {
    lines.push(
      `<rect${attrs({ class: "inner", x: node.x + 4, y: node.y + 4, width: node.width - 8, height: node.height - 8, rx: 7, fill: "none", stroke: "#334155", "stroke-width": 1.5 })}/>`,
    );
  }
  lines.push(
    `<text${attrs({ class: "name", x: node.x + node.width / 2, y: node.y + node.height / 2, "text-anchor": "middle", "dominant-baseline": "central", "font-size": METRICS.stateFont, "font-weight": "bold", fill: "#0f172a" })}>${escapeXml(node.label)}</text>`,
    "</g>",
  );
  return lines.join("");
}

function renderTransition(machineId: string, edge: EdgeRoute): string {
  const t = edge.transition;
  const classes = [
    "transition",
    edge.kind,
    t.guard !== null ? "guarded" : "",
    t.requirements.length > 0 ? "traced" : "untraced",
  ]
    .filter(Boolean)
    .join(" ");
  const { label } = edge;
  const text =
    t.guard === null
      ? escapeXml(t.event)
      : `${escapeXml(t.event)} <tspan class="guard" fill="#7c3aed">[${escapeXml(t.guard)}]</tspan>`;
  return [
    `<g${attrs({
      class: classes,
      "data-transition": t.id,
      "data-source": t.source,
      "data-target": t.target ?? t.source,
      "data-requirements": t.requirements.join(" "),
      id: `transition-${domId(t.id)}`,
    })}>`,
    `<title>${escapeXml(transitionTitle(t))}</title>`,
    `<a${attrs({ href: `#row-${domId(t.id)}` })}>`,
    `<path${attrs({ class: "edge", d: edge.path, fill: "none", stroke: "#64748b", "stroke-width": 1.5, "marker-end": `url(#arrow-${domId(machineId)})` })}/>`,
    `<rect${attrs({ class: "label-bg", x: label.x, y: label.y, width: label.width, height: label.height, rx: 4, fill: "#f8fafc", stroke: "#e2e8f0" })}/>`,
    `<text${attrs({ class: "label", x: label.x + label.width / 2, y: label.y + label.height / 2, "text-anchor": "middle", "dominant-baseline": "central", "font-size": METRICS.labelFont, fill: "#1e293b" })}>${text}</text>`,
    "</a>",
    "</g>",
  ].join("");
}

/** The SVG of one laid-out machine. */
export function renderLayout(layout: MachineLayout): string {
  const { machine, bounds } = layout;
  const id = domId(machine.id);
  const arrow = (name: string, fill: string) =>
    `<marker${attrs({ id: name, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" })}><path d="M 0 0 L 10 5 L 0 10 z"${attrs({ fill })}/></marker>`;
  const parts = [
    `<svg${attrs({
      xmlns: "http://www.w3.org/2000/svg",
      class: "machine-diagram",
      "data-machine": machine.id,
      "data-initial": machine.initial ?? undefined,
      viewBox: `${bounds.x} ${bounds.y} ${bounds.width} ${bounds.height}`,
      width: bounds.width,
      height: bounds.height,
      role: "img",
      "aria-labelledby": `svg-title-${id}`,
      "font-family": FONT_FAMILY,
    })}>`,
    `<title${attrs({ id: `svg-title-${id}` })}>${escapeXml(`Machine ${machine.id}: ${machine.title}`)}</title>`,
    `<defs>${arrow(`arrow-${id}`, "#64748b")}${arrow(`arrow-${id}-hot`, "#ea580c")}</defs>`,
  ];
  if (layout.initial) {
    const { dot, radius, path } = layout.initial;
    parts.push(
      `<g class="initial-marker"><circle${attrs({ cx: dot.x, cy: dot.y, r: radius, fill: "#0f172a" })}/><path${attrs({ d: path, stroke: "#0f172a", "stroke-width": 1.5, "marker-end": `url(#arrow-${id})` })}/></g>`,
    );
  }
  // A compound state's line to its initial child: dashed, not a transition, never highlighted.
  for (const link of layout.children) {
    parts.push(
      `<g${attrs({ class: "initial-child", "data-parent": link.parent, "data-child": link.child })}><title>${escapeXml(`${link.parent} starts in ${link.child}`)}</title><path${attrs({ d: link.path, fill: "none", stroke: "#94a3b8", "stroke-width": 1.5, "stroke-dasharray": "5 4", "marker-end": `url(#arrow-${id})` })}/></g>`,
    );
  }
  parts.push(`<g class="transitions">`);
  for (const edge of layout.edges) parts.push(renderTransition(machine.id, edge));
  parts.push("</g>", `<g class="states">`);
  for (const node of layout.nodes) parts.push(renderState(node));
  parts.push("</g>", "</svg>");
  return parts.join("\n");
}

/** Lays out and draws one machine. */
export function renderMachineSvg(machine: MachineDescription): string {
  return renderLayout(layoutMachine(machine));
}
