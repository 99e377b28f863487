/**
 * Issue #13 (the reviewer page as a place to play the protocol): for every machine the
 * simulation offers, a typed example input and a typed example payload for each of its events,
 * and which fields may be null. The examples prefill the page's JSON editors; the simulation
 * (simulate.ts) also reads from them the shape a snapshot's context, an input and an event must
 * have, so a payload of the wrong shape is refused before any machine sees it.
 *
 * Time is never the server's clock: every guard that compares times reads `now` / `nowMs` from
 * the event, and the examples carry a fixed reviewer-set time the reviewer can edit.
 *
 * Implements: PLAY-SIM-VALIDATE
 */
import type { AgentEvent } from "../../machines/agent.ts";
import type { EntityEvent } from "../../machines/entity.ts";
import type { GatewaySessionContext, GatewaySessionEvent } from "../../machines/gateway-session.ts";
import type { OtkContext, OtkEvent } from "../../machines/otk.ts";
import type { PeerSessionContext, PeerSessionEvent } from "../../machines/peer-session.ts";
import type {
  SecureChannelClientEvent,
  SecureChannelInput,
  SecureChannelServerEvent,
} from "../../machines/secure-channel.ts";

/** A fixed time the examples are written at (2026-01-01T00:00:00Z, epoch seconds). */
export const EXAMPLE_NOW = 1_767_225_600;

export type Scalar = string | number | boolean | null;

/** Each event type of `E`, with its payload (every field but `type`). */
type Payloads<E extends { type: string }> = {
  [K in E["type"]]: Omit<Extract<E, { type: K }>, "type">;
};

export interface SimExample {
  /** What the machine is created with (`createActor(machine, { input })`). */
  input: Record<string, Scalar>;
  /** Input fields that may be left out. */
  optionalInput: readonly string[];
  /** Context fields (and event fields) that may be null besides their example's type. */
  nullable: readonly string[];
  /** A context with every field non-null: the type each context field must have. */
  contextShape: Record<string, Scalar>;
  events: Record<string, Record<string, Scalar>>;
}

const entityEvents: Payloads<EntityEvent> = {
  ENROLL: { userId: "alice", entityType: "PNE" },
  ROTATE: { userId: "alice", entityType: "PNE" },
  REVOKE: { userId: "alice" },
  AUTHENTICATE: { keyVersion: 1 },
};

const agentEvents: Payloads<AgentEvent> = {
  ENROLL: {},
  ENROLLED: { keyVersion: 1 },
  ENROLL_FAILED: {},
  AUTHENTICATE: {},
  SERVER_PROVED: {},
  SERVER_UNPROVEN: {},
  REJECTED: {},
};

const otkInput: OtkContext = {
  otkId: "otk-1",
  issuerId: "gw-1",
  peerId: "pne-1",
  issuerKeyVersion: 1,
  expiresAt: EXAMPLE_NOW + 300,
};

const otkEvents: Payloads<OtkEvent> = {
  DEPOSIT: {
    issuerType: "PNGW",
    peerActive: true,
    pairingAllowed: true,
    now: EXAMPLE_NOW,
    maxLifetimeSeconds: 3600,
  },
  DELIVER: { callerId: "pne-1", issuerKeyVersion: 1, now: EXAMPLE_NOW + 10 },
  CONSUME: { callerId: "gw-1", callerKeyVersion: 1, now: EXAMPLE_NOW + 20 },
  EXPIRE: { now: EXAMPLE_NOW + 300 },
  ISSUER_KEY_CHANGED: { issuerKeyVersion: 2 },
  PEER_REVOKED: { peerActive: false },
};

const gatewayContext: GatewaySessionContext = {
  gatewayId: "gw-1",
  peerId: "pne-1",
  peerType: "PNE",
  otkId: "otk-1",
  offerExpiresAt: EXAMPLE_NOW + 300,
  sessionId: "session-1",
  sessionExpiresAt: EXAMPLE_NOW + 3600,
};

const gatewayEvents: Payloads<GatewaySessionEvent> = {
  DEPOSITED: { peerType: "PNE" },
  DEPOSIT_REFUSED: {},
  PEER_PROVED_OTK: { peerId: "pne-1" },
  SERVER_CONSUMED: { sessionId: "session-1", sessionExpiresAt: EXAMPLE_NOW + 3600 },
  SERVER_REFUSED: {},
  MESSAGE: {},
  RELAY: {},
  EXPIRE: { now: EXAMPLE_NOW + 300 },
  WITHDRAW: {},
  CLOSE: {},
};

const peerContext: PeerSessionContext = {
  entityId: "pne-1",
  gatewayId: "gw-1",
  otkId: "otk-1",
  otkExpiresAt: EXAMPLE_NOW + 300,
  sessionId: "session-1",
  sessionExpiresAt: EXAMPLE_NOW + 3600,
};

const peerEvents: Payloads<PeerSessionEvent> = {
  OPEN: {},
  GATEWAY_PROVED: { sessionId: "session-1", sessionExpiresAt: EXAMPLE_NOW + 3600 },
  GATEWAY_UNPROVEN: {},
  REJECTED: {},
  MESSAGE: {},
  RELAY: {},
  EXPIRE: { now: EXAMPLE_NOW + 300 },
  CLOSE: {},
};

const channelInput: Required<SecureChannelInput> = {
  sessionId: "channel-1",
  expiresAtMs: (EXAMPLE_NOW + 600) * 1000,
  maxEpoch: 2,
};

const channelCommon = {
  AUTHENTICATED: {},
  SEND: {},
  RECEIVE: {},
  REKEY: {},
  EXPIRE: { nowMs: (EXAMPLE_NOW + 600) * 1000 },
};

const channelClientEvents: Payloads<SecureChannelClientEvent> = {
  ...channelCommon,
  SERVER_UNPROVEN: {},
  REFUSED: {},
  CLOSE: {},
  CLOSED: {},
};

const channelServerEvents: Payloads<SecureChannelServerEvent> = {
  ...channelCommon,
  CLOSE_RECEIVED: {},
  CLOSE_ANSWERED: {},
};

type Events = Record<string, Record<string, Scalar>>;

const channel = (events: Events): SimExample => ({
  input: { ...channelInput },
  optionalInput: ["maxEpoch"],
  nullable: [],
  contextShape: { ...channelInput, sendEpoch: 0 },
  events,
});

/** By machine id (src/reviewer-page/registry.ts); a unit test checks every machine has one. */
export const SIM_EXAMPLES: Readonly<Record<string, SimExample>> = {
  entity: {
    input: { entityId: "pne-1" },
    optionalInput: [],
    nullable: ["userId", "entityType"],
    contextShape: { entityId: "pne-1", userId: "alice", entityType: "PNE", keyVersion: 1 },
    events: entityEvents as Events,
  },
  agent: {
    input: { entityId: "pne-1" },
    optionalInput: [],
    nullable: [],
    contextShape: { entityId: "pne-1", keyVersion: 1 },
    events: agentEvents as Events,
  },
  otk: {
    input: { ...otkInput },
    optionalInput: [],
    // DELIVER and ISSUER_KEY_CHANGED carry null once the issuer is revoked.
    nullable: ["issuerKeyVersion"],
    contextShape: { ...otkInput },
    events: otkEvents as Events,
  },
  gatewaySession: {
    input: {
      gatewayId: gatewayContext.gatewayId,
      peerId: gatewayContext.peerId,
      otkId: gatewayContext.otkId,
      offerExpiresAt: gatewayContext.offerExpiresAt,
    },
    optionalInput: [],
    nullable: ["peerType", "sessionId", "sessionExpiresAt"],
    contextShape: { ...gatewayContext },
    events: gatewayEvents as Events,
  },
  peerSession: {
    input: {
      entityId: peerContext.entityId,
      gatewayId: peerContext.gatewayId,
      otkId: peerContext.otkId,
      otkExpiresAt: peerContext.otkExpiresAt,
    },
    optionalInput: [],
    nullable: ["sessionId", "sessionExpiresAt"],
    contextShape: { ...peerContext },
    events: peerEvents as Events,
  },
  secureChannelClient: channel(channelClientEvents as Events),
  secureChannelServer: channel(channelServerEvents as Events),
};
