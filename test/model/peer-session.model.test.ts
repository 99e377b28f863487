/**
 * The peerSession machine (machines/peer-session.ts; seed 5.x.2, second bullet: "The two
 * entities authenticate each other using the onetime security key as a shared secret ... Digest
 * authentication defined in RFC2617 is used"), model-based: a real PeerSession (a PNE) against a
 * real PnGateway on loopback, in front of the real CPNS Server, and an impostor that cannot
 * produce rspauth (issue #5). xstate's createTestModel generates the shortest and the simple
 * paths over every listed payload: OPEN, MESSAGE, RELAY and EXPIRE before, at and after the OTK's
 * expiry (holding, opening) or the session's (open). The machine holds no counter; accepted
 * MESSAGE and RELAY are marked so that paths take them. One test per path, each with a PN GW, a
 * peer and a clock of its own (the PN GW's and the peer's), on one shared server.
 *
 * Model time is in seconds: the PN GW deposits at 880 an OTK that expires at 1000; the peer has
 * fetched it when the path starts (`holding`). A session opened at 900 lasts 300 s, to 1200. The
 * clock shows BASE + t. The peer's transport (Wire) holds its request to the PN GW in flight,
 * which is what `opening` is; the next event decides how it ends:
 *
 *   OPEN              PeerSession.open with the fetched OTK (held)
 *   GATEWAY_PROVED    ... released to the PN GW: it proves the OTK with rspauth; the session opens
 *   GATEWAY_UNPROVEN  ... released to the impostor, which answers without rspauth
 *   REJECTED          ... the PN GW's owner rotates its EUKey first: the server revokes the OTK
 *                     when the PN GW asks to consume it (cut through), and the PN GW refuses (403)
 *   MESSAGE           PeerSession.send: the PN GW echoes it
 *   RELAY             the PNE's own whoami to the server through the PN GW (its Digest end to end)
 *   EXPIRE            the clock moves to `now`, then the peer tries to use what has expired: the
 *                     OTK (holding), a message (at the session's expiry) or the relay (after it);
 *                     the peer refuses by itself and sends nothing
 *   CLOSE             PeerSession.close after the opening; after a message (a relay), the PN GW's
 *                     clock runs ahead past the session's expiry and its 410 on the next message
 *                     (relay) ends the peer's session
 *
 * Each state is checked from outside on every visit: the PeerSession, the OTK it was given (zeroed
 * once tried), PnGateway.states() and the requests the peer sent.
 *
 * Refusals (paths never contain them) count only where the real peer asked its machine and was
 * refused: the test watches every event the PeerSession asks of the machine (the model's own
 * snapshots name another entity and are left out), records each refusal in the coverage and
 * expects, after every event and state check, exactly the refusals that step explains. The peer
 * settles expiry first: each opening in time asks EXPIRE of the OTK (refused, then OPEN), each
 * live message and relay asks EXPIRE of the session (refused, then the traffic). Because EXPIRE is
 * asked first with the same `now`, the peer never asks an OPEN, MESSAGE or RELAY it would refuse:
 * `holding --OPEN [!otkLive]`, `open --MESSAGE [!sessionLive]` and `open --RELAY [!sessionLive]`
 * have no real counterpart, and the coverage check reports them.
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
  coverageOutPath,
  failure,
  formatCoverage,
  ModelCoverage,
  type Outcome,
  PATH_TIMEOUT_MS,
  pathTitle,
  runPath,
  type Served,
  settle,
  startImpostor,
  Wire,
  writeCoverage,
} from "./model-helpers.ts";

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
      ...times.flatMap((now) => [
        { type: "OPEN" as const, now },
        { type: "MESSAGE" as const, now },
        { type: "RELAY" as const, now },
        { type: "EXPIRE" as const, now },
      ]),
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

/** The refusals the peer can be asked, as the coverage names them. */
const STILL_HOLDING = "holding --EXPIRE [!otkExpired]--> (refused)";
const STILL_OPEN = "open --EXPIRE [!sessionExpired]--> (refused)";

/**
 * What the real PeerSessions ask their machine: every refusal, per real peer (each path has its
 * own), recorded in the coverage as it happens. The model's snapshots ("model-peer") are left out,
 * and so are the coverage's own look-ups (`quiet`).
 */
const refusalsAsked = new Map<string, string[]>();
let quiet = false;
const getTransitionData = peerSessionMachine.getTransitionData;
peerSessionMachine.getTransitionData = function (snapshot, event) {
  const chosen = getTransitionData.call(this, snapshot, event);
  const asked = refusalsAsked.get(snapshot.context.entityId);
  if (asked && !quiet && chosen.length === 0) {
    quiet = true;
    try {
      // An event the state does not handle at all (any event once final) is no transition.
      const key = coverage.transitionOf(snapshot, event);
      if (key) {
        asked.push(key);
        coverage.step(snapshot, event);
      }
    } finally {
      quiet = false;
    }
  }
  return chosen;
};

let server: TestServer;
let impostor: Served;
let serial = 0;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: { maxFailures: 1_000_000, windowSeconds: 1 } });
  await server.createUser(ALICE.userId, ALICE.password);
  impostor = await startImpostor({ challenge: true });
});
afterAll(async () => {
  peerSessionMachine.getTransitionData = getTransitionData;
  await impostor?.close();
  await server?.close();
});

/** Model states whose refusals were already tried in this run. */
const probed = new Set<string>();
function firstVisit(s: Snapshot): boolean {
  const key = String(s.value);
  if (probed.has(key)) return false;
  probed.add(key);
  return true;
}

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
    refusalsAsked.set(peer.entityId, []);
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

  /** The refusals the peer was asked since the last call (each once, in order). */
  refused(): string[] {
    const asked = refusalsAsked.get(this.peerId) ?? [];
    const once = [...new Set(asked)];
    asked.length = 0;
    return once;
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
    refusalsAsked.delete(this.peerId);
  }
}

/**
 * The state checks, each also recording its state as the source of the next event. Every refusal
 * the peer was asked must have been expected by the event before (or by the check itself).
 */
function tracked(
  world: PeerWorld,
  checks: Record<string, (s: Snapshot) => Promise<void>>,
): Record<string, (s: Snapshot) => Promise<void>> {
  return Object.fromEntries(
    Object.entries(checks).map(([key, check]) => [
      key,
      async (s: Snapshot) => {
        expect(world.refused(), `refusals unexplained before ${key}`).toEqual([]);
        await check(s);
        expect(world.refused(), `refusals unexplained in ${key}`).toEqual([]);
        world.source = s;
      },
    ]),
  );
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
  /** A session that is over refuses traffic by itself: nothing reaches the PN GW. */
  const refusesTraffic = async (session: PeerSession) => {
    const sent = wire.requests;
    expect(failure(await settle(session.send("after the end")))?.code).toBe(
      "ERR_PEER_SESSION_GONE",
    );
    const relay = session.relayTransport();
    const relayed = await settle(
      Promise.resolve(relay(new Request(`${server.url}/cpns/v1/whoami`))),
    );
    expect(failure(relayed)?.code).toBe("ERR_PEER_SESSION_GONE");
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
          if (!firstVisit(s)) return;
          // The session carries a message now: the peer asked whether it expired, and it has not.
          const t = world.clock.now / 1000 - BASE;
          expect(s.can({ type: "EXPIRE", now: t })).toBe(false);
          expect((await session.send("still open")).echo).toBe("still open");
          expect(world.refused()).toEqual([STILL_OPEN]);
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
        OPEN: async ({ event }) => {
          const e = event as Extract<PeerSessionEvent, { type: "OPEN" }>;
          world.at(e.now);
          wire.hold();
          const pending = settle(world.open());
          world.pending = pending;
          const early = pending.then((outcome) => {
            throw new Error(`settled before any request: ${JSON.stringify(failure(outcome))}`);
          });
          await Promise.race([wire.reached(), early]);
          // In time: the peer asked whether the OTK expired (no), then OPEN.
          expect(world.refused()).toEqual([STILL_HOLDING]);
        },
        GATEWAY_PROVED: async () => {
          const outcome = await world.release(world.running.url);
          expect(outcome.ok, JSON.stringify(failure(outcome))).toBe(true);
          world.session = (outcome as { value: PeerSession }).value;
        },
        GATEWAY_UNPROVEN: async () => {
          const outcome = await world.release(impostor.url);
          expect(failure(outcome)?.code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
          // The real PN GW never saw the OTK.
          expect(world.gatewayState().state).toBe("offered");
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
        },
        MESSAGE: async ({ event }) => {
          const e = event as Extract<PeerSessionEvent, { type: "MESSAGE" }>;
          world.at(e.now);
          const session = world.session as PeerSession;
          expect(await session.send(`at ${e.now}`)).toEqual({
            sessionId: session.sessionId,
            from: peerId,
            echo: `at ${e.now}`,
          });
          // The peer asked whether the session expired (no), then MESSAGE.
          expect(world.refused()).toEqual([STILL_OPEN]);
        },
        RELAY: async ({ event }) => {
          const e = event as Extract<PeerSessionEvent, { type: "RELAY" }>;
          world.at(e.now);
          const viaGateway = relayedAgent(server, world.peer, world.session as PeerSession);
          expect(await viaGateway.whoami(peerId)).toMatchObject({ entityId: peerId, type: "PNE" });
          expect(world.refused()).toEqual([STILL_OPEN]);
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
          } else if (e.now === SESSION_EXPIRES) {
            // At the session's expiry, a message.
            const late = await settle((world.session as PeerSession).send("late"));
            expect(failure(late)?.code).toBe("ERR_PEER_SESSION_GONE");
          } else {
            // After it, the relay.
            const relay = (world.session as PeerSession).relayTransport();
            const late = await settle(
              Promise.resolve(relay(new Request(`${server.url}/cpns/v1/whoami`))),
            );
            expect(failure(late)?.code).toBe("ERR_PEER_SESSION_GONE");
          }
          expect(world.refused()).toEqual([]);
          expect(wire.requests).toBe(sent);
        },
        CLOSE: async () => {
          const session = world.session as PeerSession;
          const by = closedBy(path);
          if (by === "peer") {
            await session.close();
            return;
          }
          // The PN GW's clock runs ahead to the session's expiry; the peer's says it lives.
          const gatewayAt = (t: number) => {
            world.clock.gatewayAhead = (BASE + t) * 1000 - world.clock.now;
          };
          if (by === "RELAY") {
            // The relay nonce the session opened with dies with it (the PN GW would answer a
            // stale 407, which fetch reports as a network error): a relay in its last minute
            // brings a nextnonce that outlives the session.
            gatewayAt(SESSION_EXPIRES - 50);
            await relayedAgent(server, world.peer, session).whoami(peerId);
            expect(world.refused()).toEqual([STILL_OPEN]);
          }
          gatewayAt(SESSION_EXPIRES);
          world.endedByGateway = true;
          const late =
            by === "MESSAGE"
              ? await settle(session.send("the PN GW's clock says no"))
              : await settle(
                  Promise.resolve(
                    session.relayTransport()(new Request(`${server.url}/cpns/v1/whoami`)),
                  ),
                );
          expect(failure(late)).toMatchObject({ status: 410, code: "ERR_PEER_SESSION_GONE" });
          // The peer asked (its clock: live), the PN GW answered 410: the peer took it as the end.
          expect(world.refused()).toEqual([STILL_OPEN]);
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
    // The refusals the tests expect by name are the model's.
    for (const key of [STILL_HOLDING, STILL_OPEN]) expect(coverage.transitions).toContain(key);
  });

  describe.concurrent("shortest paths", () => {
    for (const path of shortest) it(pathTitle(path), () => runPeerPath(path), PATH_TIMEOUT_MS);
  });

  describe.concurrent("simple paths", () => {
    for (const path of simple) it(pathTitle(path), () => runPeerPath(path), PATH_TIMEOUT_MS);
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
