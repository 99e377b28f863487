/**
 * Seed 5.x.1 and 5.x.2, device side: the lifecycle of a PNE's or PN GW's
 * EUKey as the device sees it, and our resolution of the server-authentication
 * FFS (the server must prove knowledge of the EUKey with rspauth, or the
 * device does not trust the answer).
 *
 *   unenrolled --ENROLL--> enrolling --ENROLLED--> enrolled --AUTHENTICATE--> authenticating
 *   authenticating --SERVER_PROVED--> authenticated
 *   authenticating --SERVER_UNPROVEN--> enrolled   (an impostor server: nothing it said is used)
 *   authenticating --REJECTED--> enrolled          (401, or a refusal the server did not prove, e.g.
 *                                                   a 429; rotated or revoked elsewhere, or an
 *                                                   impostor; a 401 proves nothing, so the key is kept)
 *   enrolled | authenticated --ENROLL--> enrolling (rotation: a new key replaces the old)
 *
 * Pure: the agent (src/agent/) asks this machine before acting and persists
 * its snapshot beside the key.
 *
 * Implements: FFS-SERVER-AUTH, AGENT-LIFECYCLE
 */
import { assign, setup } from "xstate";

export interface AgentContext {
  entityId: string;
  keyVersion: number;
}

export type AgentEvent =
  | { type: "ENROLL" }
  | { type: "ENROLLED"; keyVersion: number }
  | { type: "ENROLL_FAILED" }
  | { type: "AUTHENTICATE" }
  | { type: "SERVER_PROVED" }
  | { type: "SERVER_UNPROVEN" }
  | { type: "REJECTED" };

export const agentMachine = setup({
  types: {
    context: {} as AgentContext,
    events: {} as AgentEvent,
    input: {} as { entityId: string },
  },
  guards: {
    isNewerKey: ({ context, event }) =>
      event.type === "ENROLLED" && event.keyVersion > context.keyVersion,
    /** A failed rotation leaves the previous key in place. */
    hadKey: ({ context }) => context.keyVersion > 0,
  },
  actions: {
    keepKeyVersion: assign({
      keyVersion: ({ context, event }) =>
        event.type === "ENROLLED" ? event.keyVersion : context.keyVersion,
    }),
  },
}).createMachine({
  id: "agent",
  context: ({ input }) => ({ entityId: input.entityId, keyVersion: 0 }),
  initial: "unenrolled",
  states: {
    unenrolled: {
      description: "The device holds no EUKey.",
      on: { ENROLL: "enrolling" },
    },
    enrolling: {
      description: "The owner's credentials are being used to obtain an EUKey.",
      on: {
        ENROLLED: {
          guard: "isNewerKey",
          target: "enrolled",
          actions: "keepKeyVersion",
          meta: { requirements: ["SEED-5.x.1-1", "KEY-TRANSPORT-EUKEY", "AGENT-LIFECYCLE"] },
        },
        ENROLL_FAILED: [{ guard: "hadKey", target: "enrolled" }, { target: "unenrolled" }],
      },
    },
    enrolled: {
      description: "The device holds an EUKey but has not yet seen the server prove it.",
      on: { AUTHENTICATE: "authenticating", ENROLL: "enrolling" },
    },
    authenticating: {
      description: "A Digest exchange with the EUKey is under way; rspauth is required.",
      on: {
        SERVER_PROVED: {
          target: "authenticated",
          meta: { requirements: ["FFS-SERVER-AUTH", "AGENT-REQUIRE-RSPAUTH"] },
        },
        SERVER_UNPROVEN: {
          target: "enrolled",
          meta: { requirements: ["FFS-SERVER-AUTH", "AGENT-REQUIRE-RSPAUTH"] },
        },
        // A 401 carries no proof, so it must not destroy the key: an impostor or a
        // mistyped server address would otherwise force a re-enrollment.
        REJECTED: { target: "enrolled" },
      },
    },
    authenticated: {
      description: "Both sides proved knowledge of the EUKey.",
      on: { AUTHENTICATE: "authenticating", ENROLL: "enrolling" },
    },
  },
});
