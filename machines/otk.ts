/**
 * Seed 5.x.2, second bullet: "PN GW creates onetime security key and share it
 * with another entity ... Sharing of onetime security key is intermediated by
 * CPNS Server and secured by EUKey." The life of one OTK as the CPNS Server,
 * its only intermediary, keeps it:
 *
 *   created --DEPOSIT--> deposited --DELIVER--> delivered --CONSUME--> consumed
 *                          |                      |
 *                          +----------------------+--EXPIRE------------> expired
 *                          +----------------------+--ISSUER_KEY_CHANGED-> revoked
 *                          +----------------------+--PEER_REVOKED-------> revoked
 *
 * DEPOSIT: only a PN GW, for an active peer it may pair with (same owner by
 * default), never itself, with an expiry inside the allowed lifetime.
 * DELIVER: only to the addressee, before expiry, while the issuer still holds
 * the EUKey version it deposited under. CONSUME: only by the issuer with that
 * same key version (the PN GW asks before it opens a peer session), before
 * expiry. So a rotated or revoked issuer's OTK can neither be fetched nor used,
 * and an OTK whose addressee was revoked opens no session either.
 * Every terminal state is final: an OTK is used for one session at most.
 *
 * Pure: facts the guards need (caller, key versions, the time) arrive in the
 * events, computed by the server (src/server/otks.ts), which writes only what
 * this machine accepts.
 *
 * Implements: SEED-5.x.2-4, SEED-5.x.2-5, OTK-PAIRING, OTK-CUT-THROUGH
 */
import { setup } from "xstate";
import type { EntityType } from "./entity.ts";

export interface OtkContext {
  otkId: string;
  issuerId: string;
  peerId: string;
  /** The issuer's EUKey version the OTK was deposited under. */
  issuerKeyVersion: number;
  /** Epoch seconds. */
  expiresAt: number;
}

export type OtkEvent =
  | {
      type: "DEPOSIT";
      issuerType: EntityType;
      /** The peer exists and holds an active EUKey. */
      peerActive: boolean;
      /** The pairing policy (same owner by default) allows issuer and peer together. */
      pairingAllowed: boolean;
      now: number;
      maxLifetimeSeconds: number;
    }
  | {
      type: "DELIVER";
      callerId: string;
      /** The issuer's current key version; null once it is revoked. */
      issuerKeyVersion: number | null;
      now: number;
    }
  | { type: "CONSUME"; callerId: string; callerKeyVersion: number; now: number }
  | { type: "EXPIRE"; now: number }
  | { type: "ISSUER_KEY_CHANGED"; issuerKeyVersion: number | null }
  | { type: "PEER_REVOKED"; peerActive: boolean };

/** How a deposited or delivered OTK can end without being used: the same in both states. */
const ENDS_BEFORE_USE = {
  EXPIRE: { guard: "hasExpired", target: "expired", meta: { requirements: ["OTK-FORMAT"] } },
  ISSUER_KEY_CHANGED: {
    guard: "issuerKeyChanged",
    target: "revoked",
    meta: { requirements: ["OTK-CUT-THROUGH"] },
  },
  PEER_REVOKED: {
    guard: "peerGone",
    target: "revoked",
    meta: { requirements: ["OTK-CUT-THROUGH"] },
  },
} as const;

export const otkMachine = setup({
  types: {
    context: {} as OtkContext,
    events: {} as OtkEvent,
    input: {} as OtkContext,
  },
  guards: {
    mayDeposit: ({ context, event }) =>
      event.type === "DEPOSIT" &&
      event.issuerType === "PNGW" &&
      event.peerActive &&
      event.pairingAllowed &&
      context.peerId !== context.issuerId &&
      context.expiresAt > event.now &&
      context.expiresAt <= event.now + event.maxLifetimeSeconds,
    mayDeliver: ({ context, event }) =>
      event.type === "DELIVER" &&
      event.callerId === context.peerId &&
      event.issuerKeyVersion === context.issuerKeyVersion &&
      event.now < context.expiresAt,
    mayConsume: ({ context, event }) =>
      event.type === "CONSUME" &&
      event.callerId === context.issuerId &&
      event.callerKeyVersion === context.issuerKeyVersion &&
      event.now < context.expiresAt,
    hasExpired: ({ context, event }) => event.type === "EXPIRE" && event.now >= context.expiresAt,
    issuerKeyChanged: ({ context, event }) =>
      event.type === "ISSUER_KEY_CHANGED" && event.issuerKeyVersion !== context.issuerKeyVersion,
    peerGone: ({ event }) => event.type === "PEER_REVOKED" && !event.peerActive,
  },
}).createMachine({
  id: "otk",
  context: ({ input }) => ({ ...input }),
  initial: "created",
  states: {
    created: {
      description: "The PN GW generated the OTK; the server has not accepted it yet.",
      on: {
        DEPOSIT: {
          guard: "mayDeposit",
          target: "deposited",
          meta: { requirements: ["SEED-5.x.2-4", "SEED-5.x.2-5", "OTK-DEPOSIT", "OTK-PAIRING"] },
        },
      },
    },
    deposited: {
      description: "The server holds the OTK (sealed at rest) for its addressee.",
      on: {
        DELIVER: {
          guard: "mayDeliver",
          target: "delivered",
          meta: { requirements: ["SEED-5.x.2-5", "OTK-DELIVERY", "OTK-CUT-THROUGH"] },
        },
        ...ENDS_BEFORE_USE,
      },
    },
    delivered: {
      description: "The addressee fetched the OTK (once); the server no longer holds it.",
      on: {
        CONSUME: {
          guard: "mayConsume",
          target: "consumed",
          meta: { requirements: ["OTK-FORMAT", "OTK-CUT-THROUGH", "SEED-5.x.2-6"] },
        },
        ...ENDS_BEFORE_USE,
      },
    },
    consumed: {
      description: "A peer session was opened with the OTK; it can never open another.",
      type: "final",
    },
    expired: {
      description: "The OTK's lifetime ended before it was used.",
      type: "final",
    },
    revoked: {
      description:
        "The issuer's EUKey was rotated or revoked, or the addressee revoked, after the deposit.",
      type: "final",
    },
  },
});
