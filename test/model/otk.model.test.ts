/**
 * The OTK machine (machines/otk.ts; seed 5.x.2, second bullet: "Sharing of onetime security key
 * is intermediated by CPNS Server and secured by EUKey"), model-based against the real CPNS
 * Server over HTTP (issue #5). xstate's createTestModel generates the shortest and the simple
 * paths over every listed payload: DEPOSIT from a PN GW or a PNE, for an active or a revoked
 * peer, paired or not, early, in time or late; DELIVER and CONSUME by the issuer, the addressee or
 * another entity, with key versions 1, 2 and none, before and at the expiry; EXPIRE before, at
 * and after it; ISSUER_KEY_CHANGED to versions 1, 2 and none; PEER_REVOKED. The machine holds no
 * counter, so the paths are finite without a bound. One test per path, each with a server of its
 * own: every path moves that server's clock.
 *
 * Model time is in seconds: the OTK expires at 1000, the PN GW deposits it at 880 (a lifetime of
 * 120 s, the server allows 300). On the server, model time t is BASE + t, and the clock starts at
 * 880. Events drive the server as the entities and their owner would:
 *
 *   DEPOSIT             the PN GW, OtkClient.deposit (the OTK sealed under its EUKey)
 *   DELIVER             the addressee, OtkClient.fetch (the OTK arrives sealed under its EUKey)
 *   CONSUME             the PN GW, OtkClient.consume
 *   EXPIRE              the clock moves to `now`; the addressee's inbox read makes the server look
 *   ISSUER_KEY_CHANGED  the owner rotates the PN GW's EUKey (version 2) or revokes the PN GW
 *                       (none); the addressee's inbox read makes the server look
 *   PEER_REVOKED        the owner revokes the addressee; the PN GW's consume makes the server look
 *
 * Each state is checked from outside on every visit: what the addressee's inbox shows, whether
 * fetching and consuming work, what the stored record holds (the sealed OTK only while deposited)
 * and what the security log says. The first visit of each model state also tries, for real,
 * events the model refuses there (a PNE depositing, an OTK for another user's entity, an expiry
 * already reached or beyond the lifetime, a revoked peer; fetches and consumption by the wrong
 * entity; the server's own look at expiry and keys while nothing changed): the server refuses each
 * and its record does not change.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { SnapshotFrom } from "xstate";
import { createTestModel } from "xstate/graph";
import { type OtkEvent, otkMachine } from "../../machines/otk.ts";
import type { PreparedOtk } from "../../src/agent/otk-client.ts";
import { toBase64url } from "../../src/crypto/bytes.ts";
import { OtkRepository } from "../../src/store/repositories.ts";
import { type Device, enrollDevice } from "../e2e/peer-helpers.ts";
import { startTestServer, T0, type TestServer } from "../e2e/server-helpers.ts";
import {
  failure,
  itCoversTheMachine,
  ModelCoverage,
  type Outcome,
  PATH_TIMEOUT_MS,
  pathTitle,
  runPath,
  settle,
} from "./model-helpers.ts";

type Snapshot = SnapshotFrom<typeof otkMachine>;

const ALICE = { userId: "alice", password: "alice-otk-model-1" };
const BOB = { userId: "bob", password: "bob-otk-model-2" };
const GW = "gw-1";
const PEER = "pne-1";
/** Another PN GW of the same owner: neither issuer nor addressee. */
const OTHER_GW = "gw-2";
const MAX_LIFETIME = 300;
const DEPOSIT_AT = 880;
const EXPIRES_AT = 1000;
/** Model time 880 is the server clock's start. */
const BASE = Math.floor(T0 / 1000) - DEPOSIT_AT;
const BOUND = "none needed: no counter; payloads: 3 callers, key versions 1, 2, none, 4 times";

const INPUT = {
  otkId: "model-otk",
  issuerId: GW,
  peerId: PEER,
  issuerKeyVersion: 1,
  expiresAt: EXPIRES_AT,
};

const deposit = (
  over: Partial<Extract<OtkEvent, { type: "DEPOSIT" }>> = {},
): Extract<OtkEvent, { type: "DEPOSIT" }> => ({
  type: "DEPOSIT",
  issuerType: "PNGW",
  peerActive: true,
  pairingAllowed: true,
  now: DEPOSIT_AT,
  maxLifetimeSeconds: MAX_LIFETIME,
  ...over,
});

/** Every payload, so that no guarded branch is skipped; the refused ones are probed instead. */
const OTK_EVENTS: OtkEvent[] = [
  deposit(),
  deposit({ issuerType: "PNE" }),
  deposit({ pairingAllowed: false }),
  deposit({ peerActive: false }),
  deposit({ now: EXPIRES_AT }),
  deposit({ now: 600 }),
  ...[PEER, GW, OTHER_GW].flatMap((callerId) =>
    [1, 2, null].flatMap((issuerKeyVersion) =>
      [900, EXPIRES_AT].map((now) => ({
        type: "DELIVER" as const,
        callerId,
        issuerKeyVersion,
        now,
      })),
    ),
  ),
  ...[GW, PEER, OTHER_GW].flatMap((callerId) =>
    [1, 2].flatMap((callerKeyVersion) =>
      [900, EXPIRES_AT].map((now) => ({
        type: "CONSUME" as const,
        callerId,
        callerKeyVersion,
        now,
      })),
    ),
  ),
  ...[900, EXPIRES_AT, 1100].map((now) => ({ type: "EXPIRE" as const, now })),
  ...[1, 2, null].map((issuerKeyVersion) => ({
    type: "ISSUER_KEY_CHANGED" as const,
    issuerKeyVersion,
  })),
  ...[true, false].map((peerActive) => ({ type: "PEER_REVOKED" as const, peerActive })),
];

const model = createTestModel(otkMachine, {
  input: INPUT,
  events: OTK_EVENTS,
  filterEvents: (snapshot, event) => snapshot.can(event),
});
const shortest = model.getShortestPaths();
const simple = model.getSimplePaths();
const coverage = new ModelCoverage(otkMachine);

/** Model states (the context never changes) whose refusals were already tried in this run. */
const probed = new Set<string>();
function firstVisit(s: Snapshot): boolean {
  const key = String(s.value);
  if (probed.has(key)) return false;
  probed.add(key);
  return true;
}

/** The real system for one path: its own server (its own clock), the PN GW and the addressee. */
class OtkWorld {
  /** Model time the server's clock shows. */
  t = DEPOSIT_AT;
  readonly prepared: PreparedOtk = {
    otk: new Uint8Array(randomBytes(32)),
    otkId: toBase64url(new Uint8Array(randomBytes(16))),
    expiresAt: BASE + EXPIRES_AT,
  };
  readonly repo: OtkRepository;
  readonly #extra = new Map<string, Promise<Device>>();
  issuerActive = true;
  peerActive = true;

  private constructor(
    readonly server: TestServer,
    readonly gw: Device,
    readonly peer: Device,
  ) {
    this.repo = new OtkRepository(server.storage);
  }

  static async start(): Promise<OtkWorld> {
    const server = await startTestServer({
      otkMaxLifetimeSeconds: MAX_LIFETIME,
      // Refused probes present wrong keys on purpose.
      rateLimit: { maxFailures: 1_000_000, windowSeconds: 1 },
    });
    await server.createUser(ALICE.userId, ALICE.password);
    await server.createUser(BOB.userId, BOB.password);
    const [gw, peer] = await Promise.all([
      enrollDevice(server, ALICE, GW, "PNGW"),
      enrollDevice(server, ALICE, PEER, "PNE"),
    ]);
    return new OtkWorld(server, gw, peer);
  }

  get otkId(): string {
    return this.prepared.otkId;
  }

  /** Moves the server's clock to model time `t`; time only goes forward (Digest nonces). */
  at(t: number): void {
    if (t < this.t) throw new Error(`the clock would go back from ${this.t} to ${t}`);
    this.t = t;
    this.server.clock.now = (BASE + t) * 1000;
  }

  /** An entity enrolled for a probe, once per path. */
  extra(key: "otherGw" | "bobPne" | "revokedPne"): Promise<Device> {
    let device = this.#extra.get(key);
    if (!device) {
      device = (async () => {
        if (key === "otherGw") return enrollDevice(this.server, ALICE, OTHER_GW, "PNGW");
        if (key === "bobPne") return enrollDevice(this.server, BOB, "bob-pne", "PNE");
        const gone = await enrollDevice(this.server, ALICE, "pne-gone", "PNE");
        expect((await this.revoke("pne-gone")).status).toBe(200);
        return gone;
      })();
      this.#extra.set(key, device);
    }
    return device;
  }

  /** DELETE /cpns/v1/entities/:id as the owner. */
  async revoke(entityId: string): Promise<Response> {
    const res = await this.server.asUser(ALICE.userId, ALICE.password)(
      `/cpns/v1/entities/${entityId}`,
      { method: "DELETE" },
    );
    await res.arrayBuffer();
    return res;
  }

  /** A deposit of this path's OTK id by `issuer`, with the PN GW's OTK bytes. */
  depositAs(issuer: Device, peerId: string, expiresAt = this.prepared.expiresAt) {
    return settle(
      issuer.otks.deposit(issuer.entityId, {
        peerId,
        lifetimeSeconds: 0,
        prepared: { ...this.prepared, expiresAt },
      }),
    );
  }

  inbox(device: Device = this.peer) {
    return settle(device.otks.inbox(device.entityId));
  }

  fetch(device: Device = this.peer) {
    return settle(device.otks.fetch(device.entityId, this.otkId));
  }

  consume(device: Device = this.gw) {
    return settle(device.otks.consume(device.entityId, this.otkId));
  }

  /** The stored record, as JSON (equal dumps: nothing was written). */
  async stored(): Promise<string> {
    return JSON.stringify((await this.repo.get(this.otkId)) ?? null);
  }

  /** The OTK events of the security log for this path's OTK, in order. */
  logged(): string[] {
    return this.server
      .events()
      .filter((e) => (e as { otkId?: string }).otkId === this.otkId)
      .map((e) => e.event);
  }

  /**
   * Tries events the model refuses in `snapshot`: the server must refuse each (or, for the
   * server's own look at expiry and keys, leave the OTK as it was), and write nothing.
   */
  async refused(
    snapshot: Snapshot,
    refusals: ReadonlyArray<{
      events: OtkEvent[];
      run: () => Promise<Outcome<unknown>>;
      expect: { status: number; code: string } | "unchanged";
    }>,
  ): Promise<void> {
    for (const refusal of refusals) {
      const label = JSON.stringify(refusal.events);
      for (const event of refusal.events) {
        expect(snapshot.can(event), `the model refuses ${JSON.stringify(event)}`).toBe(false);
      }
      const before = await this.stored();
      const outcome = await refusal.run();
      if (refusal.expect === "unchanged") expect(outcome.ok, label).toBe(true);
      else expect(failure(outcome), label).toMatchObject(refusal.expect);
      expect(await this.stored(), label).toBe(before);
      for (const event of refusal.events) coverage.step(snapshot, event);
    }
  }
}

/** The server's own look at an OTK before each use, with nothing changed since. */
const lookWhileNothingChanged = (t: number): OtkEvent[] => [
  { type: "EXPIRE", now: t },
  { type: "ISSUER_KEY_CHANGED", issuerKeyVersion: 1 },
  { type: "PEER_REVOKED", peerActive: true },
];

const gone = { status: 410, code: "ERR_OTK_GONE" };

async function runOtkPath(path: (typeof shortest)[number]): Promise<void> {
  const world = await OtkWorld.start();
  try {
    await runWorld(world, path);
  } finally {
    await world.server.close();
  }
}

async function runWorld(world: OtkWorld, path: (typeof shortest)[number]): Promise<void> {
  const { otkId } = world;
  const inboxIds = async () => {
    const outcome = await world.inbox();
    expect(outcome.ok, JSON.stringify(failure(outcome))).toBe(true);
    return (outcome as { value: Array<{ otkId: string }> }).value.map((o) => o.otkId);
  };
  /** The record the server keeps: its state, and whether it still holds the sealed OTK. */
  const record = async (state: string, holdsOtk: boolean) => {
    const stored = await world.repo.get(otkId);
    expect(stored?.machine.value).toBe(state);
    expect(stored?.otk !== undefined).toBe(holdsOtk);
    // Sealed at rest: the OTK itself is never in the record.
    expect(JSON.stringify(stored)).not.toContain(toBase64url(world.prepared.otk));
  };
  /** In a final state: nothing is waiting, nothing can be fetched or consumed any more. */
  const over = async (state: string, logged: string) => {
    await record(state, false);
    expect(world.logged().at(-1)).toBe(`otk.${logged}`);
    if (world.peerActive) {
      expect(await inboxIds()).not.toContain(otkId);
      expect(failure(await world.fetch())).toMatchObject(gone);
    } else {
      expect(failure(await world.fetch())?.status).toBe(401);
    }
    if (world.issuerActive) expect(failure(await world.consume())).toMatchObject(gone);
    else expect(failure(await world.consume())?.status).toBe(401);
    await record(state, false);
  };

  await runPath(path, coverage, {
    states: {
      created: async (s) => {
        expect(await inboxIds()).toEqual([]);
        expect(failure(await world.fetch())).toMatchObject({ status: 404, code: "ERR_NOT_FOUND" });
        expect(failure(await world.consume())).toMatchObject({ status: 404 });
        expect(await world.repo.has(otkId)).toBe(false);
        // Addressed to itself: refused (not a payload here: the model's OTK names another peer).
        const self = await world.depositAs(world.gw, GW);
        expect(failure(self)).toMatchObject({ status: 403, code: "ERR_OTK_PAIRING_REFUSED" });
        if (!firstVisit(s)) return;
        const t = world.t;
        const [otherGw, bobPne, revokedPne] = await Promise.all([
          world.extra("otherGw"),
          world.extra("bobPne"),
          world.extra("revokedPne"),
        ]);
        await world.refused(s, [
          {
            // A PNE may not create OTKs: only a PN GW does (seed 5.x.2).
            events: [deposit({ issuerType: "PNE" })],
            run: () => world.depositAs(world.peer, otherGw.entityId),
            expect: { status: 403, code: "ERR_FORBIDDEN" },
          },
          {
            events: [deposit({ pairingAllowed: false })],
            run: () => world.depositAs(world.gw, bobPne.entityId),
            expect: { status: 403, code: "ERR_OTK_PAIRING_REFUSED" },
          },
          {
            events: [deposit({ peerActive: false })],
            run: () => world.depositAs(world.gw, revokedPne.entityId),
            expect: { status: 409, code: "ERR_ENTITY_STATE" },
          },
          {
            // Expiring now: as if deposited at its expiry.
            events: [deposit({ now: EXPIRES_AT })],
            run: () => world.depositAs(world.gw, PEER, BASE + t),
            expect: { status: 400, code: "ERR_OTK_EXPIRY" },
          },
          {
            // One second beyond the lifetime: as if deposited 301 s before its expiry.
            events: [deposit({ now: EXPIRES_AT - MAX_LIFETIME - 1 })],
            run: () => world.depositAs(world.gw, PEER, BASE + t + MAX_LIFETIME + 1),
            expect: { status: 400, code: "ERR_OTK_EXPIRY" },
          },
        ]);
        // None of them took the id: the real deposit below is not a replay.
        expect(await world.repo.has(otkId)).toBe(false);
        expect(world.logged()).toEqual([]);
      },
      deposited: async (s) => {
        const inbox = await world.inbox();
        expect(inbox).toEqual({
          ok: true,
          value: [
            {
              otkId,
              issuerId: GW,
              peerId: PEER,
              expiresAt: BASE + EXPIRES_AT,
              state: "deposited",
            },
          ],
        });
        // Only the addressee's inbox shows it.
        expect(await world.inbox(world.gw)).toEqual({ ok: true, value: [] });
        await record("deposited", true);
        expect(world.logged()).toEqual(["otk.deposited"]);
        // Not delivered yet, so nothing to consume (CONSUME is not handled here).
        expect(failure(await world.consume())).toMatchObject({
          status: 409,
          code: "ERR_OTK_STATE",
        });
        if (!firstVisit(s)) return;
        const otherGw = await world.extra("otherGw");
        await world.refused(s, [
          {
            events: [{ type: "DELIVER", callerId: OTHER_GW, issuerKeyVersion: 1, now: world.t }],
            run: () => world.fetch(otherGw),
            expect: { status: 403, code: "ERR_OTK_NOT_ADDRESSEE" },
          },
          {
            events: [{ type: "DELIVER", callerId: GW, issuerKeyVersion: 1, now: world.t }],
            run: () => world.fetch(world.gw),
            expect: { status: 403, code: "ERR_OTK_NOT_ADDRESSEE" },
          },
          {
            // Another user cannot rotate the issuer: its key, and so the OTK, stay as they are.
            events: [{ type: "ISSUER_KEY_CHANGED", issuerKeyVersion: 1 }],
            run: () =>
              settle(
                world.server.agent().enroll({ ...BOB, entityId: GW, type: "PNGW" }),
              ) as Promise<Outcome<unknown>>,
            expect: { status: 403, code: "ERR_NOT_OWNER" },
          },
          {
            events: lookWhileNothingChanged(world.t),
            run: () => world.inbox(),
            expect: "unchanged",
          },
        ]);
        expect((await inboxIds()).includes(otkId)).toBe(true);
      },
      delivered: async (s) => {
        expect(await inboxIds()).not.toContain(otkId);
        await record("delivered", false);
        expect(world.logged()).toEqual(["otk.deposited", "otk.delivered"]);
        // Delivered once: a second fetch finds nothing (DELIVER is not handled here).
        expect(failure(await world.fetch())).toMatchObject(gone);
        if (!firstVisit(s)) return;
        const otherGw = await world.extra("otherGw");
        await world.refused(s, [
          {
            events: [{ type: "CONSUME", callerId: OTHER_GW, callerKeyVersion: 1, now: world.t }],
            run: () => world.consume(otherGw),
            expect: { status: 403, code: "ERR_OTK_NOT_ISSUER" },
          },
          {
            // The addressee is a PNE: it may not consume (only the issuing PN GW asks).
            events: [{ type: "CONSUME", callerId: PEER, callerKeyVersion: 1, now: world.t }],
            run: () => world.consume(world.peer),
            expect: { status: 403, code: "ERR_FORBIDDEN" },
          },
          {
            events: lookWhileNothingChanged(world.t),
            run: () => world.inbox(),
            expect: "unchanged",
          },
        ]);
        await record("delivered", false);
      },
      consumed: async () => {
        await over("consumed", "consumed");
        expect(world.logged()).toEqual(["otk.deposited", "otk.delivered", "otk.consumed"]);
      },
      expired: () => over("expired", "expired"),
      revoked: () => over("revoked", "revoked"),
    },
    events: {
      DEPOSIT: async ({ event }) => {
        const e = event as Extract<OtkEvent, { type: "DEPOSIT" }>;
        world.at(e.now);
        const outcome = await world.depositAs(world.gw, PEER);
        expect(outcome).toMatchObject({
          ok: true,
          value: { otkId, peerId: PEER, peerType: "PNE", expiresAt: BASE + EXPIRES_AT },
        });
      },
      DELIVER: async ({ event }) => {
        const e = event as Extract<OtkEvent, { type: "DELIVER" }>;
        world.at(e.now);
        const outcome = await world.fetch();
        expect(outcome.ok, JSON.stringify(failure(outcome))).toBe(true);
        const { view, otk } = (outcome as { value: { view: unknown; otk: Uint8Array } }).value;
        // The very OTK the PN GW made, now opened with the addressee's own EUKey.
        expect(Buffer.from(otk).equals(Buffer.from(world.prepared.otk))).toBe(true);
        expect(view).toMatchObject({ otkId, issuerId: GW, peerId: PEER, state: "delivered" });
      },
      CONSUME: async ({ event }) => {
        const e = event as Extract<OtkEvent, { type: "CONSUME" }>;
        world.at(e.now);
        const outcome = await world.consume();
        expect(outcome).toMatchObject({ ok: true, value: { otkId, state: "consumed" } });
      },
      EXPIRE: async ({ event }) => {
        const e = event as Extract<OtkEvent, { type: "EXPIRE" }>;
        world.at(e.now);
        expect(await inboxIds()).not.toContain(otkId);
      },
      ISSUER_KEY_CHANGED: async ({ event }) => {
        const e = event as Extract<OtkEvent, { type: "ISSUER_KEY_CHANGED" }>;
        if (e.issuerKeyVersion === null) {
          expect((await world.revoke(GW)).status).toBe(200);
          world.issuerActive = false;
        } else {
          const rotated = await world.gw.agent.enroll({ ...ALICE, entityId: GW, type: "PNGW" });
          expect(rotated.keyVersion).toBe(e.issuerKeyVersion);
        }
        expect(await inboxIds()).not.toContain(otkId);
      },
      PEER_REVOKED: async () => {
        expect((await world.revoke(PEER)).status).toBe(200);
        world.peerActive = false;
        // The PN GW asks to consume: the server looks, and the OTK opens no session.
        expect(failure(await world.consume())).toMatchObject(gone);
      },
    },
  });
}

describe("[OTK-DEPOSIT][OTK-DELIVERY][OTK-PAIRING][OTK-CUT-THROUGH][OTK-FORMAT][SEED-5.x.2-4][SEED-5.x.2-5][SPEC-MODEL-TESTS] OTK machine, model-based against the real server", () => {
  it("generates paths over every payload", () => {
    expect(shortest.length).toBeGreaterThan(0);
    expect(simple.length).toBeGreaterThanOrEqual(shortest.length);
    const visited = new Set(
      [...shortest, ...simple].flatMap((p) => [...p.steps.map((s) => s.state), p.state]),
    );
    expect([...new Set([...visited].map((s) => String(s.value)))].sort()).toEqual([
      "consumed",
      "created",
      "delivered",
      "deposited",
      "expired",
      "revoked",
    ]);
  });

  describe.concurrent("shortest paths", () => {
    for (const path of shortest) it(pathTitle(path), () => runOtkPath(path), PATH_TIMEOUT_MS);
  });

  describe.concurrent("simple paths", () => {
    for (const path of simple) it(pathTitle(path), () => runOtkPath(path), PATH_TIMEOUT_MS);
  });

  itCoversTheMachine(coverage, BOUND, { shortest, simple });
});
