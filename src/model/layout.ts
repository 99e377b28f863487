/**
 * A small layered layout for one machine description (issue #5), written by hand because the
 * machines are small and the page must not depend on a drawing library:
 *
 * - states are boxes in columns by BFS depth from the initial state (states it cannot reach come
 *   last), in document order within a column; nested states are drawn flat, named by their path;
 * - a transition to the next column is a straight arrow with its label above it;
 * - any other forward transition arcs above the row, a backward one below it, as a bracket
 *   (down, across, up, with rounded corners); arcs sharing horizontal room get separate lanes,
 *   the longer ones further out, so that nested arcs nest and labels do not collide;
 * - a transition to its own state (or a targetless one) is a loop on the box, alternately on top
 *   and at the bottom;
 * - columns are spaced so that every label fits where it is drawn.
 *
 * Text is measured as monospace (0.6 em per character), which is how svg.ts draws it. Readable,
 * not optimal: the unit tests check that no two labels overlap and no label covers a state.
 */
import type { MachineDescription, StateDescription, TransitionDescription } from "./describe.ts";

export interface Point {
  x: number;
  y: number;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface NodeBox extends Rect {
  state: StateDescription;
  /** What the box says: the state's key, or its path below the top level. */
  label: string;
  column: number;
  row: number;
}

export type EdgeKind = "straight" | "arc-above" | "arc-below" | "loop-above" | "loop-below";

export interface EdgeRoute {
  transition: TransitionDescription;
  kind: EdgeKind;
  /** SVG path data, from the source box's border to the target box's border. */
  path: string;
  from: Point;
  to: Point;
  /** The label's box (text centred in it): `EVENT [guard]`. */
  label: Rect & { text: string };
  /** Arcs: the lane (0 nearest the row); loops: the loop's level. */
  lane: number;
}

export interface MachineLayout {
  machine: MachineDescription;
  nodes: NodeBox[];
  edges: EdgeRoute[];
  /** The initial-state marker: a dot and an arrow into the initial state's box. */
  initial: { dot: Point; radius: number; path: string } | null;
  /** Everything drawn, with a margin. */
  bounds: Rect;
}

export const METRICS = {
  stateFont: 14,
  labelFont: 12,
  charWidth: 0.6,
  boxHeight: 46,
  boxMinWidth: 116,
  boxPadding: 34,
  labelHeight: 18,
  labelPadding: 10,
  minGap: 96,
  rowGap: 120,
  lane: 30,
  loopHeight: 30,
  loopLevel: 40,
  margin: 16,
} as const;

const M = METRICS;

export function textWidth(text: string, fontSize: number): number {
  return Math.ceil(text.length * fontSize * M.charWidth);
}

const labelWidth = (text: string) => textWidth(text, M.labelFont) + 2 * M.labelPadding;

const round = (n: number) => Math.round(n * 10) / 10;
const pt = (p: Point) => `${round(p.x)} ${round(p.y)}`;

/** BFS depth from the initial state; states it cannot reach follow, one column further on. */
function depths(machine: MachineDescription): Map<string, number> {
  const depth = new Map<string, number>();
  const next = new Map<string, string[]>();
  for (const t of machine.transitions) {
    if (t.target === null || t.target === t.source) continue;
    next.set(t.source, [...(next.get(t.source) ?? []), t.target]);
  }
  const walk = (start: string, base: number) => {
    const queue: string[] = [start];
    depth.set(start, base);
    while (queue.length > 0) {
      const id = queue.shift() as string;
      for (const target of next.get(id) ?? []) {
        if (depth.has(target)) continue;
        depth.set(target, (depth.get(id) as number) + 1);
        queue.push(target);
      }
    }
  };
  const known = new Set(machine.states.map((s) => s.id));
  if (machine.initial !== null && known.has(machine.initial)) walk(machine.initial, 0);
  for (const state of machine.states) {
    if (!depth.has(state.id)) walk(state.id, Math.max(-1, ...depth.values()) + 1);
  }
  return depth;
}

function stateLabel(machine: MachineDescription, state: StateDescription): string {
  return state.parent === null ? state.key : state.id.slice(machine.id.length + 1);
}

/**
 * A bracket from `from` to `to` through the horizontal line y = `level`: straight down (or up),
 * across, and back, with rounded corners; it arrives vertically, so the arrowhead points into
 * the box.
 */
export function bracketPath(from: Point, to: Point, level: number): string {
  const dir = Math.sign(to.x - from.x) || 1;
  const r = Math.max(
    0,
    Math.min(12, Math.abs(to.x - from.x) / 2, Math.abs(level - from.y), Math.abs(level - to.y)),
  );
  const v1 = Math.sign(level - from.y) || 1;
  const v2 = Math.sign(to.y - level) || 1;
  return [
    `M ${pt(from)}`,
    `L ${pt({ x: from.x, y: level - v1 * r })}`,
    `Q ${pt({ x: from.x, y: level })} ${pt({ x: from.x + dir * r, y: level })}`,
    `L ${pt({ x: to.x - dir * r, y: level })}`,
    `Q ${pt({ x: to.x, y: level })} ${pt({ x: to.x, y: level + v2 * r })}`,
    `L ${pt(to)}`,
  ].join(" ");
}

/** Horizontal extent of a label centred at x. */
const span = (x: number, width: number) => [x - width / 2, x + width / 2] as const;

function overlaps(a: readonly [number, number], b: readonly [number, number]): boolean {
  return a[0] < b[1] && b[0] < a[1];
}

export function layoutMachine(machine: MachineDescription): MachineLayout {
  const depth = depths(machine);
  const columnCount = Math.max(0, ...depth.values()) + 1;
  const columns: StateDescription[][] = Array.from({ length: columnCount }, () => []);
  for (const state of machine.states) columns[depth.get(state.id) as number]?.push(state);

  const widthOf = (state: StateDescription) =>
    Math.max(M.boxMinWidth, textWidth(stateLabel(machine, state), M.stateFont) + 2 * M.boxPadding);
  const columnWidth = columns.map((col) => Math.max(0, ...col.map(widthOf)));
  const rows = Math.max(1, ...columns.map((col) => col.length));

  // Which transitions are straight arrows, which loops, which arcs (decided before spacing).
  const columnOf = (id: string) => depth.get(id) ?? -1;
  const drawable = machine.transitions.filter(
    (t) => depth.has(t.source) && (t.target === null || depth.has(t.target)),
  );
  const kinds = new Map<TransitionDescription, EdgeKind>();
  const loopLevel = new Map<TransitionDescription, number>();
  const loopsAt = new Map<string, number>();
  const straightPairs = new Set<string>();
  for (const t of drawable) {
    const target = t.target ?? t.source;
    if (target === t.source) {
      const n = loopsAt.get(t.source) ?? 0;
      loopsAt.set(t.source, n + 1);
      kinds.set(t, n % 2 === 0 ? "loop-above" : "loop-below");
      loopLevel.set(t, Math.floor(n / 2));
      continue;
    }
    const dc = columnOf(target) - columnOf(t.source);
    const pair = `${t.source}>${target}`;
    if (dc === 1 && !straightPairs.has(pair)) {
      straightPairs.add(pair);
      kinds.set(t, "straight");
    } else kinds.set(t, dc > 0 ? "arc-above" : "arc-below");
  }

  // Column gaps: wide enough for straight labels and for loop labels of neighbouring columns.
  const gaps: number[] = columnWidth.slice(1).map(() => M.minGap);
  const loopHalf = (id: string, sides: EdgeKind[]) =>
    Math.max(
      0,
      ...drawable
        .filter((t) => t.source === id && sides.includes(kinds.get(t) as EdgeKind))
        .map((t) => labelWidth(t.label) / 2),
    );
  for (const t of drawable) {
    if (kinds.get(t) !== "straight") continue;
    const c = columnOf(t.source);
    gaps[c] = Math.max(gaps[c] as number, labelWidth(t.label) + 24);
  }
  for (let c = 0; c + 1 < columnCount; c++) {
    for (const a of columns[c] ?? []) {
      for (const b of columns[c + 1] ?? []) {
        for (const side of ["loop-above", "loop-below"] as EdgeKind[]) {
          const need =
            loopHalf(a.id, [side]) +
            loopHalf(b.id, [side]) -
            (columnWidth[c] as number) / 2 -
            (columnWidth[c + 1] as number) / 2 +
            16;
          gaps[c] = Math.max(gaps[c] as number, need);
        }
      }
    }
  }

  // Boxes: columns left to right, each column centred vertically on the tallest one.
  const pitch = M.boxHeight + M.rowGap;
  const nodes: NodeBox[] = [];
  let x = 0;
  columns.forEach((col, c) => {
    const offset = ((rows - col.length) * pitch) / 2;
    col.forEach((state, r) => {
      const width = widthOf(state);
      nodes.push({
        state,
        label: stateLabel(machine, state),
        column: c,
        row: r,
        x: x + ((columnWidth[c] as number) - width) / 2,
        y: offset + r * pitch,
        width,
        height: M.boxHeight,
      });
    });
    x += (columnWidth[c] as number) + (gaps[c] ?? 0);
  });
  const box = new Map(nodes.map((n) => [n.state.id, n]));
  const cx = (n: NodeBox) => n.x + n.width / 2;
  const cy = (n: NodeBox) => n.y + n.height / 2;

  const edges: EdgeRoute[] = [];
  const labelAt = (text: string, center: Point) => {
    const width = labelWidth(text);
    return {
      text,
      x: center.x - width / 2,
      y: center.y - M.labelHeight / 2,
      width,
      height: M.labelHeight,
    };
  };

  // Loops first: how far they reach above and below a row decides where the arc lanes start.
  let loopReach = { above: 0, below: 0 };
  for (const t of drawable) {
    const kind = kinds.get(t) as EdgeKind;
    if (kind !== "loop-above" && kind !== "loop-below") continue;
    const n = box.get(t.source) as NodeBox;
    const level = loopLevel.get(t) as number;
    const sign = kind === "loop-above" ? -1 : 1;
    const h = M.loopHeight + level * M.loopLevel;
    const y0 = sign < 0 ? n.y : n.y + n.height;
    const dx = Math.min(16 + level * 10, n.width / 2 - 8);
    const from = { x: cx(n) - dx, y: y0 };
    const to = { x: cx(n) + dx, y: y0 };
    const yc = y0 + (sign * 4 * h) / 3;
    const path = `M ${pt(from)} C ${pt({ x: from.x - 30, y: yc })} ${pt({ x: to.x + 30, y: yc })} ${pt(to)}`;
    const labelY = y0 + sign * (h + 4 + M.labelHeight / 2);
    edges.push({
      transition: t,
      kind,
      path,
      from,
      to,
      label: labelAt(t.label, { x: cx(n), y: labelY }),
      lane: level,
    });
    const reach = h + 4 + M.labelHeight;
    if (sign < 0) loopReach = { ...loopReach, above: Math.max(loopReach.above, reach) };
    else loopReach = { ...loopReach, below: Math.max(loopReach.below, reach) };
  }

  for (const t of drawable) {
    if (kinds.get(t) !== "straight") continue;
    const s = box.get(t.source) as NodeBox;
    const d = box.get(t.target as string) as NodeBox;
    const from = { x: s.x + s.width, y: cy(s) };
    const to = { x: d.x, y: cy(d) };
    const mid = { x: (from.x + to.x) / 2, y: (from.y + to.y) / 2 - M.labelHeight / 2 - 3 };
    edges.push({
      transition: t,
      kind: "straight",
      path: `M ${pt(from)} L ${pt(to)}`,
      from,
      to,
      label: labelAt(t.label, mid),
      lane: 0,
    });
  }

  // Arcs: shortest first, each in the lowest lane where it overlaps nothing already placed.
  for (const side of ["arc-above", "arc-below"] as const) {
    const sign = side === "arc-above" ? -1 : 1;
    const base = (sign < 0 ? loopReach.above : loopReach.below) + M.lane;
    const lanes: Array<Array<readonly [number, number]>> = [];
    const portUse = new Map<string, number>();
    const arcs = drawable
      .filter((t) => kinds.get(t) === side)
      .map((t) => {
        const s = box.get(t.source) as NodeBox;
        const d = box.get(t.target as string) as NodeBox;
        return { t, s, d, length: Math.abs(cx(d) - cx(s)) };
      })
      .sort((a, b) => a.length - b.length);
    for (const { t, s, d } of arcs) {
      const rightward = cx(d) >= cx(s);
      // Ports on the box edge, on the side facing the other end. Longer arcs come later and
      // take ports further from that side, so nested arcs nest at their ends too.
      const port = (n: NodeBox, towardsRight: boolean) => {
        const key = `${n.state.id}:${towardsRight}`;
        const used = portUse.get(key) ?? 0;
        portUse.set(key, used + 1);
        const limit = n.width / 2 - 8;
        const offset = Math.max(-limit, Math.min(limit, n.width / 4 - used * 12));
        return cx(n) + (towardsRight ? offset : -offset);
      };
      const x1 = port(s, rightward);
      const x2 = port(d, !rightward);
      const y1 = sign < 0 ? s.y : s.y + s.height;
      const y2 = sign < 0 ? d.y : d.y + d.height;
      const width = labelWidth(t.label);
      const midX = (x1 + x2) / 2;
      const extent = [
        Math.min(x1, x2, span(midX, width)[0]) - 6,
        Math.max(x1, x2, span(midX, width)[1]) + 6,
      ] as const;
      let lane = 0;
      while (lanes[lane]?.some((other) => overlaps(other, extent))) lane++;
      lanes[lane] = [...(lanes[lane] ?? []), extent];
      const edgeY = sign < 0 ? Math.min(y1, y2) : Math.max(y1, y2);
      const apex = edgeY + sign * (base + lane * M.lane);
      const from = { x: x1, y: y1 };
      const to = { x: x2, y: y2 };
      edges.push({
        transition: t,
        kind: side,
        path: bracketPath(from, to, apex),
        from,
        to,
        label: labelAt(t.label, { x: midX, y: apex }),
        lane,
      });
    }
  }

  // Document order, so the drawing and the table list transitions alike.
  edges.sort(
    (a, b) => machine.transitions.indexOf(a.transition) - machine.transitions.indexOf(b.transition),
  );

  let initial: MachineLayout["initial"] = null;
  const first = machine.initial === null ? undefined : box.get(machine.initial);
  if (first) {
    const dot = { x: first.x - 40, y: cy(first) };
    initial = {
      dot,
      radius: 6,
      path: `M ${pt({ x: dot.x + 6, y: dot.y })} L ${pt({ x: first.x, y: dot.y })}`,
    };
  }

  // Bounds: every box and label (a label covers its arc's apex), plus the initial marker.
  const rects: Rect[] = [...nodes, ...edges.map((e) => e.label)];
  if (initial) {
    rects.push({
      x: initial.dot.x - initial.radius,
      y: initial.dot.y - initial.radius,
      width: 2 * initial.radius,
      height: 2 * initial.radius,
    });
  }
  const minX = Math.min(0, ...rects.map((r) => r.x)) - M.margin;
  const minY = Math.min(0, ...rects.map((r) => r.y)) - M.margin;
  const maxX = Math.max(0, ...rects.map((r) => r.x + r.width)) + M.margin;
  const maxY = Math.max(0, ...rects.map((r) => r.y + r.height)) + M.margin;
  return {
    machine,
    nodes,
    edges,
    initial,
    bounds: {
      x: Math.floor(minX),
      y: Math.floor(minY),
      width: Math.ceil(maxX - Math.floor(minX)),
      height: Math.ceil(maxY - Math.floor(minY)),
    },
  };
}

/** Whether two rectangles share any area (touching edges do not count). */
export function intersects(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}
