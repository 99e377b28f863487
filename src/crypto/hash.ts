/**
 * The hash functions HTTP Digest names (RFC 7616 §3.2): MD5, SHA-256 and
 * SHA-512/256. WebCrypto has neither MD5 nor SHA-512/256, and SHA-512/256 is NOT
 * SHA-512 truncated (FIPS 180-4 §5.3.6 gives it its own initial hash value), so
 * the portable backend is @noble/hashes. They are synchronous on purpose: the
 * Digest check runs on every request, and an await per hash costs more than the
 * hash. The nonce MAC (HMAC-SHA-256) is here for the same reason.
 *
 * A runtime entry may install a native backend with identical results (Node's
 * OpenSSL hashes are ~5x faster than JavaScript ones on the Digest hot path);
 * the vector tests run against every backend.
 *
 * Implements: CRYPTO-PROVIDERS
 */
import { hmac } from "@noble/hashes/hmac.js";
import { md5 } from "@noble/hashes/legacy.js";
import { sha256, sha512_256 } from "@noble/hashes/sha2.js";
import { toHex, utf8 } from "./bytes.ts";

export type HashName = "MD5" | "SHA-256" | "SHA-512-256";

export interface HashBackend {
  readonly name: string;
  /** Lower-case hex of H(UTF-8(text)). */
  hex(hash: HashName, text: string): string;
  bytes(hash: HashName, data: Uint8Array): Uint8Array;
  /** HMAC-SHA-256 (RFC 2104), synchronous: the Digest nonce MAC is computed for every challenge. */
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
}

const NOBLE: Record<HashName, (data: Uint8Array) => Uint8Array> = {
  MD5: md5,
  "SHA-256": sha256,
  "SHA-512-256": sha512_256,
};

export const nobleHashes: HashBackend = {
  name: "@noble/hashes",
  hex: (hash, text) => toHex(NOBLE[hash](utf8(text))),
  bytes: (hash, data) => NOBLE[hash](data),
  hmacSha256: (key, data) => hmac(sha256, key, data),
};

let backend: HashBackend = nobleHashes;

/** Replaces the process-wide hash backend; only runtime entries and tests call this. */
export function installHashBackend(next: HashBackend): void {
  backend = next;
}

export function activeHashBackend(): HashBackend {
  return backend;
}

export function hashBytes(name: HashName, data: Uint8Array): Uint8Array {
  return backend.bytes(name, data);
}

export function hmacSha256Sync(key: Uint8Array, data: Uint8Array): Uint8Array {
  return backend.hmacSha256(key, data);
}

/** Lower-case hex of the hash of the UTF-8 encoding of `text` (RFC 7616 §3.4.1 "H"). */
export function hashHex(name: HashName, text: string): string {
  return backend.hex(name, text);
}
