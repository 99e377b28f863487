/**
 * spec/channel.md §4: one record of the CPNS secure channel.
 *
 *   record = version(1)=0x01 || type(1) || epoch(4) || seq(8) || ciphertext || tag(16)
 *   nonce  = IV[d,e] XOR (0x00000000 || seq)
 *   AAD    = "cpns-channel-v1" 0x00 sessionId 0x00 header 0x00 method 0x00 path [0x00 binding]
 *
 * The outer method and path are in the AAD so a record cannot be moved to
 * another endpoint; a response carries the (epoch, seq) of its request as
 * `binding`, so it opens only as the answer to that request. This file is
 * stateless: sequence numbers, epochs and the replay window live in endpoint.ts.
 *
 * Implements: FFS-NO-TLS, CHANNEL-REPLAY, CHANNEL-BINDING
 */
import { utf8 } from "../crypto/bytes.ts";
import { type CryptoProvider, defaultCrypto } from "../crypto/provider.ts";
import { CHANNEL_LABEL, type DirectionKeys } from "./keys.ts";

export const CHANNEL_MEDIA_TYPE = "application/vnd.cpns.channel";
export const RECORD_VERSION = 1;
export const HEADER_LENGTH = 14;
export const TAG_LENGTH = 16;

export const RecordType = { request: 1, response: 2, close: 3 } as const;
export type RecordTypeName = keyof typeof RecordType;

export interface RecordHeader {
  type: RecordTypeName;
  epoch: number;
  /** Below 2^53 (a sender re-keys long before 2^24 anyway); 64 bits on the wire. */
  seq: number;
}

/** Where the record travels: the outer HTTP request that carries it. */
export interface RecordPlace {
  sessionId: string;
  method: string;
  path: string;
}

/** The request a response answers (its epoch and seq), bound into the response's AAD. */
export interface RequestBinding {
  epoch: number;
  seq: number;
}

const TYPE_NAMES = new Map<number, RecordTypeName>(
  Object.entries(RecordType).map(([name, code]) => [code, name as RecordTypeName]),
);

const TWO_32 = 2 ** 32;

/** seq as 8 big-endian bytes without BigInt (it is below 2^53): this runs twice per record. */
function writeSeq(view: DataView, offset: number, seq: number): void {
  view.setUint32(offset, Math.floor(seq / TWO_32));
  view.setUint32(offset + 4, seq >>> 0);
}

export function encodeHeader(header: RecordHeader): Uint8Array {
  const out = new Uint8Array(HEADER_LENGTH);
  const view = new DataView(out.buffer);
  out[0] = RECORD_VERSION;
  out[1] = RecordType[header.type];
  view.setUint32(2, header.epoch);
  writeSeq(view, 6, header.seq);
  return out;
}

/** The header of a record, or undefined when it is too short, of another version or type. */
export function decodeHeader(record: Uint8Array): RecordHeader | undefined {
  if (record.length < HEADER_LENGTH + TAG_LENGTH || record[0] !== RECORD_VERSION) return undefined;
  const type = TYPE_NAMES.get(record[1] as number);
  if (!type) return undefined;
  const view = new DataView(record.buffer, record.byteOffset, HEADER_LENGTH);
  const high = view.getUint32(6);
  // Above 2^53 a seq could not be represented exactly; no sender gets near it (it re-keys at 2^24).
  if (high >= 2 ** 21) return undefined;
  return { type, epoch: view.getUint32(2), seq: high * TWO_32 + view.getUint32(10) };
}

export function recordNonce(iv: Uint8Array, seq: number): Uint8Array {
  const nonce = iv.slice();
  const view = new DataView(nonce.buffer);
  view.setUint32(4, view.getUint32(4) ^ Math.floor(seq / TWO_32));
  view.setUint32(8, view.getUint32(8) ^ (seq >>> 0));
  return nonce;
}

/** The fixed parts of the AAD for one place, encoded once per place (the same place recurs). */
let lastPlace: { key: string; prefix: Uint8Array; suffix: Uint8Array } | undefined;

function placeParts(place: RecordPlace): { prefix: Uint8Array; suffix: Uint8Array } {
  const key = `${place.sessionId}\u0000${place.method}\u0000${place.path}`;
  if (lastPlace?.key !== key) {
    lastPlace = {
      key,
      prefix: utf8(`${CHANNEL_LABEL}\u0000${place.sessionId}\u0000`),
      suffix: utf8(`\u0000${place.method}\u0000${place.path}`),
    };
  }
  return lastPlace;
}

export function recordAad(
  header: Uint8Array,
  place: RecordPlace,
  binding?: RequestBinding,
): Uint8Array {
  const { prefix, suffix } = placeParts(place);
  const out = new Uint8Array(prefix.length + header.length + suffix.length + (binding ? 13 : 0));
  out.set(prefix, 0);
  out.set(header, prefix.length);
  out.set(suffix, prefix.length + header.length);
  if (binding) {
    // 0x00 || epoch(4) || seq(8) of the request this response answers.
    const view = new DataView(out.buffer, prefix.length + header.length + suffix.length);
    view.setUint32(1, binding.epoch);
    writeSeq(view, 5, binding.seq);
  }
  return out;
}

export async function sealRecord(
  keys: DirectionKeys,
  header: RecordHeader,
  place: RecordPlace,
  plaintext: Uint8Array,
  binding?: RequestBinding,
  crypto: CryptoProvider = defaultCrypto(),
): Promise<Uint8Array> {
  const head = encodeHeader(header);
  const sealed = await crypto.subtle.encrypt(
    {
      name: "AES-GCM",
      iv: recordNonce(keys.iv, header.seq) as BufferSource,
      additionalData: recordAad(head, place, binding) as BufferSource,
    },
    keys.key,
    plaintext as BufferSource,
  );
  const out = new Uint8Array(HEADER_LENGTH + sealed.byteLength);
  out.set(head, 0);
  out.set(new Uint8Array(sealed), HEADER_LENGTH);
  return out;
}

/** The plaintext, or undefined when the record does not open under these keys, place and binding. */
export async function openRecord(
  keys: DirectionKeys,
  record: Uint8Array,
  header: RecordHeader,
  place: RecordPlace,
  binding?: RequestBinding,
  crypto: CryptoProvider = defaultCrypto(),
): Promise<Uint8Array | undefined> {
  try {
    const plain = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: recordNonce(keys.iv, header.seq) as BufferSource,
        additionalData: recordAad(
          record.subarray(0, HEADER_LENGTH),
          place,
          binding,
        ) as BufferSource,
      },
      keys.key,
      record.subarray(HEADER_LENGTH) as BufferSource,
    );
    return new Uint8Array(plain);
  } catch {
    return undefined;
  }
}
