/**
 * Node's OpenSSL digests as the Digest hash backend (see src/crypto/hash.ts):
 * same results as @noble/hashes, about five times faster for the short inputs
 * of RFC 7616, which matters because every authenticated request hashes twice.
 *
 * Implements: CRYPTO-PROVIDERS
 */
import { createHash, createHmac, hash as oneShotHash } from "node:crypto";
import type { HashBackend, HashName } from "../crypto/hash.ts";

const OPENSSL_NAMES: Record<HashName, string> = {
  MD5: "md5",
  "SHA-256": "sha256",
  "SHA-512-256": "sha512-256",
};

export const nodeHashes: HashBackend = {
  name: "node:crypto",
  // crypto.hash() (Node >= 20.12) skips the Hash object: about twice as fast for short input.
  hex: (hash, text) => oneShotHash(OPENSSL_NAMES[hash], text, "hex"),
  bytes: (hash, data) => new Uint8Array(createHash(OPENSSL_NAMES[hash]).update(data).digest()),
  hmacSha256: (key, data) => new Uint8Array(createHmac("sha256", key).update(data).digest()),
};
