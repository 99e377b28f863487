/**
 * The hash functions HTTP Digest names (RFC 7616 §3.2): MD5, SHA-256 and
 * SHA-512/256. WebCrypto has neither MD5 nor SHA-512/256, and SHA-512/256 is NOT
 * SHA-512 truncated (FIPS 180-4 §5.3.6 gives it its own initial hash value), so
 * all three come from @noble/hashes. They are synchronous on purpose: the Digest
 * check runs on every request, and an await per hash costs more than the hash.
 */
import { md5 } from "@noble/hashes/legacy.js";
import { sha256, sha512_256 } from "@noble/hashes/sha2.js";
import { toHex, utf8 } from "./bytes.ts";

export type HashName = "MD5" | "SHA-256" | "SHA-512-256";

const HASHES: Record<HashName, (data: Uint8Array) => Uint8Array> = {
  MD5: md5,
  "SHA-256": sha256,
  "SHA-512-256": sha512_256,
};

export function hashBytes(name: HashName, data: Uint8Array): Uint8Array {
  return HASHES[name](data);
}

/** Lower-case hex of the hash of the UTF-8 encoding of `text` (RFC 7616 §3.4.1 "H"). */
export function hashHex(name: HashName, text: string): string {
  return toHex(HASHES[name](utf8(text)));
}
