/**
 * spec/channel.md §5-§6: one end of a CPNS secure channel, client or server.
 * It holds what makes records safe to accept: the sender's sequence numbers and
 * epoch (re-keying before the limits), the receiver's epoch and replay window,
 * and the closed/expired state. A record that fails any check changes nothing.
 *
 * The window arithmetic is the replay ledger's (`advanceWindow`), so Digest
 * nonce counts and channel records follow one rule. Checks on the receive side
 * run in the order of spec/channel.md §5; the window is consulted only after
 * the record opened, and updated synchronously right after, so two copies of
 * one record racing through decryption are accepted once.
 *
 * The lifecycle is the secure-channel machine's (machines/secure-channel.ts):
 * every lifecycle event (authenticated, re-key, close, expiry) is a step of
 * that machine, refused if it says no, and records are sent or accepted only
 * while its current state allows SEND or RECEIVE. Those two answers are
 * computed once per lifecycle step, not per record: a machine transition costs
 * about 30 µs here, a whole 1 KiB record about 75 µs (spec/decisions.md).
 * Expiry is the machine's to decide: every send and receive asks it EXPIRE with
 * the current time (a refused question costs a guard, not a transition).
 *
 * Implements: FFS-NO-TLS, CHANNEL-REPLAY, CHANNEL-BINDING, CHANNEL-REKEY, CHANNEL-CLOSE
 * Implements: CHMODEL-NO-DATA-BEFORE-AUTH, CHMODEL-NO-REPLAY, CHMODEL-NO-RECORD-AFTER-END, CHMODEL-NO-OLD-EPOCH
 */
import type { SnapshotFrom } from "xstate";
import {
  type SecureChannelClientEvent,
  type SecureChannelServerEvent,
  secureChannelClientMachine,
  secureChannelServerMachine,
} from "../../machines/secure-channel.ts";
import { type CryptoProvider, defaultCrypto } from "../crypto/provider.ts";
import { advanceWindow } from "../digest/index.ts";
import { machineBridge } from "../machine-gate/bridge.ts";
import {
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  type InnerRequest,
  type InnerResponse,
} from "./inner.ts";
import {
  type ChannelContext,
  type Direction,
  type DirectionKeys,
  deriveDirectionKeys,
} from "./keys.ts";
import {
  decodeHeader,
  openRecord,
  type RecordHeader,
  type RecordPlace,
  type RecordTypeName,
  type RequestBinding,
  sealRecord,
} from "./record.ts";

export type ChannelRole = "client" | "server";

export type ChannelFailure = "record" | "replay" | "closed" | "expired";

/** A record that must not be accepted; `reason` is for logs and error codes, never shown with key material. */
export class ChannelError extends Error {
  constructor(readonly reason: ChannelFailure) {
    super(`channel: record refused (${reason})`);
    this.name = "ChannelError";
  }
}

export interface ChannelLimits {
  /** Records per direction and epoch before the sender re-keys. Default 2^24. */
  maxRecordsPerEpoch?: number;
  /** Plaintext bytes per direction and epoch before the sender re-keys. Default 2^34. */
  maxBytesPerEpoch?: number;
  /**
   * The last epoch this end sends under (default and most 2^32 - 1, the header's field): a
   * record that would need another re-key is refused, and the channel must be reopened.
   */
  maxEpoch?: number;
}

export interface ChannelOptions extends ChannelLimits {
  /** When the channel stops accepting and sending records (ms since the epoch). */
  expiresAtMs?: number;
  now?: () => number;
  crypto?: CryptoProvider;
}

const DEFAULT_MAX_RECORDS = 2 ** 24;

const clientBridge = machineBridge(secureChannelClientMachine);
const serverBridge = machineBridge(secureChannelServerMachine);
type ChannelSnapshot =
  | SnapshotFrom<typeof secureChannelClientMachine>
  | SnapshotFrom<typeof secureChannelServerMachine>;
type ChannelEvent = SecureChannelClientEvent | SecureChannelServerEvent;
const DEFAULT_MAX_BYTES = 2 ** 34;

interface Sender {
  direction: Direction;
  epoch: number;
  seq: number;
  bytes: number;
  keys: DirectionKeys;
}

interface Receiver {
  direction: Direction;
  epoch: number;
  keys: DirectionKeys;
  window: { highest: number; seen: number } | undefined;
}

export class ChannelEndpoint {
  readonly #context: ChannelContext;
  readonly #crypto: CryptoProvider;
  readonly #maxRecords: number;
  readonly #maxBytes: number;
  readonly #expiresAtMs: number;
  readonly #now: () => number;
  readonly #sender: Sender;
  readonly #receiver: Receiver;
  /** Keys of the peer's next epoch, derived when its first record arrives. */
  #nextReceiveKeys: Promise<DirectionKeys> | undefined;
  #snapshot: ChannelSnapshot;
  /** What the machine's current state allows, recomputed on every lifecycle step. */
  #canSend = false;
  #canReceive = false;

  private constructor(
    readonly role: ChannelRole,
    context: ChannelContext,
    sender: Sender,
    receiver: Receiver,
    options: ChannelOptions,
  ) {
    this.#context = context;
    this.#crypto = options.crypto ?? defaultCrypto();
    this.#maxRecords = options.maxRecordsPerEpoch ?? DEFAULT_MAX_RECORDS;
    this.#maxBytes = options.maxBytesPerEpoch ?? DEFAULT_MAX_BYTES;
    this.#expiresAtMs = options.expiresAtMs ?? Number.POSITIVE_INFINITY;
    this.#now = options.now ?? Date.now;
    this.#sender = sender;
    this.#receiver = receiver;
    const input = {
      sessionId: context.sessionId,
      expiresAtMs: Math.min(this.#expiresAtMs, Number.MAX_SAFE_INTEGER),
      ...(options.maxEpoch === undefined ? {} : { maxEpoch: options.maxEpoch }),
    };
    this.#snapshot = role === "client" ? clientBridge.initial(input) : serverBridge.initial(input);
  }

  /** One lifecycle step through the machine; false (and nothing changed) when it refuses. */
  #step(event: ChannelEvent): boolean {
    const next =
      this.role === "client"
        ? clientBridge.step(
            this.#snapshot as SnapshotFrom<typeof secureChannelClientMachine>,
            event as SecureChannelClientEvent,
          )
        : serverBridge.step(
            this.#snapshot as SnapshotFrom<typeof secureChannelServerMachine>,
            event as SecureChannelServerEvent,
          );
    if (!next) return false;
    this.#snapshot = next;
    this.#canSend = next.can({ type: "SEND" });
    this.#canReceive = next.can({ type: "RECEIVE" });
    return true;
  }

  /** Why nothing can move now: the machine's final state says which. */
  #refusal(): ChannelError {
    return new ChannelError(this.#snapshot.value === "expired" ? "expired" : "closed");
  }

  static async open(
    role: ChannelRole,
    context: ChannelContext,
    options: ChannelOptions = {},
  ): Promise<ChannelEndpoint> {
    const crypto = options.crypto ?? defaultCrypto();
    const sends: Direction = role === "client" ? "c2s" : "s2c";
    const receives: Direction = role === "client" ? "s2c" : "c2s";
    const [sendKeys, receiveKeys] = await Promise.all([
      deriveDirectionKeys(context, sends, 0, crypto),
      deriveDirectionKeys(context, receives, 0, crypto),
    ]);
    const endpoint = new ChannelEndpoint(
      role,
      { ...context, secret: context.secret.slice() },
      { direction: sends, epoch: 0, seq: 0, bytes: 0, keys: sendKeys },
      { direction: receives, epoch: 0, keys: receiveKeys, window: undefined },
      options,
    );
    // An endpoint exists only once both ends are authenticated (the caller opens it
    // after the Digest exchange and rspauth): that is the machine's AUTHENTICATED,
    // unless the expiry the server gave has already passed by this end's clock.
    endpoint.#settleExpiry();
    endpoint.#step({ type: "AUTHENTICATED" });
    return endpoint;
  }

  /** The lifecycle machine's state: establishing, open, closing, closed, expired (failed: client). */
  get state(): string {
    return String(this.#snapshot.value);
  }

  /** The epoch the next sent record will use (re-keying is visible to tests and reviewers). */
  get sendEpoch(): number {
    return this.#sender.epoch;
  }

  /** Time first: the machine decides whether EXPIRE is due, before anything else moves. */
  #settleExpiry(): void {
    this.#step({ type: "EXPIRE", nowMs: this.#now() });
  }

  /** Re-key before a limit is crossed (spec/channel.md §6); the machine bounds the epochs. */
  async #rekeyIfDue(plaintextLength: number): Promise<void> {
    const sender = this.#sender;
    if (sender.seq < this.#maxRecords && sender.bytes + plaintextLength <= this.#maxBytes) return;
    if (!this.#step({ type: "REKEY" })) throw this.#refusal();
    sender.epoch += 1;
    sender.seq = 0;
    sender.bytes = 0;
    sender.keys = await deriveDirectionKeys(
      this.#context,
      sender.direction,
      sender.epoch,
      this.#crypto,
    );
  }

  async #seal(
    type: RecordTypeName,
    place: RecordPlace,
    plaintext: Uint8Array,
    binding?: RequestBinding,
  ): Promise<{ record: Uint8Array; header: RecordHeader }> {
    const sender = this.#sender;
    // Taken synchronously before the await: concurrent seals never share a seq.
    const header: RecordHeader = { type, epoch: sender.epoch, seq: sender.seq };
    sender.seq += 1;
    sender.bytes += plaintext.length;
    const record = await sealRecord(sender.keys, header, place, plaintext, binding, this.#crypto);
    return { record, header };
  }

  async #open(
    record: Uint8Array,
    place: RecordPlace,
    expected: readonly RecordTypeName[],
    binding?: RequestBinding,
  ): Promise<{ plaintext: Uint8Array; header: RecordHeader }> {
    // Expiry is settled once, after the decryption below (a record decrypted past the expiry
    // is refused there all the same): one machine question per record, not two.
    if (!this.#canReceive) throw this.#refusal();
    const header = decodeHeader(record);
    if (!header || !expected.includes(header.type)) throw new ChannelError("record");
    const receiver = this.#receiver;
    let keys: DirectionKeys;
    if (header.epoch === receiver.epoch) keys = receiver.keys;
    else if (header.epoch === receiver.epoch + 1) {
      this.#nextReceiveKeys ??= deriveDirectionKeys(
        this.#context,
        receiver.direction,
        header.epoch,
        this.#crypto,
      );
      keys = await this.#nextReceiveKeys;
    } else throw new ChannelError("record");
    const plaintext = await openRecord(keys, record, header, place, binding, this.#crypto);
    if (!plaintext) throw new ChannelError("record");
    // Everything below is synchronous: state changes only for a record that opened.
    // The lifecycle may have moved on (closed, expired) while this one was decrypting.
    this.#settleExpiry();
    if (!this.#canReceive) throw this.#refusal();
    if (header.epoch === receiver.epoch + 1) {
      receiver.epoch = header.epoch;
      receiver.keys = keys;
      receiver.window = undefined;
      this.#nextReceiveKeys = undefined;
    } else if (header.epoch !== receiver.epoch) {
      throw new ChannelError("record"); // the receiver moved on while this one was decrypting
    }
    const next = advanceWindow(receiver.window, header.seq);
    if (!next) throw new ChannelError("replay");
    receiver.window = next;
    return { plaintext, header };
  }

  // --- client side -------------------------------------------------------

  async sealRequest(
    request: InnerRequest,
    place: RecordPlace,
  ): Promise<{ record: Uint8Array; binding: RequestBinding }> {
    this.#requireRole("client");
    this.#settleExpiry();
    if (!this.#canSend) throw this.#refusal();
    const plaintext = encodeRequest(request);
    await this.#rekeyIfDue(plaintext.length);
    const { record, header } = await this.#seal("request", place, plaintext);
    return { record, binding: { epoch: header.epoch, seq: header.seq } };
  }

  /** Asks the server to close; the answer goes through openResponse and closes this end. */
  async sealClose(place: RecordPlace): Promise<{ record: Uint8Array; binding: RequestBinding }> {
    this.#requireRole("client");
    this.#settleExpiry();
    if (!this.#canSend) throw this.#refusal();
    await this.#rekeyIfDue(0);
    // The close record is the effect of the machine's CLOSE: nothing is sent if it refuses.
    if (!this.#step({ type: "CLOSE" })) throw this.#refusal();
    const { record, header } = await this.#seal("close", place, new Uint8Array(0));
    return { record, binding: { epoch: header.epoch, seq: header.seq } };
  }

  /** The server's answer to the request sent with `binding`; a close answer closes this end. */
  async openResponse(
    record: Uint8Array,
    place: RecordPlace,
    binding: RequestBinding,
  ): Promise<InnerResponse | "closed"> {
    this.#requireRole("client");
    const { plaintext, header } = await this.#open(record, place, ["response", "close"], binding);
    if (header.type === "close") {
      if (!this.#step({ type: "CLOSED" })) throw new ChannelError("record");
      return "closed";
    }
    return decodeResponse(plaintext);
  }

  // --- server side -------------------------------------------------------

  /** A request (or the client's close) and the binding its answer must carry. */
  async openRequest(
    record: Uint8Array,
    place: RecordPlace,
  ): Promise<{ request: InnerRequest | "close"; binding: RequestBinding }> {
    this.#requireRole("server");
    const { plaintext, header } = await this.#open(record, place, ["request", "close"]);
    const binding = { epoch: header.epoch, seq: header.seq };
    if (header.type === "close") {
      if (!this.#step({ type: "CLOSE_RECEIVED" })) throw new ChannelError("record");
      return { request: "close", binding };
    }
    return { request: decodeRequest(plaintext), binding };
  }

  async sealResponse(
    response: InnerResponse | "close",
    place: RecordPlace,
    binding: RequestBinding,
  ): Promise<Uint8Array> {
    this.#requireRole("server");
    if (response === "close") {
      // Only as the answer to a received close (the machine's CLOSE_ANSWERED), in the same
      // request: the server's closing state has no expiry (machines/secure-channel.ts).
      if (this.#snapshot.value !== "closing") throw this.#refusal();
      await this.#rekeyIfDue(0);
      if (!this.#step({ type: "CLOSE_ANSWERED" })) throw this.#refusal();
      return (await this.#seal("close", place, new Uint8Array(0), binding)).record;
    }
    this.#settleExpiry();
    if (!this.#canSend) throw this.#refusal();
    const plaintext = encodeResponse(response);
    await this.#rekeyIfDue(plaintext.length);
    const { record } = await this.#seal("response", place, plaintext, binding);
    return record;
  }

  #requireRole(role: ChannelRole): void {
    if (this.role !== role) throw new TypeError(`channel: only a ${role} end may do this`);
  }
}
