/**
 * Seed 5.x.2, second bullet, the peer's side (a PNE over CPNS-1/6, or a PN GW
 * over CPNS-3): holding an OTK fetched from the CPNS Server, it authenticates
 * to the PN GW that created it, and trusts the PN GW only once the PN GW has
 * proved the same OTK with rspauth: the authentication is mutual.
 *
 *   holding --OPEN--> opening --GATEWAY_PROVED--> open --MESSAGE | RELAY--> open
 *   holding --EXPIRE--> expired    opening --GATEWAY_UNPROVEN | REJECTED--> refused
 *                                  open --EXPIRE--> expired, --CLOSE--> closed
 *
 * An OTK is tried once: whatever the outcome of `opening`, it is never sent again.
 * Time is one transition of its own: before every step that uses the OTK or
 * the session (opening, messages, relay) the peer first offers EXPIRE, which
 * ends the OTK or the session once its time is up.
 * Pure: the peer agent (src/agent/peer.ts) asks this machine before each step.
 *
 * Implements: SEED-5.x.2-6, PEER-SESSION
 */
import { assign, setup } from "xstate";

export interface PeerSessionContext {
  entityId: string;
  gatewayId: string;
  otkId: string;
  /** Epoch seconds. */
  otkExpiresAt: number;
  sessionId: string | null;
  /** Epoch seconds; null until the session opens. */
  sessionExpiresAt: number | null;
}

export type PeerSessionEvent =
  | { type: "OPEN" }
  | { type: "GATEWAY_PROVED"; sessionId: string; sessionExpiresAt: number }
  | { type: "GATEWAY_UNPROVEN" }
  | { type: "REJECTED" }
  | { type: "MESSAGE" }
  | { type: "RELAY" }
  | { type: "EXPIRE"; now: number }
  | { type: "CLOSE" };

const now = (event: PeerSessionEvent) => ("now" in event ? event.now : Number.NaN);

export const peerSessionMachine = setup({
  types: {
    context: {} as PeerSessionContext,
    events: {} as PeerSessionEvent,
    input: {} as Omit<PeerSessionContext, "sessionId" | "sessionExpiresAt">,
  },
  guards: {
    otkExpired: ({ context, event }) => now(event) >= context.otkExpiresAt,
    sessionExpired: ({ context, event }) =>
      context.sessionExpiresAt !== null && now(event) >= context.sessionExpiresAt,
  },
  actions: {
    openSession: assign(({ event }) =>
      event.type === "GATEWAY_PROVED"
        ? { sessionId: event.sessionId, sessionExpiresAt: event.sessionExpiresAt }
        : {},
    ),
  },
}).createMachine({
  id: "peerSession",
  context: ({ input }) => ({ ...input, sessionId: null, sessionExpiresAt: null }),
  initial: "holding",
  states: {
    holding: {
      description: "The peer fetched and opened the OTK; no session has been tried with it.",
      on: {
        OPEN: { target: "opening", meta: { requirements: ["PEER-DIGEST"] } },
        EXPIRE: { guard: "otkExpired", target: "expired", meta: { requirements: ["OTK-FORMAT"] } },
      },
    },
    opening: {
      description: "Digest with the OTK is under way; the PN GW's rspauth is required.",
      on: {
        GATEWAY_PROVED: {
          target: "open",
          actions: "openSession",
          meta: { requirements: ["SEED-5.x.2-6", "PEER-DIGEST", "PEER-SESSION"] },
        },
        // An impostor PN GW (no valid rspauth): nothing it said is used.
        GATEWAY_UNPROVEN: { target: "refused", meta: { requirements: ["PEER-DIGEST"] } },
        REJECTED: { target: "refused", meta: { requirements: ["PEER-DIGEST"] } },
      },
    },
    open: {
      description: "Both sides proved the OTK; session traffic flows until the session expires.",
      on: {
        MESSAGE: { target: "open", meta: { requirements: ["PEER-SESSION"] } },
        RELAY: {
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
      description: "The PN GW refused the OTK or could not prove it: the OTK is discarded.",
      type: "final",
    },
    expired: { description: "The OTK or the session outlived its expiry.", type: "final" },
    closed: { description: "The session was closed.", type: "final" },
  },
});
