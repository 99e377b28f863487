/**
 * Seed 5.x.2, second bullet, PN GW side (CPNS-1/6 towards a PNE, CPNS-3
 * towards another PN GW): one OTK offered to one peer, and the peer session
 * it may open.
 *
 *   created --DEPOSITED--> offered --PEER_PROVED_OTK--> consuming --SERVER_CONSUMED--> open
 *   created --DEPOSIT_REFUSED--> refused        consuming --SERVER_REFUSED--> refused
 *   offered --EXPIRE--> expired                 open --MESSAGE | RELAY--> open
 *   offered --WITHDRAW--> withdrawn
 *                                               open --EXPIRE--> expired, --CLOSE--> closed
 *
 * The PN GW answers the peer's Digest (username = peer's Entity ID, secret =
 * base64url(OTK)) and then asks the CPNS Server to consume the OTK: only the
 * server knows whether the issuer's key was rotated or revoked since the
 * deposit, so the session opens only when the server says yes. Time is one
 * transition of its own: before every step that uses the offer or the session
 * (opening, messages, relay) the gateway first offers EXPIRE, which ends the
 * offer or the session once its time is up, so nothing is accepted late. The
 * relay of traffic to the server serves a PNE only (a PN GW has a route of
 * its own).
 *
 * A newer offer to the same peer withdraws the older one (Digest names the peer
 * by its Entity ID, so only one OTK per peer can be answered).
 *
 * Pure: the gateway (src/gateway/) asks this machine before every step.
 *
 * Implements: SEED-5.x.2-6, PEER-SESSION
 */
import { assign, setup } from "xstate";
import type { EntityType } from "./entity.ts";

export interface GatewaySessionContext {
  gatewayId: string;
  peerId: string;
  /** Learnt from the server at deposit; null before. */
  peerType: EntityType | null;
  otkId: string;
  /** Epoch seconds: the OTK's expiry, after which no session opens with it. */
  offerExpiresAt: number;
  sessionId: string | null;
  /** Epoch seconds; null until the session opens. */
  sessionExpiresAt: number | null;
}

export type GatewaySessionEvent =
  | { type: "DEPOSITED"; peerType: EntityType }
  | { type: "DEPOSIT_REFUSED" }
  | { type: "PEER_PROVED_OTK"; peerId: string }
  | { type: "SERVER_CONSUMED"; sessionId: string; sessionExpiresAt: number }
  | { type: "SERVER_REFUSED" }
  | { type: "MESSAGE" }
  | { type: "RELAY" }
  | { type: "EXPIRE"; now: number }
  | { type: "WITHDRAW" }
  | { type: "CLOSE" };

const now = (event: GatewaySessionEvent) => ("now" in event ? event.now : Number.NaN);

export const gatewaySessionMachine = setup({
  types: {
    context: {} as GatewaySessionContext,
    events: {} as GatewaySessionEvent,
    input: {} as Omit<GatewaySessionContext, "peerType" | "sessionId" | "sessionExpiresAt">,
  },
  guards: {
    offerExpired: ({ context, event }) => now(event) >= context.offerExpiresAt,
    sessionExpired: ({ context, event }) =>
      context.sessionExpiresAt !== null && now(event) >= context.sessionExpiresAt,
    /** The relay carries a PNE's traffic only: a PN GW has a route of its own. */
    peerIsPne: ({ context }) => context.peerType === "PNE",
  },
  actions: {
    learnPeerType: assign(({ event }) =>
      event.type === "DEPOSITED" ? { peerType: event.peerType } : {},
    ),
    openSession: assign(({ event }) =>
      event.type === "SERVER_CONSUMED"
        ? { sessionId: event.sessionId, sessionExpiresAt: event.sessionExpiresAt }
        : {},
    ),
  },
}).createMachine({
  id: "gatewaySession",
  context: ({ input }) => ({ ...input, peerType: null, sessionId: null, sessionExpiresAt: null }),
  initial: "created",
  states: {
    created: {
      description: "The PN GW generated an OTK for the peer and is depositing it at the server.",
      on: {
        DEPOSITED: {
          target: "offered",
          actions: "learnPeerType",
          meta: { requirements: ["SEED-5.x.2-4", "OTK-DEPOSIT"] },
        },
        DEPOSIT_REFUSED: { target: "refused" },
      },
    },
    offered: {
      description: "The server holds the OTK for the peer; the PN GW waits for the peer's Digest.",
      on: {
        // No guard: the Digest lookup found this offer by the peer's name, and
        // expiry is settled first (EXPIRE) before it is asked.
        PEER_PROVED_OTK: {
          target: "consuming",
          meta: { requirements: ["SEED-5.x.2-6", "SEED-5.x.2-7", "PEER-DIGEST"] },
        },
        EXPIRE: {
          guard: "offerExpired",
          target: "expired",
          meta: { requirements: ["OTK-FORMAT"] },
        },
        WITHDRAW: { target: "withdrawn", meta: { requirements: ["OTK-FORMAT"] } },
      },
    },
    consuming: {
      description: "The peer proved the OTK; the PN GW asks the server to consume it.",
      on: {
        SERVER_CONSUMED: {
          target: "open",
          actions: "openSession",
          meta: { requirements: ["OTK-FORMAT", "OTK-CUT-THROUGH", "PEER-SESSION"] },
        },
        SERVER_REFUSED: { target: "refused", meta: { requirements: ["OTK-CUT-THROUGH"] } },
      },
    },
    open: {
      description: "Mutually authenticated; session traffic is accepted until the session expires.",
      on: {
        MESSAGE: {
          target: "open",
          meta: { requirements: ["PEER-SESSION"] },
        },
        RELAY: {
          guard: "peerIsPne",
          target: "open",
          meta: { requirements: ["GATEWAY-RELAY", "GATEWAY-RELAY-E2E"] },
        },
        EXPIRE: {
          guard: "sessionExpired",
          target: "expired",
          meta: { requirements: ["PEER-SESSION"] },
        },
        CLOSE: { target: "closed", meta: { requirements: ["PEER-SESSION"] } },
      },
    },
    refused: {
      description: "The server refused the deposit or the consumption: no session with this OTK.",
      type: "final",
    },
    expired: {
      description: "The offer or the session outlived its expiry.",
      type: "final",
    },
    closed: { description: "The peer closed the session.", type: "final" },
    withdrawn: {
      description: "A newer offer to the same peer replaced this one before it was used.",
      type: "final",
    },
  },
});
