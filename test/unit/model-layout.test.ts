/**
 * src/reviewer-page/layout.ts (issue #5, laid out by @dagrejs/dagre since issue #13): columns that
 * follow BFS order from the initial state, each transition drawn once (forward ones rightwards,
 * backward ones leftwards, self-loops on their box), and the readability the page relies on for
 * every registered machine: no box overlaps another, no label overlaps another label or a box, no
 * line passes through a box it does not connect or through any label, everything lies inside the
 * bounds, and the same description always gives the same layout. A fast-check property checks the
 * same on arbitrary machine descriptions.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createMachine } from "xstate";
import {
  describeMachine,
  describe as describeModel,
  type MachineDescription,
  type StateDescription,
  type TransitionDescription,
} from "../../src/reviewer-page/describe.ts";
import {
  type EdgeRoute,
  intersects,
  layoutMachine,
  type MachineLayout,
  type NodeBox,
  type Rect,
} from "../../src/reviewer-page/layout.ts";
import { renderLayout } from "../../src/reviewer-page/svg.ts";

const model = describeModel();
const layouts = model.machines.map(layoutMachine);
const layoutOf = (id: string) => layouts.find((l) => l.machine.id === id) as MachineLayout;
const columnOf = (layout: MachineLayout, id: string) =>
  layout.nodes.find((n) => n.state.id === id)?.column;
const kindOf = (layout: MachineLayout, id: string) =>
  layout.edges.find((e) => e.transition.id === id)?.kind;

const inside = (outer: Rect, inner: Rect) =>
  inner.x >= outer.x &&
  inner.y >= outer.y &&
  inner.x + inner.width <= outer.x + outer.width &&
  inner.y + inner.height <= outer.y + outer.height;

/** Whether a point lies on a rectangle's border (within a tenth of a pixel). */
const onBorder = (r: Rect, p: { x: number; y: number }) => {
  const near = (a: number, b: number) => Math.abs(a - b) <= 0.1;
  const withinX = p.x >= r.x - 0.1 && p.x <= r.x + r.width + 0.1;
  const withinY = p.y >= r.y - 0.1 && p.y <= r.y + r.height + 0.1;
  return (
    ((near(p.x, r.x) || near(p.x, r.x + r.width)) && withinY) ||
    ((near(p.y, r.y) || near(p.y, r.y + r.height)) && withinX)
  );
};

function pairs<T>(items: T[]): Array<[T, T]> {
  return items.flatMap((a, i) => items.slice(i + 1).map((b) => [a, b] as [T, T]));
}

/**
 * The boxes a transition's line passes through, other than its own source and target: each
 * segment of its polyline (a loop's is its sampled curve) walked in steps of at most one pixel,
 * a point counting when it lies inside a box by more than a pixel. Independent of the layout's
 * own clipping, on purpose.
 */
function boxesCrossed(layout: MachineLayout, edge: MachineLayout["edges"][number]): string[] {
  const t = edge.transition;
  const others = layout.nodes.filter((n) => n.state.id !== t.source && n.state.id !== t.target);
  const hit = new Set<string>();
  for (const [i, b] of edge.points.slice(1).entries()) {
    const a = edge.points[i] as { x: number; y: number };
    const steps = Math.max(1, Math.ceil(Math.hypot(b.x - a.x, b.y - a.y)));
    for (let k = 0; k <= steps; k++) {
      const x = a.x + ((b.x - a.x) * k) / steps;
      const y = a.y + ((b.y - a.y) * k) / steps;
      for (const n of others) {
        if (x > n.x + 1 && x < n.x + n.width - 1 && y > n.y + 1 && y < n.y + n.height - 1)
          hit.add(n.state.id);
      }
    }
  }
  return [...hit];
}

/**
 * The labels a transition's line passes through, its own included: the same walk as
 * boxesCrossed, a point counting when it lies inside a label's box by more than half a pixel.
 */
function labelsCrossed(layout: MachineLayout, edge: MachineLayout["edges"][number]): string[] {
  const hit = new Set<string>();
  for (const [i, b] of edge.points.slice(1).entries()) {
    const a = edge.points[i] as { x: number; y: number };
    const steps = Math.max(1, Math.ceil(2 * Math.hypot(b.x - a.x, b.y - a.y)));
    for (let k = 0; k <= steps; k++) {
      const x = a.x + ((b.x - a.x) * k) / steps;
      const y = a.y + ((b.y - a.y) * k) / steps;
      for (const e of layout.edges) {
        const l = e.label;
        if (x > l.x + 0.5 && x < l.x + l.width - 0.5 && y > l.y + 0.5 && y < l.y + l.height - 0.5)
          hit.add(`${e.transition.id} ("${l.text}")`);
      }
    }
  }
  return [...hit];
}

/** Every readability guarantee of LAYOUT-CLEAR-EDGES for one layout, as a list of violations. */
function clearEdgeViolations(layout: MachineLayout): string[] {
  const out: string[] = [];
  for (const edge of layout.edges) {
    for (const label of labelsCrossed(layout, edge))
      out.push(`${edge.transition.id} crosses the label of ${label}`);
    for (const state of boxesCrossed(layout, edge))
      out.push(`${edge.transition.id} passes through the box of ${state}`);
    for (const p of edge.points) {
      if (!inside(layout.bounds, { ...p, width: 0, height: 0 }))
        out.push(`${edge.transition.id} leaves the drawing`);
    }
  }
  // A compound state's dashed line to its initial child obeys the same rules.
  for (const link of layout.children) {
    const id = `${link.parent} > ${link.child}`;
    const asEdge = {
      points: link.points,
      transition: { source: link.parent, target: link.child },
    } as unknown as MachineLayout["edges"][number];
    for (const label of labelsCrossed(layout, asEdge))
      out.push(`${id} crosses the label of ${label}`);
    for (const state of boxesCrossed(layout, asEdge))
      out.push(`${id} passes through the box of ${state}`);
    for (const p of link.points) {
      if (!inside(layout.bounds, { ...p, width: 0, height: 0 }))
        out.push(`${id} leaves the drawing`);
    }
  }
  for (const [a, b] of pairs(layout.nodes)) {
    if (intersects(a, b)) out.push(`boxes ${a.label} and ${b.label} overlap`);
  }
  const labels = layout.edges.map((e) => e.label);
  for (const [a, b] of pairs(labels)) {
    if (intersects(a, b)) out.push(`labels ${a.text} and ${b.text} overlap`);
  }
  for (const label of labels) {
    for (const node of layout.nodes) {
      if (intersects(label, node)) out.push(`label ${label.text} covers box ${node.label}`);
    }
  }
  for (const rect of [...layout.nodes, ...labels]) {
    if (!inside(layout.bounds, rect)) out.push(`${JSON.stringify(rect)} is outside the drawing`);
  }
  return [...new Set(out)];
}

describe("[SPEC-MODEL-PAGE] layoutMachine(): a layered layout of each machine", () => {
  it("[SPEC-MODEL-PAGE] puts states in columns that follow BFS order from the initial state", () => {
    const entity = layoutOf("entity");
    expect(
      ["entity.unassigned", "entity.active", "entity.revoked"].map((id) => columnOf(entity, id)),
    ).toEqual([0, 1, 2]);
    const agent = layoutOf("agent");
    expect(
      ["unenrolled", "enrolling", "enrolled", "authenticating", "authenticated"].map((k) =>
        columnOf(agent, `agent.${k}`),
      ),
    ).toEqual([0, 1, 2, 3, 4]);
    // dagre ranks by network simplex: the OTK's three end states share the last column.
    const otk = layoutOf("otk");
    expect(
      ["created", "deposited", "delivered", "expired", "revoked", "consumed"].map((k) =>
        columnOf(otk, `otk.${k}`),
      ),
    ).toEqual([0, 1, 2, 3, 3, 3]);
    // Every transition that goes deeper in BFS order from the initial state (or, at one depth,
    // later in document order) ends in a column further right: the diagram reads left to right.
    for (const layout of layouts) {
      const { machine } = layout;
      // BFS depth from the initial state (every real machine reaches all its states).
      const bfs = new Map<string, number>([[machine.initial as string, 0]]);
      const queue = [machine.initial as string];
      while (queue.length > 0) {
        const id = queue.shift() as string;
        for (const t of machine.transitions) {
          if (t.source !== id || t.target === null || bfs.has(t.target)) continue;
          bfs.set(t.target, (bfs.get(id) as number) + 1);
          queue.push(t.target);
        }
      }
      const index = (id: string) => machine.states.findIndex((st) => st.id === id);
      for (const t of machine.transitions) {
        if (t.target === null || t.target === t.source) continue;
        const [ds, dt] = [bfs.get(t.source) as number, bfs.get(t.target) as number];
        if (dt < ds || (dt === ds && index(t.target) < index(t.source))) continue;
        expect(columnOf(layout, t.target) as number, `${t.id} goes right`).toBeGreaterThan(
          columnOf(layout, t.source) as number,
        );
      }
    }
    // Columns run left to right: every box of a column lies wholly left of every box of the
    // next one. (This used to require the x of the boxes, sorted by column, to be sorted, which
    // also demanded that boxes of one column share their x; boxes of different widths are
    // centred in their column, so that was over-strict.)
    for (const layout of layouts) {
      const columns = Math.max(...layout.nodes.map((n) => n.column)) + 1;
      for (let c = 0; c + 1 < columns; c++) {
        const right = Math.max(
          ...layout.nodes.filter((n) => n.column === c).map((n) => n.x + n.width),
        );
        const left = Math.min(...layout.nodes.filter((n) => n.column === c + 1).map((n) => n.x));
        expect(right, `${layout.machine.id} column ${c}`).toBeLessThan(left);
      }
      // Boxes are listed (and drawn) in document order, whatever their column.
      expect(layout.nodes.map((n) => n.state.id)).toEqual(layout.machine.states.map((s) => s.id));
    }
  });

  it("[SPEC-MODEL-PAGE][LAYOUT-LIBRARY] draws every transition once: straight, forward, backward, or a loop on its box", () => {
    for (const layout of layouts) {
      expect(layout.edges.map((e) => e.transition.id)).toEqual(
        layout.machine.transitions.map((t) => t.id),
      );
      // Lines run from the source box's border to the target box's border, in the direction of
      // the transition: rightwards when the target's column is further right.
      for (const e of layout.edges) {
        const source = layout.nodes.find((n) => n.state.id === e.transition.source) as NodeBox;
        const target = layout.nodes.find(
          (n) => n.state.id === (e.transition.target ?? e.transition.source),
        ) as NodeBox;
        expect(onBorder(source, e.from), `${e.transition.id} starts on its box`).toBe(true);
        expect(onBorder(target, e.to), `${e.transition.id} ends on its box`).toBe(true);
        if (source === target) expect(e.kind).toMatch(/^loop-(above|below)$/);
        else if (target.column > source.column) expect(e.kind).toMatch(/^(straight|forward)$/);
        else expect(e.kind).toMatch(/^(straight|backward)$/);
      }
    }
    const entity = layoutOf("entity");
    expect(kindOf(entity, "entity.unassigned:ENROLL")).toBe("straight");
    expect(kindOf(entity, "entity.active:REVOKE")).toBe("straight");
    // Two self-loops on `active`, one on each side so their labels cannot collide.
    expect(
      new Set([
        kindOf(entity, "entity.active:ROTATE"),
        kindOf(entity, "entity.active:AUTHENTICATE"),
      ]),
    ).toEqual(new Set(["loop-above", "loop-below"]));
    const agent = layoutOf("agent");
    // A failed enrolment with a key goes on to `enrolled`; without one, back to `unenrolled`.
    expect(kindOf(agent, "agent.enrolling:ENROLL_FAILED:0")).toBe("forward");
    expect(kindOf(agent, "agent.enrolling:ENROLL_FAILED:1")).toBe("backward");
    expect(kindOf(agent, "agent.authenticating:REJECTED")).toBe("backward");
    // Three loops on the channel's `open`: two above, the second round the first and its label.
    const client = layoutOf("secureChannelClient");
    const loops = client.edges.filter(
      (e) => e.transition.source === "secureChannelClient.open" && e.kind.startsWith("loop"),
    );
    expect(loops.map((e) => [e.kind, e.lane])).toEqual([
      ["loop-above", 0],
      ["loop-below", 0],
      ["loop-above", 1],
    ]);
    const [inner, , outer] = loops as [EdgeRoute, EdgeRoute, EdgeRoute];
    expect(Math.min(...outer.points.map((p) => p.y))).toBeLessThan(inner.label.y);
  });

  it("[SPEC-MODEL-PAGE] keeps the real machines readable: no overlapping boxes or labels, no line through a box, all inside the bounds", () => {
    expect(layouts.map((l) => l.machine.id)).toEqual(model.machines.map((m) => m.id));
    for (const layout of layouts) {
      const labels = layout.edges.map((e) => e.label);
      for (const [a, b] of pairs<Rect>(layout.nodes)) expect(intersects(a, b)).toBe(false);
      for (const [a, b] of pairs(labels))
        expect(intersects(a, b), `${JSON.stringify(a)} ${JSON.stringify(b)}`).toBe(false);
      for (const label of labels) {
        for (const node of layout.nodes)
          expect(intersects(label, node), `${label.text} over ${node.label}`).toBe(false);
      }
      // A straight or routed line never passes through a box it does not connect.
      for (const edge of layout.edges) {
        expect(boxesCrossed(layout, edge), `${edge.transition.id} (${edge.kind})`).toEqual([]);
      }
      for (const rect of [...layout.nodes, ...labels])
        expect(inside(layout.bounds, rect)).toBe(true);
      for (const p of layout.edges.flatMap((e) => e.points))
        expect(inside(layout.bounds, { ...p, width: 0, height: 0 })).toBe(true);
      // Deterministic: the page must not change between requests.
      expect(layoutMachine(layout.machine)).toEqual(layout);
    }
  });

  it("[LAYOUT-CLEAR-EDGES] in every machine, no line crosses any label (its own or another's) or a box it does not connect; no boxes overlap; everything is inside the drawing", () => {
    const violations = Object.fromEntries(
      layouts.map((l) => [l.machine.id, clearEdgeViolations(l)] as const),
    );
    expect(violations).toEqual(Object.fromEntries(layouts.map((l) => [l.machine.id, []])));
    // Self-loops are ours, not dagre's: each starts and ends on its own box's top or bottom.
    const loops = layouts.flatMap((l) =>
      l.edges.filter((e) => e.kind.startsWith("loop")).map((e) => ({ l, e })),
    );
    expect(loops.length).toBeGreaterThanOrEqual(8);
    for (const { l, e } of loops) {
      const n = l.nodes.find((b) => b.state.id === e.transition.source) as NodeBox;
      const side = e.kind === "loop-above" ? n.y : n.y + n.height;
      expect([e.from.y, e.to.y]).toEqual([side, side]);
    }
  });

  it("[LAYOUT-CLEAR-EDGES] draws hierarchical machines: compound states and their children (named by path), onDone, re-entering loops, all clear", () => {
    const nested = createMachine({
      id: "h",
      initial: "idle",
      states: {
        idle: { on: { START: "work" } },
        work: {
          initial: "step1",
          on: { CANCEL: "idle" },
          onDone: "done",
          states: {
            step1: { on: { NEXT: "step2", AGAIN: { target: "step1", reenter: true } } },
            step2: { on: { DONE: "finished", BACK: "step1" } },
            finished: { type: "final" },
          },
        },
        done: { type: "final" },
      },
    });
    const machine = describeMachine({ id: "h", title: "", source: "", machine: nested });
    const layout = layoutMachine(machine);
    expect(layout.nodes.map((n) => n.label)).toEqual([
      "idle",
      "work",
      "work.step1",
      "work.step2",
      "work.finished",
      "done",
    ]);
    expect(layout.edges.map((e) => e.transition.id)).toEqual(machine.transitions.map((t) => t.id));
    expect(kindOf(layout, "h.work.step1:AGAIN")).toMatch(/^loop-/);
    // The compound state's initial child comes right after it, joined by one dashed line that
    // starts on the parent's box and ends on the child's.
    expect(columnOf(layout, "h.work.step1")).toBe((columnOf(layout, "h.work") as number) + 1);
    expect(layout.children.map((c) => [c.parent, c.child])).toEqual([["h.work", "h.work.step1"]]);
    const [link] = layout.children;
    const boxOf = (id: string) => layout.nodes.find((n) => n.state.id === id) as NodeBox;
    expect(onBorder(boxOf("h.work"), link?.points[0] as { x: number; y: number })).toBe(true);
    expect(onBorder(boxOf("h.work.step1"), link?.points.at(-1) as { x: number; y: number })).toBe(
      true,
    );
    expect(renderLayout(layout)).toMatch(
      /<g class="initial-child" data-parent="h.work" data-child="h.work.step1"><title>h.work starts in h.work.step1<\/title><path d="M [^"]+" [^>]*stroke-dasharray/,
    );
    // Real machines have no nested states today: no dashed lines there.
    for (const l of layouts) expect(l.children).toEqual([]);
    expect(clearEdgeViolations(layout)).toEqual([]);
    expect(layoutMachine(machine)).toEqual(layout);
  });

  it("[LAYOUT-CLEAR-EDGES] survives hostile names and oversized labels: prototype keys, separators, a 400-character event", () => {
    const keys = ["__proto__", "constructor", "a\u0000right", "toString", "x\u0001y"];
    const state = (key: string, i: number): StateDescription => ({
      id: i === 0 ? "__proto__" : `__proto__.${key}`,
      key,
      type: "atomic",
      description: null,
      parent: null,
      initial: i === 0,
      requirements: [],
    });
    const states = keys.map(state);
    const ids = states.map((st) => st.id);
    const long = "E".repeat(400);
    const link = (from: number, to: number | null, event: string): TransitionDescription => ({
      id: `${ids[from]}:${event}:${from}>${to}`,
      source: ids[from] as string,
      event,
      guard: null,
      actions: [],
      target: to === null ? null : (ids[to] as string),
      reenter: false,
      requirements: [],
      label: event,
    });
    const machine: MachineDescription = {
      id: "__proto__",
      title: "",
      source: "",
      description: null,
      initial: "__proto__",
      states,
      transitions: [
        link(0, 1, "hasOwnProperty"),
        link(1, 2, long),
        link(2, 0, "__proto__"),
        link(2, 3, "valueOf"),
        link(3, 3, long),
        link(3, null, "constructor"),
        link(3, 4, "\u0000"),
        link(4, 1, "BACK"),
      ],
      requirements: [],
    };
    const layout = layoutMachine(machine);
    expect(layout.nodes.map((n) => n.state.id)).toEqual(ids);
    expect(layout.edges.map((e) => e.transition.id)).toEqual(machine.transitions.map((t) => t.id));
    expect(clearEdgeViolations(layout)).toEqual([]);
    expect(layoutMachine(machine)).toEqual(layout);
    expect(Object.hasOwn({}, "x")).toBe(false);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it("[SPEC-MODEL-PAGE] starts and ends straight arrows on the box borders, and marks the initial state", () => {
    const entity = layoutOf("entity");
    const box = (id: string) => entity.nodes.find((n) => n.state.id === id) as Rect;
    const enroll = entity.edges.find((e) => e.transition.id === "entity.unassigned:ENROLL");
    const from = box("entity.unassigned");
    const to = box("entity.active");
    expect(enroll?.from).toEqual({ x: from.x + from.width, y: from.y + from.height / 2 });
    expect(enroll?.to).toEqual({ x: to.x, y: to.y + to.height / 2 });
    expect(enroll?.path).toMatch(/^M [\d.-]+ [\d.-]+ L [\d.-]+ [\d.-]+$/);
    expect(entity.initial?.dot.x).toBeLessThan(from.x);
    expect(entity.initial?.dot.y).toBe(from.y + from.height / 2);
  });

  it("[SPEC-MODEL-PAGE] places states the initial state cannot reach after the reachable ones", () => {
    const state = (key: string, initial = false): StateDescription => ({
      id: `m.${key}`,
      key,
      type: "atomic",
      description: null,
      parent: null,
      initial,
      requirements: [],
    });
    const t = (source: string, target: string): TransitionDescription => ({
      id: `m.${source}:GO`,
      source: `m.${source}`,
      event: "GO",
      guard: null,
      actions: [],
      target: `m.${target}`,
      reenter: false,
      requirements: [],
      label: "GO",
    });
    const machine: MachineDescription = {
      id: "m",
      title: "",
      source: "",
      description: null,
      initial: "m.b",
      states: [state("a"), state("b", true), state("c")],
      transitions: [t("b", "c")],
      requirements: [],
    };
    const layout = layoutMachine(machine);
    expect(["m.b", "m.c", "m.a"].map((id) => columnOf(layout, id))).toEqual([0, 1, 2]);
  });

  it("[SPEC-MODEL-PAGE][LAYOUT-CLEAR-EDGES] lays out arbitrary machines: every transition once, no overlapping boxes or labels, no line through a box or a label, all inside the bounds", () => {
    const arbitraryMachine = fc.integer({ min: 1, max: 9 }).chain((n) =>
      fc.record({
        n: fc.constant(n),
        finals: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
        edges: fc.array(
          fc.record({
            source: fc.integer({ min: 0, max: n - 1 }),
            target: fc.option(fc.integer({ min: 0, max: n - 1 })),
            event: fc.constantFrom("GO", "BACK", "A_LONGER_EVENT_NAME", "X"),
            guard: fc.option(fc.constantFrom("ok", "isOwnerSameType")),
          }),
          { maxLength: 16 },
        ),
      }),
    );
    fc.assert(
      fc.property(arbitraryMachine, ({ n, finals, edges }) => {
        const machine: MachineDescription = {
          id: "p",
          title: "",
          source: "",
          description: null,
          initial: "p.s0",
          states: Array.from({ length: n }, (_, i) => ({
            id: `p.s${i}`,
            key: `s${i}`,
            type: finals[i] ? "final" : "atomic",
            description: null,
            parent: null,
            initial: i === 0,
            requirements: [],
          })),
          transitions: edges.map((e, i) => ({
            id: `p.s${e.source}:${e.event}:${i}`,
            source: `p.s${e.source}`,
            event: e.event,
            guard: e.guard,
            actions: [],
            target: e.target === null ? null : `p.s${e.target}`,
            reenter: false,
            requirements: [],
            label: e.guard === null ? e.event : `${e.event} [${e.guard}]`,
          })),
          requirements: [],
        };
        const layout = layoutMachine(machine);
        expect(layout.nodes).toHaveLength(n);
        expect(layout.edges.map((e) => e.transition.id)).toEqual(
          machine.transitions.map((t) => t.id),
        );
        for (const [a, b] of pairs<Rect>(layout.nodes)) expect(intersects(a, b)).toBe(false);
        // Every label finds a place of its own, however crowded the machine.
        const labels = layout.edges.map((e) => e.label);
        for (const [a, b] of pairs<Rect>([...labels, ...layout.nodes]))
          expect(intersects(a, b)).toBe(false);
        for (const rect of [...layout.nodes, ...layout.edges.map((e) => e.label)]) {
          expect(inside(layout.bounds, rect)).toBe(true);
        }
        for (const e of layout.edges) {
          expect(e.path).not.toMatch(/NaN|Infinity/);
          expect(boxesCrossed(layout, e), e.transition.id).toEqual([]);
          expect(labelsCrossed(layout, e), e.transition.id).toEqual([]);
          for (const p of e.points)
            expect(inside(layout.bounds, { ...p, width: 0, height: 0 })).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
    // dagre takes a few milliseconds a machine; the machine is shared, so the budget is generous.
  }, 120_000);
});
