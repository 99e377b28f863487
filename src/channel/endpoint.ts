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
 */
import { type CryptoProvider, defaultCrypto } from "../crypto/provider.ts";
import { advanceWindow } from "../digest/index.ts";
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
}

export interface ChannelOptions extends ChannelLimits {
  /** When the channel stops accepting and sending records (ms since the epoch). */
  expiresAtMs?: number;
  now?: () => number;
  crypto?: CryptoProvider;
}

const DEFAULT_MAX_RECORDS = 2 ** 24;
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
  #state: "open" | "closing" | "closed" = "open";

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
    return new ChannelEndpoint(
      role,
      { ...context, secret: context.secret.slice() },
      { direction: sends, epoch: 0, seq: 0, bytes: 0, keys: sendKeys },
      { direction: receives, epoch: 0, keys: receiveKeys, window: undefined },
      options,
    );
  }

  get state(): "open" | "closing" | "closed" {
    return this.#state;
  }

  /** The epoch the next sent record will use (re-keying is visible to tests and reviewers). */
  get sendEpoch(): number {
    return this.#sender.epoch;
  }

  #checkUsable(): void {
    if (this.#state === "closed") throw new ChannelError("closed");
    if (this.#now() >= this.#expiresAtMs) throw new ChannelError("expired");
  }

  async #seal(
    type: RecordTypeName,
    place: RecordPlace,
    plaintext: Uint8Array,
    binding?: RequestBinding,
  ): Promise<{ record: Uint8Array; header: RecordHeader }> {
    const sender = this.#sender;
    if (sender.seq >= this.#maxRecords || sender.bytes + plaintext.length > this.#maxBytes) {
      // Re-key before a limit is crossed (spec/channel.md §6).
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
    this.#checkUsable();
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
    if (this.#state === "closed") throw new ChannelError("closed");
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
    this.#checkUsable();
    if (this.#state !== "open") throw new ChannelError("closed");
    const { record, header } = await this.#seal("request", place, encodeRequest(request));
    return { record, binding: { epoch: header.epoch, seq: header.seq } };
  }

  /** Asks the server to close; the answer goes through openResponse and closes this end. */
  async sealClose(place: RecordPlace): Promise<{ record: Uint8Array; binding: RequestBinding }> {
    this.#requireRole("client");
    this.#checkUsable();
    const { record, header } = await this.#seal("close", place, new Uint8Array(0));
    this.#state = "closing";
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
      this.#state = "closed";
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
      this.#state = "closing";
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
      if (this.#state !== "closing") throw new ChannelError("record");
      const { record } = await this.#seal("close", place, new Uint8Array(0), binding);
      this.#state = "closed";
      return record;
    }
    this.#checkUsable();
    if (this.#state !== "open") throw new ChannelError("closed");
    const { record } = await this.#seal("response", place, encodeResponse(response), binding);
    return record;
  }

  #requireRole(role: ChannelRole): void {
    if (this.role !== role) throw new TypeError(`channel: only a ${role} end may do this`);
  }
}
