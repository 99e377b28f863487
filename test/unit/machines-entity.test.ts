/**
 * The entity lifecycle machine (machines/entity.ts; ENTITY-LIFECYCLE,
 * SERVER-MODEL-GATE): every state times every event, asked through
 * `snapshot.can` and applied with xstate's pure `transition`. Allowed
 * transitions land where the model says with the right context; refused ones
 * leave the snapshot exactly as it was. Also the bridge the server uses
 * (src/server/entity-model.ts): a persisted record rebuilds the same snapshot,
 * and `step` answers undefined for a refused event.
 */
import { describe, expect, it } from "vitest";
import { initialTransition, transition } from "xstate";
import { type EntityEvent, entityMachine } from "../../machines/entity.ts";
import { entitySnapshot, persist, step } from "../../src/server/entity-model.ts";
import type { EntityRecord } from "../../src/store/records.ts";

type Snapshot = ReturnType<typeof entityMachine.resolveState>;

const start = (): Snapshot => initialTransition(entityMachine, { entityId: "watch-1" })[0];

function run(events: EntityEvent[]): Snapshot {
  let snapshot = start();
  for (const event of events) {
    expect(snapshot.can(event), `${JSON.stringify(event)} in ${String(snapshot.value)}`).toBe(true);
    snapshot = transition(entityMachine, snapshot, event)[0];
  }
  return snapshot;
}

const ENROLL_ALICE: EntityEvent = { type: "ENROLL", userId: "alice", entityType: "PNE" };
const ROTATE_ALICE: EntityEvent = { type: "ROTATE", userId: "alice", entityType: "PNE" };

/** Every event worth asking, with the payload variations the guards look at. */
const EVENTS: EntityEvent[] = [
  { type: "ENROLL", userId: "alice", entityType: "PNE" },
  { type: "ENROLL", userId: "bob", entityType: "PNGW" },
  { type: "ROTATE", userId: "alice", entityType: "PNE" },
  { type: "ROTATE", userId: "alice", entityType: "PNGW" },
  { type: "ROTATE", userId: "bob", entityType: "PNE" },
  { type: "REVOKE", userId: "alice" },
  { type: "REVOKE", userId: "bob" },
  { type: "AUTHENTICATE", keyVersion: 0 },
  { type: "AUTHENTICATE", keyVersion: 1 },
  { type: "AUTHENTICATE", keyVersion: 2 },
  { type: "AUTHENTICATE", keyVersion: 3 },
];

const label = (e: EntityEvent) => JSON.stringify(e);

interface Row {
  state: string;
  reach: EntityEvent[];
  /** Allowed events (by label) and the state and keyVersion they lead to. */
  allowed: Record<string, { value: string; keyVersion: number }>;
}

const ROWS: Row[] = [
  {
    state: "unassigned",
    reach: [],
    allowed: {
      [label(EVENTS[0] as EntityEvent)]: { value: "active", keyVersion: 1 },
      [label(EVENTS[1] as EntityEvent)]: { value: "active", keyVersion: 1 },
    },
  },
  {
    state: "active (v1, alice, PNE)",
    reach: [ENROLL_ALICE],
    allowed: {
      [label(ROTATE_ALICE)]: { value: "active", keyVersion: 2 },
      [label({ type: "REVOKE", userId: "alice" })]: { value: "revoked", keyVersion: 1 },
      [label({ type: "AUTHENTICATE", keyVersion: 1 })]: { value: "active", keyVersion: 1 },
    },
  },
  {
    state: "active (v2 after a rotation)",
    reach: [ENROLL_ALICE, ROTATE_ALICE],
    allowed: {
      [label(ROTATE_ALICE)]: { value: "active", keyVersion: 3 },
      [label({ type: "REVOKE", userId: "alice" })]: { value: "revoked", keyVersion: 2 },
      [label({ type: "AUTHENTICATE", keyVersion: 2 })]: { value: "active", keyVersion: 2 },
    },
  },
  {
    state: "revoked",
    reach: [ENROLL_ALICE, { type: "REVOKE", userId: "alice" }],
    allowed: {},
  },
];

describe("[ENTITY-LIFECYCLE][SERVER-MODEL-GATE] entity machine: every state × every event", () => {
  for (const row of ROWS) {
    for (const event of EVENTS) {
      const expected = row.allowed[label(event)];
      it(`[ENTITY-LIFECYCLE] ${row.state} + ${label(event)} → ${expected ? `${expected.value} v${expected.keyVersion}` : "refused"}`, () => {
        const before = run(row.reach);
        expect(before.can(event)).toBe(expected !== undefined);
        const [after] = transition(entityMachine, before, event);
        if (expected) {
          expect(after.value).toBe(expected.value);
          expect(after.context.keyVersion).toBe(expected.keyVersion);
        } else {
          expect(after.value).toBe(before.value);
          expect(after.context).toEqual(before.context);
        }
      });
    }
  }

  it("[ENTITY-LIFECYCLE][SEED-5.x.1-1] ENROLL records the owner and the type; ROTATE keeps them", () => {
    const enrolled = run([{ type: "ENROLL", userId: "bob", entityType: "PNGW" }]);
    expect(enrolled.context).toEqual({
      entityId: "watch-1",
      userId: "bob",
      entityType: "PNGW",
      keyVersion: 1,
    });
    const rotated = run([
      { type: "ENROLL", userId: "bob", entityType: "PNGW" },
      { type: "ROTATE", userId: "bob", entityType: "PNGW" },
    ]);
    expect(rotated.context).toEqual({ ...enrolled.context, keyVersion: 2 });
  });

  it("[ENTITY-LIFECYCLE][SEED-5.x.2-1] a rotated-away key version is refused by AUTHENTICATE, at every later version", () => {
    let snapshot = run([ENROLL_ALICE]);
    for (let version = 2; version <= 5; version++) {
      snapshot = transition(entityMachine, snapshot, ROTATE_ALICE)[0];
      expect(snapshot.can({ type: "AUTHENTICATE", keyVersion: version })).toBe(true);
      for (let old = 0; old < version; old++) {
        expect(snapshot.can({ type: "AUTHENTICATE", keyVersion: old })).toBe(false);
      }
    }
  });

  it("[ENTITY-LIFECYCLE] revoked is final: status done, no event is accepted", () => {
    const revoked = run([ENROLL_ALICE, ROTATE_ALICE, { type: "REVOKE", userId: "alice" }]);
    expect(revoked.status).toBe("done");
    for (const event of EVENTS) expect(revoked.can(event)).toBe(false);
  });

  it("[ENTITY-LIFECYCLE] the context is JSON-serialisable", () => {
    const snapshot = run([ENROLL_ALICE, ROTATE_ALICE]);
    expect(JSON.parse(JSON.stringify(snapshot.context))).toEqual(snapshot.context);
  });
});

describe("[SERVER-MODEL-GATE] the server's bridge to the machine (src/server/entity-model.ts)", () => {
  const record = (snapshot: Snapshot): EntityRecord => ({
    v: 1,
    entityId: "watch-1",
    userId: "alice",
    type: "PNE",
    keyVersion: snapshot.context.keyVersion,
    machine: persist(snapshot),
    createdAt: "2025-01-01T00:00:00.000Z",
    updatedAt: "2025-01-01T00:00:00.000Z",
  });

  it("[SERVER-MODEL-GATE] a persisted snapshot, rebuilt, answers every event as the original does", () => {
    for (const reach of ROWS.map((r) => r.reach)) {
      const original = run(reach);
      const rebuilt = entitySnapshot("watch-1", reach.length ? record(original) : undefined);
      expect(rebuilt.value).toEqual(original.value);
      for (const event of EVENTS) expect(rebuilt.can(event)).toBe(original.can(event));
    }
  });

  it("[SERVER-MODEL-GATE] step answers the next snapshot or undefined, and never mutates its input", () => {
    const active = entitySnapshot("watch-1", record(run([ENROLL_ALICE])));
    const frozen = JSON.stringify(persist(active));
    expect(step(active, { type: "ROTATE", userId: "bob", entityType: "PNE" })).toBeUndefined();
    expect(step(active, { type: "ENROLL", userId: "alice", entityType: "PNE" })).toBeUndefined();
    expect(step(active, ROTATE_ALICE)?.context.keyVersion).toBe(2);
    expect(JSON.stringify(persist(active))).toBe(frozen);
  });
});
