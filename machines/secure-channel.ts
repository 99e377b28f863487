/**
 * Seed 5.x.4 (confidentiality and integrity after authentication), our answer
 * to FFS-NO-TLS: the lifecycle of one CPNS secure channel (spec/channel.md),
 * one machine per side. The channel code (src/channel/endpoint.ts) steps these
 * machines for every lifecycle event (authenticated, re-key, close, expiry) and
 * sends or accepts records only while the current state allows SEND or RECEIVE.
 *
 *   client: establishing --AUTHENTICATED--> open --CLOSE--> closing --CLOSED--> closed
 *           establishing --SERVER_UNPROVEN | REFUSED--> failed
 *           establishing | open | closing --EXPIRE--> expired
 *   server: establishing --AUTHENTICATED--> open --CLOSE_RECEIVED--> closing --CLOSE_ANSWERED--> closed
 *           open --EXPIRE--> expired
 *   both:   open --REKEY--> open (epoch + 1, up to maxEpoch); server closing --REKEY--> closing
 *
 * The server sets the expiry from its own clock when it creates the channel, in the same
 * call that authenticates it, and answers a close in the same request that brought it: so
 * its establishing and closing states cannot expire (spec/decisions.md, secure-session
 * machines). The client learns the expiry from the server's answer and can find it past.
 *
 * No application record moves before AUTHENTICATED (mutual: the client's Digest
 * verified and the server's rspauth checked), and none after closed or expired.
 * Records themselves (SEND, RECEIVE) are self-loops: which records are fresh is
 * the replay window's business, not the lifecycle's. Pure: no I/O, no crypto.
 *
 * Implements: SEED-5.x.4-1, FFS-NO-TLS, CHANNEL-REKEY, CHANNEL-CLOSE
 * Implements: CHMODEL-NO-DATA-BEFORE-AUTH, CHMODEL-NO-RECORD-AFTER-END, CHMODEL-USED-UP
 */
import { assign, setup } from "xstate";

export interface SecureChannelContext {
  sessionId: string;
  /** The epoch this end currently sends under (spec/channel.md §6). */
  sendEpoch: number;
  /** Milliseconds since the epoch: the channel code's own clock, so both agree to the millisecond. */
  expiresAtMs: number;
  /** The last epoch this end may send under: a re-key past it is refused (the channel is used up). */
  maxEpoch: number;
}

export type SecureChannelInput = Pick<SecureChannelContext, "sessionId" | "expiresAtMs"> & {
  /** Default (and most) 2^32 - 1: the record header's epoch field has 32 bits. */
  maxEpoch?: number;
};

/** The record header's epoch field is 32 bits (spec/channel.md §4). */
export const MAX_EPOCH = 0xffffffff;

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
  sessionId: input.sessionId,
  expiresAtMs: input.expiresAtMs,
  maxEpoch: Math.min(input.maxEpoch ?? MAX_EPOCH, MAX_EPOCH),
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
    epochLeft: ({ context }) => context.sendEpoch < context.maxEpoch,
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
    epochLeft: ({ context }) => context.sendEpoch < context.maxEpoch,
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
      },
    },
    ...finals,
  },
});
