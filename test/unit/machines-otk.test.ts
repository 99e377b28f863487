/**
 * The OTK lifecycle machine (machines/otk.ts; seed 5.x.2 second bullet,
 * OTK-DEPOSIT, OTK-DELIVERY, OTK-PAIRING, OTK-CUT-THROUGH, OTK-FORMAT), asked
 * directly through `snapshot.can` and xstate's pure `transition`: every guard
 * one fact at a time (issuer type, peer active, pairing, self, expiry bounds
 * at their exact edges, addressee, issuer key version current / changed /
 * null, consumer identity and key version), and the final states accept
 * nothing. The server (src/server/otks.ts) writes only what this machine
 * accepts, so each refusal here is a request the server must refuse.
 */
import { describe, expect, it } from "vitest";
import { initialTransition, transition } from "xstate";
import { type OtkContext, type OtkEvent, otkMachine } from "../../machines/otk.ts";
import { machineBridge } from "../../src/machine-gate/bridge.ts";

type Snapshot = ReturnType<typeof otkMachine.resolveState>;

const NOW = 1_748_779_200;
const MAX = 300;
const CTX: OtkContext = {
  otkId: "b3RrLWlkLTAxMjM0NTY3ODk",
  issuerId: "gw-1",
  peerId: "watch-1",
  issuerKeyVersion: 2,
  expiresAt: NOW + 120,
};

const start = (context: Partial<OtkContext> = {}): Snapshot =>
  initialTransition(otkMachine, { ...CTX, ...context })[0];

const deposit = (over: Partial<Extract<OtkEvent, { type: "DEPOSIT" }>> = {}): OtkEvent => ({
  type: "DEPOSIT",
  issuerType: "PNGW",
  peerActive: true,
  pairingAllowed: true,
  now: NOW,
  maxLifetimeSeconds: MAX,
  ...over,
});
const deliver = (over: Partial<Extract<OtkEvent, { type: "DELIVER" }>> = {}): OtkEvent => ({
  type: "DELIVER",
  callerId: CTX.peerId,
  issuerKeyVersion: CTX.issuerKeyVersion,
  now: NOW + 10,
  ...over,
});
const consume = (over: Partial<Extract<OtkEvent, { type: "CONSUME" }>> = {}): OtkEvent => ({
  type: "CONSUME",
  callerId: CTX.issuerId,
  callerKeyVersion: CTX.issuerKeyVersion,
  now: NOW + 20,
  ...over,
});

/** Applies events the machine must accept. */
function run(snapshot: Snapshot, events: OtkEvent[]): Snapshot {
  let current = snapshot;
  for (const event of events) {
    expect(current.can(event), `${JSON.stringify(event)} in ${String(current.value)}`).toBe(true);
    current = transition(otkMachine, current, event)[0];
  }
  return current;
}

/** Asserts a refusal, and that applying the event anyway changes nothing. */
function refuses(snapshot: Snapshot, event: OtkEvent, why: string): void {
  expect(snapshot.can(event), why).toBe(false);
  const [after] = transition(otkMachine, snapshot, event);
  expect(after.value, why).toBe(snapshot.value);
  expect(after.context, why).toEqual(snapshot.context);
}

const deposited = () => run(start(), [deposit()]);
const delivered = () => run(deposited(), [deliver()]);

/** Every event worth asking anywhere, with the variations the guards look at. */
const EVERY_EVENT: OtkEvent[] = [
  deposit(),
  deposit({ issuerType: "PNE" }),
  deliver(),
  deliver({ callerId: CTX.issuerId }),
  consume(),
  consume({ callerId: CTX.peerId }),
  { type: "EXPIRE", now: CTX.expiresAt - 1 },
  { type: "EXPIRE", now: CTX.expiresAt },
  { type: "EXPIRE", now: CTX.expiresAt + 10_000 },
  { type: "ISSUER_KEY_CHANGED", issuerKeyVersion: CTX.issuerKeyVersion },
  { type: "ISSUER_KEY_CHANGED", issuerKeyVersion: CTX.issuerKeyVersion + 1 },
  { type: "ISSUER_KEY_CHANGED", issuerKeyVersion: null },
];

describe("[OTK-DEPOSIT][OTK-PAIRING][SEED-5.x.2-4] created --DEPOSIT--> deposited", () => {
  it("[OTK-DEPOSIT][SEED-5.x.2-4] a PN GW deposits for an active, pairable peer; the context is kept as given", () => {
    const next = run(start(), [deposit()]);
    expect(next.value).toBe("deposited");
    expect(next.status).toBe("active");
    expect(next.context).toEqual(CTX);
  });

  it("[OTK-PAIRING][SEED-5.x.2-4] a PNE may not deposit (only a PN GW creates OTKs)", () => {
    refuses(start(), deposit({ issuerType: "PNE" }), "PNE issuer");
  });

  it("[OTK-PAIRING] the peer must hold an active EUKey", () => {
    refuses(start(), deposit({ peerActive: false }), "inactive peer");
    // Even when the pairing policy would allow it.
    refuses(start(), deposit({ peerActive: false, pairingAllowed: true }), "inactive, pairable");
  });

  it("[OTK-PAIRING][SEED-5.x.3-1] the pairing policy must allow issuer and peer together", () => {
    refuses(start(), deposit({ pairingAllowed: false }), "pairing refused");
  });

  it("[OTK-PAIRING] never for itself, even with every other fact in its favour", () => {
    refuses(start({ peerId: CTX.issuerId }), deposit(), "self");
  });

  it("[OTK-PAIRING][OTK-FORMAT] expiry strictly after now and at most maxLifetimeSeconds later, at the exact edges", () => {
    const cases: Array<[number, boolean]> = [
      [NOW - 1_000_000, false],
      [NOW - 1, false],
      [NOW, false],
      [NOW + 1, true],
      [NOW + MAX - 1, true],
      [NOW + MAX, true],
      [NOW + MAX + 1, false],
      [NOW + 10 * MAX, false],
    ];
    for (const [expiresAt, ok] of cases) {
      const snapshot = start({ expiresAt });
      const why = `expiresAt = now ${expiresAt >= NOW ? "+" : "-"} ${Math.abs(expiresAt - NOW)}`;
      if (ok) expect(run(snapshot, [deposit()]).value, why).toBe("deposited");
      else refuses(snapshot, deposit(), why);
    }
    // A zero lifetime allows nothing at all.
    refuses(start({ expiresAt: NOW + 1 }), deposit({ maxLifetimeSeconds: 0 }), "max 0");
  });

  it("[OTK-DEPOSIT] nothing but DEPOSIT moves a created OTK", () => {
    for (const event of EVERY_EVENT) {
      if (event.type === "DEPOSIT" && event.issuerType === "PNGW") continue;
      refuses(start(), event, `created: ${JSON.stringify(event)}`);
    }
  });
});

describe("[OTK-DELIVERY][OTK-CUT-THROUGH][SEED-5.x.2-5] deposited --DELIVER--> delivered", () => {
  it("[OTK-DELIVERY][SEED-5.x.2-5] the addressee, with the issuer still at its key version, before expiry", () => {
    const next = run(deposited(), [deliver()]);
    expect(next.value).toBe("delivered");
    expect(next.context).toEqual(CTX);
  });

  it("[OTK-DELIVERY] only to the addressee: not the issuer, not another entity, not a near-miss id", () => {
    for (const callerId of [CTX.issuerId, "watch-2", "watch-1 ", "WATCH-1", ""]) {
      refuses(deposited(), deliver({ callerId }), `caller ${JSON.stringify(callerId)}`);
    }
  });

  it("[OTK-CUT-THROUGH] the issuer's key version: current delivers, changed or null (revoked) does not", () => {
    expect(run(deposited(), [deliver({ issuerKeyVersion: CTX.issuerKeyVersion })]).value).toBe(
      "delivered",
    );
    for (const issuerKeyVersion of [CTX.issuerKeyVersion + 1, CTX.issuerKeyVersion - 1, 0, null]) {
      refuses(deposited(), deliver({ issuerKeyVersion }), `issuer key ${issuerKeyVersion}`);
    }
  });

  it("[OTK-FORMAT][OTK-DELIVERY] expiry edge: one second before delivers, at expiresAt and after does not", () => {
    expect(run(deposited(), [deliver({ now: CTX.expiresAt - 1 })]).value).toBe("delivered");
    refuses(deposited(), deliver({ now: CTX.expiresAt }), "at expiry");
    refuses(deposited(), deliver({ now: CTX.expiresAt + 1 }), "after expiry");
  });

  it("[OTK-FORMAT][OTK-PAIRING] a deposited OTK cannot be consumed (not delivered yet) nor deposited again", () => {
    refuses(deposited(), consume(), "consume before delivery");
    refuses(deposited(), deposit(), "second deposit");
  });

  it("[OTK-FORMAT] EXPIRE moves it to expired only at or after expiresAt", () => {
    refuses(deposited(), { type: "EXPIRE", now: CTX.expiresAt - 1 }, "before expiry");
    expect(run(deposited(), [{ type: "EXPIRE", now: CTX.expiresAt }]).value).toBe("expired");
    expect(run(deposited(), [{ type: "EXPIRE", now: CTX.expiresAt + 99 }]).value).toBe("expired");
  });

  it("[OTK-CUT-THROUGH] ISSUER_KEY_CHANGED revokes only for a version that differs (rotated or null)", () => {
    refuses(
      deposited(),
      { type: "ISSUER_KEY_CHANGED", issuerKeyVersion: CTX.issuerKeyVersion },
      "same version",
    );
    for (const issuerKeyVersion of [CTX.issuerKeyVersion + 1, null]) {
      expect(run(deposited(), [{ type: "ISSUER_KEY_CHANGED", issuerKeyVersion }]).value).toBe(
        "revoked",
      );
    }
  });
});

describe("[OTK-FORMAT][OTK-CUT-THROUGH] delivered --CONSUME--> consumed", () => {
  it("[OTK-FORMAT][SEED-5.x.2-4] the issuer, with the key version it deposited under, before expiry", () => {
    const next = run(delivered(), [consume()]);
    expect(next.value).toBe("consumed");
    expect(next.status).toBe("done");
    expect(next.context).toEqual(CTX);
  });

  it("[OTK-FORMAT] only the issuer consumes: not the addressee, not another PN GW", () => {
    for (const callerId of [CTX.peerId, "gw-2", "GW-1", ""]) {
      refuses(delivered(), consume({ callerId }), `caller ${JSON.stringify(callerId)}`);
    }
  });

  it("[OTK-CUT-THROUGH] the consumer's key version must be the deposit's: a rotated issuer cannot consume", () => {
    for (const callerKeyVersion of [CTX.issuerKeyVersion + 1, CTX.issuerKeyVersion - 1, 0]) {
      refuses(delivered(), consume({ callerKeyVersion }), `key version ${callerKeyVersion}`);
    }
  });

  it("[OTK-FORMAT] expiry edge: one second before consumes, at expiresAt does not", () => {
    expect(run(delivered(), [consume({ now: CTX.expiresAt - 1 })]).value).toBe("consumed");
    refuses(delivered(), consume({ now: CTX.expiresAt }), "at expiry");
  });

  it("[OTK-FORMAT][OTK-DELIVERY] delivered once: a second DELIVER is refused", () => {
    refuses(delivered(), deliver(), "second delivery");
  });

  it("[OTK-FORMAT][OTK-CUT-THROUGH] a delivered OTK still expires and is still revoked by a key change", () => {
    refuses(delivered(), { type: "EXPIRE", now: CTX.expiresAt - 1 }, "before expiry");
    expect(run(delivered(), [{ type: "EXPIRE", now: CTX.expiresAt }]).value).toBe("expired");
    refuses(
      delivered(),
      { type: "ISSUER_KEY_CHANGED", issuerKeyVersion: CTX.issuerKeyVersion },
      "same version",
    );
    expect(
      run(delivered(), [{ type: "ISSUER_KEY_CHANGED", issuerKeyVersion: CTX.issuerKeyVersion + 1 }])
        .value,
    ).toBe("revoked");
    expect(run(delivered(), [{ type: "ISSUER_KEY_CHANGED", issuerKeyVersion: null }]).value).toBe(
      "revoked",
    );
  });
});

describe("[OTK-FORMAT][OTK-CUT-THROUGH] final states", () => {
  const finals: Array<[string, () => Snapshot]> = [
    ["consumed", () => run(delivered(), [consume()])],
    ["expired (from deposited)", () => run(deposited(), [{ type: "EXPIRE", now: CTX.expiresAt }])],
    ["expired (from delivered)", () => run(delivered(), [{ type: "EXPIRE", now: CTX.expiresAt }])],
    [
      "revoked (from deposited)",
      () => run(deposited(), [{ type: "ISSUER_KEY_CHANGED", issuerKeyVersion: null }]),
    ],
    [
      "revoked (from delivered)",
      () => run(delivered(), [{ type: "ISSUER_KEY_CHANGED", issuerKeyVersion: 3 }]),
    ],
  ];

  it("[OTK-FORMAT][OTK-CUT-THROUGH] consumed, expired and revoked are done and accept no event at all", () => {
    for (const [name, reach] of finals) {
      const snapshot = reach();
      expect(snapshot.status, name).toBe("done");
      for (const event of EVERY_EVENT)
        refuses(snapshot, event, `${name}: ${JSON.stringify(event)}`);
      // Also with the event's facts at their most favourable (long before expiry).
      refuses(snapshot, deliver({ now: NOW }), `${name}: early DELIVER`);
      refuses(snapshot, consume({ now: NOW }), `${name}: early CONSUME`);
    }
  });

  it("[OTK-FORMAT][OTK-CUT-THROUGH] restored from its persisted form (as the server does), a final state still accepts nothing", () => {
    // src/server/otks.ts rebuilds snapshots from storage with machineBridge.restore.
    const bridge = machineBridge(otkMachine);
    for (const [name, reach] of finals) {
      const restored = bridge.restore(bridge.persist(reach()));
      expect(restored.status, name).toBe("done");
      for (const event of EVERY_EVENT) expect(bridge.step(restored, event), name).toBeUndefined();
    }
    // And a live one restores live: the persisted deposited OTK can still be delivered.
    const live = bridge.restore(bridge.persist(deposited()));
    expect(bridge.step(live, deliver())?.value).toBe("delivered");
  });
});
