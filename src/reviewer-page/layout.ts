/**
 * The layout of one machine description for the reviewer page of SPEC-MODEL-PAGE (issue #5),
 * computed by @dagrejs/dagre (issue #13: the hand-written layered layout and router it replaces
 * ran two OTK edges through their own labels). Computed on the server; the page gets the SVG.
 *
 * - dagre places the boxes left to right (rank = column) and every label as a node of its own
 *   beside its line (`labelpos`), so a label is never on a line. Transitions that go back in BFS
 *   order from the initial state are handed to dagre reversed, so columns follow the story and the
 *   initial state is in the first one; states it cannot reach hang off the deepest one by an
 *   invisible edge, so they come last. Nested states are drawn flat, named by their path, a
 *   compound state's initial child right after it (entering the one enters the other).
 * - dagre's own edge points join the centres of its dummy nodes with straight lines, which can cut
 *   the corner of a neighbouring box or label. We keep the points but route between them: along
 *   the line's own slot while inside a rank's band (where dagre keeps slots apart) and across the
 *   empty gap between bands, so no line crosses a box or label by construction. Lines end on the
 *   side of the box they leave by, spread along it in the order of where they go.
 * - Self-loops are our own small special case: dagre draws a self-loop through its own label.
 *   A box with loops is handed to dagre as a bigger node that holds them; its loops are nested
 *   brackets on its top and bottom (alternately), each label above (below) its bracket, an outer
 *   bracket stepping round the inner ones' labels. The initial-state marker sits in that node too.
 *
 * Text is measured as monospace (0.6 em per character), which is how svg.ts draws it. The unit
 * tests check, for every registered machine, that no line crosses a box it does not connect or any
 * label, that no two boxes or labels overlap, and that everything lies inside the bounds. dagre is
 * deterministic, so the page is the same on every request.
 *
 * Implements: SPEC-MODEL-PAGE, LAYOUT-LIBRARY, LAYOUT-CLEAR-EDGES
 */
import dagre from "@dagrejs/dagre";
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
  /** Index of the box's centre height among the distinct ones, top first. */
  row: number;
}

/** A line with no corner, a line that bends forward (rightwards) or backward, a self-loop. */
export type EdgeKind = "straight" | "forward" | "backward" | "loop-above" | "loop-below";

export interface EdgeRoute {
  transition: TransitionDescription;
  kind: EdgeKind;
  /** SVG path data, from the source box's border to the target box's border. */
  path: string;
  /** The line as drawn: its corners' rounding sampled, so tests check what the reader sees. */
  points: Point[];
  from: Point;
  to: Point;
  /** The label's box (text centred in it): `EVENT [guard]`. */
  label: Rect & { text: string };
  /** Loops: how many loops of the same box and side lie inside this one; others: 0. */
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
  /** A dashed line from each compound state to its initial child (points as drawn). */
  children: Array<{ parent: string; child: string; path: string; points: Point[] }>;
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
  /** Gap between a line and its label. */
  labelOffset: 3,
  /** dagre: space between neighbouring boxes (or labels) of a column. */
  nodeSep: 28,
  /** dagre: space between neighbouring lines of a column. */
  edgeSep: 16,
  /** dagre: space between columns (halved between a box column and a label column). */
  rankSep: 80,
  /** Room the initial-state marker takes left of its box. */
  marker: 44,
  /** Distance between the ends of lines that share a side of a box. */
  port: 12,
  /** A loop: foot distance from the box's centre and height; outer loops step by `loopStep`. */
  loopFoot: 16,
  loopHeight: 28,
  loopStep: 10,
  /** How far a line runs straight past a band's widest box before it may turn. */
  bandPad: 8,
  corner: 12,
  margin: 16,
} as const;

const M = METRICS;

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

/** Drops repeated points and the middle one of three in a line, so corners are real corners. */
function simplify(points: Point[]): Point[] {
  const out: Point[] = [];
  for (const p of points) {
    const last = out[out.length - 1];
    if (last && Math.abs(last.x - p.x) < 0.01 && Math.abs(last.y - p.y) < 0.01) continue;
    const before = out[out.length - 2];
    if (before && last) {
      const cross = (last.x - before.x) * (p.y - last.y) - (last.y - before.y) * (p.x - last.x);
      const forward = (last.x - before.x) * (p.x - last.x) + (last.y - before.y) * (p.y - last.y);
      if (Math.abs(cross) < 0.01 && forward > 0) {
        out[out.length - 1] = p;
        continue;
      }
    }
    out.push(p);
  }
  return out;
}

/**
 * A polyline with its corners rounded (radius at most half of either neighbouring segment), as
 * SVG path data and as the points of the drawn curve (each corner's quadratic sampled).
 */
export function roundedPath(points: Point[], radius = M.corner): { path: string; drawn: Point[] } {
  const first = points[0] as Point;
  const parts = [`M ${pt(first)}`];
  const drawn: Point[] = [first];
  for (let i = 1; i < points.length - 1; i++) {
    const [p, c, n] = [points[i - 1], points[i], points[i + 1]] as [Point, Point, Point];
    const lin = Math.hypot(c.x - p.x, c.y - p.y);
    const lout = Math.hypot(n.x - c.x, n.y - c.y);
    const r = Math.min(radius, lin / 2, lout / 2);
    const a = { x: c.x + ((p.x - c.x) * r) / lin, y: c.y + ((p.y - c.y) * r) / lin };
    const b = { x: c.x + ((n.x - c.x) * r) / lout, y: c.y + ((n.y - c.y) * r) / lout };
    parts.push(`L ${pt(a)}`, `Q ${pt(c)} ${pt(b)}`);
    for (let k = 0; k <= 6; k++) {
      const s = k / 6;
      drawn.push({
        x: (1 - s) ** 2 * a.x + 2 * s * (1 - s) * c.x + s * s * b.x,
        y: (1 - s) ** 2 * a.y + 2 * s * (1 - s) * c.y + s * s * b.y,
      });
    }
  }
  const last = points[points.length - 1] as Point;
  if (points.length > 1) {
    parts.push(`L ${pt(last)}`);
    drawn.push(last);
  }
  return { path: parts.join(" "), drawn: drawn.map((q) => ({ x: round(q.x), y: round(q.y) })) };
}

/** Each compound state with its initial child, as [parent id, child id]. */
function initialChildren(machine: MachineDescription): Array<[string, string]> {
  return machine.states
    .filter((s) => s.parent !== null && s.initial)
    .map((s) => [s.parent as string, s.id]);
}

/** BFS depth from the initial state; states it cannot reach follow, one step further on. */
function walk(machine: MachineDescription): { depth: Map<string, number>; reached: Set<string> } {
  const depth = new Map<string, number>();
  const next = new Map<string, string[]>();
  for (const t of machine.transitions) {
    if (t.target === null || t.target === t.source) continue;
    next.set(t.source, [...(next.get(t.source) ?? []), t.target]);
  }
  // Entering a compound state enters its initial child: the child follows its parent.
  for (const [parent, child] of initialChildren(machine)) {
    next.set(parent, [...(next.get(parent) ?? []), child]);
  }
  const bfs = (start: string, base: number) => {
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
  if (machine.initial !== null && known.has(machine.initial)) bfs(machine.initial, 0);
  const reached = new Set(depth.keys());
  for (const state of machine.states) {
    if (!depth.has(state.id)) bfs(state.id, Math.max(-1, ...depth.values()) + 1);
  }
  return { depth, reached };
}

function stateLabel(machine: MachineDescription, state: StateDescription): string {
  return state.parent === null ? state.key : state.id.slice(machine.id.length + 1);
}

type Label = Rect & { text: string };

function labelAt(text: string, center: Point): Label {
  const width = labelWidth(text);
  return {
    text,
    x: center.x - width / 2,
    y: center.y - M.labelHeight / 2,
    width,
    height: M.labelHeight,
  };
}

/** One loop, relative to the middle of its box's top (above) or bottom (below) side. */
interface LoopShape {
  transition: TransitionDescription;
  sign: -1 | 1;
  level: number;
  /** The bracket's corners, relative; y grows away from the box. */
  corners: Point[];
  /** The label's centre, relative. */
  labelCenter: Point;
  /** How far from the box side the loop and its label reach, and how far sideways. */
  reach: number;
  halfWidth: number;
}

/**
 * The loops of one box: alternately above and below; on one side, loop n is a bracket whose feet
 * lie outside loop n-1's and which, above loop n-1's label, steps out round every inner label.
 */
function loopShapes(loops: TransitionDescription[], boxHalf: number): LoopShape[] {
  const out: LoopShape[] = [];
  for (const sign of [-1, 1] as const) {
    const mine = loops.filter((_, i) => (i % 2 === 0 ? -1 : 1) === sign);
    let top = 0;
    let outer = 0;
    mine.forEach((t, level) => {
      const foot = Math.min(M.loopFoot + level * M.loopStep, boxHalf - 8);
      const lw = labelWidth(t.label);
      let corners: Point[];
      if (level === 0) {
        top = M.loopHeight;
        corners = [
          { x: -foot, y: 0 },
          { x: -foot, y: top },
          { x: foot, y: top },
          { x: foot, y: 0 },
        ];
        outer = foot;
      } else {
        // Step out just off the box (below every inner label), rise beside them, cross over.
        const step = 10 + 4 * level;
        outer += M.loopStep + M.corner;
        top += M.labelHeight + 4 + M.loopStep + M.corner;
        corners = [
          { x: -foot, y: 0 },
          { x: -foot, y: step },
          { x: -outer, y: step },
          { x: -outer, y: top },
          { x: outer, y: top },
          { x: outer, y: step },
          { x: foot, y: step },
          { x: foot, y: 0 },
        ];
      }
      const labelCenter = { x: 0, y: top + 4 + M.labelHeight / 2 };
      out.push({
        transition: t,
        sign,
        level,
        corners,
        labelCenter,
        reach: top + 4 + M.labelHeight,
        halfWidth: Math.max(outer, lw / 2),
      });
      // The next loop rises beside this label.
      outer = Math.max(outer, lw / 2 + 4);
    });
  }
  return out;
}

interface Placed {
  state: StateDescription;
  label: string;
  width: number;
  /** The dagre node: the box plus its loops and, for the initial state, the marker. */
  left: number;
  right: number;
  half: number;
  loops: LoopShape[];
}

export function layoutMachine(machine: MachineDescription): MachineLayout {
  const { depth, reached } = walk(machine);
  const order = new Map(machine.states.map((s, i) => [s.id, i]));
  const rankKey = (id: string) => [depth.get(id) ?? 0, order.get(id) ?? 0] as const;
  const before = (a: string, b: string) => {
    const [da, ia] = rankKey(a);
    const [db, ib] = rankKey(b);
    return da < db || (da === db && ia < ib);
  };
  const drawable = machine.transitions.filter(
    (t) => order.has(t.source) && (t.target === null || order.has(t.target)),
  );
  const isLoop = (t: TransitionDescription) => (t.target ?? t.source) === t.source;

  // The dagre node of each state: its box, its loops around it, the marker left of it.
  const placed = new Map<string, Placed>();
  for (const state of machine.states) {
    const label = stateLabel(machine, state);
    const width = Math.max(M.boxMinWidth, textWidth(label, M.stateFont) + 2 * M.boxPadding);
    const loops = loopShapes(
      drawable.filter((t) => t.source === state.id && isLoop(t)),
      width / 2,
    );
    const sideways = Math.max(width / 2, ...loops.map((l) => l.halfWidth + 4));
    const half = M.boxHeight / 2 + Math.max(0, ...loops.map((l) => l.reach + 4));
    const marker = state.id === machine.initial ? width / 2 + M.marker : 0;
    placed.set(state.id, {
      state,
      label,
      width,
      left: Math.max(sideways, marker),
      right: sideways,
      half,
      loops,
    });
  }

  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({
    rankdir: "LR",
    nodesep: M.nodeSep,
    edgesep: M.edgeSep,
    ranksep: M.rankSep,
    marginx: 0,
    marginy: 0,
  });
  g.setDefaultEdgeLabel(() => ({}));
  // dagre sees indices, never the machine's own names (graphlib keys plain objects by them).
  const nid = (id: string) => `n${order.get(id)}`;
  const tname = (t: TransitionDescription) => `t${machine.transitions.indexOf(t)}`;
  for (const p of placed.values()) {
    g.setNode(nid(p.state.id), { width: p.left + p.right, height: 2 * p.half });
  }
  // Each drawn line, oriented along BFS order so that dagre's columns follow the story.
  const lines = drawable.filter((t) => !isLoop(t));
  const reversed = new Set<TransitionDescription>();
  for (const t of lines) {
    const target = t.target as string;
    const back = !before(t.source, target);
    if (back) reversed.add(t);
    const [v, w] = back ? [target, t.source] : [t.source, target];
    g.setEdge(
      nid(v),
      nid(w),
      {
        width: labelWidth(t.label),
        height: M.labelHeight,
        labelpos: "l",
        labeloffset: M.labelOffset,
        minlen: 1,
      },
      tname(t),
    );
  }
  // A compound state's initial child comes after it, joined by a dashed line.
  const childLinks = new Map<string, [string, string]>();
  for (const [parent, child] of initialChildren(machine)) {
    if (!before(parent, child)) continue;
    const name = `c${childLinks.size}`;
    childLinks.set(name, [parent, child]);
    g.setEdge(nid(parent), nid(child), { width: 0, height: 0, minlen: 1 }, name);
  }
  // States the initial state cannot reach come after the deepest state it reaches.
  let deepest: string | undefined;
  for (const s of machine.states) {
    if (!reached.has(s.id)) continue;
    if (deepest === undefined || (depth.get(s.id) ?? 0) > (depth.get(deepest) ?? 0)) deepest = s.id;
  }
  const roots = machine.states.filter(
    (s) =>
      !reached.has(s.id) &&
      !lines.some((t) => t.target === s.id && before(t.source, s.id)) &&
      !initialChildren(machine).some(([parent, child]) => child === s.id && before(parent, s.id)),
  );
  for (const s of roots) {
    if (deepest !== undefined) {
      g.setEdge(nid(deepest), nid(s.id), { width: 0, height: 0, minlen: 1 }, `a${nid(s.id)}`);
    }
  }
  dagre.layout(g);

  // Boxes, columns (distinct centre x) and rows (distinct centre y).
  const centerOf = (id: string) => g.node(nid(id)) as { x: number; y: number };
  const distinct = (values: number[]) =>
    [...new Set(values.map((v) => round(v)))].sort((a, b) => a - b);
  const columnXs = distinct(machine.states.map((s) => centerOf(s.id).x));
  const rowYs = distinct(machine.states.map((s) => centerOf(s.id).y));
  const nodes: NodeBox[] = machine.states.map((state) => {
    const p = placed.get(state.id) as Placed;
    const c = centerOf(state.id);
    const cx = c.x - (p.left + p.right) / 2 + p.left;
    return {
      state,
      label: p.label,
      column: columnXs.indexOf(round(c.x)),
      row: rowYs.indexOf(round(c.y)),
      x: cx - p.width / 2,
      y: c.y - M.boxHeight / 2,
      width: p.width,
      height: M.boxHeight,
    };
  });
  const box = new Map(nodes.map((n) => [n.state.id, n]));

  // Rank bands: every rank's x extent, from the widest box node or label in it.
  const bands: Array<{ center: number; lo: number; hi: number }> = [];
  const band = (center: number, half: number) => {
    let b = bands.find((q) => Math.abs(q.center - center) < 0.5);
    if (!b) {
      b = { center, lo: center, hi: center };
      bands.push(b);
    }
    b.lo = Math.min(b.lo, center - half - M.bandPad);
    b.hi = Math.max(b.hi, center + half + M.bandPad);
    return b;
  };
  for (const s of machine.states) {
    const p = placed.get(s.id) as Placed;
    band(centerOf(s.id).x, (p.left + p.right) / 2);
  }
  // Every drawn line dagre placed: the transitions and the compound-to-initial-child links.
  interface Route {
    name: string;
    /** dagre's orientation: v left of w. */
    v: string;
    w: string;
    back: boolean;
    points: Point[];
  }
  const routeOf = (name: string, v: string, w: string, back: boolean): Route => ({
    name,
    v,
    w,
    back,
    points: (g.edge(nid(v), nid(w), name) as { points: Point[] }).points,
  });
  const routes = new Map<string, Route>();
  for (const t of lines) {
    const back = reversed.has(t);
    const [v, w] = back ? [t.target as string, t.source] : [t.source, t.target as string];
    routes.set(tname(t), routeOf(tname(t), v, w, back));
  }
  for (const [name, [v, w]] of childLinks) routes.set(name, routeOf(name, v, w, false));
  for (const t of lines) {
    const r = routes.get(tname(t)) as Route;
    const e = g.edge(nid(r.v), nid(r.w), r.name) as {
      x: number;
      width: number;
    };
    band(e.x, e.width / 2);
  }
  for (const r of routes.values()) for (const q of r.points.slice(1, -1)) band(q.x, 0);
  const bandAt = (x: number) =>
    bands.find((q) => Math.abs(q.center - x) < 0.5) as { lo: number; hi: number };

  // Ports: lines sharing a side of a box end at separate points, in the order of where they go.
  interface End {
    name: string;
    end: "first" | "last";
    toward: Point;
  }
  /** Per box and side (right: true), the line ends on it. */
  const sides = new Map<string, Map<boolean, End[]>>();
  for (const r of routes.values()) {
    const pts = r.points;
    const inner = pts.slice(1, -1);
    const ends: Array<[string, End]> = [
      [r.v, { name: r.name, end: "first", toward: (inner[0] ?? pts[pts.length - 1]) as Point }],
      [r.w, { name: r.name, end: "last", toward: (inner[inner.length - 1] ?? pts[0]) as Point }],
    ];
    for (const [id, e] of ends) {
      const right = e.toward.x > centerOf(id).x;
      const mine = sides.get(id) ?? new Map<boolean, End[]>();
      sides.set(id, mine);
      mine.set(right, [...(mine.get(right) ?? []), e]);
    }
  }
  /** Each line's two ends, by route name: [first, last]. */
  const portOf = new Map<string, { first?: Point; last?: Point }>();
  for (const [id, bySide] of sides) {
    const n = box.get(id) as NodeBox;
    for (const [right, list] of bySide) {
      list.sort((a, b) => a.toward.y - b.toward.y);
      const step = Math.min(M.port, (n.height - 12) / Math.max(1, list.length - 1));
      list.forEach((e, j) => {
        const ends = portOf.get(e.name) ?? {};
        portOf.set(e.name, ends);
        ends[e.end] = {
          x: right ? n.x + n.width : n.x,
          y: n.y + n.height / 2 + (j - (list.length - 1) / 2) * step,
        };
      });
    }
  }
  /** Left to right in dagre's orientation: straight through each band, across each gap. */
  const cornersOf = (r: Route): Point[] => {
    const first = portOf.get(r.name)?.first as Point;
    const last = portOf.get(r.name)?.last as Point;
    const raw: Point[] = [first, { x: bandAt(centerOf(r.v).x).hi, y: first.y }];
    for (const q of r.points.slice(1, -1)) {
      const b = bandAt(q.x);
      raw.push({ x: b.lo, y: q.y }, { x: b.hi, y: q.y });
    }
    raw.push({ x: bandAt(centerOf(r.w).x).lo, y: last.y }, last);
    return simplify(r.back ? raw.reverse() : raw);
  };

  const edges: EdgeRoute[] = [];
  for (const t of lines) {
    const r = routes.get(tname(t)) as Route;
    const e = g.edge(nid(r.v), nid(r.w), r.name) as { x: number; y: number };
    const corners = cornersOf(r);
    const { path, drawn } = roundedPath(corners);
    const from = corners[0] as Point;
    const to = corners[corners.length - 1] as Point;
    edges.push({
      transition: t,
      kind: corners.length === 2 ? "straight" : to.x > from.x ? "forward" : "backward",
      path,
      points: drawn,
      from,
      to,
      label: labelAt(t.label, { x: e.x, y: e.y }),
      lane: 0,
    });
  }
  const children: MachineLayout["children"] = [...childLinks].map(([name, [parent, child]]) => {
    const { path, drawn } = roundedPath(cornersOf(routes.get(name) as Route));
    return { parent, child, path, points: drawn };
  });
  for (const p of placed.values()) {
    const n = box.get(p.state.id) as NodeBox;
    const cx = n.x + n.width / 2;
    for (const loop of p.loops) {
      const y0 = loop.sign < 0 ? n.y : n.y + n.height;
      const at = (q: Point) => ({ x: cx + q.x, y: y0 + loop.sign * q.y });
      const { path, drawn } = roundedPath(loop.corners.map(at));
      edges.push({
        transition: loop.transition,
        kind: loop.sign < 0 ? "loop-above" : "loop-below",
        path,
        points: drawn,
        from: drawn[0] as Point,
        to: drawn[drawn.length - 1] as Point,
        label: labelAt(loop.transition.label, at(loop.labelCenter)),
        lane: loop.level,
      });
    }
  }
  // Document order, so the drawing and the table list transitions alike.
  edges.sort(
    (a, b) => machine.transitions.indexOf(a.transition) - machine.transitions.indexOf(b.transition),
  );

  let initial: MachineLayout["initial"] = null;
  const start = machine.initial === null ? undefined : box.get(machine.initial);
  if (start) {
    const dot = { x: start.x - 40, y: start.y + start.height / 2 };
    initial = {
      dot,
      radius: 6,
      path: `M ${pt({ x: dot.x + 6, y: dot.y })} L ${pt({ x: start.x, y: dot.y })}`,
    };
  }

  // Bounds: every box, label and line, plus the initial marker.
  const rects: Rect[] = [...nodes, ...edges.map((e) => e.label)];
  for (const e of [...edges, ...children])
    for (const p of e.points) rects.push({ ...p, width: 0, height: 0 });
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
    children,
    bounds: {
      x: Math.floor(minX),
      y: Math.floor(minY),
      width: Math.ceil(maxX - Math.floor(minX)),
      height: Math.ceil(maxY - Math.floor(minY)),
    },
  };
}
