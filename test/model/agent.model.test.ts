/**
 * The agent machine (machines/agent.ts), model-based against a real EntityAgent talking to the
 * real CPNS Server (issue #5). xstate's createTestModel generates the shortest paths (key versions
 * up to 3) and the simple paths (up to 2; there are hundreds more at 3) with ENROLLED listed with
 * its payload. One test per path; the paths share one server, each with an entity id of its own.
 *
 * The device's transport holds its request in flight, which is what `enrolling` and
 * `authenticating` are; the next event decides where the request goes:
 *
 *   ENROLL           EntityAgent.enroll as the owner (held)
 *   ENROLLED         ... released to the real server: a new key, the next key version
 *   ENROLL_FAILED    ... released to an impostor, which cannot produce rspauth
 *   AUTHENTICATE     EntityAgent.whoami (held)
 *   SERVER_PROVED    ... released to the real server
 *   SERVER_UNPROVEN  ... released to the impostor
 *   REJECTED         ... a genuine 401: as the path's last event, the owner rotates the key from
 *                    another device first and the real server refuses the old one; otherwise
 *                    the request reaches another CPNS Server (a mistyped address), which does not
 *                    know the entity, so that the rest of the path still holds the current key
 *
 * Each state is checked in the device's key store (machine state, key version, key) and on the
 * server. ENROLLED with a key no newer than the one held, which the machine refuses, is tried
 * once per path: a server that lost its state (a fresh one) enrols the device's entity as
 * version 1, and the device keeps what it had.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SnapshotFrom } from "xstate";
import { createTestModel } from "xstate/graph";
import { type AgentEvent, agentMachine } from "../../machines/agent.ts";
import { EntityAgent } from "../../src/agent/agent.ts";
import { type DeviceRecord, MemoryKeyStore } from "../../src/agent/keystore.ts";
import {
  type CpnsUnderTest,
  cloneRecord,
  failure,
  itCoversTheMachine,
  ModelCoverage,
  type Outcome,
  PASSWORDS,
  PATH_TIMEOUT_MS,
  pathOf,
  pathTitle,
  runPath,
  type Served,
  settle,
  startCpns,
  startImpostor,
  type UserSession,
  Wire,
} from "./model-helpers.ts";

type Snapshot = SnapshotFrom<typeof agentMachine>;

const MAX_SHORTEST = 3;
const MAX_SIMPLE = 2;
const BOUND = `key versions <= ${MAX_SHORTEST} (shortest paths), <= ${MAX_SIMPLE} (simple paths)`;
const OWNER = "alice" as const;
const TYPE = "PNGW" as const;

const model = createTestModel(agentMachine, {
  input: { entityId: "model-device" },
  // The server always hands out a newer key; an older one is probed in `enrolling` instead.
  events: (snapshot): AgentEvent[] => [
    { type: "ENROLLED", keyVersion: snapshot.context.keyVersion + 1 },
  ],
});
const bounded = (max: number) => ({
  filterEvents: (snapshot: Snapshot, event: AgentEvent) =>
    snapshot.can(event) && !(event.type === "ENROLLED" && event.keyVersion > max),
});
const shortest = model.getShortestPaths(bounded(MAX_SHORTEST));
const simple = model.getSimplePaths(bounded(MAX_SIMPLE));
const coverage = new ModelCoverage(agentMachine);

let server: CpnsUnderTest;
/** An impostor that challenges like the server, and one that answers at once. */
let impostor: Served;
let eager: Served;
/** Another CPNS Server, which knows no entity of the paths. */
let otherServer: CpnsUnderTest;
let serial = 0;

beforeAll(async () => {
  server = await startCpns(["alice"]);
  otherServer = await startCpns(["alice"]);
  impostor = await startImpostor({ challenge: true });
  eager = await startImpostor({ challenge: false });
});
afterAll(async () => {
  for (const served of [server, otherServer, impostor, eager]) await served?.close();
});

/** The real system for one path: the device (gated transport), its owner, another device. */
class AgentWorld {
  readonly entityId = `dev-${++serial}`;
  readonly store = new MemoryKeyStore();
  readonly wire: Wire;
  readonly device: EntityAgent;
  /** The owner's other device, which rotates the key "elsewhere". */
  readonly elsewhere: EntityAgent;
  readonly owner: UserSession;
  /** The request in flight and the key store as it was when it started. */
  pending: Promise<Outcome<unknown>> | undefined;
  before: DeviceRecord | undefined;
  /** The key was rotated elsewhere: the device's key is no longer the server's current one. */
  stale = false;
  rollbackProbed = false;

  constructor(
    readonly impostorUrl: string,
    readonly otherServerUrl: string,
  ) {
    this.wire = new Wire(server.url);
    this.device = new EntityAgent({
      serverUrl: server.url,
      store: this.store,
      fetch: this.wire.fetch,
    });
    this.elsewhere = new EntityAgent({ serverUrl: server.url, store: new MemoryKeyStore() });
    this.owner = server.session();
  }

  enrollInput() {
    return { userId: OWNER, password: PASSWORDS[OWNER], entityId: this.entityId, type: TYPE };
  }

  /** The server's key version for the entity, 0 when it has none. */
  async serverVersion(): Promise<number> {
    const view = await this.owner.view(OWNER, this.entityId);
    if (view.status === 404) return 0;
    expect([view.status, view.body.state]).toEqual([200, "active"]);
    return view.body.keyVersion as number;
  }

  /** Starts `call` with the transport held, and waits until its request is on the wire. */
  async start(call: () => Promise<unknown>): Promise<void> {
    this.before = await this.store.get(this.entityId);
    this.wire.hold();
    this.pending = settle(call());
    const early = this.pending.then((outcome) => {
      throw new Error(`settled before any request: ${JSON.stringify(failure(outcome) ?? outcome)}`);
    });
    await Promise.race([this.wire.reached(), early]);
  }

  /** Lets the held request go to `origin` and waits for the device's answer. */
  async finish(origin: string): Promise<Outcome<unknown>> {
    const pending = this.pending;
    if (!pending) throw new Error("nothing in flight");
    this.wire.release(origin);
    this.pending = undefined;
    return pending;
  }

  /** A path may end with a request in flight: let it go so nothing hangs. */
  async drain(): Promise<void> {
    if (this.pending) await this.finish(server.url);
  }
}

async function runAgentPath(path: (typeof shortest)[number], impostorUrl: string): Promise<void> {
  const world = new AgentWorld(impostorUrl, otherServer.url);
  const { entityId, store, wire } = world;
  const record = () => store.get(entityId);
  /** In flight: nothing is persisted until the answer, and the request is waiting. */
  const inFlight = async () => {
    expect(wire.isHeld).toBe(true);
    expect(await record()).toEqual(world.before);
  };
  /** Holding the model's key version, which the server takes as current unless rotated elsewhere. */
  const holdsKey = async (s: Snapshot, machineState: string) => {
    const rec = await record();
    expect(rec?.machine.value).toBe(machineState);
    expect(rec?.eukey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(rec?.keyVersion).toBe(s.context.keyVersion);
    const current = await world.serverVersion();
    if (world.stale) expect(current).toBeGreaterThan(s.context.keyVersion);
    else expect(current).toBe(s.context.keyVersion);
  };
  const last = path.steps[path.steps.length - 1];
  try {
    await runPath(path, coverage, {
      states: {
        unenrolled: async (s) => {
          expect(s.context.keyVersion).toBe(0);
          // Nothing is recorded without a key (a failed first enrolment leaves no record).
          expect(await record()).toBeUndefined();
          // No key, so the agent does not even try.
          const sent = wire.requests;
          expect(failure(await settle(world.device.whoami(entityId)))?.code).toBe(
            "ERR_ENTITY_STATE",
          );
          expect(wire.requests).toBe(sent);
        },
        enrolling: async (s) => {
          await inFlight();
          if (s.context.keyVersion === 0 || world.rollbackProbed) return;
          // ENROLLED with a key no newer than the one held: a server that lost its state.
          world.rollbackProbed = true;
          const event = { type: "ENROLLED", keyVersion: 1 } as const;
          expect(s.can(event)).toBe(false);
          const rollback = await startCpns([OWNER]);
          try {
            const clone = new MemoryKeyStore();
            const held = world.before as DeviceRecord;
            await clone.put(cloneRecord(held));
            const agent = new EntityAgent({ serverUrl: rollback.url, store: clone });
            const outcome = await settle(agent.enroll(world.enrollInput()));
            expect(failure(outcome)?.code).toBe("ERR_ENTITY_STATE");
            const view = await rollback.session().view(OWNER, entityId);
            expect(view.body.keyVersion).toBe(1); // the stale server did issue version 1 ...
            expect(await clone.get(entityId)).toEqual(held); // ... and the device kept its record.
            coverage.step(s, event);
          } finally {
            await rollback.close();
          }
        },
        enrolled: (s) => holdsKey(s, "enrolled"),
        authenticating: () => inFlight(),
        authenticated: (s) => holdsKey(s, "authenticated"),
      },
      events: {
        ENROLL: () => world.start(() => world.device.enroll(world.enrollInput())),
        ENROLLED: async ({ event }) => {
          const e = event as Extract<AgentEvent, { type: "ENROLLED" }>;
          expect(await world.serverVersion()).toBe(e.keyVersion - 1);
          const outcome = await world.finish(server.url);
          expect(outcome.ok, JSON.stringify(failure(outcome))).toBe(true);
          const rec = (outcome as { value: DeviceRecord }).value;
          expect(rec.keyVersion).toBe(e.keyVersion);
          expect(rec.eukey).not.toBe(world.before?.eukey);
        },
        ENROLL_FAILED: async () => {
          const serverBefore = await world.serverVersion();
          const outcome = await world.finish(world.impostorUrl);
          expect(failure(outcome)?.code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
          expect(await world.serverVersion()).toBe(serverBefore);
        },
        AUTHENTICATE: () => world.start(() => world.device.whoami(entityId)),
        SERVER_PROVED: async () => {
          const outcome = await world.finish(server.url);
          expect(outcome).toEqual({
            ok: true,
            value: { entityId, userId: OWNER, type: TYPE, keyVersion: world.before?.keyVersion },
          });
        },
        SERVER_UNPROVEN: async () => {
          const outcome = await world.finish(world.impostorUrl);
          expect(failure(outcome)?.code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
        },
        REJECTED: async (step) => {
          let origin = world.otherServerUrl;
          if (step === last) {
            const rotated = await world.elsewhere.enroll(world.enrollInput());
            expect(rotated.keyVersion).toBe((world.before?.keyVersion ?? 0) + 1);
            world.stale = true;
            origin = server.url;
          }
          const outcome = await world.finish(origin);
          expect(failure(outcome)?.status).toBe(401);
        },
      },
    });
  } finally {
    await world.drain();
  }
}

describe("[AGENT-LIFECYCLE][FFS-SERVER-AUTH][AGENT-REQUIRE-RSPAUTH][KEY-TRANSPORT-EUKEY][SPEC-MODEL-TESTS] agent machine, model-based: an EntityAgent against the real server and an impostor", () => {
  it("generates paths with ENROLLED's payload, bounded by key version", () => {
    expect(shortest.length).toBeGreaterThan(0);
    expect(simple.length).toBeGreaterThan(shortest.length);
    const top = (paths: typeof shortest) =>
      Math.max(...paths.flatMap((p) => p.steps.map((s) => s.state.context.keyVersion)));
    expect([top(shortest), top(simple)]).toEqual([MAX_SHORTEST, MAX_SIMPLE]);
  });

  describe.concurrent(`shortest paths (key versions <= ${MAX_SHORTEST})`, () => {
    for (const path of shortest) {
      it(pathTitle(path), () => runAgentPath(path, impostor.url), PATH_TIMEOUT_MS);
    }
  });

  describe.concurrent(`simple paths (key versions <= ${MAX_SIMPLE})`, () => {
    for (const path of simple) {
      it(pathTitle(path), () => runAgentPath(path, impostor.url), PATH_TIMEOUT_MS);
    }
  });

  itCoversTheMachine(coverage, BOUND, { shortest, simple });
});

describe("[FFS-SERVER-AUTH][AGENT-REQUIRE-RSPAUTH][SPEC-MODEL-TESTS] agent machine, one given path: an impostor that answers at once, without a Digest challenge", () => {
  // Regression (fixed in b638e92): the Digest client returns a non-401 answer to its first,
  // unauthenticated request as it is, so the agent must itself see that no exchange took place.
  const path = pathOf(model, agentMachine, { entityId: "model-device" }, [
    { type: "ENROLL" },
    { type: "ENROLL_FAILED" },
    { type: "ENROLL" },
    { type: "ENROLLED", keyVersion: 1 },
    { type: "AUTHENTICATE" },
    { type: "SERVER_UNPROVEN" },
    { type: "ENROLL" },
    { type: "ENROLL_FAILED" },
    { type: "AUTHENTICATE" },
    { type: "SERVER_PROVED" },
  ]);
  it(pathTitle(path), () => runAgentPath(path, eager.url), PATH_TIMEOUT_MS);
});
