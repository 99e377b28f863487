/**
 * Seed 5.x.1 (EUKey assignment), 5.x.2 (entity authentication with the EUKey)
 * and 5.x.3 (authorisation by Entity ID and User ID): the lifecycle of one
 * entity's EUKey on the CPNS Server.
 *
 *   unassigned --ENROLL--> active(version 1) --ROTATE--> active(version n+1)
 *                            |                    (owner only, same type)
 *                            +--REVOKE--> revoked (final; the id is never reused)
 *
 * AUTHENTICATE is accepted only in `active` and only for the current key
 * version, so a rotated-away or revoked key can never authenticate again.
 * Pure: no I/O, no crypto, JSON-serialisable context. The server asks this
 * machine before every write (src/server/), and only then writes.
 *
 * Implements: SEED-5.x.1-1, SEED-5.x.1-2, SEED-5.x.2-1, SEED-5.x.3-1, ENTITY-LIFECYCLE
 */
import { assign, setup } from "xstate";

export type EntityType = "PNE" | "PNGW";

export interface EntityContext {
  entityId: string;
  userId: string | null;
  entityType: EntityType | null;
  keyVersion: number;
}

export type EntityEvent =
  | { type: "ENROLL"; userId: string; entityType: EntityType }
  | { type: "ROTATE"; userId: string; entityType: EntityType }
  | { type: "REVOKE"; userId: string }
  | { type: "AUTHENTICATE"; keyVersion: number };

export const entityMachine = setup({
  types: {
    context: {} as EntityContext,
    events: {} as EntityEvent,
    input: {} as { entityId: string },
  },
  guards: {
    /** 5.x.3: only the owning User ID may act on its entity. */
    isOwner: ({ context, event }) => "userId" in event && event.userId === context.userId,
    /** Re-assignment rotates the key; it cannot turn a PNE into a PN GW. */
    isOwnerSameType: ({ context, event }) =>
      event.type === "ROTATE" &&
      event.userId === context.userId &&
      event.entityType === context.entityType,
    presentsCurrentKey: ({ context, event }) =>
      event.type === "AUTHENTICATE" && event.keyVersion === context.keyVersion,
  },
  actions: {
    assignOwner: assign(({ event }) =>
      event.type === "ENROLL" ? { userId: event.userId, entityType: event.entityType } : {},
    ),
    issueNextKey: assign({ keyVersion: ({ context }) => context.keyVersion + 1 }),
  },
}).createMachine({
  id: "entity",
  context: ({ input }) => ({
    entityId: input.entityId,
    userId: null,
    entityType: null,
    keyVersion: 0,
  }),
  initial: "unassigned",
  states: {
    unassigned: {
      description: "No EUKey has been assigned to this Entity ID.",
      on: {
        ENROLL: {
          target: "active",
          actions: ["assignOwner", "issueNextKey"],
          meta: { requirements: ["SEED-5.x.1-1", "SEED-5.x.1-2", "ENTITY-LIFECYCLE"] },
        },
      },
    },
    active: {
      description: "The entity holds EUKey version `keyVersion` and may authenticate with it.",
      on: {
        ROTATE: {
          guard: "isOwnerSameType",
          target: "active",
          reenter: true,
          actions: "issueNextKey",
          meta: { requirements: ["ENTITY-LIFECYCLE", "SERVER-OWNERSHIP"] },
        },
        REVOKE: {
          guard: "isOwner",
          target: "revoked",
          meta: { requirements: ["ENTITY-LIFECYCLE", "SERVER-OWNERSHIP"] },
        },
        // Stays active. A target is named because snapshot.can() treats a
        // targetless transition without actions as "nothing would happen".
        AUTHENTICATE: {
          guard: "presentsCurrentKey",
          target: "active",
          meta: { requirements: ["SEED-5.x.2-1", "SEED-5.x.3-1"] },
        },
      },
    },
    revoked: {
      description: "The EUKey is withdrawn; the entity can never authenticate again.",
      type: "final",
    },
  },
});
