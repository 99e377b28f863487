/**
 * The secureChannelServer machine (machines/secure-channel.ts; seed 5.x.4, our answer to FFS-NO-TLS,
 * spec/channel.md), model-based (issue #10 "Machines"): the real CPNS Server's channel routes
 * (src/server/channels.ts) on loopback, driven by a real ServerChannel (a PNE). xstate's
 * createTestModel generates the shortest and the simple paths over every listed payload (EXPIRE at
 * and after the expiry); the server's end may re-key once (channelLimits: a new epoch after
 * RECORDS_PER_EPOCH answers, maxEpoch 1), which bounds the model, and the refusal at the bound is
 * real. RECEIVE and SEND (self-loops) are marked so that paths take them. One test per path, one
 * after the other (the watch below is per process); the server's clock is put back after each.
 *
 * Model time is the server's clock in ms: it opens every channel at T0, for LIFETIME_S. The drivers:
 *
 *   (initial)       the entity's opening exchange held on the wire, before the server: establishing
 *   AUTHENTICATED   ... released: the server verifies the Digest and creates the channel
 *   RECEIVE, SEND   a request through the channel (whoami, the inbox): the server takes the record
 *                   and answers with one (each driver runs a whole exchange and checks its half)
 *   REKEY           open: requests until an answer comes under the server's next epoch (the record
 *                   wire reads the answers' headers); closing: see CLOSE_RECEIVED
 *   CLOSE_RECEIVED  the client's close. The server answers a close in the request that brought it,
 *                   so its closing state lasts inside that request: it is shown by what the server
 *                   asked its machine, in order (CLOSE_RECEIVED, then REKEY when the close answer
 *                   needs a new epoch, then CLOSE_ANSWERED), and the next events' drivers check
 *                   their part of that order. When REKEY follows, requests first bring the server to
 *                   the end of its epoch, so that the close answer is the record that needs the new one.
 *   CLOSE_ANSWERED  (in the same request) the client got the server's close answer: both closed
 *   EXPIRE          the server's clock moves to `nowMs`, and the client sends a record: 410
 *
 * At the epoch bound (a path ending in open, or in closing, with epoch 1) the server is made to need
 * one more epoch (requests, or a close at the end of the epoch): it refuses, answers 410
 * ERR_CHANNEL_CLOSED (never a 500) and drops the channel. The server asks EXPIRE before every
 * record it takes and every answer it seals: those are the refusing branches of EXPIRE.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SnapshotFrom } from "xstate";
import { createTestModel } from "xstate/graph";
import {
  type SecureChannelServerEvent,
  secureChannelServerMachine,
} from "../../machines/secure-channel.ts";
import { startTestServer, T0, type TestServer } from "../e2e/server-helpers.ts";
import { ChannelWorld, OWNER, resend } from "./channel-model-helpers.ts";
import {
  failure,
  itCoversTheMachine,
  ModelCoverage,
  PATH_TIMEOUT_MS,
  pathOf,
  pathTitle,
  runPath,
} from "./model-helpers.ts";
import { MachineWatch } from "./peer-model-helpers.ts";

type Snapshot = SnapshotFrom<typeof secureChannelServerMachine>;
type Path = ReturnType<typeof model.getShortestPaths>[number];

const LIFETIME_S = 600;
const EXPIRES_AT = T0 + LIFETIME_S * 1000;
const MAX_EPOCH = 1;
const RECORDS_PER_EPOCH = 6;
const BOUND = `send epochs <= ${MAX_EPOCH} (maxEpoch); payloads: EXPIRE at and after the expiry`;

const model = createTestModel(secureChannelServerMachine, {
  input: { sessionId: "model", expiresAtMs: EXPIRES_AT, maxEpoch: MAX_EPOCH },
  events: (): SecureChannelServerEvent[] => [
    { type: "AUTHENTICATED" },
    { type: "RECEIVE" },
    { type: "SEND" },
    { type: "REKEY" },
    { type: "CLOSE_RECEIVED" },
    { type: "CLOSE_ANSWERED" },
    { type: "EXPIRE", nowMs: EXPIRES_AT },
    { type: "EXPIRE", nowMs: EXPIRES_AT + 60_000 },
  ],
  filterEvents: (snapshot, event) => snapshot.can(event),
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
/**
 * xstate returns one path per end state, and the one to closing at epoch 1 re-keys inside the
 * close; the refusal at the bound needs the close to arrive at epoch 1: that path is added.
 */
const extra = [
  pathOf(
    model,
    secureChannelServerMachine,
    { sessionId: "model", expiresAtMs: EXPIRES_AT, maxEpoch: MAX_EPOCH },
    [{ type: "AUTHENTICATED" }, { type: "REKEY" }, { type: "CLOSE_RECEIVED" }],
  ),
];
const coverage = new ModelCoverage(secureChannelServerMachine);

const watch = new MachineWatch(secureChannelServerMachine, coverage, (s) =>
  s.context.sessionId === "model" ? "model" : "real",
);
watch.watch("real");

const ASKED = {
  authenticated: "establishing --AUTHENTICATED--> open",
  stillOpen: "open --EXPIRE [!expired]--> (refused)",
  expired: "open --EXPIRE [expired]--> expired",
  rekey: "open --REKEY [epochLeft]--> open",
  usedUp: "open --REKEY [!epochLeft]--> (refused)",
  closeReceived: "open --CLOSE_RECEIVED--> closing",
  closingRekey: "closing --REKEY [epochLeft]--> closing",
  closingUsedUp: "closing --REKEY [!epochLeft]--> (refused)",
  closeAnswered: "closing --CLOSE_ANSWERED--> closed",
} as const;

let server: TestServer;
let serial = 0;
beforeAll(async () => {
  server = await startTestServer({
    channelLifetimeSeconds: LIFETIME_S,
    channelLimits: { maxRecordsPerEpoch: RECORDS_PER_EPOCH, maxEpoch: MAX_EPOCH },
    rateLimit: { maxFailures: 1_000_000, windowSeconds: 1 },
  });
  await server.createUser(OWNER.userId, OWNER.password);
});
afterAll(async () => {
  watch.restore();
  await server?.close();
});

/** The asked transitions that appear in `log`, in order, restricted to those named in `keys`. */
const inOrder = (log: string[], keys: string[]) => log.filter((t) => keys.includes(t));

async function runServerPath(path: Path): Promise<void> {
  const world = await ChannelWorld.start(server, `chm-s-${++serial}`);
  const { records } = world;
  let source: Snapshot | undefined;
  /** What the server asked during the client's close (its closing state lives in that request). */
  let closeLog: string[] = [];
  const asked = () => watch.take("real");
  const answersInEpoch = () => {
    const epoch = records.answerHeaders.at(-1)?.epoch ?? 0;
    return {
      epoch,
      count: records.answerHeaders.filter((h) => h.epoch === epoch).length,
    };
  };
  const whoami = async () => {
    const res = await world.open().fetch("/cpns/v1/whoami");
    expect(await res.json()).toMatchObject({ entityId: world.entity.entityId });
  };
  /** Requests until the server's next answer would need a new epoch. */
  const toEndOfEpoch = async () => {
    const { epoch } = answersInEpoch();
    while (answersInEpoch().count < RECORDS_PER_EPOCH) await whoami();
    expect(answersInEpoch().epoch).toBe(epoch);
  };
  const lastStep = (s: Snapshot) => path.steps.at(-1)?.state === s;
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
          expect(world.wire.isHeld).toBe(true);
          expect(world.channel).toBeUndefined();
          expect(asked()).toEqual([]);
        },
        open: async (s) => {
          expect(world.open().state).toBe("open");
          if (lastStep(s) && s.context.sendEpoch === MAX_EPOCH) {
            // At the bound: requests until the server needs one more epoch; it refuses: 410.
            asked();
            let status = 200;
            for (let i = 0; i <= RECORDS_PER_EPOCH && status === 200; i++) {
              const outcome = await world
                .open()
                .fetch("/cpns/v1/whoami")
                .then(
                  (res) => res.status,
                  (err: unknown) => err as { status?: number; code?: string },
                );
              if (typeof outcome !== "number") {
                expect(outcome).toMatchObject({ status: 410, code: "ERR_CHANNEL_CLOSED" });
                status = 410;
              }
            }
            expect(status).toBe(410);
            expect(asked()).toContain(ASKED.usedUp);
            // The channel is gone at the server.
            expect((await resend(records.last())).status).toBe(404);
          }
        },
        closing: async (s) => {
          // In time (EXPIRE refused), the close record taken: CLOSE_RECEIVED, first of its steps.
          const steps = inOrder(closeLog, [...Object.values(ASKED)]);
          expect(steps[0]).toBe(ASKED.stillOpen);
          expect(steps.filter((t) => t !== ASKED.stillOpen)[0]).toBe(ASKED.closeReceived);
          if (
            lastStep(s) &&
            s.context.sendEpoch === MAX_EPOCH &&
            !closeLog.includes(ASKED.closingRekey)
          ) {
            // Entered at the bound: the close answer needed one more epoch, refused (driver below).
            expect(closeLog).toContain(ASKED.closingUsedUp);
            expect(closeLog).not.toContain(ASKED.closeAnswered);
          }
        },
        closed: async () => {
          expect(world.open().state).toBe("closed");
          expect(inOrder(closeLog, [...Object.values(ASKED)]).at(-1)).toBe(ASKED.closeAnswered);
          // The server dropped the channel: the close record sent again finds nothing.
          const close = records.sent.find((r) => r.header.type === "close");
          expect((await resend(close as (typeof records.sent)[number])).status).toBe(404);
        },
        expired: async () => {
          // The server refused the record past the expiry and dropped the channel.
          expect(records.statuses.at(-1)).toBe(410);
          expect((await resend(records.last())).status).toBe(404);
        },
      }),
      events: {
        AUTHENTICATED: async () => {
          const outcome = await world.finishOpening(server.url);
          expect(outcome.ok, JSON.stringify(failure(outcome))).toBe(true);
          expect(asked()).toContain(ASKED.authenticated);
        },
        RECEIVE: async () => {
          const carried = records.records;
          await whoami();
          expect(records.records).toBe(carried + 1);
          const seen = asked();
          // The server asked whether the channel expired (no) before taking the record.
          expect(seen).toContain(ASKED.stillOpen);
          expect(seen).not.toContain(ASKED.rekey);
        },
        SEND: async () => {
          const answered = records.answerHeaders.length;
          const res = await world.open().fetch("/cpns/v1/otks/inbox");
          expect(await res.json()).toEqual({ otks: [] });
          expect(records.answerHeaders.length).toBe(answered + 1);
          expect(records.answerHeaders.at(-1)?.type).toBe("response");
          expect(asked()).not.toContain(ASKED.rekey);
        },
        REKEY: async () => {
          const from = source as Snapshot;
          if (from.matches("closing")) {
            // In the close's own request: after CLOSE_RECEIVED, before CLOSE_ANSWERED.
            expect(inOrder(closeLog, [ASKED.closeReceived, ASKED.closingRekey])).toEqual([
              ASKED.closeReceived,
              ASKED.closingRekey,
            ]);
            expect(records.answerHeaders.at(-1)).toMatchObject({
              type: "close",
              epoch: from.context.sendEpoch + 1,
              seq: 0,
            });
            return;
          }
          asked();
          const { epoch } = answersInEpoch();
          for (let i = 0; i <= RECORDS_PER_EPOCH && answersInEpoch().epoch === epoch; i++) {
            await whoami();
          }
          expect(answersInEpoch()).toEqual({ epoch: epoch + 1, count: 1 });
          expect(asked()).toContain(ASKED.rekey);
        },
        CLOSE_RECEIVED: async ({ state }) => {
          const index = path.steps.findIndex((step) => step.state === state);
          const next = path.steps[index + 1]?.event.type;
          const atBound = next === undefined && state.context.sendEpoch === MAX_EPOCH;
          if (next === "REKEY" || atBound) await toEndOfEpoch();
          asked();
          const closed = await world
            .open()
            .close()
            .then(
              () => undefined,
              (err: unknown) => err as { status?: number; code?: string },
            );
          closeLog = asked();
          if (atBound) {
            expect(closed).toMatchObject({ status: 410, code: "ERR_CHANNEL_CLOSED" });
          } else {
            expect(closed).toBeUndefined();
          }
          expect(closeLog).toContain(ASKED.closeReceived);
        },
        CLOSE_ANSWERED: async () => {
          expect(inOrder(closeLog, [ASKED.closeReceived, ASKED.closeAnswered])).toEqual([
            ASKED.closeReceived,
            ASKED.closeAnswered,
          ]);
          expect(world.open().state).toBe("closed");
        },
        EXPIRE: async ({ event }) => {
          const e = event as Extract<SecureChannelServerEvent, { type: "EXPIRE" }>;
          server.clock.now = e.nowMs;
          asked();
          const late = await world
            .open()
            .fetch("/cpns/v1/whoami")
            .then(
              () => undefined,
              (err: unknown) => err as { status?: number; code?: string },
            );
          expect(late).toMatchObject({ status: 410, code: "ERR_CHANNEL_CLOSED" });
          expect(asked()).toContain(ASKED.expired);
        },
      },
    });
  } finally {
    server.clock.now = T0;
    await world.drain();
    asked();
  }
}

describe("[CHMODEL-MODEL-TESTS][CHMODEL-USED-UP][SEED-5.x.4-1][CHANNEL-CLOSE][CHANNEL-REKEY][SPEC-MODEL-TESTS] secureChannelServer machine, model-based: the real CPNS Server's channel routes driven by a real ServerChannel", () => {
  it("generates paths over every payload", () => {
    expect(shortest.length).toBeGreaterThan(0);
    expect(simple.length).toBeGreaterThanOrEqual(shortest.length);
    expect(Object.values(ASKED).filter((t) => !coverage.transitions.includes(t))).toEqual([]);
  });

  describe("shortest paths", () => {
    for (const path of shortest) it(pathTitle(path), () => runServerPath(path), PATH_TIMEOUT_MS);
  });

  describe("simple paths", () => {
    for (const path of simple) it(pathTitle(path), () => runServerPath(path), PATH_TIMEOUT_MS);
  });

  describe("a path added by hand: the close arrives at the epoch bound", () => {
    for (const path of extra) it(pathTitle(path), () => runServerPath(path), PATH_TIMEOUT_MS);
  });

  itCoversTheMachine(coverage, BOUND, { shortest, simple: [...simple, ...extra] });
});
