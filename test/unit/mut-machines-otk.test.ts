/**
 * Issue #9, checks the suite could not see (Stryker, machines/otk.ts: the `peerGone` guard had
 * no coverage at all, seven mutants): PEER_REVOKED ends a deposited or delivered OTK when the
 * peer no longer holds an active EUKey (OTK-CUT-THROUGH: an OTK for a revoked peer must not
 * open a session later), is refused while the peer is still active, and means nothing before
 * the deposit or after the OTK has ended.
 */
import { describe, expect, it } from "vitest";
import { initialTransition, transition } from "xstate";
import { type OtkContext, type OtkEvent, otkMachine } from "../../machines/otk.ts";

type Snapshot = ReturnType<typeof otkMachine.resolveState>;

const NOW = 1_748_779_200;
const CTX: OtkContext = {
  otkId: "b3RrLWlkLTAxMjM0NTY3ODk",
  issuerId: "gw-1",
  peerId: "watch-1",
  issuerKeyVersion: 2,
  expiresAt: NOW + 120,
};
const DEPOSIT: OtkEvent = {
  type: "DEPOSIT",
  issuerType: "PNGW",
  peerActive: true,
  pairingAllowed: true,
  now: NOW,
  maxLifetimeSeconds: 300,
};
const DELIVER: OtkEvent = {
  type: "DELIVER",
  callerId: CTX.peerId,
  issuerKeyVersion: CTX.issuerKeyVersion,
  now: NOW + 10,
};
const CONSUME: OtkEvent = {
  type: "CONSUME",
  callerId: CTX.issuerId,
  callerKeyVersion: CTX.issuerKeyVersion,
  now: NOW + 20,
};
const GONE: OtkEvent = { type: "PEER_REVOKED", peerActive: false };
const STILL_ACTIVE: OtkEvent = { type: "PEER_REVOKED", peerActive: true };

function walk(events: OtkEvent[]): Snapshot {
  let snapshot = initialTransition(otkMachine, CTX)[0];
  for (const event of events) {
    expect(snapshot.can(event), `${event.type} in ${String(snapshot.value)}`).toBe(true);
    snapshot = transition(otkMachine, snapshot, event)[0];
  }
  return snapshot;
}

function refused(snapshot: Snapshot, event: OtkEvent): void {
  expect(snapshot.can(event)).toBe(false);
  const [after] = transition(otkMachine, snapshot, event);
  expect(after.value).toBe(snapshot.value);
  expect(after.context).toEqual(snapshot.context);
}

describe("[OTK-CUT-THROUGH] PEER_REVOKED ends an OTK whose peer lost its key", () => {
  for (const [state, path] of [
    ["deposited", [DEPOSIT]],
    ["delivered", [DEPOSIT, DELIVER]],
  ] as const) {
    it(`[OTK-CUT-THROUGH] ${state}: revoked (final) once the peer is gone; refused while it is active`, () => {
      const snapshot = walk([...path]);
      expect(snapshot.value).toBe(state);
      refused(snapshot, STILL_ACTIVE);
      const after = walk([...path, GONE]);
      expect(after.value).toBe("revoked");
      expect(after.status).toBe("done");
      expect(after.context).toEqual(CTX);
    });
  }

  it("[OTK-CUT-THROUGH] before the deposit and after the OTK ended, PEER_REVOKED is refused", () => {
    refused(walk([]), GONE);
    refused(walk([DEPOSIT, DELIVER, CONSUME]), GONE);
    refused(walk([DEPOSIT, GONE]), GONE);
    refused(walk([DEPOSIT, { type: "EXPIRE", now: CTX.expiresAt }]), GONE);
  });
});
