/**
 * Issue #9, checks the suite could not see (Stryker survivors and no-coverage mutants in
 * machines/secure-channel.ts, run of 2026-12-05 on main at 8e7d0c4, static mutants included,
 * narrowed to the unit tests): no unit test sent EXPIRE or REKEY to either secure-channel
 * machine, read the context the actions write, or compared the transition table the reviewer
 * page draws (targets of the self-loops, `on` blocks, the final `failed` state) with what the
 * machine should be. Here both machines are asked directly, as src/channel/endpoint.ts asks
 * them through the gate: expiry at its exact edge (one millisecond before: still open; at it
 * and after it: expired; no clock given: not expired), re-keying counted one by one up to
 * maxEpoch (the default, a smaller one honoured, a larger one capped at the header's 32 bits),
 * and both state tables against lists written out here by hand, not read from the machines.
 */
import { describe, expect, it } from "vitest";
import { type AnyStateMachine, initialTransition, transition } from "xstate";
import {
  MAX_EPOCH,
  type SecureChannelContext,
  secureChannelClientMachine,
  secureChannelServerMachine,
} from "../../machines/secure-channel.ts";
import { describeMachine } from "../../src/reviewer-page/describe.ts";

const EXPIRES = 1_764_900_000_000;
const SESSION = "ch-3f2a";
/** 2^32 - 1, written out: the record header's epoch field has 32 bits (spec/channel.md §4). */
const HEADER_EPOCH_LIMIT = 4_294_967_295;

// biome-ignore lint/suspicious/noExplicitAny: one helper for two machines with different event types.
type AnySnapshot = any;
type Event = { type: string; nowMs?: number };

function start(machine: AnyStateMachine, input: Record<string, unknown> = {}): AnySnapshot {
  return initialTransition(machine, {
    sessionId: SESSION,
    expiresAtMs: EXPIRES,
    ...input,
  } as never)[0];
}

/** The snapshot after `event`, and whether `can` agreed that the event is accepted. */
function step(machine: AnyStateMachine, snapshot: AnySnapshot, event: Event) {
  const can = snapshot.can(event) as boolean;
  const [next] = transition(machine, snapshot, event as never) as [AnySnapshot, unknown];
  return { can, next };
}

/** Walks `path` from the initial state; every event on it must be accepted. */
function reach(machine: AnyStateMachine, path: string[], input?: Record<string, unknown>) {
  let snapshot = start(machine, input);
  for (const type of path) {
    const { can, next } = step(machine, snapshot, { type });
    expect(can, `${type} from ${String(snapshot.value)}`).toBe(true);
    snapshot = next;
  }
  return snapshot;
}

/** Asserts `event` is refused: `can` says no and nothing, context included, changes. */
function expectRefused(machine: AnyStateMachine, snapshot: AnySnapshot, event: Event) {
  const { can, next } = step(machine, snapshot, event);
  expect(can, `${event.type} from ${String(snapshot.value)}`).toBe(false);
  expect(next.value).toBe(snapshot.value);
  expect(next.context).toEqual(snapshot.context);
  expect(next.status).toBe(snapshot.status);
}

const client = secureChannelClientMachine as AnyStateMachine;
const server = secureChannelServerMachine as AnyStateMachine;

/** Where each machine's EXPIRE applies, and where it must not (server: its own clock, same call). */
const EXPIRY_CASES: Array<[string, AnyStateMachine, string[]]> = [
  ["client establishing", client, []],
  ["client open", client, ["AUTHENTICATED"]],
  ["client closing", client, ["AUTHENTICATED", "CLOSE"]],
  ["server open", server, ["AUTHENTICATED"]],
];

describe("[CHANNEL-CLOSE][CHMODEL-NO-RECORD-AFTER-END] secure channel: EXPIRE closes it exactly at its expiry", () => {
  for (const [name, machine, path] of EXPIRY_CASES) {
    // Answers secure-channel.ts:70 BlockStatement, :71 (the whole guard -> true / false, `||`,
    // `!==`, "EXPIRE" -> "", `>=` -> true / `>` / `<`, `??` -> `&&`), :113 and :167 `expired`
    // -> `() => undefined`, :112 and :166 `guards: {}`, :106 and :160 `setup({})`.
    it(`[CHANNEL-CLOSE][CHMODEL-NO-RECORD-AFTER-END] ${name}: one millisecond before the expiry it stays; at it and after it, expired and final`, () => {
      const before = reach(machine, path);
      expectRefused(machine, before, { type: "EXPIRE", nowMs: EXPIRES - 1 });

      for (const nowMs of [EXPIRES, EXPIRES + 1, EXPIRES + 86_400_000]) {
        const { can, next } = step(machine, before, { type: "EXPIRE", nowMs });
        expect(can, `EXPIRE at ${nowMs - EXPIRES} ms`).toBe(true);
        expect(next.value).toBe("expired");
        expect(next.status).toBe("done");
        // Nothing moves on an expired channel, whatever the event.
        for (const type of ["SEND", "RECEIVE", "REKEY", "AUTHENTICATED", "CLOSE", "CLOSED"]) {
          expect(next.can({ type }), `${type} after expiry`).toBe(false);
        }
      }
    });

    it(`[CHANNEL-CLOSE] ${name}: an EXPIRE that carries no clock reading does not close it`, () => {
      const snapshot = reach(machine, path);
      expectRefused(machine, snapshot, { type: "EXPIRE" });
    });
  }

  it("[CHANNEL-CLOSE] the server's establishing and closing states do not expire (it answers in the same call)", () => {
    expectRefused(server, reach(server, []), { type: "EXPIRE", nowMs: EXPIRES + 1 });
    expectRefused(server, reach(server, ["AUTHENTICATED", "CLOSE_RECEIVED"]), {
      type: "EXPIRE",
      nowMs: EXPIRES + 1,
    });
  });
});

describe("[CHANNEL-REKEY][CHMODEL-USED-UP] secure channel: re-keying counts epochs one by one up to maxEpoch", () => {
  const SIDES: Array<[string, AnyStateMachine, string[]]> = [
    ["client open", client, ["AUTHENTICATED"]],
    ["server open", server, ["AUTHENTICATED"]],
    ["server closing", server, ["AUTHENTICATED", "CLOSE_RECEIVED"]],
  ];

  // Answers :74 `initialContext` -> `() => undefined` and its object -> `{}`, :77 `??` -> `&&`.
  it("[CHANNEL-REKEY][CHMODEL-USED-UP] a new channel starts at epoch 0 with the header's limit, on both sides", () => {
    for (const machine of [client, server]) {
      expect(start(machine).context).toEqual({
        sessionId: SESSION,
        expiresAtMs: EXPIRES,
        maxEpoch: HEADER_EPOCH_LIMIT,
        sendEpoch: 0,
      } satisfies SecureChannelContext);
    }
    expect(MAX_EPOCH).toBe(HEADER_EPOCH_LIMIT);
  });

  // Answers :77 `Math.min` -> `Math.max`.
  it("[CHMODEL-USED-UP] a smaller maxEpoch given is kept; a larger one (past 32 bits) is capped at 2^32 - 1", () => {
    for (const machine of [client, server]) {
      expect(start(machine, { maxEpoch: 3 }).context.maxEpoch).toBe(3);
      expect(start(machine, { maxEpoch: 2 ** 40 }).context.maxEpoch).toBe(HEADER_EPOCH_LIMIT);
      expect(start(machine, { maxEpoch: HEADER_EPOCH_LIMIT }).context.maxEpoch).toBe(
        HEADER_EPOCH_LIMIT,
      );
    }
  });

  for (const [name, machine, path] of SIDES) {
    // Answers :114 and :168 (`<` -> true / false / `<=` / `>=`, `epochLeft` -> `() => undefined`),
    // :116 and :170 (`actions: {}`, `assign({})`, `sendEpoch` -> `() => undefined`, `+` -> `-`).
    it(`[CHANNEL-REKEY][CHMODEL-USED-UP] ${name}: each REKEY adds exactly one, up to maxEpoch = 3, then it is refused`, () => {
      let snapshot = reach(machine, path, { maxEpoch: 3 });
      const state = snapshot.value;
      for (const expected of [1, 2, 3]) {
        const { can, next } = step(machine, snapshot, { type: "REKEY" });
        expect(can, `REKEY to epoch ${expected}`).toBe(true);
        expect(next.value).toBe(state);
        expect(next.context).toEqual({
          sessionId: SESSION,
          expiresAtMs: EXPIRES,
          maxEpoch: 3,
          sendEpoch: expected,
        });
        snapshot = next;
      }
      // Used up: the record that would need epoch 4 is not sent (CHMODEL-USED-UP).
      expectRefused(machine, snapshot, { type: "REKEY" });
      expectRefused(machine, snapshot, { type: "REKEY" });
    });

    it(`[CHMODEL-USED-UP] ${name}: with maxEpoch 0 no re-key at all`, () => {
      expectRefused(machine, reach(machine, path, { maxEpoch: 0 }), { type: "REKEY" });
    });

    it(`[CHMODEL-USED-UP] ${name}: by default the last epoch is 2^32 - 1 (the header's), not one more`, () => {
      // The context a channel opened without maxEpoch gets, moved near the end: four billion
      // REKEY events are not needed to reach it. resolveState keeps the machine's own guards.
      const opened = reach(machine, path).context as SecureChannelContext;
      const nearEnd = machine.resolveState({
        value: reach(machine, path).value,
        context: { ...opened, sendEpoch: HEADER_EPOCH_LIMIT - 1 },
      });
      const { can, next } = step(machine, nearEnd, { type: "REKEY" });
      expect(can).toBe(true);
      expect(next.context.sendEpoch).toBe(HEADER_EPOCH_LIMIT);
      expectRefused(machine, next, { type: "REKEY" });
    });
  }
});

describe("[CHMODEL-NO-DATA-BEFORE-AUTH][CHANNEL-CLOSE] secure channel: each state accepts exactly its events", () => {
  const CLIENT_EVENTS = [
    "AUTHENTICATED",
    "SERVER_UNPROVEN",
    "REFUSED",
    "SEND",
    "RECEIVE",
    "REKEY",
    "CLOSE",
    "CLOSED",
  ];
  const SERVER_EVENTS = [
    "AUTHENTICATED",
    "SEND",
    "RECEIVE",
    "REKEY",
    "CLOSE_RECEIVED",
    "CLOSE_ANSWERED",
  ];

  /** For each reachable state (by its path): where each event leads; absent = refused. */
  const CLIENT_TABLE: Array<[string[], Record<string, string>]> = [
    [[], { AUTHENTICATED: "open", SERVER_UNPROVEN: "failed", REFUSED: "failed" }],
    [["AUTHENTICATED"], { SEND: "open", RECEIVE: "open", REKEY: "open", CLOSE: "closing" }],
    [["AUTHENTICATED", "CLOSE"], { RECEIVE: "closing", CLOSED: "closed" }],
    [["AUTHENTICATED", "CLOSE", "CLOSED"], {}],
    [["SERVER_UNPROVEN"], {}],
    [["REFUSED"], {}],
  ];
  const SERVER_TABLE: Array<[string[], Record<string, string>]> = [
    [[], { AUTHENTICATED: "open" }],
    [
      ["AUTHENTICATED"],
      { RECEIVE: "open", SEND: "open", REKEY: "open", CLOSE_RECEIVED: "closing" },
    ],
    [["AUTHENTICATED", "CLOSE_RECEIVED"], { REKEY: "closing", CLOSE_ANSWERED: "closed" }],
    [["AUTHENTICATED", "CLOSE_RECEIVED", "CLOSE_ANSWERED"], {}],
  ];

  const FINAL = new Set(["closed", "expired", "failed"]);

  // Answers :125, :146, :179, :185 `on: {}`; :127, :128 target "failed" -> ""; :155 the
  // failed state's `type: "final"` -> ""; :180 target "open" -> "".
  for (const [name, machine, events, table] of [
    ["client", client, CLIENT_EVENTS, CLIENT_TABLE],
    ["server", server, SERVER_EVENTS, SERVER_TABLE],
  ] as const) {
    for (const [path, accepted] of table) {
      const where = path.length === 0 ? "the start" : path.join(" -> ");
      it(`[CHMODEL-NO-DATA-BEFORE-AUTH][CHANNEL-CLOSE] ${name} after ${where}: exactly ${Object.keys(accepted).join(", ") || "nothing"}`, () => {
        const snapshot = reach(machine, path);
        expect(snapshot.status).toBe(FINAL.has(String(snapshot.value)) ? "done" : "active");
        for (const type of events) {
          const target = accepted[type];
          if (target === undefined) {
            expectRefused(machine, snapshot, { type });
            continue;
          }
          const { can, next } = step(machine, snapshot, { type });
          expect(can, `${type} from ${String(snapshot.value)}`).toBe(true);
          expect(next.value, `${type} from ${String(snapshot.value)}`).toBe(target);
          expect(next.status).toBe(FINAL.has(target) ? "done" : "active");
        }
      });
    }
  }
});

interface ExpectedState {
  key: string;
  type: "atomic" | "final";
  description: string;
}
type ExpectedTransition = [
  source: string,
  event: string,
  target: string,
  requirements: string[],
  guard?: string,
];

const OPEN = ["SEED-5.x.4-1", "CHANNEL-KEYS"];
const RECORD = ["CHANNEL-REPLAY", "CHANNEL-BINDING"];
const REKEY = ["CHANNEL-REKEY"];
const CLOSE = ["CHANNEL-CLOSE"];

/** The client machine as spec/channel.md describes it, written out by hand. */
const CLIENT_STATES: ExpectedState[] = [
  {
    key: "establishing",
    type: "atomic",
    description:
      "The opening Digest request (qop=auth-int) is under way; the server must prove the shared secret with rspauth.",
  },
  {
    key: "open",
    type: "atomic",
    description: "Both ends are authenticated; requests go out and responses come back as records.",
  },
  {
    key: "closing",
    type: "atomic",
    description:
      "The client sent its close record: it sends nothing more and awaits the server's close.",
  },
  {
    key: "closed",
    type: "final",
    description: "Closed by both ends: no record is sent or accepted.",
  },
  { key: "expired", type: "final", description: "Past its expiry: no record is sent or accepted." },
  {
    key: "failed",
    type: "final",
    description: "The server did not prove the shared secret, or refused: no channel.",
  },
];
const CLIENT_TRANSITIONS: ExpectedTransition[] = [
  ["establishing", "AUTHENTICATED", "open", OPEN],
  ["establishing", "SERVER_UNPROVEN", "failed", ["FFS-SERVER-AUTH"]],
  ["establishing", "REFUSED", "failed", ["SEED-5.x.4-1"]],
  ["establishing", "EXPIRE", "expired", CLOSE, "expired"],
  ["open", "SEND", "open", RECORD],
  ["open", "RECEIVE", "open", RECORD],
  ["open", "REKEY", "open", REKEY, "epochLeft"],
  ["open", "CLOSE", "closing", CLOSE],
  ["open", "EXPIRE", "expired", CLOSE, "expired"],
  ["closing", "RECEIVE", "closing", RECORD],
  ["closing", "CLOSED", "closed", CLOSE],
  ["closing", "EXPIRE", "expired", CLOSE, "expired"],
];

/** The server machine, written out by hand. */
const SERVER_STATES: ExpectedState[] = [
  {
    key: "establishing",
    type: "atomic",
    description:
      "The client's opening Digest request is being verified; the answer will carry rspauth.",
  },
  {
    key: "open",
    type: "atomic",
    description: "Requests come in and responses, each bound to its request, go out as records.",
  },
  {
    key: "closing",
    type: "atomic",
    description:
      "The client asked to close: the server answers with its own close record, nothing else.",
  },
  {
    key: "closed",
    type: "final",
    description: "Closed by both ends: no record is sent or accepted.",
  },
  { key: "expired", type: "final", description: "Past its expiry: no record is sent or accepted." },
];
const SERVER_TRANSITIONS: ExpectedTransition[] = [
  ["establishing", "AUTHENTICATED", "open", OPEN],
  ["open", "RECEIVE", "open", RECORD],
  ["open", "SEND", "open", RECORD],
  ["open", "REKEY", "open", REKEY, "epochLeft"],
  ["open", "CLOSE_RECEIVED", "closing", CLOSE],
  ["open", "EXPIRE", "expired", CLOSE, "expired"],
  ["closing", "REKEY", "closing", REKEY, "epochLeft"],
  ["closing", "CLOSE_ANSWERED", "closed", CLOSE],
];

describe("[CHMODEL-PAGE][MUT-MACHINE-META] secure channel: what the reviewer page draws, against the spec written out by hand", () => {
  // Answers the self-loop targets :136, :137, :138, :147, :186, :187, :188, :198 -> "": xstate
  // then makes the transition targetless (the page draws no arrow; for SEND and RECEIVE, which
  // have no action, `can` says no, so the gate would refuse every record), :148 "closed" -> "",
  // and the `on: {}`, `failed` and `type` mutants above. The `initial` -> "" mutants (:120, :174)
  // make the module throw on load: test/unit/mut-machines-load.test.ts counts them.
  for (const [id, machine, states, transitions] of [
    ["secureChannelClient", secureChannelClientMachine, CLIENT_STATES, CLIENT_TRANSITIONS],
    ["secureChannelServer", secureChannelServerMachine, SERVER_STATES, SERVER_TRANSITIONS],
  ] as const) {
    const drawn = describeMachine({ id, title: id, source: "machines/secure-channel.ts", machine });

    it(`[CHMODEL-PAGE][MUT-MACHINE-META] ${id}: every state, its type and its description`, () => {
      expect(drawn.initial).toBe(`${id}.establishing`);
      expect(
        drawn.states.map((state) => ({
          key: state.key,
          type: state.type,
          description: state.description,
        })),
      ).toEqual(states);
    });

    it(`[CHMODEL-PAGE][MUT-MACHINE-META] ${id}: every transition, its target, guard, action and requirement ids`, () => {
      expect(
        drawn.transitions.map((t) => ({
          source: t.source,
          event: t.event,
          target: t.target,
          guard: t.guard,
          actions: t.actions,
          requirements: t.requirements,
        })),
      ).toEqual(
        transitions.map(([source, event, target, requirements, guard]) => ({
          source: `${id}.${source}`,
          event,
          target: `${id}.${target}`,
          guard: guard ?? null,
          actions: event === "REKEY" ? ["nextEpoch"] : [],
          requirements,
        })),
      );
    });
  }
});
