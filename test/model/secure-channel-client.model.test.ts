/**
 * The secureChannelClient machine (machines/secure-channel.ts; seed 5.x.4, our answer to FFS-NO-TLS,
 * spec/channel.md), model-based (issue #10 "Machines"): a real ServerChannel (a PNE) against the
 * real CPNS Server's channel routes on loopback, and an impostor that cannot produce rspauth.
 * xstate's createTestModel generates the shortest and the simple paths over every listed payload:
 * EXPIRE at and after the channel's expiry; the channel may re-key once (maxEpoch 1: the epoch
 * bound is what makes the model finite, and the refusal at the bound is real). The record
 * self-loops (SEND, RECEIVE) are marked so that paths take them. One test per path, one after the
 * other (the watch below is per process), each with an entity, transports and a clock of its own.
 *
 * Model time is the client's clock in ms. The server's clock stays at T0; its channels last
 * LIFETIME_S, so every channel expires at EXPIRES_AT by both clocks. The drivers:
 *
 *   (initial)         ServerChannel.open, its opening exchange held on the wire: establishing
 *   AUTHENTICATED     ... released to the real server: it proves the EUKey (rspauth), channel open
 *   SERVER_UNPROVEN   ... released to the impostor, which answers without rspauth
 *   REFUSED           ... the owner revokes the entity first: the server answers 401
 *   SEND              a request through the channel (whoami); the record wire carried one more record
 *   RECEIVE           open: a request through the channel (the inbox): its answer opened by the
 *                     client; closing: the answer of a request sent before the close, held on the
 *                     way back, released now
 *   REKEY             requests of 12 KB under a 20 KB byte limit until a record goes out under the
 *                     next epoch (the record wire reads each record's header)
 *   CLOSE             ServerChannel.close, its answer held on the way back (and, when RECEIVE
 *                     follows, a request sent just before it, its answer held too): closing
 *   CLOSED            the server's close answer released: closed
 *   EXPIRE            the client's clock moves to `nowMs`; then the client tries to send
 *                     (establishing: the held opening is released, and the answer's expiry has
 *                     passed; closing: the held answers are released): it refuses by itself
 *
 * SEND and RECEIVE are the two halves of one exchange on the client (a request record goes out,
 * its answer record comes back): each driver runs a whole exchange and checks its own half.
 *
 * What the real ServerChannel and its endpoint ask their machine is watched (peer-model-helpers.ts):
 * a refusal counts in the coverage only where the real code asked and was refused. The endpoint
 * asks EXPIRE before every send and receive (refused while in time) and before AUTHENTICATED; at
 * the epoch bound (a path ending in open with epoch 1) a record that needs one more epoch is
 * refused and nothing is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SnapshotFrom } from "xstate";
import { createTestModel } from "xstate/graph";
import {
  type SecureChannelClientEvent,
  secureChannelClientMachine,
} from "../../machines/secure-channel.ts";
import { startTestServer, T0, type TestServer } from "../e2e/server-helpers.ts";
import { ChannelWorld, OWNER, resend } from "./channel-model-helpers.ts";
import {
  failure,
  itCoversTheMachine,
  ModelCoverage,
  PATH_TIMEOUT_MS,
  pathTitle,
  runPath,
  type Served,
  startImpostor,
} from "./model-helpers.ts";
import { MachineWatch } from "./peer-model-helpers.ts";

type Snapshot = SnapshotFrom<typeof secureChannelClientMachine>;
type Path = ReturnType<typeof model.getShortestPaths>[number];

const LIFETIME_S = 600;
const EXPIRES_AT = T0 + LIFETIME_S * 1000;
const MAX_EPOCH = 1;
const LIMITS = { maxBytesPerEpoch: 20_000, maxEpoch: MAX_EPOCH };
const BIG = 12_000;
const BOUND = `send epochs <= ${MAX_EPOCH} (maxEpoch); payloads: EXPIRE at and after the expiry`;

const model = createTestModel(secureChannelClientMachine, {
  input: { sessionId: "model", expiresAtMs: EXPIRES_AT, maxEpoch: MAX_EPOCH },
  events: (): SecureChannelClientEvent[] => [
    { type: "AUTHENTICATED" },
    { type: "SERVER_UNPROVEN" },
    { type: "REFUSED" },
    { type: "SEND" },
    { type: "RECEIVE" },
    { type: "REKEY" },
    { type: "CLOSE" },
    { type: "CLOSED" },
    { type: "EXPIRE", nowMs: EXPIRES_AT },
    { type: "EXPIRE", nowMs: EXPIRES_AT + 60_000 },
  ],
  filterEvents: (snapshot, event) => snapshot.can(event),
  // An accepted SEND or RECEIVE changes neither state nor context: mark it, or no path takes it.
  serializeTransition: (snapshot, event, previous) => {
    if (!event || !previous) return "";
    const moved =
      JSON.stringify(previous.value) !== JSON.stringify(snapshot.value) ||
      JSON.stringify(previous.context) !== JSON.stringify(snapshot.context);
    return moved || event.type === "SEND" || event.type === "RECEIVE"
      ? ` via ${JSON.stringify(event)}`
      : "";
  },
});
const shortest = model.getShortestPaths();
const simple = model.getSimplePaths();
const coverage = new ModelCoverage(secureChannelClientMachine);

/** What the real client asks its machine, all paths in turn (the model's own is "model"). */
const watch = new MachineWatch(secureChannelClientMachine, coverage, (s) =>
  s.context.sessionId === "model" ? "model" : "real",
);
watch.watch("real");

const ASKED = {
  authenticated: "establishing --AUTHENTICATED--> open",
  unproven: "establishing --SERVER_UNPROVEN--> failed",
  refused: "establishing --REFUSED--> failed",
  expiredAtBirth: "establishing --EXPIRE [expired]--> expired",
  rekey: "open --REKEY [epochLeft]--> open",
  usedUp: "open --REKEY [!epochLeft]--> (refused)",
  close: "open --CLOSE--> closing",
  closed: "closing --CLOSED--> closed",
  expiredOpen: "open --EXPIRE [expired]--> expired",
  expiredClosing: "closing --EXPIRE [expired]--> expired",
} as const;

let server: TestServer;
let impostor: Served;
let serial = 0;
beforeAll(async () => {
  server = await startTestServer({
    channelLifetimeSeconds: LIFETIME_S,
    rateLimit: { maxFailures: 1_000_000, windowSeconds: 1 },
  });
  await server.createUser(OWNER.userId, OWNER.password);
  impostor = await startImpostor({ challenge: true });
});
afterAll(async () => {
  watch.restore();
  await impostor?.close();
  await server?.close();
});

const isClientRefusal = (code: string | undefined) => code === "ERR_CHANNEL_CLOSED";

/** The next event of the path after the step whose state is `snapshot`, if any. */
function nextEvent(path: Path, index: number): string | undefined {
  return path.steps[index + 1]?.event.type;
}

async function runClientPath(path: Path): Promise<void> {
  const world = await ChannelWorld.start(server, `chm-c-${++serial}`, LIMITS);
  const { records } = world;
  /** The state last checked: the source of the next event (a step carries its target). */
  let source: Snapshot | undefined;
  const asked = () => watch.take("real");
  /** The client refuses a request by itself: nothing goes out. */
  const refusesToSend = async () => {
    const carried = records.records;
    const late = await world
      .open()
      .fetch("/cpns/v1/whoami")
      .then(
        () => undefined,
        (err: unknown) => err as { code?: string },
      );
    expect(isClientRefusal(late?.code), JSON.stringify(late)).toBe(true);
    expect(records.records).toBe(carried);
  };
  /** Requests of BIG bytes until one goes out under the next epoch; each is answered. */
  const pushToNextEpoch = async () => {
    const channel = world.open();
    const from = records.records > 0 ? records.last().header.epoch : 0;
    for (let i = 0; i < 3; i++) {
      const res = await channel.fetch("/cpns/v1/otks", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ padding: "x".repeat(BIG) }),
      });
      expect(res.status).toBeGreaterThanOrEqual(400); // a PNE may not deposit: the inner answer
      await res.arrayBuffer();
      if (records.last().header.epoch !== from) break;
    }
    expect(records.last().header.epoch).toBe(from + 1);
  };
  const tracking = (checks: Record<string, (s: Snapshot) => Promise<void>>) =>
    Object.fromEntries(
      Object.entries(checks).map(([key, check]) => [
        key,
        async (s: Snapshot) => {
          await check(s);
          source = s;
        },
      ]),
    );
  try {
    await world.beginOpening();
    asked();
    await runPath(path, coverage, {
      states: tracking({
        establishing: async () => {
          source = undefined;
          expect(world.wire.isHeld).toBe(true);
          expect(world.channel).toBeUndefined();
          expect(records.records).toBe(0);
        },
        open: async (s) => {
          const channel = world.open();
          expect(channel.state).toBe("open");
          expect(channel.sessionId).toMatch(/^[A-Za-z0-9_-]{22}$/);
          const last = path.steps.at(-1)?.state;
          if (last === s && s.context.sendEpoch === MAX_EPOCH) {
            // The end of a path at the epoch bound: a record that needs one more epoch is refused.
            asked();
            const carried = records.records;
            const refused = await channel
              .fetch("/cpns/v1/otks", {
                method: "POST",
                headers: { "content-type": "application/json" },
                body: JSON.stringify({ padding: "x".repeat(BIG) }),
              })
              .then(
                () => undefined,
                (err: unknown) => err as { code?: string },
              );
            expect(refused?.code).toBe("ERR_CHANNEL_CLOSED");
            expect(records.records).toBe(carried);
            expect(asked()).toContain(ASKED.usedUp);
            // Nothing else changed: a small request still goes.
            expect((await channel.fetch("/cpns/v1/whoami")).status).toBe(200);
          }
        },
        closing: async () => {
          expect(world.open().state).toBe("closing");
          expect(world.pending.at(-1)?.kind).toBe("close");
          expect(records.last().header.type).toBe("close");
          await refusesToSend();
        },
        closed: async () => {
          expect(world.open().state).toBe("closed");
          await refusesToSend();
          // The server dropped it too: the close record itself, sent again, finds no channel.
          const close = records.sent.find((r) => r.header.type === "close");
          expect((await resend(close as (typeof records.sent)[number])).status).toBe(404);
        },
        expired: async () => {
          if (world.channel) {
            expect(world.channel.state).toBe("expired");
            await refusesToSend();
          } else {
            // Expired at birth: the client got the server's answer, and sent no record.
            expect(failure(world.outcome as never)?.code).toBe("ERR_CHANNEL_CLOSED");
            expect(records.records).toBe(0);
          }
        },
        failed: async () => {
          expect(world.channel).toBeUndefined();
          expect(records.records).toBe(0);
        },
      }),
      events: {
        AUTHENTICATED: async () => {
          const outcome = await world.finishOpening(server.url);
          expect(outcome.ok, JSON.stringify(failure(outcome))).toBe(true);
          const seen = asked();
          expect(seen).toContain("establishing --EXPIRE [!expired]--> (refused)");
          expect(seen).toContain(ASKED.authenticated);
        },
        SERVER_UNPROVEN: async () => {
          const outcome = await world.finishOpening(impostor.url);
          expect(failure(outcome)?.code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
          expect(asked()).toEqual([ASKED.unproven]);
        },
        REFUSED: async () => {
          const owner = server.asUser(OWNER.userId, OWNER.password);
          const res = await owner(`/cpns/v1/entities/${world.entity.entityId}`, {
            method: "DELETE",
          });
          expect(res.status).toBe(200);
          const outcome = await world.finishOpening(server.url);
          expect(failure(outcome)?.status).toBe(401);
          expect(asked()).toEqual([ASKED.refused]);
        },
        SEND: async () => {
          const carried = records.records;
          const res = await world.open().fetch("/cpns/v1/whoami");
          expect(await res.json()).toMatchObject({ entityId: world.entity.entityId });
          expect(records.records).toBe(carried + 1);
          expect(records.last().header.type).toBe("request");
          expect(records.statuses.at(-1)).toBe(200);
          asked();
        },
        RECEIVE: async ({ state }) => {
          if (state.matches("open")) {
            const res = await world.open().fetch("/cpns/v1/otks/inbox");
            expect(await res.json()).toEqual({ otks: [] });
          } else {
            // closing: the answer of the request sent before the close, held until now.
            const { kind, outcome } = await world.releaseNext();
            expect(kind).toBe("fetch");
            expect(outcome.ok, JSON.stringify(failure(outcome))).toBe(true);
            const res = (outcome as { value: Response }).value;
            expect(res.status).toBe(200);
            expect(world.open().state).toBe("closing");
          }
          asked();
        },
        REKEY: async () => {
          asked();
          await pushToNextEpoch();
          expect(asked()).toContain(ASKED.rekey);
        },
        CLOSE: async ({ state }) => {
          const index = path.steps.findIndex((s) => s.state === state);
          if (nextEvent(path, index) === "RECEIVE") await world.fetchHeld("/cpns/v1/whoami");
          asked();
          await world.closeHeld();
          expect(asked()).toContain(ASKED.close);
        },
        CLOSED: async () => {
          const { kind, outcome } = await world.releaseNext();
          expect(kind).toBe("close");
          expect(outcome.ok, JSON.stringify(failure(outcome))).toBe(true);
          expect(asked()).toContain(ASKED.closed);
        },
        EXPIRE: async ({ event }) => {
          const e = event as Extract<SecureChannelClientEvent, { type: "EXPIRE" }>;
          const from = source as Snapshot;
          world.clock.now = e.nowMs;
          if (from.matches("establishing")) {
            const outcome = await world.finishOpening(server.url);
            expect(failure(outcome)?.code).toBe("ERR_CHANNEL_CLOSED");
            expect(asked()).toContain(ASKED.expiredAtBirth);
          } else if (from.matches("open")) {
            await refusesToSend();
            expect(asked()).toContain(ASKED.expiredOpen);
          } else {
            // closing: the answers held on the way back arrive after the expiry; refused.
            while (world.pending.length > 0) {
              const { outcome } = await world.releaseNext();
              expect(failure(outcome)?.code).toBe("ERR_CHANNEL_CLOSED");
            }
            expect(asked()).toContain(ASKED.expiredClosing);
          }
        },
      },
    });
  } finally {
    await world.drain();
    asked();
  }
}

describe("[CHMODEL-MODEL-TESTS][SEED-5.x.4-1][SEED-5.x.4-2][CHANNEL-CLOSE][CHANNEL-REKEY][SPEC-MODEL-TESTS] secureChannelClient machine, model-based: a real ServerChannel against the real CPNS Server and an impostor", () => {
  it("generates paths over every payload", () => {
    expect(shortest.length).toBeGreaterThan(0);
    expect(simple.length).toBeGreaterThanOrEqual(shortest.length);
    const expected = [...Object.values(ASKED)].filter((t) => coverage.transitions.includes(t));
    expect(expected).toEqual([...Object.values(ASKED)]);
  });

  describe("shortest paths", () => {
    for (const path of shortest) it(pathTitle(path), () => runClientPath(path), PATH_TIMEOUT_MS);
  });

  describe("simple paths", () => {
    for (const path of simple) it(pathTitle(path), () => runClientPath(path), PATH_TIMEOUT_MS);
  });

  itCoversTheMachine(coverage, BOUND, { shortest, simple });
});
