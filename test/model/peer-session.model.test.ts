/**
 * The peerSession machine (machines/peer-session.ts; seed 5.x.2, second bullet: "The two
 * entities authenticate each other using the onetime security key as a shared secret ... Digest
 * authentication defined in RFC2617 is used"), model-based: a real PeerSession (a PNE) against a
 * real PnGateway on loopback, in front of the real CPNS Server, and an impostor that cannot
 * produce rspauth (issue #5). xstate's createTestModel generates the shortest and the simple
 * paths over every listed payload: EXPIRE before, at and after the OTK's expiry (holding,
 * opening) or the session's (open), and the unguarded rest. The machine holds no counter;
 * accepted MESSAGE and RELAY are marked so that paths take them. One test per path, each with a
 * PN GW, a peer and a clock of its own (the PN GW's and the peer's), on one shared server.
 *
 * Time is one transition of its own (EXPIRE): OPEN, MESSAGE and RELAY carry no clock, and the
 * peer offers EXPIRE with its clock before each of them. Model time is in seconds: the PN GW
 * deposits at 880 an OTK that expires at 1000; the peer has fetched it when the path starts
 * (`holding`) and opens at 900, in time; the session lasts 300 s, to 1200; messages and relays
 * come at 1100, in time. The clock shows BASE + t. The peer's transport (Wire) holds its request
 * to the PN GW in flight, which is what `opening` is; the next event decides how it ends:
 *
 *   OPEN              at 900, PeerSession.open with the fetched OTK (held)
 *   GATEWAY_PROVED    ... released to the PN GW: it proves the OTK with rspauth; the session opens
 *   GATEWAY_UNPROVEN  ... released to the impostor, which answers without rspauth
 *   REJECTED          ... the PN GW's owner rotates its EUKey first: the server revokes the OTK
 *                     when the PN GW asks to consume it (cut through), and the PN GW refuses (403)
 *   MESSAGE           at 1100, PeerSession.send: the PN GW echoes it
 *   RELAY             at 1100, the PNE's own whoami to the server through the PN GW (its Digest
 *                     end to end)
 *   EXPIRE            the clock moves to `now`, then the peer tries to use what has expired: the
 *                     OTK (holding), a message (at the session's expiry) or the relay (after it);
 *                     the peer refuses by itself and sends nothing
 *   CLOSE             PeerSession.close after the opening; after a message (a relay), the PN GW's
 *                     clock runs ahead to the session's expiry and its 410 on the next message
 *                     (relay) ends the peer's session
 *
 * Each state is checked from outside on every visit: the PeerSession, the OTK it was given (zeroed
 * once tried), PnGateway.states() and the requests the peer sent.
 *
 * What the real PeerSession asks its machine is watched (peer-model-helpers.ts): every event and
 * state check expects exactly the transitions it asked, in order, and a refusal counts in the
 * coverage only there. The peer settles expiry first: each opening in time asks EXPIRE of the OTK
 * (refused), then OPEN; each message and relay in time asks EXPIRE of the session (refused), then
 * the traffic. So every refusing branch of the machine has a real counterpart, and the coverage
 * check requires them all.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SnapshotFrom } from "xstate";
import { createTestModel } from "xstate/graph";
import { type PeerSessionEvent, peerSessionMachine } from "../../machines/peer-session.ts";
import type { ReceivedOtk } from "../../src/agent/otk-client.ts";
import { PeerSession } from "../../src/agent/peer.ts";
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
  type Served,
  settle,
  startImpostor,
  Wire,
} from "./model-helpers.ts";
import { firstTime, MachineWatch, relayGet, tracked } from "./peer-model-helpers.ts";

type Snapshot = SnapshotFrom<typeof peerSessionMachine>;

const ALICE = { userId: "alice", password: "alice-peer-model-1" };
const DEPOSIT_AT = 880;
const OTK_EXPIRES = 1000;
const OPEN_AT = 900;
const SESSION_LIFETIME = 300;
const SESSION_EXPIRES = OPEN_AT + SESSION_LIFETIME;
const TRAFFIC_AT = 1100;
/** Model time 880 is the server clock (which stays there) and each path clock's start. */
const BASE = Math.floor(T0 / 1000) - DEPOSIT_AT;
const BOUND = "none needed: no counter; payloads: 3 times per state";

const model = createTestModel(peerSessionMachine, {
  input: {
    entityId: "model-peer",
    gatewayId: "model-gw",
    otkId: "model-otk",
    otkExpiresAt: OTK_EXPIRES,
  },
  // Every payload, so that no guarded branch is skipped; times around the expiry that matters.
  events: (snapshot): PeerSessionEvent[] => {
    const times =
      snapshot.value === "open"
        ? [TRAFFIC_AT, SESSION_EXPIRES, SESSION_EXPIRES + 100]
        : [OPEN_AT, OTK_EXPIRES, OTK_EXPIRES + 100];
    return [
      { type: "OPEN" },
      { type: "MESSAGE" },
      { type: "RELAY" },
      ...times.map((now) => ({ type: "EXPIRE" as const, now })),
      { type: "GATEWAY_PROVED", sessionId: "model-session", sessionExpiresAt: SESSION_EXPIRES },
      { type: "GATEWAY_UNPROVEN" },
      { type: "REJECTED" },
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
const coverage = new ModelCoverage(peerSessionMachine);

/** The transitions the peer asks, as the coverage names them (refusals: target `(refused)`). */
const ASKED = {
  stillHolding: "holding --EXPIRE [!otkExpired]--> (refused)",
  otkExpired: "holding --EXPIRE [otkExpired]--> expired",
  open: "holding --OPEN--> opening",
  proved: "opening --GATEWAY_PROVED--> open",
  unproven: "opening --GATEWAY_UNPROVEN--> refused",
  rejected: "opening --REJECTED--> refused",
  stillOpen: "open --EXPIRE [!sessionExpired]--> (refused)",
  sessionExpired: "open --EXPIRE [sessionExpired]--> expired",
  message: "open --MESSAGE--> open",
  relay: "open --RELAY--> open",
  closed: "open --CLOSE--> closed",
} as const;

/** What the real PeerSessions ask their machine, per real peer (the model's is "model-peer"). */
const watch = new MachineWatch(peerSessionMachine, coverage, (s) => s.context.entityId);

let server: TestServer;
let impostor: Served;
let serial = 0;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: { maxFailures: 1_000_000, windowSeconds: 1 } });
  await server.createUser(ALICE.userId, ALICE.password);
  impostor = await startImpostor({ challenge: true });
});
afterAll(async () => {
  watch.restore();
  await impostor?.close();
  await server?.close();
});

/** Model states whose probes were already tried in this run. */
const firstVisit = firstTime();

const isZero = (bytes: Uint8Array) => bytes.every((b) => b === 0);

/** The real system for one path: the peer (its transport gated), its PN GW, their clock. */
class PeerWorld {
  /** PeerSession.open in flight. */
  pending: Promise<Outcome<PeerSession>> | undefined;
  session: PeerSession | undefined;
  /** The model state last checked: the source of the next event. */
  source: Snapshot | undefined;
  /** The PN GW ended the session (its 410), not the peer. */
  endedByGateway = false;

  private constructor(
    /**
     * The peer's clock (ms), and how far the PN GW's runs ahead of it (0 but when the PN GW ends
     * the session); the server's clock stays at the deposit.
     */
    readonly clock: { now: number; gatewayAhead: number },
    readonly wire: Wire,
    readonly gw: Device,
    readonly peer: Device,
    readonly running: RunningGateway,
    /** The OTK as the peer fetched it (PeerSession.open zeroes it), and a copy. */
    readonly received: ReceivedOtk,
    readonly otkCopy: Uint8Array,
  ) {}

  static async start(): Promise<PeerWorld> {
    const n = ++serial;
    const clock = { now: T0, gatewayAhead: 0 };
    const [gw, peer] = await Promise.all([
      enrollDevice(server, ALICE, `ps-gw-${n}`, "PNGW"),
      enrollDevice(server, ALICE, `ps-pne-${n}`, "PNE"),
    ]);
    watch.watch(peer.entityId);
    const running = await startGateway(server, gw, {
      now: () => clock.now + clock.gatewayAhead,
      otkLifetimeSeconds: OTK_EXPIRES - DEPOSIT_AT,
      sessionLifetimeSeconds: SESSION_LIFETIME,
    });
    const offer = await running.gateway.offer(peer.entityId);
    const received = await peer.otks.fetch(peer.entityId, offer.otkId);
    expect(received.view.expiresAt).toBe(BASE + OTK_EXPIRES);
    const wire = new Wire(running.url);
    return new PeerWorld(clock, wire, gw, peer, running, received, new Uint8Array(received.otk));
  }

  get peerId(): string {
    return this.peer.entityId;
  }

  /** The clock at model time `t` (only forward: Digest nonces). */
  at(t: number): void {
    const ms = (BASE + t) * 1000;
    if (ms < this.clock.now) throw new Error(`the clock would go back to ${t}`);
    this.clock.now = ms;
  }

  /** The transitions the peer asked of its machine since the last call, in order. */
  asked(): string[] {
    return watch.take(this.peerId);
  }

  /** The PN GW's only entry: its offer to this peer. */
  gatewayState(): { state: string; sessionId: string | null } {
    const states = this.running.gateway.states();
    expect(states).toHaveLength(1);
    return states[0] as { state: string; sessionId: string | null };
  }

  /** PeerSession.open as the peer, through its gated transport. */
  open(): Promise<PeerSession> {
    return PeerSession.open({
      entityId: this.peerId,
      received: this.received,
      gatewayUrl: this.running.url,
      fetch: this.wire.fetch,
      now: () => this.clock.now,
    });
  }

  /** Lets the held opening go to `origin` and waits for its outcome. */
  async release(origin: string): Promise<Outcome<PeerSession>> {
    const pending = this.pending;
    if (!pending) throw new Error("nothing in flight");
    this.pending = undefined;
    this.wire.release(origin);
    return pending;
  }

  async drain(): Promise<void> {
    if (this.pending) await this.release(this.running.url);
    await this.running.close();
    watch.unwatch(this.peerId);
  }
}

/** How CLOSE comes about on a path: by the peer, or by the PN GW's 410 on a message or relay. */
function closedBy(path: (typeof shortest)[number]): "peer" | "MESSAGE" | "RELAY" {
  const types = path.steps.map((step) => step.event.type);
  const before = types[types.indexOf("CLOSE") - 1];
  return before === "MESSAGE" || before === "RELAY" ? before : "peer";
}

async function runPeerPath(path: (typeof shortest)[number]): Promise<void> {
  const world = await PeerWorld.start();
  const { peerId, wire } = world;
  const otkIntact = () =>
    Buffer.from(world.received.otk).equals(Buffer.from(world.otkCopy)) && !isZero(world.otkCopy);
  /** Used up: whatever happened, the OTK is zeroed and never sent again. */
  const otkDiscarded = () => expect(isZero(world.received.otk)).toBe(true);
  const whoami = (session: PeerSession) =>
    relayGet(session.relayTransport(), server.url, "/cpns/v1/whoami");
  /** A session that is over refuses traffic by itself: nothing reaches the PN GW. */
  const refusesTraffic = async (session: PeerSession) => {
    const sent = wire.requests;
    expect(failure(await settle(session.send("after the end")))?.code).toBe(
      "ERR_PEER_SESSION_GONE",
    );
    expect(failure(await whoami(session))?.code).toBe("ERR_PEER_SESSION_GONE");
    expect(wire.requests).toBe(sent);
  };
  try {
    await runPath(path, coverage, {
      states: tracked(world, {
        holding: async () => {
          expect(world.session).toBeUndefined();
          expect(otkIntact()).toBe(true);
          expect(world.gatewayState()).toMatchObject({ state: "offered", sessionId: null });
          // Fetched: the server holds it no more.
          expect(await world.peer.otks.inbox(peerId)).toEqual([]);
          expect(wire.requests).toBe(0);
        },
        opening: async () => {
          expect(wire.isHeld).toBe(true);
          expect(world.session).toBeUndefined();
          // Nothing has reached the PN GW yet.
          expect(world.gatewayState().state).toBe("offered");
        },
        open: async (s) => {
          const session = world.session as PeerSession;
          expect(session.state).toBe("open");
          expect(session.gatewayId).toBe(world.gw.entityId);
          expect(session.expiresAt).toBe(BASE + SESSION_EXPIRES);
          expect(world.gatewayState()).toMatchObject({
            state: "open",
            sessionId: session.sessionId,
          });
          otkDiscarded();
          if (!firstVisit(String(s.value))) return;
          // The session carries a message now: the peer asked whether it expired, and it has not.
          const t = world.clock.now / 1000 - BASE;
          expect(s.can({ type: "EXPIRE", now: t })).toBe(false);
          expect((await session.send("still open")).echo).toBe("still open");
          expect(world.asked()).toEqual([ASKED.stillOpen, ASKED.message]);
          expect(session.state).toBe("open");
          expect(world.gatewayState().state).toBe("open");
        },
        refused: async (s) => {
          expect(s.status).toBe("done");
          expect(world.session).toBeUndefined();
          otkDiscarded();
        },
        expired: async (s) => {
          expect(s.status).toBe("done");
          otkDiscarded();
          const session = world.session;
          if (session) {
            expect(session.state).toBe("expired");
            await refusesTraffic(session);
          } else {
            // Expired while held: the PN GW never heard of the peer.
            expect(wire.requests).toBe(0);
            expect(world.gatewayState().state).toBe("offered");
          }
        },
        closed: async (s) => {
          expect(s.status).toBe("done");
          const session = world.session as PeerSession;
          expect(session.state).toBe("closed");
          // Closed by the peer, or expired at the PN GW, whose 410 ended the peer's session.
          expect(world.gatewayState().state).toBe(world.endedByGateway ? "expired" : "closed");
          await refusesTraffic(session);
        },
      }),
      events: {
        OPEN: async () => {
          world.at(OPEN_AT);
          wire.hold();
          const pending = settle(world.open());
          world.pending = pending;
          const early = pending.then((outcome) => {
            throw new Error(`settled before any request: ${JSON.stringify(failure(outcome))}`);
          });
          await Promise.race([wire.reached(), early]);
          // In time: the peer asked whether the OTK expired (no), then OPEN.
          expect(world.asked()).toEqual([ASKED.stillHolding, ASKED.open]);
        },
        GATEWAY_PROVED: async () => {
          const outcome = await world.release(world.running.url);
          expect(outcome.ok, JSON.stringify(failure(outcome))).toBe(true);
          world.session = (outcome as { value: PeerSession }).value;
          expect(world.asked()).toEqual([ASKED.proved]);
        },
        GATEWAY_UNPROVEN: async () => {
          const outcome = await world.release(impostor.url);
          expect(failure(outcome)?.code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
          // The real PN GW never saw the OTK.
          expect(world.gatewayState().state).toBe("offered");
          expect(world.asked()).toEqual([ASKED.unproven]);
        },
        REJECTED: async () => {
          const rotated = await world.gw.agent.enroll({
            ...ALICE,
            entityId: world.gw.entityId,
            type: "PNGW",
          });
          expect(rotated.keyVersion).toBe(2);
          const outcome = await world.release(world.running.url);
          expect(failure(outcome)).toMatchObject({ status: 403, code: "ERR_PEER_SESSION_REFUSED" });
          expect(world.gatewayState().state).toBe("refused");
          expect(world.asked()).toEqual([ASKED.rejected]);
        },
        MESSAGE: async () => {
          world.at(TRAFFIC_AT);
          const session = world.session as PeerSession;
          expect(await session.send(`at ${TRAFFIC_AT}`)).toEqual({
            sessionId: session.sessionId,
            from: peerId,
            echo: `at ${TRAFFIC_AT}`,
          });
          // The peer asked whether the session expired (no), then MESSAGE.
          expect(world.asked()).toEqual([ASKED.stillOpen, ASKED.message]);
        },
        RELAY: async () => {
          world.at(TRAFFIC_AT);
          const viaGateway = relayedAgent(server, world.peer, world.session as PeerSession);
          expect(await viaGateway.whoami(peerId)).toMatchObject({ entityId: peerId, type: "PNE" });
          // Each relayed request (the server's challenge, then the authenticated one): expiry
          // first (no), then RELAY.
          expect(world.asked()).toEqual([
            ASKED.stillOpen,
            ASKED.relay,
            ASKED.stillOpen,
            ASKED.relay,
          ]);
        },
        EXPIRE: async ({ event }) => {
          const e = event as Extract<PeerSessionEvent, { type: "EXPIRE" }>;
          const state = world.source as Snapshot;
          world.at(e.now);
          const sent = wire.requests;
          // The peer settles expiry first: EXPIRE is taken, and nothing else is asked.
          if (state.matches("holding")) {
            // The OTK has expired: the peer does not even try it.
            const late = await settle(world.open());
            expect(failure(late)?.code).toBe("ERR_OTK_GONE");
            expect(world.asked()).toEqual([ASKED.otkExpired]);
          } else {
            // At the session's expiry, a message; after it, the relay.
            const late =
              e.now === SESSION_EXPIRES
                ? await settle((world.session as PeerSession).send("late"))
                : await whoami(world.session as PeerSession);
            expect(failure(late)?.code).toBe("ERR_PEER_SESSION_GONE");
            expect(world.asked()).toEqual([ASKED.sessionExpired]);
          }
          expect(wire.requests).toBe(sent);
        },
        CLOSE: async () => {
          const session = world.session as PeerSession;
          const by = closedBy(path);
          if (by === "peer") {
            await session.close();
            expect(world.asked()).toEqual([ASKED.closed]);
            return;
          }
          // The PN GW's clock runs ahead to the session's expiry; the peer's says it lives. The
          // relay's nonces outlive the session by a minute: the late relay, too, is answered 410.
          world.clock.gatewayAhead = (BASE + SESSION_EXPIRES) * 1000 - world.clock.now;
          world.endedByGateway = true;
          const late =
            by === "MESSAGE"
              ? await settle(session.send("the PN GW's clock says no"))
              : await whoami(session);
          expect(failure(late)).toMatchObject({ status: 410, code: "ERR_PEER_SESSION_GONE" });
          // The peer asked (its clock: live) and sent; the PN GW's 410 ended the peer's session.
          expect(world.asked()).toEqual([
            ASKED.stillOpen,
            by === "MESSAGE" ? ASKED.message : ASKED.relay,
            ASKED.closed,
          ]);
          expect(world.gatewayState().state).toBe("expired");
        },
      },
    });
  } finally {
    await world.drain();
  }
}

describe("[PEER-DIGEST][PEER-SESSION][GATEWAY-RELAY][OTK-CUT-THROUGH][SEED-5.x.2-6][SEED-5.x.2-7][SPEC-MODEL-TESTS] peerSession machine, model-based: a real PeerSession against a real PN GW and an impostor", () => {
  it("generates paths over every payload, closing by the peer and by the PN GW's 410", () => {
    expect(shortest.length).toBeGreaterThan(0);
    expect(simple.length).toBeGreaterThan(shortest.length);
    const closing = [...shortest, ...simple].filter((p) =>
      p.steps.some((s) => s.event.type === "CLOSE"),
    );
    expect(new Set(closing.map(closedBy))).toEqual(new Set(["peer", "MESSAGE", "RELAY"]));
    // The transitions the tests expect by name are the model's, every one of them.
    expect(Object.values(ASKED).sort()).toEqual([...coverage.transitions].sort());
  });

  describe.concurrent("shortest paths", () => {
    for (const path of shortest) it(pathTitle(path), () => runPeerPath(path), PATH_TIMEOUT_MS);
  });

  describe.concurrent("simple paths", () => {
    for (const path of simple) it(pathTitle(path), () => runPeerPath(path), PATH_TIMEOUT_MS);
  });

  itCoversTheMachine(coverage, BOUND, { shortest, simple });
});
