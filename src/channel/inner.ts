/**
 * spec/channel.md §4: the inner HTTP message a channel record carries. All of
 * it (method, target, headers, body) is encrypted, so a PN GW relaying the
 * record sees neither the route nor the payload. Length-prefixed binary, not
 * JSON: the body is copied once, never base64-encoded, which keeps the channel
 * near raw AES-GCM speed on large payloads.
 *
 * Implements: CHANNEL-BINDING, GATEWAY-RELAY-E2E
 */
import { fromUtf8, utf8 } from "../crypto/bytes.ts";

export interface InnerRequest {
  method: string;
  /** Path and query, e.g. "/cpns/v1/whoami". */
  target: string;
  headers: Array<[string, string]>;
  body: Uint8Array;
}

export interface InnerResponse {
  status: number;
  headers: Array<[string, string]>;
  body: Uint8Array;
}

/** Thrown for a plaintext that opened but is not a well-formed inner message (a peer bug, not an attack). */
export class InnerMessageError extends Error {
  constructor(reason: string) {
    super(`channel: malformed inner message: ${reason}`);
    this.name = "InnerMessageError";
  }
}

const MAX_FIELD = 0xffff;
const MAX_HEADERS = 256;

/** Sizes everything first, then writes once: the body is copied exactly one time. */
class Writer {
  readonly #parts: Array<{ kind: "u16"; value: number } | { kind: "bytes"; value: Uint8Array }> =
    [];
  #length = 0;

  u16(value: number): this {
    this.#parts.push({ kind: "u16", value });
    this.#length += 2;
    return this;
  }

  /** A length-prefixed UTF-8 field. */
  text(value: string): this {
    const bytes = utf8(value);
    if (bytes.length > MAX_FIELD) throw new RangeError("channel: a header or target is too long");
    return this.u16(bytes.length).raw(bytes);
  }

  headers(headers: ReadonlyArray<readonly [string, string]>): this {
    if (headers.length > MAX_HEADERS) throw new RangeError("channel: too many headers");
    this.u16(headers.length);
    for (const [name, value] of headers) this.text(name.toLowerCase()).text(value);
    return this;
  }

  raw(bytes: Uint8Array): this {
    this.#parts.push({ kind: "bytes", value: bytes });
    this.#length += bytes.length;
    return this;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    const view = new DataView(out.buffer);
    let offset = 0;
    for (const part of this.#parts) {
      if (part.kind === "u16") {
        view.setUint16(offset, part.value);
        offset += 2;
      } else {
        out.set(part.value, offset);
        offset += part.value.length;
      }
    }
    return out;
  }
}

export function encodeRequest(request: InnerRequest): Uint8Array {
  return new Writer()
    .text(request.method)
    .text(request.target)
    .headers(request.headers)
    .raw(request.body)
    .finish();
}

export function encodeResponse(response: InnerResponse): Uint8Array {
  if (!Number.isInteger(response.status) || response.status < 100 || response.status > 999) {
    throw new RangeError("channel: status must be 100-999");
  }
  return new Writer().u16(response.status).headers(response.headers).raw(response.body).finish();
}

class Reader {
  offset = 0;
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u16(): number {
    if (this.offset + 2 > this.bytes.length) throw new InnerMessageError("truncated");
    const value = this.view.getUint16(this.offset);
    this.offset += 2;
    return value;
  }
  text(): string {
    const length = this.u16();
    if (this.offset + length > this.bytes.length) throw new InnerMessageError("truncated");
    const slice = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    try {
      return fromUtf8(slice);
    } catch {
      throw new InnerMessageError("not UTF-8");
    }
  }
  headers(): Array<[string, string]> {
    const count = this.u16();
    if (count > MAX_HEADERS) throw new InnerMessageError("too many headers");
    const out: Array<[string, string]> = [];
    for (let i = 0; i < count; i++) out.push([this.text(), this.text()]);
    return out;
  }
  rest(): Uint8Array {
    return this.bytes.subarray(this.offset);
  }
}

export function decodeRequest(bytes: Uint8Array): InnerRequest {
  const reader = new Reader(bytes);
  const method = reader.text();
  const target = reader.text();
  if (!/^[A-Z]{1,16}$/.test(method)) throw new InnerMessageError("method");
  if (!target.startsWith("/")) throw new InnerMessageError("target");
  const headers = reader.headers();
  return { method, target, headers, body: reader.rest() };
}

export function decodeResponse(bytes: Uint8Array): InnerResponse {
  const reader = new Reader(bytes);
  const status = reader.u16();
  if (status < 100 || status > 999) throw new InnerMessageError("status");
  const headers = reader.headers();
  return { status, headers, body: reader.rest() };
}
