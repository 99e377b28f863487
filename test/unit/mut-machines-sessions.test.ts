/**
 * Issue #9, checks the suite could not see (Stryker survivors in machines/peer-session.ts and
 * machines/gateway-session.ts, which had no unit test, only model tests over HTTP): both
 * session machines asked directly, every state against every event, with the expiry guards
 * at their exact edges (one second before: still usable; at the expiry: expired), the
 * contexts the actions write, the relay refused to a PN GW peer, and final states that
 * accept nothing. The PN GW (src/gateway/) and the peer agent (src/agent/peer.ts) ask these
 * machines before every step, so each refusal here is a step they must refuse.
 */
import { describe, expect, it } from "vitest";
import { type AnyStateMachine, initialTransition, transition } from "xstate";
import {
  type GatewaySessionContext,
  type GatewaySessionEvent,
  gatewaySessionMachine,
} from "../../machines/gateway-session.ts";
import {
  type PeerSessionContext,
  type PeerSessionEvent,
  peerSessionMachine,
} from "../../machines/peer-session.ts";

const NOW = 1_748_779_200;
const OTK_EXPIRES = NOW + 120;
const SESSION_EXPIRES = NOW + 600;

// biome-ignore lint/suspicious/noExplicitAny: one helper for two machines with different event types.
type AnySnapshot = any;

/** The state reached (or the unchanged state, when refused), and whether `can` agreed. */
function step(machine: AnyStateMachine, snapshot: AnySnapshot, event: { type: string }) {
  const can = snapshot.can(event) as boolean;
  const [next] = transition(machine, snapshot, event as never) as [AnySnapshot, unknown];
  return { can, next };
}

/** Walks `path` (each event must be accepted) from the initial state. */
function reach<E extends { type: string }>(
  machine: AnyStateMachine,
  input: unknown,
  path: E[],
): AnySnapshot {
  let snapshot: AnySnapshot = initialTransition(machine, input as never)[0];
  for (const event of path) {
    const { can, next } = step(machine, snapshot, event);
    expect(can, `${event.type} from ${String(snapshot.value)}`).toBe(true);
    snapshot = next;
  }
  return snapshot;
}

/**
 * For each event: the state it leads to, or null for a refusal (then `can` is false and the
 * snapshot, context included, is unchanged).
 */
function expectTable<E extends { type: string }>(
  machine: AnyStateMachine,
  snapshot: AnySnapshot,
  events: Array<[string, E]>,
  table: Record<string, string | null>,
): void {
  for (const [label, event] of events) {
    const expected = table[label];
    if (expected === undefined) throw new Error(`no expectation for ${label}`);
    const { can, next } = step(machine, snapshot, event);
    const where = `${label} in ${String(snapshot.value)}`;
    if (expected === null) {
      expect(can, where).toBe(false);
      expect(next.value, where).toBe(snapshot.value);
      expect(next.context, where).toEqual(snapshot.context);
    } else {
      expect(can, where).toBe(true);
      expect(next.value, where).toBe(expected);
      expect(next.status, where).toBe(
        ["refused", "expired", "closed", "withdrawn"].includes(expected) ? "done" : "active",
      );
    }
  }
}

describe("[PEER-DIGEST][PEER-SESSION] machines/peer-session.ts, every state against every event", () => {
  const input: Omit<PeerSessionContext, "sessionId" | "sessionExpiresAt"> = {
    entityId: "watch-1",
    gatewayId: "gw-1",
    otkId: "otk-1",
    otkExpiresAt: OTK_EXPIRES,
  };
  const proved: PeerSessionEvent = {
    type: "GATEWAY_PROVED",
    sessionId: "s-1",
    sessionExpiresAt: SESSION_EXPIRES,
  };
  const EVENTS: Array<[string, PeerSessionEvent]> = [
    ["OPEN", { type: "OPEN" }],
    ["GATEWAY_PROVED", proved],
    ["GATEWAY_UNPROVEN", { type: "GATEWAY_UNPROVEN" }],
    ["REJECTED", { type: "REJECTED" }],
    ["MESSAGE", { type: "MESSAGE" }],
    ["RELAY", { type: "RELAY" }],
    ["CLOSE", { type: "CLOSE" }],
    ["EXPIRE otk-1", { type: "EXPIRE", now: OTK_EXPIRES - 1 }],
    ["EXPIRE otk", { type: "EXPIRE", now: OTK_EXPIRES }],
    ["EXPIRE session-1", { type: "EXPIRE", now: SESSION_EXPIRES - 1 }],
    ["EXPIRE session", { type: "EXPIRE", now: SESSION_EXPIRES }],
  ];
  const refusedAll = Object.fromEntries(EVENTS.map(([label]) => [label, null]));
  const m = peerSessionMachine as unknown as AnyStateMachine;

  it("[PEER-DIGEST][OTK-FORMAT] holding: OPEN tries the OTK; EXPIRE ends it at its expiry, not a second before", () => {
    const holding = reach(m, input, []);
    expect(holding.value).toBe("holding");
    expect(holding.context).toEqual({ ...input, sessionId: null, sessionExpiresAt: null });
    expectTable(m, holding, EVENTS, {
      ...refusedAll,
      OPEN: "opening",
      "EXPIRE otk-1": null,
      "EXPIRE otk": "expired",
      "EXPIRE session-1": "expired",
      "EXPIRE session": "expired",
    });
  });

  it("[PEER-DIGEST][SEED-5.x.2-6] opening: only the gateway's proof opens the session; unproven or rejected refuses the OTK for good", () => {
    const opening = reach(m, input, [{ type: "OPEN" }]);
    expectTable(m, opening, EVENTS, {
      ...refusedAll,
      GATEWAY_PROVED: "open",
      GATEWAY_UNPROVEN: "refused",
      REJECTED: "refused",
    });
    const open = transition(peerSessionMachine, opening, proved)[0];
    expect(open.context).toEqual({
      ...input,
      sessionId: "s-1",
      sessionExpiresAt: SESSION_EXPIRES,
    });
  });

  it("[PEER-SESSION][GATEWAY-RELAY] open: messages and relay until the session's expiry (not the OTK's), then expired; CLOSE closes", () => {
    const open = reach(m, input, [{ type: "OPEN" }, proved]);
    expectTable(m, open, EVENTS, {
      ...refusedAll,
      MESSAGE: "open",
      RELAY: "open",
      CLOSE: "closed",
      "EXPIRE otk-1": null,
      "EXPIRE otk": null,
      "EXPIRE session-1": null,
      "EXPIRE session": "expired",
    });
  });

  it("[PEER-SESSION] the final states accept nothing", () => {
    const finals = [
      reach(m, input, [{ type: "OPEN" }, { type: "REJECTED" }]),
      reach(m, input, [{ type: "EXPIRE", now: OTK_EXPIRES }]),
      reach(m, input, [{ type: "OPEN" }, proved, { type: "CLOSE" }]),
    ];
    expect(finals.map((s) => s.value)).toEqual(["refused", "expired", "closed"]);
    for (const snapshot of finals) expectTable(m, snapshot, EVENTS, refusedAll);
  });
});

describe("[PEER-DIGEST][PEER-SESSION][OTK-CUT-THROUGH] machines/gateway-session.ts, every state against every event", () => {
  const input: Omit<GatewaySessionContext, "peerType" | "sessionId" | "sessionExpiresAt"> = {
    gatewayId: "gw-1",
    peerId: "watch-1",
    otkId: "otk-1",
    offerExpiresAt: OTK_EXPIRES,
  };
  const consumed: GatewaySessionEvent = {
    type: "SERVER_CONSUMED",
    sessionId: "s-1",
    sessionExpiresAt: SESSION_EXPIRES,
  };
  const EVENTS: Array<[string, GatewaySessionEvent]> = [
    ["DEPOSITED", { type: "DEPOSITED", peerType: "PNE" }],
    ["DEPOSIT_REFUSED", { type: "DEPOSIT_REFUSED" }],
    ["PEER_PROVED_OTK", { type: "PEER_PROVED_OTK", peerId: "watch-1" }],
    ["SERVER_CONSUMED", consumed],
    ["SERVER_REFUSED", { type: "SERVER_REFUSED" }],
    ["MESSAGE", { type: "MESSAGE" }],
    ["RELAY", { type: "RELAY" }],
    ["WITHDRAW", { type: "WITHDRAW" }],
    ["CLOSE", { type: "CLOSE" }],
    ["EXPIRE offer-1", { type: "EXPIRE", now: OTK_EXPIRES - 1 }],
    ["EXPIRE offer", { type: "EXPIRE", now: OTK_EXPIRES }],
    ["EXPIRE session-1", { type: "EXPIRE", now: SESSION_EXPIRES - 1 }],
    ["EXPIRE session", { type: "EXPIRE", now: SESSION_EXPIRES }],
  ];
  const refusedAll = Object.fromEntries(EVENTS.map(([label]) => [label, null]));
  const m = gatewaySessionMachine as unknown as AnyStateMachine;
  const toOpen = (peerType: "PNE" | "PNGW"): GatewaySessionEvent[] => [
    { type: "DEPOSITED", peerType },
    { type: "PEER_PROVED_OTK", peerId: "watch-1" },
    consumed,
  ];

  it("[OTK-DEPOSIT][SEED-5.x.2-4] created: the deposit's outcome decides; the peer's type is learnt from the server", () => {
    const created = reach(m, input, []);
    expect(created.context).toEqual({
      ...input,
      peerType: null,
      sessionId: null,
      sessionExpiresAt: null,
    });
    expectTable(m, created, EVENTS, {
      ...refusedAll,
      DEPOSITED: "offered",
      DEPOSIT_REFUSED: "refused",
    });
    const offered = transition(gatewaySessionMachine, created, {
      type: "DEPOSITED",
      peerType: "PNGW",
    })[0];
    expect(offered.context.peerType).toBe("PNGW");
    expect(offered.context.sessionId).toBeNull();
  });

  it("[PEER-DIGEST][OTK-FORMAT] offered: the peer's proof, withdrawal, or expiry at the offer's expiry (not a second before)", () => {
    const offered = reach(m, input, [{ type: "DEPOSITED", peerType: "PNE" }]);
    expectTable(m, offered, EVENTS, {
      ...refusedAll,
      PEER_PROVED_OTK: "consuming",
      WITHDRAW: "withdrawn",
      "EXPIRE offer-1": null,
      "EXPIRE offer": "expired",
      "EXPIRE session-1": "expired",
      "EXPIRE session": "expired",
    });
  });

  it("[OTK-CUT-THROUGH][PEER-SESSION] consuming: only the server's consumption opens the session, with its id and expiry", () => {
    const consuming = reach(m, input, toOpen("PNE").slice(0, 2));
    expectTable(m, consuming, EVENTS, {
      ...refusedAll,
      SERVER_CONSUMED: "open",
      SERVER_REFUSED: "refused",
    });
    const open = transition(gatewaySessionMachine, consuming, consumed)[0];
    expect(open.context).toEqual({
      ...input,
      peerType: "PNE",
      sessionId: "s-1",
      sessionExpiresAt: SESSION_EXPIRES,
    });
  });

  it("[PEER-SESSION][GATEWAY-RELAY] open with a PNE: messages and relay until the session's expiry; CLOSE closes", () => {
    const open = reach(m, input, toOpen("PNE"));
    expectTable(m, open, EVENTS, {
      ...refusedAll,
      MESSAGE: "open",
      RELAY: "open",
      CLOSE: "closed",
      "EXPIRE offer-1": null,
      "EXPIRE offer": null,
      "EXPIRE session-1": null,
      "EXPIRE session": "expired",
    });
  });

  it("[GATEWAY-RELAY] open with a PN GW peer: messages yes, relay no (a PN GW has a route of its own)", () => {
    const open = reach(m, input, toOpen("PNGW"));
    expectTable(m, open, EVENTS, {
      ...refusedAll,
      MESSAGE: "open",
      RELAY: null,
      CLOSE: "closed",
      "EXPIRE offer-1": null,
      "EXPIRE offer": null,
      "EXPIRE session-1": null,
      "EXPIRE session": "expired",
    });
  });

  it("[PEER-SESSION] the final states accept nothing", () => {
    const finals = [
      reach(m, input, [{ type: "DEPOSIT_REFUSED" }]),
      reach(m, input, [...toOpen("PNE").slice(0, 2), { type: "SERVER_REFUSED" }]),
      reach(m, input, [{ type: "DEPOSITED", peerType: "PNE" }, { type: "WITHDRAW" }]),
      reach(m, input, [
        { type: "DEPOSITED", peerType: "PNE" },
        { type: "EXPIRE", now: OTK_EXPIRES },
      ]),
      reach(m, input, [...toOpen("PNE"), { type: "CLOSE" }]),
    ];
    expect(finals.map((s) => s.value)).toEqual([
      "refused",
      "refused",
      "withdrawn",
      "expired",
      "closed",
    ]);
    for (const snapshot of finals) expectTable(m, snapshot, EVENTS, refusedAll);
  });
});
