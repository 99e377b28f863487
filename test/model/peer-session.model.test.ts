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
 *   CLOSE             PeerSession.close
 *
 * Each state is checked from outside on every visit: the PeerSession, the OTK it was given (zeroed
 * once tried), PnGateway.states() and the requests the peer sent. Refusals: the peer asks the
 * machine OPEN, MESSAGE or RELAY after their expiry and is refused (then EXPIRE); a live session
 * carries a message, so it has not expired (EXPIRE refused). The peer never asks EXPIRE of an OTK
 * it still holds in time (it asks only after OPEN was refused, which happens only once the OTK
 * has expired), so `holding --EXPIRE [!otkExpired]` has no real counterpart: the coverage check
 * reports it.
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

let server: TestServer;
let impostor: Served;
let serial = 0;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: { maxFailures: 1_000_000, windowSeconds: 1 } });
  await server.createUser(ALICE.userId, ALICE.password);
  impostor = await startImpostor({ challenge: true });
});
afterAll(async () => {
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

  private constructor(
    /** The PN GW's and the peer's clock (ms); the server's stays at the deposit. */
    readonly clock: { now: number },
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
    const clock = { now: T0 };
    const [gw, peer] = await Promise.all([
      enrollDevice(server, ALICE, `ps-gw-${n}`, "PNGW"),
      enrollDevice(server, ALICE, `ps-pne-${n}`, "PNE"),
    ]);
    const running = await startGateway(server, gw, {
      now: () => clock.now,
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
  }
}

function tracked(
  world: PeerWorld,
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
          // The session carries a message now: it has not expired (EXPIRE now is refused).
          const t = world.clock.now / 1000 - BASE;
          const event = { type: "EXPIRE", now: t } as const;
          expect(s.can(event)).toBe(false);
          expect((await session.send("still open")).echo).toBe("still open");
          expect(session.state).toBe("open");
          coverage.step(s, event);
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
          expect(world.gatewayState().state).toBe("closed");
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
        },
        RELAY: async ({ event }) => {
          const e = event as Extract<PeerSessionEvent, { type: "RELAY" }>;
          world.at(e.now);
          const viaGateway = relayedAgent(server, world.peer, world.session as PeerSession);
          expect(await viaGateway.whoami(peerId)).toMatchObject({ entityId: peerId, type: "PNE" });
        },
        EXPIRE: async ({ event }) => {
          const e = event as Extract<PeerSessionEvent, { type: "EXPIRE" }>;
          const state = world.source as Snapshot;
          world.at(e.now);
          const sent = wire.requests;
          if (state.matches("holding")) {
            // The OTK has expired: the peer does not even try it (OPEN refused, then EXPIRE).
            const late = await settle(world.open());
            expect(failure(late)?.code).toBe("ERR_OTK_GONE");
            coverage.step(state, { type: "OPEN", now: e.now });
          } else if (e.now === SESSION_EXPIRES) {
            // At the session's expiry, a message (MESSAGE refused, then EXPIRE).
            const late = await settle((world.session as PeerSession).send("late"));
            expect(failure(late)?.code).toBe("ERR_PEER_SESSION_GONE");
            coverage.step(state, { type: "MESSAGE", now: e.now });
          } else {
            // After it, the relay (RELAY refused, then EXPIRE).
            const relay = (world.session as PeerSession).relayTransport();
            const late = await settle(
              Promise.resolve(relay(new Request(`${server.url}/cpns/v1/whoami`))),
            );
            expect(failure(late)?.code).toBe("ERR_PEER_SESSION_GONE");
            coverage.step(state, { type: "RELAY", now: e.now });
          }
          expect(wire.requests).toBe(sent);
        },
        CLOSE: async () => {
          await (world.session as PeerSession).close();
        },
      },
    });
  } finally {
    await world.drain();
  }
}

describe("[PEER-DIGEST][PEER-SESSION][GATEWAY-RELAY][OTK-CUT-THROUGH][SEED-5.x.2-6][SEED-5.x.2-7][SPEC-MODEL-TESTS] peerSession machine, model-based: a real PeerSession against a real PN GW and an impostor", () => {
  it("generates paths over every payload", () => {
    expect(shortest.length).toBeGreaterThan(0);
    expect(simple.length).toBeGreaterThan(shortest.length);
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
