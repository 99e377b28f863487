/** HMAC-SHA-256 (RFC 2104) through WebCrypto, with the key imported once. */
import { type CryptoProvider, defaultCrypto } from "./provider.ts";

export async function importHmacKey(
  raw: Uint8Array,
  crypto: CryptoProvider = defaultCrypto(),
): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    raw as BufferSource,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
}

export async function hmacSha256(
  key: CryptoKey,
  data: Uint8Array,
  crypto: CryptoProvider = defaultCrypto(),
): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, data as BufferSource));
}
