/**
 * The gatewaySession machine (machines/gateway-session.ts; seed 5.x.2, second bullet: the PN GW
 * creates the OTK, shares it through the CPNS Server, and authenticates the peer with it),
 * model-based against a real PnGateway on loopback in front of the real CPNS Server (issue #5).
 * xstate's createTestModel generates the shortest and the simple paths over every listed payload:
 * DEPOSITED for a PNE or a PN GW peer, PEER_PROVED_OTK by the addressee or another entity before,
 * at and after the offer's expiry, MESSAGE, RELAY and EXPIRE before, at and after the session's
 * expiry. The machine holds no counter; accepted MESSAGE and RELAY are marked so that paths take
 * them (else a self-loop is never a step). One test per path, each with a PN GW, a peer and a
 * gateway clock of its own, on one shared server whose clock stays at the deposit.
 *
 * Model time is in seconds: the PN GW deposits at 880 an OTK that expires at 1000 (its lifetime
 * is 120 s); a session opened at 900 lasts 300 s, to 1200. The gateway's clock shows BASE + t.
 * The peer's clock stays at 900, so that only the PN GW decides what has expired. The PN GW's
 * transport to the server (Wire) holds a request in flight, which is what `created` (the deposit)
 * and `consuming` (the consumption) are; the next event decides how it ends:
 *
 *   (start)          PnGateway.offer(peer), its deposit held
 *   DEPOSITED        ... released to the server: the OTK waits in the peer's inbox
 *   DEPOSIT_REFUSED  ... the owner revokes the peer first: the server refuses the deposit
 *   PEER_PROVED_OTK  the peer fetches the OTK and opens a PeerSession; the PN GW's consume is held
 *   SERVER_CONSUMED  ... released to the server: the session opens on both sides
 *   SERVER_REFUSED   ... the owner rotates the PN GW's EUKey from another device first (cut
 *                    through): the PN GW can no longer ask, and the peer is refused (403)
 *   MESSAGE          PeerSession.send: the PN GW echoes it
 *   RELAY            the PNE's own whoami to the server through the PN GW (its Digest end to end)
 *   EXPIRE           the gateway's clock moves to `now`, then the peer comes too late: with the
 *                    OTK (offered) or with a message (open); the PN GW answers 410
 *   CLOSE            PeerSession.close
 *
 * Each state is checked from outside on every visit: PnGateway.states(), the peer's inbox at the
 * server, and whether the OTK or the session still opens anything at the PN GW. Refusals the
 * model makes are shown on the real gateway where the gateway asks the machine: a PN GW peer's
 * relay (RELAY refused, and EXPIRE refused: the session is live), a proof that comes too late
 * (PEER_PROVED_OTK refused, then EXPIRE), a message after expiry (MESSAGE refused, then EXPIRE).
 * The gateway never asks EXPIRE of a live offer (it asks only after refusing a proof, which for an
 * offer happens only once it has expired), so `offered --EXPIRE [!offerExpired]` has no real
 * counterpart: the coverage check reports it.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SnapshotFrom } from "xstate";
import { createTestModel } from "xstate/graph";
import type { EntityType } from "../../machines/entity.ts";
import { type GatewaySessionEvent, gatewaySessionMachine } from "../../machines/gateway-session.ts";
import type { ReceivedOtk } from "../../src/agent/otk-client.ts";
import { PeerSession } from "../../src/agent/peer.ts";
import { toBase64url } from "../../src/crypto/bytes.ts";
import { createDigestFetch } from "../../src/digest/index.ts";
import type { GatewaySessionState } from "../../src/gateway/sessions.ts";
import {
  type Device,
  enrollDevice,
  type RunningGateway,
  relayedAgent,
  startGateway,
} from "../e2e/peer-helpers.ts";
import { startTestServer, T0, type TestServer } from "../e2e/server-helpers.ts";
import {
  coverageOutPath,
  failure,
  formatCoverage,
  ModelCoverage,
  type Outcome,
  PATH_TIMEOUT_MS,
  pathTitle,
  runPath,
  settle,
  Wire,
  writeCoverage,
} from "./model-helpers.ts";

type Snapshot = SnapshotFrom<typeof gatewaySessionMachine>;

const ALICE = { userId: "alice", password: "alice-gateway-model-1" };
const DEPOSIT_AT = 880;
const OFFER_EXPIRES = 1000;
const OPEN_AT = 900;
const SESSION_LIFETIME = 300;
const SESSION_EXPIRES = OPEN_AT + SESSION_LIFETIME;
const TRAFFIC_AT = 1100;
/** Model time 880 is the server clock (which stays there) and each gateway clock's start. */
const BASE = Math.floor(T0 / 1000) - DEPOSIT_AT;
const BOUND = "none needed: no counter; payloads: 2 peers, 2 peer types, 3 times per state";
/** The model's names; the real ones are per path. */
const MODEL_PEER = "model-peer";
const STRANGER = "model-stranger";

const model = createTestModel(gatewaySessionMachine, {
  input: {
    gatewayId: "model-gw",
    peerId: MODEL_PEER,
    otkId: "model-otk",
    offerExpiresAt: OFFER_EXPIRES,
  },
  // Every payload, so that no guarded branch is skipped; times around the expiry that matters.
  events: (snapshot): GatewaySessionEvent[] => {
    const times =
      snapshot.value === "open"
        ? [TRAFFIC_AT, SESSION_EXPIRES, SESSION_EXPIRES + 100]
        : [OPEN_AT, OFFER_EXPIRES, OFFER_EXPIRES + 100];
    return [
      { type: "DEPOSITED", peerType: "PNE" },
      { type: "DEPOSITED", peerType: "PNGW" },
      { type: "DEPOSIT_REFUSED" },
      ...[MODEL_PEER, STRANGER].flatMap((peerId) =>
        [OPEN_AT, OFFER_EXPIRES, OFFER_EXPIRES + 100].map((now) => ({
          type: "PEER_PROVED_OTK" as const,
          peerId,
          now,
        })),
      ),
      { type: "SERVER_CONSUMED", sessionId: "model-session", sessionExpiresAt: SESSION_EXPIRES },
      { type: "SERVER_REFUSED" },
      ...times.flatMap((now) => [
        { type: "MESSAGE" as const, now },
        { type: "RELAY" as const, now },
        { type: "EXPIRE" as const, now },
      ]),
      { type: "CLOSE" },
    ];
  },
  filterEvents: (snapshot, event) => snapshot.can(event),
  // An accepted MESSAGE or RELAY changes neither state nor context: mark it, or no path takes it.
  serializeTransition: (snapshot, event, previous) => {
    if (!event || !previous) return "";
    const moved = JSON.stringify(previous.value) !== JSON.stringify(snapshot.value);
    return moved || event.type === "MESSAGE" || event.type === "RELAY"
      ? ` via ${JSON.stringify(event)}`
      : "";
  },
});
const shortest = model.getShortestPaths();
const simple = model.getSimplePaths();
const coverage = new ModelCoverage(gatewaySessionMachine);

let server: TestServer;
let serial = 0;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: { maxFailures: 1_000_000, windowSeconds: 1 } });
  await server.createUser(ALICE.userId, ALICE.password);
});
afterAll(() => server?.close());

/** Model states (value and peer type) whose refusals were already tried in this run. */
const probed = new Set<string>();
function firstVisit(s: Snapshot): boolean {
  const key = JSON.stringify([s.value, s.context.peerType]);
  if (probed.has(key)) return false;
  probed.add(key);
  return true;
}

/** The real system for one path: the PN GW (its transport gated), its peer, the clocks. */
class GatewayWorld {
  /** The request in flight through the wire: the deposit, then the peer's opening. */
  pending: Promise<Outcome<unknown>> | undefined;
  received: ReceivedOtk | undefined;
  /** A copy of the OTK the peer received (PeerSession.open zeroes the one it is given). */
  otkCopy: Uint8Array | undefined;
  session: PeerSession | undefined;
  /** The model state last checked: the source of the next event. */
  source: Snapshot | undefined;

  private constructor(
    /** The PN GW's clock (ms); the server's stays at the deposit. */
    readonly clock: { now: number },
    readonly wire: Wire,
    readonly gw: Device,
    readonly peer: Device,
    readonly running: RunningGateway,
  ) {}

  static async start(peerType: EntityType): Promise<GatewayWorld> {
    const n = ++serial;
    const clock = { now: T0 };
    const wire = new Wire(server.url);
    const [gw, peer] = await Promise.all([
      enrollDevice(server, ALICE, `gws-gw-${n}`, "PNGW", wire.fetch),
      enrollDevice(server, ALICE, `gws-peer-${n}`, peerType),
    ]);
    const running = await startGateway(server, gw, {
      now: () => clock.now,
      otkLifetimeSeconds: OFFER_EXPIRES - DEPOSIT_AT,
      sessionLifetimeSeconds: SESSION_LIFETIME,
    });
    return new GatewayWorld(clock, wire, gw, peer, running);
  }

  get peerId(): string {
    return this.peer.entityId;
  }

  /** The gateway's clock at model time `t` (only forward: Digest nonces). */
  at(t: number): void {
    const ms = (BASE + t) * 1000;
    if (ms < this.clock.now) throw new Error(`the gateway clock would go back to ${t}`);
    this.clock.now = ms;
  }

  /** The only entry this gateway has: one offer to one peer. */
  entry(): GatewaySessionState {
    const states = this.running.gateway.states();
    expect(states).toHaveLength(1);
    return states[0] as GatewaySessionState;
  }

  /** Starts `call` with the PN GW's transport held, and waits until its request is on the wire. */
  async hold(call: () => Promise<unknown>): Promise<void> {
    this.wire.hold();
    const pending = settle(call());
    this.pending = pending;
    const early = pending.then((outcome) => {
      throw new Error(`settled before any request: ${JSON.stringify(failure(outcome) ?? outcome)}`);
    });
    await Promise.race([this.wire.reached(), early]);
  }

  /** Lets the held request go on to the server and waits for its caller's answer. */
  async release(): Promise<Outcome<unknown>> {
    const pending = this.pending;
    if (!pending) throw new Error("nothing in flight");
    this.pending = undefined;
    this.wire.release(server.url);
    return pending;
  }

  /** The peer fetches the OTK from the server (once), keeping a copy for later probes. */
  async fetchOtk(): Promise<ReceivedOtk> {
    if (!this.received) {
      const waiting = await this.peer.otks.inbox(this.peerId);
      expect(waiting.map((o) => o.issuerId)).toEqual([this.gw.entityId]);
      const received = await this.peer.otks.fetch(
        this.peerId,
        (waiting[0] as { otkId: string }).otkId,
      );
      this.received = received;
      this.otkCopy = new Uint8Array(received.otk);
    }
    return this.received;
  }

  /** PeerSession.open as the peer, whose clock stays at the opening (900). */
  open(received: ReceivedOtk): Promise<PeerSession> {
    return PeerSession.open({
      entityId: this.peerId,
      received,
      gatewayUrl: this.running.url,
      now: () => (BASE + OPEN_AT) * 1000,
    });
  }

  /** Another opening with the same OTK (from the copy): the PN GW must not take it again. */
  async reuseOtk(): Promise<Outcome<PeerSession>> {
    if (!this.received || !this.otkCopy) throw new Error("no OTK was fetched");
    return settle(this.open({ view: this.received.view, otk: new Uint8Array(this.otkCopy) }));
  }

  /** A Digest attempt at the PN GW as `username` with a secret nobody was given. */
  async guess(username: string): Promise<number> {
    const res = await createDigestFetch({
      username,
      password: toBase64url(new Uint8Array(randomBytes(32))),
      userhash: false,
    })(`${this.running.url}/cpns-gw/v1/sessions`, { method: "POST" });
    await res.arrayBuffer();
    return res.status;
  }

  /** A path may end with a request in flight: let it go so that nothing hangs. */
  async drain(): Promise<void> {
    if (this.pending) await this.release();
    await this.running.close();
  }
}

/** The state checks, each also recording its state as the source of the next event. */
function tracked(
  world: GatewayWorld,
  checks: Record<string, (s: Snapshot) => Promise<void>>,
): Record<string, (s: Snapshot) => Promise<void>> {
  return Object.fromEntries(
    Object.entries(checks).map(([key, check]) => [
      key,
      async (s: Snapshot) => {
        await check(s);
        world.source = s;
      },
    ]),
  );
}

/** The peer type the path's DEPOSITED names (PNE for paths that end before it). */
function peerTypeOf(path: (typeof shortest)[number]): EntityType {
  for (const { event } of path.steps) {
    if (event.type === "DEPOSITED") return event.peerType;
  }
  return "PNE";
}

async function runGatewayPath(path: (typeof shortest)[number]): Promise<void> {
  const world = await GatewayWorld.start(peerTypeOf(path));
  const { peerId } = world;
  try {
    await world.hold(() => world.running.gateway.offer(peerId));
    await runPath(path, coverage, {
      states: tracked(world, {
        created: async () => {
          expect(world.entry()).toMatchObject({ state: "created", peerId, peerType: null });
          expect(world.wire.isHeld).toBe(true);
          // Nothing at the server yet, and nothing the PN GW would take.
          expect(await world.peer.otks.inbox(peerId)).toEqual([]);
          expect(await world.guess(peerId)).toBe(401);
        },
        offered: async (s) => {
          expect(world.entry()).toMatchObject({
            state: "offered",
            peerId,
            peerType: s.context.peerType,
            sessionId: null,
          });
          if (!world.received) {
            const waiting = await world.peer.otks.inbox(peerId);
            expect(waiting).toMatchObject([
              {
                issuerId: world.gw.entityId,
                peerId,
                state: "deposited",
                expiresAt: BASE + OFFER_EXPIRES,
                endpoint: world.running.url,
              },
            ]);
          }
          // Only the OTK opens a session: a guess does not, and changes nothing.
          expect(await world.guess(peerId)).toBe(401);
          expect(world.entry().state).toBe("offered");
        },
        consuming: async () => {
          expect(world.entry()).toMatchObject({ state: "consuming", sessionId: null });
          expect(world.wire.isHeld).toBe(true);
          // The OTK is being used: the same OTK opens nothing else meanwhile.
          expect(failure(await world.reuseOtk())?.status).toBe(401);
          expect(world.entry().state).toBe("consuming");
        },
        open: async (s) => {
          const session = world.session as PeerSession;
          expect(world.entry()).toMatchObject({
            state: "open",
            peerType: s.context.peerType,
            sessionId: session.sessionId,
            sessionExpiresAt: BASE + SESSION_EXPIRES,
          });
          expect(session.state).toBe("open");
          expect(failure(await world.reuseOtk())?.status).toBe(401);
          if (s.context.peerType !== "PNGW" || !firstVisit(s)) return;
          // A PN GW has a route of its own: the relay refuses it, and the live session stays.
          const t = Math.round(world.clock.now / 1000) - BASE;
          const relayed = await settle(
            Promise.resolve(session.relayTransport()(new Request(`${server.url}/cpns/v1/whoami`))),
          );
          // The PN GW's own 403, whether the peer hands it back as an answer or as an error.
          const refusal = relayed.ok
            ? {
                status: relayed.value.status,
                code: ((await relayed.value.json()) as { code?: string }).code,
              }
            : failure(relayed);
          expect(refusal).toMatchObject({ status: 403, code: "ERR_FORBIDDEN" });
          const refusals: GatewaySessionEvent[] = [
            { type: "RELAY", now: t },
            { type: "EXPIRE", now: t },
          ];
          for (const event of refusals) {
            expect(s.can(event), JSON.stringify(event)).toBe(false);
            coverage.step(s, event);
          }
          expect(world.entry().state).toBe("open");
          expect((await session.send("still here")).echo).toBe("still here");
        },
        refused: async (s) => {
          expect(s.status).toBe("done");
          expect(world.entry()).toMatchObject({ state: "refused", sessionId: null });
          if (world.otkCopy) expect(failure(await world.reuseOtk())?.status).toBe(401);
          else expect(await world.guess(peerId)).toBe(401);
        },
        expired: async (s) => {
          expect(s.status).toBe("done");
          expect(world.entry().state).toBe("expired");
          const session = world.session;
          if (session?.state === "open") {
            // The peer's clock says the session lives; the PN GW no longer knows it.
            expect(failure(await settle(session.send("too late")))?.status).toBe(401);
          } else if (session) {
            // The peer took the PN GW's 410 as the end of the session.
            expect(session.state).not.toBe("open");
          } else {
            expect(failure(await world.reuseOtk())?.status).toBe(401);
          }
        },
        closed: async (s) => {
          expect(s.status).toBe("done");
          expect(world.entry().state).toBe("closed");
          expect(world.session?.state).toBe("closed");
          expect(failure(await world.reuseOtk())?.status).toBe(401);
        },
      }),
      events: {
        DEPOSITED: async ({ event }) => {
          const e = event as Extract<GatewaySessionEvent, { type: "DEPOSITED" }>;
          const outcome = await world.release();
          expect(outcome).toMatchObject({ ok: true, value: { peerId, peerType: e.peerType } });
        },
        DEPOSIT_REFUSED: async () => {
          const revoked = await server.asUser(ALICE.userId, ALICE.password)(
            `/cpns/v1/entities/${peerId}`,
            { method: "DELETE" },
          );
          expect(revoked.status).toBe(200);
          await revoked.arrayBuffer();
          const outcome = await world.release();
          expect(failure(outcome)).toMatchObject({ status: 409, code: "ERR_ENTITY_STATE" });
        },
        PEER_PROVED_OTK: async ({ event }) => {
          const e = event as Extract<GatewaySessionEvent, { type: "PEER_PROVED_OTK" }>;
          world.at(e.now);
          const received = await world.fetchOtk();
          await world.hold(() => world.open(received));
        },
        SERVER_CONSUMED: async () => {
          const outcome = await world.release();
          expect(outcome.ok, JSON.stringify(failure(outcome))).toBe(true);
          const session = (outcome as { value: PeerSession }).value;
          expect(session.state).toBe("open");
          expect(session.expiresAt).toBe(BASE + SESSION_EXPIRES);
          world.session = session;
        },
        SERVER_REFUSED: async () => {
          const rotated = await server.agent().enroll({
            ...ALICE,
            entityId: world.gw.entityId,
            type: "PNGW",
          });
          expect(rotated.keyVersion).toBe(2);
          const outcome = await world.release();
          expect(failure(outcome)).toMatchObject({ status: 403, code: "ERR_PEER_SESSION_REFUSED" });
        },
        MESSAGE: async ({ event }) => {
          const e = event as Extract<GatewaySessionEvent, { type: "MESSAGE" }>;
          world.at(e.now);
          const session = world.session as PeerSession;
          expect(await session.send(`at ${e.now}`)).toEqual({
            sessionId: session.sessionId,
            from: peerId,
            echo: `at ${e.now}`,
          });
        },
        RELAY: async ({ event }) => {
          const e = event as Extract<GatewaySessionEvent, { type: "RELAY" }>;
          world.at(e.now);
          const viaGateway = relayedAgent(server, world.peer, world.session as PeerSession);
          expect(await viaGateway.whoami(peerId)).toMatchObject({ entityId: peerId, type: "PNE" });
        },
        EXPIRE: async ({ event }) => {
          const e = event as Extract<GatewaySessionEvent, { type: "EXPIRE" }>;
          const state = world.source as Snapshot;
          world.at(e.now);
          if (state.matches("offered")) {
            // The peer, whose clock says the OTK lives, proves it too late.
            const late = await settle(world.open(await world.fetchOtk()));
            expect(failure(late)).toMatchObject({ status: 410, code: "ERR_OTK_GONE" });
            coverage.step(state, { type: "PEER_PROVED_OTK", peerId: MODEL_PEER, now: e.now });
          } else {
            const late = await settle((world.session as PeerSession).send("late"));
            expect(failure(late)).toMatchObject({ status: 410, code: "ERR_PEER_SESSION_GONE" });
            coverage.step(state, { type: "MESSAGE", now: e.now });
          }
        },
        CLOSE: async () => {
          await (world.session as PeerSession).close();
          expect(world.session?.state).toBe("closed");
        },
      },
    });
  } finally {
    await world.drain();
  }
}

describe("[PEER-SESSION][PEER-DIGEST][GATEWAY-RELAY][OTK-CUT-THROUGH][SEED-5.x.2-4][SEED-5.x.2-6][SEED-5.x.2-7][SPEC-MODEL-TESTS] gatewaySession machine, model-based: a real PN GW, its peer and the server", () => {
  it("generates paths over every payload, for PNE and PN GW peers", () => {
    expect(shortest.length).toBeGreaterThan(0);
    expect(simple.length).toBeGreaterThan(shortest.length);
    expect(new Set([...shortest, ...simple].map(peerTypeOf))).toEqual(new Set(["PNE", "PNGW"]));
  });

  describe.concurrent("shortest paths", () => {
    for (const path of shortest) it(pathTitle(path), () => runGatewayPath(path), PATH_TIMEOUT_MS);
  });

  describe.concurrent("simple paths", () => {
    for (const path of simple) it(pathTitle(path), () => runGatewayPath(path), PATH_TIMEOUT_MS);
  });

  it("the executed paths cover every state and transition of the machine", async () => {
    const summary = coverage.summary(BOUND, { shortest: shortest.length, simple: simple.length });
    console.log(formatCoverage(summary));
    const out = coverageOutPath();
    if (out) await writeCoverage(summary, out);
    expect(
      [...summary.states.missing, ...summary.transitions.missing],
      formatCoverage(summary),
    ).toEqual([]);
  });
});
