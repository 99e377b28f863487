/**
 * The gatewaySession machine (machines/gateway-session.ts; seed 5.x.2, second bullet: the PN GW
 * creates the OTK, shares it through the CPNS Server, and authenticates the peer with it),
 * model-based against a real PnGateway on loopback in front of the real CPNS Server (issue #5).
 * xstate's createTestModel generates the shortest and the simple paths over every listed payload:
 * DEPOSITED for a PNE or a PN GW peer, EXPIRE before, at and after the offer's or the session's
 * expiry, and the unguarded rest. The machine holds no counter; accepted MESSAGE and RELAY are
 * marked so that paths take them (else a self-loop is never a step). One test per path, each with
 * a PN GW, a peer and a gateway clock of its own, on one shared server whose clock stays at the
 * deposit.
 *
 * Time is one transition of its own (EXPIRE): the traffic events carry no clock, and the PN GW
 * offers EXPIRE with its clock before every proof, message and relay. Model time is in seconds:
 * the PN GW deposits at 880 an OTK that expires at 1000 (its lifetime is 120 s); the peer proves
 * it at 900, in time, and the session it opens lasts 300 s, to 1200; messages and relays come at
 * 1100, in time. The gateway's clock shows BASE + t. The peer's clock stays at 900, so that only
 * the PN GW decides what has expired. The PN GW's transport to the server (Wire) holds a request
 * in flight, which is what `created` (the deposit) and `consuming` (the consumption) are; the next
 * event decides how it ends:
 *
 *   (start)          PnGateway.offer(peer), its deposit held
 *   DEPOSITED        ... released to the server: the OTK waits in the peer's inbox
 *   DEPOSIT_REFUSED  ... the owner revokes the peer first: the server refuses the deposit
 *   PEER_PROVED_OTK  at 900 the peer fetches the OTK and opens a PeerSession; the PN GW's consume
 *                    is held
 *   SERVER_CONSUMED  ... released to the server: the session opens on both sides
 *   SERVER_REFUSED   ... the owner rotates the PN GW's EUKey from another device first (cut
 *                    through): the PN GW can no longer ask, and the peer is refused (403)
 *   MESSAGE          at 1100, PeerSession.send: the PN GW echoes it
 *   RELAY            at 1100, the PNE's own whoami to the server through the PN GW (its Digest
 *                    end to end)
 *   EXPIRE           the gateway's clock moves to `now`, then the peer comes too late: with the
 *                    OTK (offered) or with a message (open); the PN GW answers 410
 *   WITHDRAW         PnGateway.offer(the same peer) again: the newer offer withdraws the older
 *   CLOSE            PeerSession.close
 *
 * PEER_PROVED_OTK names the peer whose Digest username found the offer (the PN GW looks offers up
 * by the peer's name), so the model names only the addressee: a Digest under another name finds
 * no offer (401) and the machine is not asked, which the `offered` check shows.
 *
 * Each state is checked from outside on every visit: PnGateway.states(), the peer's inbox at the
 * server, and whether the OTK or the session still opens anything at the PN GW.
 *
 * What the real PN GW asks its machine for this path's peer is watched (peer-model-helpers.ts):
 * every event and state check expects exactly the transitions it asked, in order, and a refusal
 * counts in the coverage only there. The PN GW settles expiry first: each proof in time asks
 * EXPIRE of the offer (refused), then the proof; each message and relay in time asks EXPIRE of
 * the session (refused), then the traffic; a PN GW peer's relay is refused after that (RELAY,
 * 403), and the live session stays. So every refusing branch of the machine has a real
 * counterpart, and the coverage check requires them all.
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
  failure,
  itCoversTheMachine,
  ModelCoverage,
  type Outcome,
  PATH_TIMEOUT_MS,
  pathTitle,
  runPath,
  settle,
  Wire,
} from "./model-helpers.ts";
import { firstTime, MachineWatch, relayGet, tracked } from "./peer-model-helpers.ts";

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
const BOUND = "none needed: no counter; payloads: 2 peer types, 3 times per state";
/** The model's name for the peer; the real ones are per path. */
const MODEL_PEER = "model-peer";

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
      { type: "PEER_PROVED_OTK", peerId: MODEL_PEER },
      { type: "SERVER_CONSUMED", sessionId: "model-session", sessionExpiresAt: SESSION_EXPIRES },
      { type: "SERVER_REFUSED" },
      { type: "MESSAGE" },
      { type: "RELAY" },
      ...times.map((now) => ({ type: "EXPIRE" as const, now })),
      { type: "WITHDRAW" },
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

/** The transitions the PN GW asks, as the coverage names them (refusals: target `(refused)`). */
const ASKED = {
  deposited: "created --DEPOSITED--> offered",
  depositRefused: "created --DEPOSIT_REFUSED--> refused",
  stillOffered: "offered --EXPIRE [!offerExpired]--> (refused)",
  offerExpired: "offered --EXPIRE [offerExpired]--> expired",
  proved: "offered --PEER_PROVED_OTK--> consuming",
  withdrawn: "offered --WITHDRAW--> withdrawn",
  consumed: "consuming --SERVER_CONSUMED--> open",
  serverRefused: "consuming --SERVER_REFUSED--> refused",
  stillOpen: "open --EXPIRE [!sessionExpired]--> (refused)",
  sessionExpired: "open --EXPIRE [sessionExpired]--> expired",
  message: "open --MESSAGE--> open",
  relay: "open --RELAY [peerIsPne]--> open",
  noRelay: "open --RELAY [!peerIsPne]--> (refused)",
  closed: "open --CLOSE--> closed",
} as const;

/** What the real PN GWs ask their machine, per real peer (the model's snapshots name MODEL_PEER). */
const watch = new MachineWatch(gatewaySessionMachine, coverage, (s) => s.context.peerId);

let server: TestServer;
let serial = 0;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: { maxFailures: 1_000_000, windowSeconds: 1 } });
  await server.createUser(ALICE.userId, ALICE.password);
});
afterAll(async () => {
  watch.restore();
  await server?.close();
});

/** Model states (value and peer type) whose probes were already tried in this run. */
const firstVisit = firstTime();

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
  /** Offers this PN GW made to the peer: the path's own, and the newer one of WITHDRAW. */
  offers = 1;

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
    watch.watch(peer.entityId);
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

  /** The path's own entry: this gateway's first offer to the peer (the only one until WITHDRAW). */
  entry(): GatewaySessionState {
    const states = this.running.gateway.states();
    expect(states).toHaveLength(this.offers);
    return states[0] as GatewaySessionState;
  }

  /** The transitions the PN GW asked of this peer's entries since the last call, in order. */
  asked(): string[] {
    return watch.take(this.peerId);
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
    watch.unwatch(this.peerId);
  }
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
          // Only the OTK opens a session: a guess does not, under the peer's name or another
          // (which finds no offer at all), and the machine is not even asked.
          expect(await world.guess(peerId)).toBe(401);
          expect(await world.guess(`${peerId}-stranger`)).toBe(401);
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
          if (s.context.peerType !== "PNGW" || !firstVisit(JSON.stringify(s.value))) return;
          // A PN GW has a route of its own: the relay refuses it, and the live session stays.
          const t = Math.round(world.clock.now / 1000) - BASE;
          const relayed = await relayGet(session.relayTransport(), server.url, "/cpns/v1/whoami");
          // The PN GW's own 403, whether the peer hands it back as an answer or as an error.
          const refusal = relayed.ok
            ? {
                status: relayed.value.status,
                code: ((await relayed.value.json()) as { code?: string }).code,
              }
            : failure(relayed);
          expect(refusal).toMatchObject({ status: 403, code: "ERR_FORBIDDEN" });
          // The PN GW asked whether the session expired (no), then the relay (no), as the model.
          expect(s.can({ type: "EXPIRE", now: t })).toBe(false);
          expect(s.can({ type: "RELAY" })).toBe(false);
          expect(world.asked()).toEqual([ASKED.stillOpen, ASKED.noRelay]);
          expect(world.entry().state).toBe("open");
          expect((await session.send("still here")).echo).toBe("still here");
          expect(world.asked()).toEqual([ASKED.stillOpen, ASKED.message]);
        },
        refused: async (s) => {
          expect(s.status).toBe("done");
          expect(world.entry()).toMatchObject({ state: "refused", sessionId: null });
          if (world.otkCopy) expect(failure(await world.reuseOtk())?.status).toBe(401);
          else expect(await world.guess(peerId)).toBe(401);
        },
        expired: async (s) => {
          expect(s.status).toBe("done");
          expect(world.entry()).toMatchObject({ state: "expired" });
          // The peer took the PN GW's 410 as the end of the session (src/agent/peer.ts).
          if (world.session) expect(world.session.state).toBe("closed");
          expect(failure(await world.reuseOtk())?.status).toBe(401);
        },
        closed: async (s) => {
          expect(s.status).toBe("done");
          expect(world.entry().state).toBe("closed");
          expect(world.session?.state).toBe("closed");
          expect(failure(await world.reuseOtk())?.status).toBe(401);
        },
        withdrawn: async (s) => {
          expect(s.status).toBe("done");
          const [older, newer] = world.running.gateway.states();
          expect(world.entry()).toMatchObject({ state: "withdrawn", peerId, sessionId: null });
          expect(newer).toMatchObject({ state: "offered", peerId, sessionId: null });
          const olderId = (older as GatewaySessionState).otkId;
          const newerId = (newer as GatewaySessionState).otkId;
          // Both OTKs wait at the server (the older expires there unused) ...
          const waiting = await world.peer.otks.inbox(peerId);
          expect(waiting.map((o) => o.otkId).sort()).toEqual([olderId, newerId].sort());
          // ... but the older one opens nothing at the PN GW any more: its Digest fails.
          const stale = await world.peer.otks.fetch(peerId, olderId);
          expect(failure(await settle(world.open(stale)))?.status).toBe(401);
          expect(world.entry().state).toBe("withdrawn");
          // The newer one does: the peer's name belongs to it now.
          const fresh = await world.open(await world.peer.otks.fetch(peerId, newerId));
          expect(fresh.state).toBe("open");
          expect(world.asked()).toEqual([ASKED.stillOffered, ASKED.proved, ASKED.consumed]);
          expect(world.running.gateway.states()).toMatchObject([
            { state: "withdrawn", otkId: olderId, sessionId: null },
            { state: "open", otkId: newerId, sessionId: fresh.sessionId },
          ]);
        },
      }),
      events: {
        DEPOSITED: async ({ event }) => {
          const e = event as Extract<GatewaySessionEvent, { type: "DEPOSITED" }>;
          const outcome = await world.release();
          expect(outcome).toMatchObject({ ok: true, value: { peerId, peerType: e.peerType } });
          expect(world.asked()).toEqual([ASKED.deposited]);
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
          expect(world.asked()).toEqual([ASKED.depositRefused]);
        },
        PEER_PROVED_OTK: async () => {
          world.at(OPEN_AT);
          const received = await world.fetchOtk();
          await world.hold(() => world.open(received));
          // In time: the PN GW asked whether the offer expired (no), then took the proof.
          expect(world.asked()).toEqual([ASKED.stillOffered, ASKED.proved]);
        },
        SERVER_CONSUMED: async () => {
          const outcome = await world.release();
          expect(outcome.ok, JSON.stringify(failure(outcome))).toBe(true);
          const session = (outcome as { value: PeerSession }).value;
          expect(session.state).toBe("open");
          expect(session.expiresAt).toBe(BASE + SESSION_EXPIRES);
          world.session = session;
          expect(world.asked()).toEqual([ASKED.consumed]);
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
          expect(world.asked()).toEqual([ASKED.serverRefused]);
        },
        MESSAGE: async () => {
          world.at(TRAFFIC_AT);
          const session = world.session as PeerSession;
          expect(await session.send(`at ${TRAFFIC_AT}`)).toEqual({
            sessionId: session.sessionId,
            from: peerId,
            echo: `at ${TRAFFIC_AT}`,
          });
          // The PN GW asked whether the session expired (no), then took the message.
          expect(world.asked()).toEqual([ASKED.stillOpen, ASKED.message]);
        },
        RELAY: async () => {
          world.at(TRAFFIC_AT);
          const viaGateway = relayedAgent(server, world.peer, world.session as PeerSession);
          expect(await viaGateway.whoami(peerId)).toMatchObject({ entityId: peerId, type: "PNE" });
          // Each relayed request (the server's challenge, then the authenticated one): expiry
          // first (no), then the relay.
          expect(world.asked()).toEqual([
            ASKED.stillOpen,
            ASKED.relay,
            ASKED.stillOpen,
            ASKED.relay,
          ]);
        },
        EXPIRE: async ({ event }) => {
          const e = event as Extract<GatewaySessionEvent, { type: "EXPIRE" }>;
          const state = world.source as Snapshot;
          world.at(e.now);
          if (state.matches("offered")) {
            // The peer, whose clock says the OTK lives, proves it too late: the PN GW settles
            // expiry first and asks nothing else.
            const late = await settle(world.open(await world.fetchOtk()));
            expect(failure(late)).toMatchObject({ status: 410, code: "ERR_OTK_GONE" });
            expect(world.asked()).toEqual([ASKED.offerExpired]);
          } else {
            // Likewise a message past the session's expiry.
            const late = await settle((world.session as PeerSession).send("late"));
            expect(failure(late)).toMatchObject({ status: 410, code: "ERR_PEER_SESSION_GONE" });
            expect(world.asked()).toEqual([ASKED.sessionExpired]);
          }
        },
        WITHDRAW: async () => {
          // A newer offer to the same peer (the PN GW's transport is not held this time): its
          // deposit taken, it withdraws the older.
          const newer = await world.running.gateway.offer(peerId);
          world.offers++;
          expect(newer).toMatchObject({ peerId, expiresAt: expect.any(Number) });
          expect(newer.otkId).not.toBe(world.entry().otkId);
          expect(world.asked()).toEqual([ASKED.deposited, ASKED.withdrawn]);
        },
        CLOSE: async () => {
          await (world.session as PeerSession).close();
          expect(world.session?.state).toBe("closed");
          expect(world.asked()).toEqual([ASKED.closed]);
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
    // The transitions the tests expect by name are the model's, every one of them.
    expect(Object.values(ASKED).sort()).toEqual([...coverage.transitions].sort());
  });

  describe.concurrent("shortest paths", () => {
    for (const path of shortest) it(pathTitle(path), () => runGatewayPath(path), PATH_TIMEOUT_MS);
  });

  describe.concurrent("simple paths", () => {
    for (const path of simple) it(pathTitle(path), () => runGatewayPath(path), PATH_TIMEOUT_MS);
  });

  itCoversTheMachine(coverage, BOUND, { shortest, simple });
});
