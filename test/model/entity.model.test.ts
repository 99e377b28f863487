/**
 * The entity machine (machines/entity.ts), model-based against the real CPNS Server (issue #5):
 * xstate's createTestModel generates the shortest and the simple paths over ENROLL and ROTATE by
 * alice or bob as a PNE or a PN GW, REVOKE by alice or bob, and AUTHENTICATE with the current and
 * the previous key version (payload events listed explicitly; key versions stop at 3). One test
 * per path; the paths share one server over HTTP, each with an entity id of its own.
 *
 * Events drive the server as a device and its users would: ENROLL and ROTATE are
 * EntityAgent.enroll as that user, REVOKE is DELETE /cpns/v1/entities/:id as that user,
 * AUTHENTICATE is EntityAgent.whoami with that version's key. Each state is checked from outside
 * on every visit (the owner's and the other user's view, which keys authenticate); the first
 * visit of each model state also tries every event the model refuses there, for real: the server
 * refuses it and nothing is written.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initialTransition, type SnapshotFrom, setup } from "xstate";
import { createTestModel } from "xstate/graph";
import { type EntityEvent, type EntityType, entityMachine } from "../../machines/entity.ts";
import { EntityAgent } from "../../src/agent/agent.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import {
  type CpnsUnderTest,
  failure,
  formatCoverage,
  itCoversTheMachine,
  ModelCoverage,
  type Outcome,
  PASSWORDS,
  PATH_TIMEOUT_MS,
  pathTitle,
  runPath,
  settle,
  stableJson,
  startCpns,
  USERS,
  type UserId,
  type UserSession,
} from "./model-helpers.ts";

type Snapshot = SnapshotFrom<typeof entityMachine>;

const MAX_VERSION = 3;
const TYPES: readonly EntityType[] = ["PNE", "PNGW"];
const BOUND = `key versions <= ${MAX_VERSION}`;

/** Every payload, so no guarded branch is skipped; AUTHENTICATE with the current and the previous key. */
function entityEvents(snapshot: Snapshot): EntityEvent[] {
  const { keyVersion } = snapshot.context;
  return [
    ...USERS.flatMap((userId) =>
      TYPES.flatMap((entityType) => [
        { type: "ENROLL" as const, userId, entityType },
        { type: "ROTATE" as const, userId, entityType },
      ]),
    ),
    ...USERS.map((userId) => ({ type: "REVOKE" as const, userId })),
    ...[keyVersion, keyVersion - 1]
      .filter((v) => v >= 1)
      .map((v) => ({ type: "AUTHENTICATE" as const, keyVersion: v })),
  ];
}

const model = createTestModel(entityMachine, {
  input: { entityId: "model-entity" },
  events: entityEvents,
  // Refused events are probed in each state instead (a path never contains a self-loop).
  filterEvents: (snapshot, event) =>
    snapshot.can(event) && !(event.type === "ROTATE" && snapshot.context.keyVersion >= MAX_VERSION),
  // An accepted AUTHENTICATE changes neither state nor context: mark it, or no path would take it.
  serializeTransition: (snapshot, event, previous) => {
    if (!event || !previous) return "";
    const moved = JSON.stringify(previous.value) !== JSON.stringify(snapshot.value);
    return moved || event.type === "AUTHENTICATE" ? ` via ${JSON.stringify(event)}` : "";
  },
});

const shortest = model.getShortestPaths();
const simple = model.getSimplePaths();
const coverage = new ModelCoverage(entityMachine);

const other = (userId: string): UserId => (userId === "alice" ? "bob" : "alice");
const otherType = (type: EntityType): EntityType => (type === "PNE" ? "PNGW" : "PNE");

/** The real system for one path: its entity on the shared server, its device, the keys it got. */
class EntityWorld {
  readonly device: EntityAgent;
  readonly store = new MemoryKeyStore();
  /** base64url(EUKey) by key version, as the device received them. */
  readonly keys = new Map<number, string>();
  readonly users: UserSession;

  constructor(
    readonly server: CpnsUnderTest,
    readonly entityId: string,
  ) {
    this.device = new EntityAgent({ serverUrl: server.url, store: this.store });
    this.users = server.session();
  }

  view(userId: UserId) {
    return this.users.view(userId, this.entityId);
  }

  /** EntityAgent.enroll as `userId` on a fresh device (a probe that must not touch this one). */
  enrollElsewhere(userId: UserId, type: EntityType) {
    const agent = new EntityAgent({ serverUrl: this.server.url, store: new MemoryKeyStore() });
    return settle(
      agent.enroll({ userId, password: PASSWORDS[userId], entityId: this.entityId, type }),
    );
  }

  /** whoami from a device that holds `key` as version `keyVersion`. */
  async authenticateWith(keyVersion: number, key = this.keys.get(keyVersion)) {
    if (!key) throw new Error(`no key version ${keyVersion} was issued`);
    const store = new MemoryKeyStore();
    await store.put({
      entityId: this.entityId,
      serverUrl: this.server.url,
      userId: "alice",
      type: "PNE",
      keyVersion,
      eukey: key,
      machine: { value: "enrolled" },
    });
    return settle(new EntityAgent({ serverUrl: this.server.url, store }).whoami(this.entityId));
  }

  /** The model's event done for real, for a probe; the outcome says whether the server took it. */
  perform(event: EntityEvent): Promise<Outcome<unknown>> {
    switch (event.type) {
      case "ENROLL":
      case "ROTATE":
        return this.enrollElsewhere(event.userId as UserId, event.entityType);
      case "REVOKE":
        return this.users
          .revoke(event.userId as UserId, this.entityId)
          .then(
            (res): Outcome<unknown> =>
              res.status === 200
                ? { ok: true, value: res.body }
                : { ok: false, error: { status: res.status, code: res.body.code } },
          );
      case "AUTHENTICATE":
        return this.authenticateWith(event.keyVersion);
    }
  }

  /**
   * Tries events the model refuses in `snapshot`: the server must refuse each one and write
   * nothing (the stored records are the same after each; the owner's view after all of them).
   * With `counted`, each is a refusing branch of the machine's transitions (else: not handled).
   */
  async refused(
    snapshot: Snapshot,
    refusals: ReadonlyArray<[EntityEvent, { status: number; code?: string }]>,
    counted: boolean,
  ): Promise<void> {
    const owner = (snapshot.context.userId ?? "alice") as UserId;
    const view = await this.view(owner);
    for (const [event, expected] of refusals) {
      expect(snapshot.can(event), `the model refuses ${JSON.stringify(event)}`).toBe(false);
      const stored = await this.server.dump(this.entityId);
      const outcome = await this.perform(event);
      expect(failure(outcome), JSON.stringify(event)).toMatchObject(expected);
      expect(await this.server.dump(this.entityId), JSON.stringify(event)).toBe(stored);
      if (counted) coverage.step(snapshot, event);
    }
    expect(await this.view(owner)).toEqual(view);
  }
}

let serial = 0;

/**
 * Model states (value and context) whose refusals were already tried: every visit checks the
 * state itself, the first visit of a model state in this run also tries everything it refuses.
 */
const probed = new Set<string>();
function firstVisit(s: Snapshot): boolean {
  const key = JSON.stringify([s.value, s.context]);
  if (probed.has(key)) return false;
  probed.add(key);
  return true;
}

let server: CpnsUnderTest;

async function runEntityPath(path: (typeof shortest)[number]): Promise<void> {
  const world = new EntityWorld(server, `ent-${++serial}`);
  const { entityId } = world;
  await runPath(path, coverage, {
    states: {
      unassigned: async () => {
        for (const userId of USERS) {
          const view = await world.view(userId);
          expect([view.status, view.body.code]).toEqual([404, "ERR_NOT_FOUND"]);
        }
        expect(await world.store.get(entityId)).toBeUndefined();
        expect(failure(await settle(world.device.whoami(entityId)))?.code).toBe("ERR_ENTITY_STATE");
        // Not handled by the machine here, and refused by the server without a write.
        const before = await server.dump(entityId);
        for (const userId of USERS) {
          expect((await world.users.revoke(userId, entityId)).status).toBe(404);
        }
        const guessed = await world.authenticateWith(1, "a-key-nobody-was-given");
        expect(failure(guessed)?.status).toBe(401);
        expect(await server.dump(entityId)).toBe(before);
      },
      active: async (s) => {
        const { userId, entityType, keyVersion } = s.context;
        const owner = userId as UserId;
        const type = entityType as EntityType;
        const view = await world.view(owner);
        expect([view.status, view.body]).toMatchObject([
          200,
          { entityId, userId: owner, type, keyVersion, state: "active" },
        ]);
        const foreign = await world.view(other(owner));
        // Issue #9 item 8: another user's entity reads like a missing one.
        expect([foreign.status, foreign.body.code]).toEqual([404, "ERR_NOT_FOUND"]);
        const record = await world.store.get(entityId);
        expect([record?.keyVersion, record?.eukey]).toEqual([
          keyVersion,
          world.keys.get(keyVersion),
        ]);
        const current = await world.authenticateWith(keyVersion);
        expect(current).toEqual({
          ok: true,
          value: { entityId, userId: owner, type, keyVersion },
        });
        if (keyVersion > 1) {
          expect(failure(await world.authenticateWith(keyVersion - 1))?.status).toBe(401);
        }
        if (!firstVisit(s)) return;
        // Refused here: another user, another type, and every older key.
        const notOwner = { status: 403, code: "ERR_NOT_OWNER" };
        await world.refused(
          s,
          [
            ...TYPES.map((t): [EntityEvent, typeof notOwner] => [
              { type: "ROTATE", userId: other(owner), entityType: t },
              notOwner,
            ]),
            [
              { type: "ROTATE", userId: owner, entityType: otherType(type) },
              { status: 409, code: "ERR_ENTITY_TYPE_MISMATCH" },
            ],
            [
              { type: "REVOKE", userId: other(owner) },
              { status: 404, code: "ERR_NOT_FOUND" },
            ],
            ...Array.from({ length: keyVersion - 1 }, (_, i): [EntityEvent, { status: number }] => [
              { type: "AUTHENTICATE", keyVersion: i + 1 },
              { status: 401 },
            ]),
          ],
          true,
        );
      },
      revoked: async (s) => {
        const { userId, entityType, keyVersion } = s.context;
        const owner = userId as UserId;
        const type = entityType as EntityType;
        expect(s.status).toBe("done");
        const view = await world.view(owner);
        expect([view.status, view.body]).toMatchObject([
          200,
          { entityId, userId: owner, type, keyVersion, state: "revoked" },
        ]);
        const foreign = await world.view(other(owner));
        // Issue #9 item 8: another user's entity reads like a missing one.
        expect([foreign.status, foreign.body.code]).toEqual([404, "ERR_NOT_FOUND"]);
        expect(failure(await world.authenticateWith(keyVersion))?.status).toBe(401);
        if (!firstVisit(s)) return;
        // Final: the machine handles nothing, and the server refuses everything.
        const refusals: Array<[EntityEvent, { status: number; code?: string }]> = [
          ...TYPES.flatMap(
            (t): Array<[EntityEvent, { status: number; code: string }]> => [
              [
                { type: "ROTATE", userId: owner, entityType: t },
                { status: 409, code: "ERR_ENTITY_STATE" },
              ],
              [
                { type: "ROTATE", userId: other(owner), entityType: t },
                { status: 403, code: "ERR_NOT_OWNER" },
              ],
            ],
          ),
          [
            { type: "REVOKE", userId: owner },
            { status: 409, code: "ERR_ENTITY_STATE" },
          ],
          [
            { type: "REVOKE", userId: other(owner) },
            { status: 404, code: "ERR_NOT_FOUND" },
          ],
          ...Array.from({ length: keyVersion }, (_, i): [EntityEvent, { status: number }] => [
            { type: "AUTHENTICATE", keyVersion: i + 1 },
            { status: 401 },
          ]),
        ];
        await world.refused(s, refusals, false);
      },
    },
    events: {
      ENROLL: async ({ event, state }) => {
        const e = event as Extract<EntityEvent, { type: "ENROLL" }>;
        const record = await world.device.enroll({
          userId: e.userId,
          password: PASSWORDS[e.userId as UserId],
          entityId,
          type: e.entityType,
        });
        expect(record.keyVersion).toBe(state.context.keyVersion);
        world.keys.set(record.keyVersion, record.eukey);
      },
      ROTATE: async ({ event, state }) => {
        const e = event as Extract<EntityEvent, { type: "ROTATE" }>;
        const record = await world.device.enroll({
          userId: e.userId,
          password: PASSWORDS[e.userId as UserId],
          entityId,
          type: e.entityType,
        });
        expect(record.keyVersion).toBe(state.context.keyVersion);
        expect([...world.keys.values()]).not.toContain(record.eukey);
        world.keys.set(record.keyVersion, record.eukey);
      },
      REVOKE: async ({ event }) => {
        const e = event as Extract<EntityEvent, { type: "REVOKE" }>;
        const res = await world.users.revoke(e.userId as UserId, entityId);
        expect([res.status, res.body.state]).toEqual([200, "revoked"]);
      },
      AUTHENTICATE: async ({ event, state }) => {
        const e = event as Extract<EntityEvent, { type: "AUTHENTICATE" }>;
        const record = await world.store.get(entityId);
        expect(record?.keyVersion).toBe(e.keyVersion);
        const who = await world.device.whoami(entityId);
        expect(who).toEqual({
          entityId,
          userId: state.context.userId,
          type: state.context.entityType,
          keyVersion: e.keyVersion,
        });
        expect((await world.store.get(entityId))?.machine.value).toBe("authenticated");
      },
    },
  });
}

describe("[ENTITY-LIFECYCLE][SERVER-MODEL-GATE][SERVER-OWNERSHIP][SEED-5.x.2-1][SEED-5.x.3-2][SPEC-MODEL-TESTS] entity machine, model-based against the real server", () => {
  beforeAll(async () => {
    server = await startCpns();
  });
  afterAll(() => server?.close());

  it("generates paths over every payload, bounded by key version", () => {
    expect(shortest.length).toBeGreaterThan(0);
    expect(simple.length).toBeGreaterThanOrEqual(shortest.length);
    const versions = [...shortest, ...simple].map((p) => p.state.context.keyVersion);
    expect(Math.max(...versions)).toBe(MAX_VERSION);
  });

  describe.concurrent(`shortest paths (${BOUND})`, () => {
    for (const path of shortest) it(pathTitle(path), () => runEntityPath(path), PATH_TIMEOUT_MS);
  });

  describe.concurrent(`simple paths (${BOUND})`, () => {
    for (const path of simple) it(pathTitle(path), () => runEntityPath(path), PATH_TIMEOUT_MS);
  });

  itCoversTheMachine(coverage, BOUND, { shortest, simple });
});

describe("[SPEC-MODEL-TESTS] how coverage is counted", () => {
  const lamp = setup({
    types: { events: {} as { type: "SWITCH"; power: boolean } | { type: "BREAK" } },
    guards: { hasPower: ({ event }) => event.type === "SWITCH" && event.power, isNew: () => true },
  }).createMachine({
    id: "lamp",
    initial: "off",
    states: {
      off: {
        on: {
          SWITCH: { target: "on", guard: "hasPower" },
          BREAK: [{ target: "broken", guard: "isNew" }, { target: "off" }],
        },
      },
      on: { on: { SWITCH: "off" } },
      broken: { type: "final" },
    },
  });

  it("a transition is source + event + guard branch + target; a guard's refusal is a branch too", () => {
    const count = new ModelCoverage(lamp);
    expect(count.states).toEqual(["off", "on", "broken"]);
    expect(count.transitions).toEqual([
      "off --SWITCH [hasPower]--> on",
      "off --SWITCH [!hasPower]--> (refused)",
      "off --BREAK [isNew]--> broken",
      "off --BREAK [!isNew]--> off",
      "on --SWITCH--> off",
    ]);
    const [off] = initialTransition(lamp);
    count.visit(off);
    count.step(off, { type: "SWITCH", power: false });
    expect(count.transitionOf(off, { type: "SWITCH", power: true })).toBe(
      "off --SWITCH [hasPower]--> on",
    );
    const summary = count.summary("none", { shortest: 0, simple: 0 });
    expect([summary.states, summary.transitions.covered]).toEqual([
      { covered: 1, total: 3, missing: ["broken", "on"] },
      1,
    ]);
    expect(formatCoverage(summary)).toContain("states 1/3 (33%), transitions 1/5 (20%)");
    expect(summary.transitions.missing).not.toContain("off --SWITCH [!hasPower]--> (refused)");
  });

  it("the coverage file is laid out as Biome would (objects open, short lists on one line)", () => {
    expect(stableJson({ a: [], b: ["x", "y"], c: { d: 1 } })).toBe(
      '{\n  "a": [],\n  "b": ["x", "y"],\n  "c": {\n    "d": 1\n  }\n}',
    );
    expect(stableJson({ list: ["x".repeat(60), "y".repeat(60)] })).toBe(
      `{\n  "list": [\n    "${"x".repeat(60)}",\n    "${"y".repeat(60)}"\n  ]\n}`,
    );
  });
});
