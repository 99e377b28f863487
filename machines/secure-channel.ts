/**
 * Seed 5.x.4 (confidentiality and integrity after authentication), our answer
 * to FFS-NO-TLS: the lifecycle of one CPNS secure channel (spec/channel.md),
 * one machine per side. The channel code (src/channel/endpoint.ts) steps these
 * machines for every lifecycle event (authenticated, re-key, close, expiry) and
 * sends or accepts records only while the current state allows SEND or RECEIVE.
 *
 *   client: establishing --AUTHENTICATED--> open --CLOSE--> closing --CLOSED--> closed
 *           establishing --SERVER_UNPROVEN | REFUSED--> failed
 *   server: establishing --AUTHENTICATED--> open --CLOSE_RECEIVED--> closing --CLOSE_ANSWERED--> closed
 *   both:   open --REKEY--> open (epoch + 1, bounded); open | closing --EXPIRE--> expired
 *
 * No application record moves before AUTHENTICATED (mutual: the client's Digest
 * verified and the server's rspauth checked), and none after closed or expired.
 * Records themselves (SEND, RECEIVE) are self-loops: which records are fresh is
 * the replay window's business, not the lifecycle's. Pure: no I/O, no crypto.
 *
 * Implements: SEED-5.x.4-1, FFS-NO-TLS, CHANNEL-REKEY, CHANNEL-CLOSE
 */
import { assign, setup } from "xstate";

export interface SecureChannelContext {
  sessionId: string;
  /** The epoch this end currently sends under (spec/channel.md §6). */
  sendEpoch: number;
  /** Milliseconds since the epoch: the channel code's own clock, so both agree to the millisecond. */
  expiresAtMs: number;
}

export type SecureChannelInput = Pick<SecureChannelContext, "sessionId" | "expiresAtMs">;

const MAX_EPOCH = 0xffffffff;

type Common =
  | { type: "AUTHENTICATED" }
  | { type: "SEND" }
  | { type: "RECEIVE" }
  | { type: "REKEY" }
  | { type: "EXPIRE"; nowMs: number };

export type SecureChannelClientEvent =
  | Common
  | { type: "SERVER_UNPROVEN" }
  | { type: "REFUSED" }
  | { type: "CLOSE" }
  | { type: "CLOSED" };

export type SecureChannelServerEvent =
  | Common
  | { type: "CLOSE_RECEIVED" }
  | { type: "CLOSE_ANSWERED" };

function isExpired(
  context: SecureChannelContext,
  event: { type: string; nowMs?: number },
): boolean {
  return event.type === "EXPIRE" && (event.nowMs ?? Number.NaN) >= context.expiresAtMs;
}

const initialContext = ({ input }: { input: SecureChannelInput }): SecureChannelContext => ({
  ...input,
  sendEpoch: 0,
});

const REQ = {
  open: ["SEED-5.x.4-1", "CHANNEL-KEYS"],
  record: ["CHANNEL-REPLAY", "CHANNEL-BINDING"],
  rekey: ["CHANNEL-REKEY"],
  close: ["CHANNEL-CLOSE"],
};

// What both sides share, written once: the record self-loops, re-keying, expiry, the final states.
const record = (state: string) => ({ target: state, meta: { requirements: REQ.record } });
const rekey = (state: string) => ({
  guard: "epochLeft" as const,
  target: state,
  actions: "nextEpoch" as const,
  meta: { requirements: REQ.rekey },
});
const expire = {
  guard: "expired" as const,
  target: "expired",
  meta: { requirements: REQ.close },
};
const finals = {
  closed: { description: "Closed by both ends: no record is sent or accepted.", type: "final" },
  expired: { description: "Past its expiry: no record is sent or accepted.", type: "final" },
} as const;

export const secureChannelClientMachine = setup({
  types: {
    context: {} as SecureChannelContext,
    events: {} as SecureChannelClientEvent,
    input: {} as SecureChannelInput,
  },
  guards: {
    expired: ({ context, event }) => isExpired(context, event),
    epochLeft: ({ context }) => context.sendEpoch < MAX_EPOCH,
  },
  actions: { nextEpoch: assign({ sendEpoch: ({ context }) => context.sendEpoch + 1 }) },
}).createMachine({
  id: "secureChannelClient",
  context: initialContext,
  initial: "establishing",
  states: {
    establishing: {
      description:
        "The opening Digest request (qop=auth-int) is under way; the server must prove the shared secret with rspauth.",
      on: {
        AUTHENTICATED: { target: "open", meta: { requirements: REQ.open } },
        SERVER_UNPROVEN: { target: "failed", meta: { requirements: ["FFS-SERVER-AUTH"] } },
        REFUSED: { target: "failed", meta: { requirements: ["SEED-5.x.4-1"] } },
        EXPIRE: expire,
      },
    },
    open: {
      description:
        "Both ends are authenticated; requests go out and responses come back as records.",
      on: {
        SEND: record("open"),
        RECEIVE: record("open"),
        REKEY: rekey("open"),
        CLOSE: { target: "closing", meta: { requirements: REQ.close } },
        EXPIRE: expire,
      },
    },
    closing: {
      description:
        "The client sent its close record: it sends nothing more and awaits the server's close.",
      on: {
        RECEIVE: record("closing"),
        CLOSED: { target: "closed", meta: { requirements: REQ.close } },
        EXPIRE: expire,
      },
    },
    ...finals,
    failed: {
      description: "The server did not prove the shared secret, or refused: no channel.",
      type: "final",
    },
  },
});

export const secureChannelServerMachine = setup({
  types: {
    context: {} as SecureChannelContext,
    events: {} as SecureChannelServerEvent,
    input: {} as SecureChannelInput,
  },
  guards: {
    expired: ({ context, event }) => isExpired(context, event),
    epochLeft: ({ context }) => context.sendEpoch < MAX_EPOCH,
  },
  actions: { nextEpoch: assign({ sendEpoch: ({ context }) => context.sendEpoch + 1 }) },
}).createMachine({
  id: "secureChannelServer",
  context: initialContext,
  initial: "establishing",
  states: {
    establishing: {
      description:
        "The client's opening Digest request is being verified; the answer will carry rspauth.",
      on: {
        AUTHENTICATED: { target: "open", meta: { requirements: REQ.open } },
        EXPIRE: expire,
      },
    },
    open: {
      description: "Requests come in and responses, each bound to its request, go out as records.",
      on: {
        RECEIVE: record("open"),
        SEND: record("open"),
        REKEY: rekey("open"),
        CLOSE_RECEIVED: { target: "closing", meta: { requirements: REQ.close } },
        EXPIRE: expire,
      },
    },
    closing: {
      description:
        "The client asked to close: the server answers with its own close record, nothing else.",
      on: {
        // The close answer is one more record: it may be the one that needs a new epoch.
        REKEY: rekey("closing"),
        CLOSE_ANSWERED: { target: "closed", meta: { requirements: REQ.close } },
        EXPIRE: expire,
      },
    },
    ...finals,
  },
});
