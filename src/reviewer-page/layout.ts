/**
 * A small layered layout for one machine description, for the reviewer page of SPEC-MODEL-PAGE
 * (issue #5), written by hand because the machines are small and the page must not depend on a
 * drawing library:
 *
 * - states are boxes in columns by BFS depth from the initial state (states it cannot reach come
 *   last); nested states are drawn flat, named by their path;
 * - the boxes of a column sit on a grid of rows shared by all columns: the spine (the BFS path
 *   from the initial state to the deepest state) on one row, every other state above or below,
 *   where the lines to its neighbours are short, cross as few other lines as possible and never
 *   have to jump over a box of their own column;
 * - a transition between neighbouring columns on different rows, or between neighbouring rows
 *   of one column, is a straight line (parallel ones side by side); between neighbouring
 *   columns on one row only the first forward one is, since the others would lie on top of it;
 * - every other transition is routed orthogonally, with rounded corners: a bracket above or
 *   below (forward ones preferably above, backward ones below), an elbow, a bracket beside its
 *   column, or a detour around everything. Of the routes that cross no box and whose label
 *   overlaps no box or label, the shortest wins, with a heavy penalty for running through a
 *   label or along another line. Shorter transitions are routed first, so nested brackets nest;
 *   the detour always exists, so every transition gets a route;
 * - a transition to its own state (or a targetless one) is a loop on the box, alternately on
 *   top and at the bottom (on a side no straight line leaves from);
 * - columns and rows are spaced so that straight and loop labels fit between them.
 *
 * Text is measured as monospace (0.6 em per character), which is how svg.ts draws it. Readable,
 * not optimal. The unit tests check, for every registered machine, that no two boxes or labels
 * overlap, that no label covers a box, that no line crosses a box it does not connect, and that
 * everything lies inside the bounds. Everything here is a function of the description alone
 * (document order breaks every tie), so the page is the same on every request.
 *
 * Implements: SPEC-MODEL-PAGE
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

export type EdgeKind =
  | "straight"
  | "arc-above"
  | "arc-below"
  | "elbow"
  | "arc-side"
  | "detour"
  | "loop-above"
  | "loop-below";

export interface EdgeRoute {
  transition: TransitionDescription;
  kind: EdgeKind;
  /** SVG path data, from the source box's border to the target box's border. */
  path: string;
  /** The polyline the path follows (corners before rounding; a loop's curve, sampled). */
  points: Point[];
  from: Point;
  to: Point;
  /** The label's box (text centred in it): `EVENT [guard]`. */
  label: Rect & { text: string };
  /** Arcs: the lane (0 nearest the boxes); loops: the loop's level; other routes: 0. */
  lane: number;
}

export interface MachineLayout {
  machine: MachineDescription;
  /** In document order (the order of `machine.states`). */
  nodes: NodeBox[];
  /** In document order (the order of `machine.transitions`). */
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
  /** Distance between the ends of lines that share a side of a box. */
  port: 12,
  /** Distance between vertical lines in the gap between two columns. */
  gapLane: 16,
  margin: 16,
} as const;

const M = METRICS;

/** Positions along a line tried for its label, best first. */
const ALONG = [0.5, 0.35, 0.65, 0.25, 0.75, 0.15, 0.85] as const;
/** What a label over a line, or a line through a label, costs: more than any detour. */
const HIDDEN = 1000;
/** What a line lying along another one costs. */
const ALONG_OTHER = 500;
/** What each corner of a route costs, in pixels of length. */
const BEND = 30;
/**
 * What a bracket on its less natural side costs: a few lanes' worth, so that forward brackets
 * stay above and backward ones below unless that side is crowded.
 */
const OTHER_SIDE = 200;

export function textWidth(text: string, fontSize: number): number {
  return Math.ceil(text.length * fontSize * M.charWidth);
}

const labelWidth = (text: string) => textWidth(text, M.labelFont) + 2 * M.labelPadding;

const round = (n: number) => Math.round(n * 10) / 10;
const pt = (p: Point) => `${round(p.x)} ${round(p.y)}`;

/** Whether two rectangles share any area (touching edges do not count). */
export function intersects(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

const grow = (r: Rect, by: number): Rect => ({
  x: r.x - by,
  y: r.y - by,
  width: r.width + 2 * by,
  height: r.height + 2 * by,
});

/**
 * Whether the segment a-b passes through the inside of `r` shrunk by `inset` (Liang-Barsky): a
 * line that starts on a box's border and leaves it does not count.
 */
export function segmentCrossesRect(a: Point, b: Point, r: Rect, inset = 0.5): boolean {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  // The four sides as (p, q) pairs: p the segment's movement across the side, q the room left.
  const ps = [-dx, dx, -dy, dy];
  const qs = [
    a.x - r.x - inset,
    r.x + r.width - inset - a.x,
    a.y - r.y - inset,
    r.y + r.height - inset - a.y,
  ];
  let t0 = 0;
  let t1 = 1;
  for (let i = 0; i < 4; i++) {
    const p = ps[i] as number;
    const q = qs[i] as number;
    if (p === 0) {
      if (q <= 0) return false;
      continue;
    }
    const t = q / p;
    if (p < 0) {
      if (t > t1) return false;
      if (t > t0) t0 = t;
    } else {
      if (t < t0) return false;
      if (t < t1) t1 = t;
    }
  }
  return t0 < t1;
}

/** Whether two segments cross at a point inside both (sharing an end does not count). */
function segmentsCross(a: Point, b: Point, c: Point, d: Point): boolean {
  const side = (p: Point, q: Point, r: Point) =>
    (q.x - p.x) * (r.y - p.y) - (q.y - p.y) * (r.x - p.x);
  const d1 = side(c, d, a);
  const d2 = side(c, d, b);
  const d3 = side(a, b, c);
  const d4 = side(a, b, d);
  return d1 * d2 < 0 && d3 * d4 < 0;
}

/** Whether two axis-parallel segments lie along each other (nearly collinear, overlapping). */
function alongEachOther(a: Point, b: Point, c: Point, d: Point): boolean {
  const overlap = (p: number, q: number, r: number, s: number) =>
    Math.min(Math.max(p, q), Math.max(r, s)) - Math.max(Math.min(p, q), Math.min(r, s)) > 1;
  if (a.y === b.y && c.y === d.y) return Math.abs(a.y - c.y) < 4 && overlap(a.x, b.x, c.x, d.x);
  if (a.x === b.x && c.x === d.x) return Math.abs(a.x - c.x) < 4 && overlap(a.y, b.y, c.y, d.y);
  return false;
}

const segmentsOf = (points: Point[]) =>
  points.slice(1).map((b, i) => [points[i] as Point, b] as const);

const length = (points: Point[]) =>
  segmentsOf(points).reduce((sum, [a, b]) => sum + Math.hypot(b.x - a.x, b.y - a.y), 0);

/** Drops repeated points and the middle one of three in a line, so corners are real corners. */
function simplify(points: Point[]): Point[] {
  const out: Point[] = [];
  for (const p of points) {
    const last = out[out.length - 1];
    if (last && last.x === p.x && last.y === p.y) continue;
    const before = out[out.length - 2];
    if (
      before &&
      last &&
      ((before.x === last.x && last.x === p.x) || (before.y === last.y && last.y === p.y))
    ) {
      out[out.length - 1] = p;
      continue;
    }
    out.push(p);
  }
  return out;
}

/** A polyline with its corners rounded (radius at most half of either neighbouring segment). */
export function roundedPath(points: Point[], radius = 12): string {
  const first = points[0] as Point;
  const parts = [`M ${pt(first)}`];
  for (let i = 1; i < points.length - 1; i++) {
    const [p, c, n] = [points[i - 1], points[i], points[i + 1]] as [Point, Point, Point];
    const lin = Math.hypot(c.x - p.x, c.y - p.y);
    const lout = Math.hypot(n.x - c.x, n.y - c.y);
    const r = Math.min(radius, lin / 2, lout / 2);
    const a = { x: c.x + ((p.x - c.x) * r) / lin, y: c.y + ((p.y - c.y) * r) / lin };
    const b = { x: c.x + ((n.x - c.x) * r) / lout, y: c.y + ((n.y - c.y) * r) / lout };
    parts.push(`L ${pt(a)}`, `Q ${pt(c)} ${pt(b)}`);
  }
  if (points.length > 1) parts.push(`L ${pt(points[points.length - 1] as Point)}`);
  return parts.join(" ");
}

interface Walk {
  depth: Map<string, number>;
  /** The state each state was first reached from. */
  parent: Map<string, string>;
  /** The states the initial state reaches. */
  reached: Set<string>;
}

/** BFS depth from the initial state; states it cannot reach follow, one column further on. */
function walk(machine: MachineDescription): Walk {
  const depth = new Map<string, number>();
  const parent = new Map<string, string>();
  const next = new Map<string, string[]>();
  for (const t of machine.transitions) {
    if (t.target === null || t.target === t.source) continue;
    next.set(t.source, [...(next.get(t.source) ?? []), t.target]);
  }
  const bfs = (start: string, base: number) => {
    const queue: string[] = [start];
    depth.set(start, base);
    while (queue.length > 0) {
      const id = queue.shift() as string;
      for (const target of next.get(id) ?? []) {
        if (depth.has(target)) continue;
        depth.set(target, (depth.get(id) as number) + 1);
        parent.set(target, id);
        queue.push(target);
      }
    }
  };
  const known = new Set(machine.states.map((s) => s.id));
  if (machine.initial !== null && known.has(machine.initial)) bfs(machine.initial, 0);
  const reached = new Set(depth.keys());
  for (const state of machine.states) {
    if (!depth.has(state.id)) bfs(state.id, Math.max(-1, ...depth.values()) + 1);
  }
  return { depth, parent, reached };
}

/** The BFS path from the initial state to the deepest state it reaches (first in document order). */
function spineOf(machine: MachineDescription, { depth, parent, reached }: Walk): Set<string> {
  let deepest: string | undefined;
  for (const state of machine.states) {
    if (!reached.has(state.id)) continue;
    if (deepest === undefined || (depth.get(state.id) as number) > (depth.get(deepest) as number))
      deepest = state.id;
  }
  const spine = new Set<string>();
  for (let id = deepest; id !== undefined; id = parent.get(id)) spine.add(id);
  return spine;
}

interface Link {
  source: string;
  target: string;
}

/**
 * Rows on a grid shared by all columns: the spine on row 0, the other states of a column on
 * free rows around their BFS parents' row, in the arrangement (of those tried) that costs least:
 * each row a line climbs costs (twice between neighbouring columns), two lines crossing between
 * neighbouring columns cost more, and a line within a column that would have to jump over a box
 * costs most. Two sweeps left to right: the second also sees the backward lines to columns
 * placed after the first. Rows are then shifted so the top one is 0.
 */
function arrangeRows(
  columns: string[][],
  links: Link[],
  columnOf: (id: string) => number,
  spine: Set<string>,
  parent: Map<string, string>,
): Map<string, number> {
  const row = new Map<string, number>();
  for (const id of spine) row.set(id, 0);

  const cost = (): number => {
    let total = 0;
    const gaps = new Map<number, Array<[number, number]>>();
    for (const { source, target } of links) {
      const rs = row.get(source);
      const rt = row.get(target);
      if (rs === undefined || rt === undefined) continue;
      const cs = columnOf(source);
      const ct = columnOf(target);
      const dr = Math.abs(rs - rt);
      if (cs === ct) {
        const [lo, hi] = [Math.min(rs, rt), Math.max(rs, rt)];
        const between = (columns[cs] ?? []).filter((id) => {
          const r = row.get(id);
          return r !== undefined && r > lo && r < hi;
        }).length;
        total += dr + 20 * between;
      } else if (Math.abs(cs - ct) === 1) {
        total += 2 * dr;
        const ends: [number, number] = cs < ct ? [rs, rt] : [rt, rs];
        const gap = Math.min(cs, ct);
        gaps.set(gap, [...(gaps.get(gap) ?? []), ends]);
      } else total += dr;
    }
    for (const lines of gaps.values()) {
      lines.forEach((a, i) => {
        for (const b of lines.slice(i + 1)) if ((a[0] - b[0]) * (a[1] - b[1]) < 0) total += 5;
      });
    }
    return total;
  };

  const anchors = new Map<number, number>();
  for (let sweep = 0; sweep < 2; sweep++) {
    columns.forEach((column, c) => {
      const free = column.filter((id) => !spine.has(id));
      if (free.length === 0) return;
      for (const id of free) row.delete(id);
      if (!anchors.has(c)) {
        const parents = free
          .map((id) => row.get(parent.get(id) ?? ""))
          .filter((r): r is number => r !== undefined)
          .sort((a, b) => a - b);
        anchors.set(c, parents[Math.floor((parents.length - 1) / 2)] ?? 0);
      }
      const anchor = anchors.get(c) as number;
      const taken = new Set(column.filter((id) => spine.has(id)).map((id) => row.get(id)));
      // Small columns try every arrangement over a few rows more than they need; big ones
      // (never in the real machines) keep document order.
      const want = free.length <= 3 ? 2 * free.length + 1 : free.length;
      const slots: number[] = [];
      for (let k = 0; slots.length < want; k++) {
        for (const r of k === 0 ? [anchor] : [anchor + k, anchor - k]) {
          if (!taken.has(r) && slots.length < want) slots.push(r);
        }
      }
      let best: number[] = free.map((_, i) => slots[i] as number);
      if (free.length <= 4) {
        let bestCost = Number.POSITIVE_INFINITY;
        const chosen: number[] = [];
        const used = new Set<number>();
        const search = (i: number) => {
          if (i === free.length) {
            free.forEach((id, j) => {
              row.set(id, chosen[j] as number);
            });
            const c2 = cost();
            if (c2 < bestCost) {
              bestCost = c2;
              best = [...chosen];
            }
            return;
          }
          for (const slot of slots) {
            if (used.has(slot)) continue;
            used.add(slot);
            chosen.push(slot);
            search(i + 1);
            chosen.pop();
            used.delete(slot);
          }
        };
        search(0);
      }
      free.forEach((id, j) => {
        row.set(id, best[j] as number);
      });
    });
  }
  const top = Math.min(0, ...row.values());
  for (const [id, r] of row) row.set(id, r - top);
  return row;
}

function stateLabel(machine: MachineDescription, state: StateDescription): string {
  return state.parent === null ? state.key : state.id.slice(machine.id.length + 1);
}

type Side = "left" | "right" | "top" | "bottom";

/** The point on a side of a box, `offset` from the side's middle (downwards or rightwards). */
function portPoint(n: NodeBox, side: Side, offset: number): Point {
  switch (side) {
    case "left":
      return { x: n.x, y: n.y + n.height / 2 + offset };
    case "right":
      return { x: n.x + n.width, y: n.y + n.height / 2 + offset };
    case "top":
      return { x: n.x + n.width / 2 + offset, y: n.y };
    default:
      return { x: n.x + n.width / 2 + offset, y: n.y + n.height };
  }
}

type Label = Rect & { text: string };

interface Candidate {
  kind: EdgeKind;
  points: Point[];
  label: Label;
  lane: number;
  cost: number;
  /** Port keys the route takes on its boxes' tops and bottoms. */
  ports: string[];
}

export function layoutMachine(machine: MachineDescription): MachineLayout {
  const walked = walk(machine);
  const { depth } = walked;
  const columnCount = Math.max(0, ...depth.values()) + 1;
  const columns: StateDescription[][] = Array.from({ length: columnCount }, () => []);
  for (const state of machine.states) columns[depth.get(state.id) as number]?.push(state);
  const columnOf = (id: string) => depth.get(id) ?? -1;

  const drawable = machine.transitions.filter(
    (t) => depth.has(t.source) && (t.target === null || depth.has(t.target)),
  );
  const links = drawable
    .filter((t) => t.target !== null && t.target !== t.source)
    .map((t) => ({ source: t.source, target: t.target as string }));
  const rowOf = arrangeRows(
    columns.map((col) => col.map((s) => s.id)),
    links,
    columnOf,
    spineOf(machine, walked),
    walked.parent,
  );
  const rowCount = Math.max(0, ...rowOf.values()) + 1;
  const row = (id: string) => rowOf.get(id) as number;

  // Straight lines and loops are decided first: they fix the spacing. The rest is routed later.
  const kinds = new Map<TransitionDescription, EdgeKind | "routed">();
  const straightPairs = new Set<string>();
  const verticalSides = new Set<string>();
  for (const t of drawable) {
    const target = t.target ?? t.source;
    if (target === t.source) continue;
    const dc = columnOf(target) - columnOf(t.source);
    const dr = row(target) - row(t.source);
    const pair = `${t.source}>${target}`;
    if (Math.abs(dc) === 1 && dr !== 0) kinds.set(t, "straight");
    else if (dc === 1 && !straightPairs.has(pair)) {
      straightPairs.add(pair);
      kinds.set(t, "straight");
    } else if (dc === 0 && Math.abs(dr) === 1) {
      kinds.set(t, "straight");
      verticalSides.add(`${t.source}:${dr > 0 ? "bottom" : "top"}`);
      verticalSides.add(`${target}:${dr > 0 ? "top" : "bottom"}`);
    } else kinds.set(t, "routed");
  }
  const loopLevel = new Map<TransitionDescription, number>();
  const loopsAt = new Map<string, number>();
  for (const t of drawable) {
    if ((t.target ?? t.source) !== t.source) continue;
    // A loop on a side a straight line leaves from would sit on that line.
    const free = (["loop-above", "loop-below"] as const).filter(
      (k) => !verticalSides.has(`${t.source}:${k === "loop-above" ? "top" : "bottom"}`),
    );
    const sides = free.length > 0 ? free : (["loop-above", "loop-below"] as const);
    const n = loopsAt.get(t.source) ?? 0;
    loopsAt.set(t.source, n + 1);
    kinds.set(t, sides[n % sides.length] as EdgeKind);
    loopLevel.set(t, Math.floor(n / sides.length));
  }
  const loopHeight = (t: TransitionDescription) =>
    M.loopHeight + (loopLevel.get(t) as number) * M.loopLevel;
  const loopReachOf = (t: TransitionDescription) => loopHeight(t) + 4 + M.labelHeight;

  // Column widths, and the gaps between columns: wide enough for the straight labels drawn in
  // them and for the loop labels of neighbouring boxes.
  const widthOf = (state: StateDescription) =>
    Math.max(M.boxMinWidth, textWidth(stateLabel(machine, state), M.stateFont) + 2 * M.boxPadding);
  const columnWidth = columns.map((col) => Math.max(0, ...col.map(widthOf)));
  const gaps: number[] = columnWidth.slice(1).map(() => M.minGap);
  for (const t of drawable) {
    if (kinds.get(t) !== "straight") continue;
    const [cs, ct] = [columnOf(t.source), columnOf(t.target as string)];
    if (cs === ct) continue;
    const c = Math.min(cs, ct);
    gaps[c] = Math.max(gaps[c] as number, labelWidth(t.label) + 24);
  }
  const loopHalf = (id: string, side: EdgeKind) =>
    Math.max(
      0,
      ...drawable
        .filter((t) => t.source === id && kinds.get(t) === side)
        .map((t) => labelWidth(t.label) / 2),
    );
  for (let c = 0; c + 1 < columnCount; c++) {
    for (const a of columns[c] ?? []) {
      for (const b of columns[c + 1] ?? []) {
        if (row(a.id) !== row(b.id)) continue;
        for (const side of ["loop-above", "loop-below"] as const) {
          const need =
            loopHalf(a.id, side) +
            loopHalf(b.id, side) -
            (columnWidth[c] as number) / 2 -
            (columnWidth[c + 1] as number) / 2 +
            16;
          gaps[c] = Math.max(gaps[c] as number, need);
        }
      }
    }
  }

  // Rows: the space between two rows holds the loops below the one and above the other.
  const reach = (r: number, side: EdgeKind) =>
    Math.max(
      0,
      ...drawable
        .filter((t) => kinds.get(t) === side && row(t.source) === r)
        .map((t) => loopReachOf(t)),
    );
  const rowY: number[] = [0];
  for (let r = 0; r + 1 < rowCount; r++) {
    const channel = Math.max(M.rowGap, reach(r, "loop-below") + reach(r + 1, "loop-above") + 24);
    rowY.push((rowY[r] as number) + M.boxHeight + channel);
  }
  const columnX: number[] = [];
  let x = 0;
  columns.forEach((_, c) => {
    columnX.push(x);
    x += (columnWidth[c] as number) + (gaps[c] ?? 0);
  });

  const nodes: NodeBox[] = machine.states
    .filter((state) => depth.has(state.id))
    .map((state) => {
      const c = columnOf(state.id);
      const width = widthOf(state);
      return {
        state,
        label: stateLabel(machine, state),
        column: c,
        row: row(state.id),
        x: (columnX[c] as number) + ((columnWidth[c] as number) - width) / 2,
        y: rowY[row(state.id)] as number,
        width,
        height: M.boxHeight,
      };
    });
  const box = new Map(nodes.map((n) => [n.state.id, n]));
  const cx = (n: NodeBox) => n.x + n.width / 2;
  const cy = (n: NodeBox) => n.y + n.height / 2;

  const placedLabels: Rect[] = [];
  const placedSegments: Array<{ a: Point; b: Point; owner: TransitionDescription }> = [];
  const edges: EdgeRoute[] = [];
  const labelAt = (text: string, center: Point): Label => {
    const width = labelWidth(text);
    return {
      text,
      x: center.x - width / 2,
      y: center.y - M.labelHeight / 2,
      width,
      height: M.labelHeight,
    };
  };
  /** A label may go where it touches no box and no other label. */
  const fits = (label: Rect) =>
    !nodes.some((n) => intersects(grow(label, 4), n)) &&
    !placedLabels.some((l) => intersects(grow(label, 2), l));
  /** How many lines of other transitions (`except` aside) the label would cover. */
  const covers = (
    label: Rect,
    owner: TransitionDescription,
    except?: (o: TransitionDescription) => boolean,
  ) =>
    placedSegments.filter(
      (s) => s.owner !== owner && !except?.(s.owner) && segmentCrossesRect(s.a, s.b, label, 1),
    ).length;
  const crossesBox = (points: Point[]) =>
    segmentsOf(points).some(([a, b]) => nodes.some((n) => segmentCrossesRect(a, b, n)));
  const place = (t: TransitionDescription, points: Point[]) => {
    for (const [a, b] of segmentsOf(points)) placedSegments.push({ a, b, owner: t });
  };

  // Loops: fixed on their box; how far they reach decides where the bracket lanes start.
  const loopReach = { above: 0, below: 0 };
  for (const t of drawable) {
    const kind = kinds.get(t);
    if (kind !== "loop-above" && kind !== "loop-below") continue;
    const n = box.get(t.source) as NodeBox;
    const level = loopLevel.get(t) as number;
    const sign = kind === "loop-above" ? -1 : 1;
    const h = loopHeight(t);
    const y0 = sign < 0 ? n.y : n.y + n.height;
    const dx = Math.min(16 + level * 10, n.width / 2 - 8);
    const from = { x: cx(n) - dx, y: y0 };
    const to = { x: cx(n) + dx, y: y0 };
    const yc = y0 + (sign * 4 * h) / 3;
    const c1 = { x: from.x - 30, y: yc };
    const c2 = { x: to.x + 30, y: yc };
    const points = Array.from({ length: 13 }, (_, i) => {
      const s = i / 12;
      const [a, b, c, d] = [(1 - s) ** 3, 3 * s * (1 - s) ** 2, 3 * s * s * (1 - s), s ** 3];
      return {
        x: round(a * from.x + b * c1.x + c * c2.x + d * to.x),
        y: round(a * from.y + b * c1.y + c * c2.y + d * to.y),
      };
    });
    const label = labelAt(t.label, { x: cx(n), y: y0 + sign * (h + 4 + M.labelHeight / 2) });
    edges.push({
      transition: t,
      kind,
      path: `M ${pt(from)} C ${pt(c1)} ${pt(c2)} ${pt(to)}`,
      points,
      from,
      to,
      label,
      lane: level,
    });
    placedLabels.push(label);
    place(t, points);
    if (sign < 0) loopReach.above = Math.max(loopReach.above, loopReachOf(t));
    else loopReach.below = Math.max(loopReach.below, loopReachOf(t));
  }

  // Straight lines. Lines sharing a side of a box end at separate points: a line to a box on
  // the same row in the middle, lines to higher boxes above it, to lower ones below, each group
  // ordered so that the lines do not cross next to the box (parallel ones in document order).
  const straight = drawable.filter((t) => kinds.get(t) === "straight");
  const attached = new Map<string, Array<{ key: string; other: NodeBox }>>();
  const sidesOf = (t: TransitionDescription): [Side, Side] => {
    const dc = columnOf(t.target as string) - columnOf(t.source);
    if (dc === 0)
      return row(t.target as string) > row(t.source) ? ["bottom", "top"] : ["top", "bottom"];
    return dc > 0 ? ["right", "left"] : ["left", "right"];
  };
  for (const t of straight) {
    const [fromSide, toSide] = sidesOf(t);
    const s = box.get(t.source) as NodeBox;
    const d = box.get(t.target as string) as NodeBox;
    for (const [n, side, other, end] of [
      [s, fromSide, d, "from"],
      [d, toSide, s, "to"],
    ] as const) {
      const key = `${n.state.id}:${side}`;
      attached.set(key, [...(attached.get(key) ?? []), { key: `${t.id}:${end}`, other }]);
    }
  }
  const offsets = new Map<string, number>();
  for (const [key, list] of attached) {
    const side = key.slice(key.lastIndexOf(":") + 1) as Side;
    const n = box.get(key.slice(0, key.lastIndexOf(":"))) as NodeBox;
    if (side === "top" || side === "bottom") {
      const step = Math.min(2 * M.port, (n.width - 24) / Math.max(1, list.length - 1));
      list.forEach((a, j) => {
        offsets.set(a.key, (j - (list.length - 1) / 2) * step);
      });
      continue;
    }
    const byY = (p: { other: NodeBox }, q: { other: NodeBox }) => p.other.y - q.other.y;
    const above = list.filter((a) => a.other.row < n.row).sort(byY);
    const level = list.filter((a) => a.other.row === n.row);
    const below = list.filter((a) => a.other.row > n.row).sort(byY);
    const half = n.height / 2 - 5;
    if (level.length === 0 && (above.length === 0 || below.length === 0)) {
      const group = above.length > 0 ? above : below;
      const step = Math.min(M.port, (2 * half) / Math.max(1, group.length - 1));
      group.forEach((a, j) => {
        offsets.set(a.key, (j - (group.length - 1) / 2) * step);
      });
      continue;
    }
    const step = Math.min(M.port, half / Math.max(1, above.length, below.length));
    const levelStep = Math.min(step, 8);
    level.forEach((a, j) => {
      offsets.set(a.key, (j - (level.length - 1) / 2) * levelStep);
    });
    above.forEach((a, j) => {
      offsets.set(a.key, -(above.length - j) * step);
    });
    below.forEach((a, j) => {
      offsets.set(a.key, (j + 1) * step);
    });
  }
  const lines = new Map<TransitionDescription, [Point, Point]>();
  for (const t of straight) {
    const [fromSide, toSide] = sidesOf(t);
    const from = portPoint(
      box.get(t.source) as NodeBox,
      fromSide,
      offsets.get(`${t.id}:from`) ?? 0,
    );
    const to = portPoint(
      box.get(t.target as string) as NodeBox,
      toSide,
      offsets.get(`${t.id}:to`) ?? 0,
    );
    // A steep line from a narrow box could clip a wider one of its column: route it instead.
    if (crossesBox([from, to])) kinds.set(t, "routed");
    else {
      lines.set(t, [from, to]);
      place(t, [from, to]);
    }
  }
  // Labels of straight lines: centred on the line (above it when the line is level), at the
  // first point along it that overlaps no box or label, preferring spots that cover no other
  // line; lines between the same two boxes may share a spot under each other's labels.
  for (const t of straight) {
    const line = lines.get(t);
    if (!line) continue;
    const [from, to] = line;
    const level = from.y === to.y;
    const sibling = (o: TransitionDescription) =>
      (o.source === t.source && o.target === t.target) ||
      (o.source === t.target && o.target === t.source);
    let best: { label: Label; cost: number } | null = null;
    for (const along of ALONG) {
      const center = {
        x: from.x + (to.x - from.x) * along,
        y: from.y + (to.y - from.y) * along - (level ? M.labelHeight / 2 + 3 : 0),
      };
      const label = labelAt(t.label, center);
      if (!fits(label)) continue;
      const cost = HIDDEN * covers(label, t, sibling) + Math.abs(along - 0.5) * 10;
      if (!best || cost < best.cost) best = { label, cost };
    }
    if (!best) {
      // Nowhere to write it: route the transition instead.
      kinds.set(t, "routed");
      lines.delete(t);
      for (let i = placedSegments.length - 1; i >= 0; i--) {
        if (placedSegments[i]?.owner === t) placedSegments.splice(i, 1);
      }
      continue;
    }
    placedLabels.push(best.label);
    edges.push({
      transition: t,
      kind: "straight",
      path: `M ${pt(from)} L ${pt(to)}`,
      points: [from, to],
      from,
      to,
      label: best.label,
      lane: 0,
    });
  }

  // Routed transitions, shortest first.
  const portUse = new Map<string, number>();
  /** A bracket's end on a box's top or bottom, towards the other end; later ones further in. */
  const peekPort = (n: NodeBox, side: "top" | "bottom", towardsRight: boolean) => {
    const key = `${n.state.id}:${side}:${towardsRight}`;
    const used = portUse.get(key) ?? 0;
    const limit = n.width / 2 - 8;
    const offset = Math.max(-limit, Math.min(limit, n.width / 4 - used * M.port));
    return { key, point: portPoint(n, side, towardsRight ? offset : -offset) };
  };
  const columnLeft = (c: number) => columnX[c] as number;
  const columnRight = (c: number) => (columnX[c] as number) + (columnWidth[c] as number);
  /** The j-th vertical lane in the gap beside column c (left of column 0: beyond the marker). */
  const gapLane = (c: number, right: boolean, j: number) =>
    right
      ? columnRight(c) + M.gapLane * (j + 1)
      : columnLeft(c) - M.gapLane * (j + 1) - (c === 0 ? 48 : 0);
  const top = Math.min(...nodes.map((n) => n.y));
  const bottom = Math.max(...nodes.map((n) => n.y + n.height));

  /**
   * Scores a route: null when it crosses a box, its label fits nowhere it may go, or it costs no
   * less than `bound` (the best route so far); "longer" when its length alone reaches `bound`,
   * which then holds for every route further out.
   */
  const evaluate = (
    t: TransitionDescription,
    raw: Point[],
    centers: Point[],
    extra: number,
    bound: number,
  ): { points: Point[]; label: Label; cost: number } | "longer" | null => {
    const points = simplify(raw);
    if (points.length < 2) return null;
    let cost = length(points) + BEND * (points.length - 2) + extra;
    if (cost >= bound) return "longer";
    if (crossesBox(points)) return null;
    for (const [a, b] of segmentsOf(points)) {
      for (const l of placedLabels) if (segmentCrossesRect(a, b, l, 1)) cost += HIDDEN;
      for (const s of placedSegments) {
        if (alongEachOther(a, b, s.a, s.b)) cost += ALONG_OTHER;
        else if (segmentsCross(a, b, s.a, s.b)) cost += 10;
      }
      if (cost >= bound) return null;
    }
    let best: { label: Label; hidden: number } | null = null;
    for (const center of centers) {
      const label = labelAt(t.label, center);
      if (!fits(label)) continue;
      const hidden = covers(label, t);
      if (!best || hidden < best.hidden) best = { label, hidden };
      if (hidden === 0) break;
    }
    if (!best || cost + HIDDEN * best.hidden >= bound) return null;
    return { points, label: best.label, cost: cost + HIDDEN * best.hidden };
  };
  /** Label spots along the given segments of a route, middle first. */
  const alongSegments = (points: Point[], which: number[]) =>
    ALONG.flatMap((along) =>
      which.map((i) => {
        const a = points[i] as Point;
        const b = points[i + 1] as Point;
        return { x: a.x + (b.x - a.x) * along, y: a.y + (b.y - a.y) * along };
      }),
    );

  const routed = drawable
    .filter((t) => kinds.get(t) === "routed")
    .map((t) => {
      const s = box.get(t.source) as NodeBox;
      const d = box.get(t.target as string) as NodeBox;
      return { t, s, d, dx: Math.abs(cx(d) - cx(s)), dy: Math.abs(cy(d) - cy(s)) };
    })
    .sort((a, b) => a.dx - b.dx || a.dy - b.dy);
  for (const { t, s, d } of routed) {
    // The cheapest route; ties go to the first tried.
    let best: Candidate | null = null;
    const consider = (
      kind: EdgeKind,
      lane: number,
      raw: Point[],
      centers: Point[],
      extra: number,
      ports: string[],
    ) => {
      const scored = evaluate(t, raw, centers, extra, best?.cost ?? Number.POSITIVE_INFINITY);
      if (scored !== null && scored !== "longer") best = { kind, lane, ports, ...scored };
      return scored;
    };
    const rightward = cx(d) >= cx(s);
    const forward = s.column < d.column;

    // Brackets above and below: up (down), across, and back.
    for (const kind of ["arc-above", "arc-below"] as const) {
      const sign = kind === "arc-above" ? -1 : 1;
      const side = sign < 0 ? "top" : "bottom";
      const p1 = peekPort(s, side, rightward);
      const p2 = peekPort(d, side, !rightward);
      const edgeY = sign < 0 ? Math.min(s.y, d.y) : Math.max(s.y + s.height, d.y + d.height);
      const base = (sign < 0 ? loopReach.above : loopReach.below) + M.lane;
      const extra = forward === sign < 0 ? 0 : OTHER_SIDE;
      for (let lane = 0; lane < 12; lane++) {
        const level = edgeY + sign * (base + lane * M.lane);
        const raw = [p1.point, { x: p1.point.x, y: level }, { x: p2.point.x, y: level }, p2.point];
        const center = { x: (p1.point.x + p2.point.x) / 2, y: level };
        // Lanes further out are longer: none can beat the best once this one cannot.
        if (consider(kind, lane, raw, [center], extra, [p1.key, p2.key]) === "longer") break;
      }
    }

    // Elbows between boxes on different rows and columns: out of the top or bottom and into
    // the side, or out of the side and into the top or bottom.
    if (s.row !== d.row && s.column !== d.column) {
      const down = d.row > s.row;
      const p = peekPort(s, down ? "bottom" : "top", rightward);
      const dSide = rightward ? d.x : d.x + d.width;
      const q = peekPort(d, down ? "top" : "bottom", !rightward);
      const sSide = rightward ? s.x + s.width : s.x;
      for (const off of [0, -8, 8, -16, 16]) {
        const y1 = cy(d) + off;
        const raw1 = [p.point, { x: p.point.x, y: y1 }, { x: dSide, y: y1 }];
        consider("elbow", 0, raw1, alongSegments(raw1, [1, 0]), 0, [p.key]);
        const y2 = cy(s) + off;
        const raw2 = [{ x: sSide, y: y2 }, { x: q.point.x, y: y2 }, q.point];
        consider("elbow", 0, raw2, alongSegments(raw2, [0, 1]), 0, [q.key]);
      }
    }

    // Brackets beside the column, for boxes of one column.
    if (s.column === d.column) {
      for (const right of [true, false]) {
        for (let j = 0; j < 4; j++) {
          const xl = gapLane(s.column, right, j);
          for (const off of [0, 8, -8]) {
            const xs = right ? s.x + s.width : s.x;
            const xd = right ? d.x + d.width : d.x;
            const raw = [
              { x: xs, y: cy(s) + off },
              { x: xl, y: cy(s) + off },
              { x: xl, y: cy(d) + off },
              { x: xd, y: cy(d) + off },
            ];
            consider("arc-side", j, raw, alongSegments(raw, [1]), 0, []);
          }
        }
      }
    }

    // The detour: out of the side facing the other box into the gap beside it, around every
    // box above or below, and back through the gap beside the target. Gaps hold no boxes and
    // the lanes outside hold nothing once far enough out, so this route always exists.
    const sameColumn = s.column === d.column;
    const sRight = sameColumn || rightward;
    const dRight = sameColumn || !rightward;
    for (const kind of ["above", "below"] as const) {
      const sign = kind === "above" ? -1 : 1;
      const base = (sign < 0 ? loopReach.above : loopReach.below) + M.lane;
      const edgeY = sign < 0 ? top : bottom;
      for (let j = 0; j < 3; j++) {
        const xs = gapLane(s.column, sRight, j);
        const xd = gapLane(d.column, dRight, sameColumn ? j + 1 : j);
        for (let lane = 0; lane < 24 + placedLabels.length; lane++) {
          const level = edgeY + sign * (base + lane * M.lane);
          const raw = [
            { x: sRight ? s.x + s.width : s.x, y: cy(s) },
            { x: xs, y: cy(s) },
            { x: xs, y: level },
            { x: xd, y: level },
            { x: xd, y: cy(d) },
            { x: dRight ? d.x + d.width : d.x, y: cy(d) },
          ];
          const center = { x: (xs + xd) / 2, y: level };
          if (consider("detour", lane, raw, [center], 0, []) === "longer") break;
        }
      }
    }

    // The detour above, far enough out, is always a candidate: there is a best route.
    const chosen = best as unknown as Candidate;
    for (const key of chosen.ports) portUse.set(key, (portUse.get(key) ?? 0) + 1);
    placedLabels.push(chosen.label);
    place(t, chosen.points);
    edges.push({
      transition: t,
      kind: chosen.kind,
      path: roundedPath(chosen.points),
      points: chosen.points,
      from: chosen.points[0] as Point,
      to: chosen.points[chosen.points.length - 1] as Point,
      label: chosen.label,
      lane: chosen.kind === "arc-above" || chosen.kind === "arc-below" ? chosen.lane : 0,
    });
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

  // Bounds: every box, label and line, plus the initial marker.
  const rects: Rect[] = [...nodes, ...edges.map((e) => e.label)];
  for (const e of edges) for (const p of e.points) rects.push({ ...p, width: 0, height: 0 });
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
