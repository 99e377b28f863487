/**
 * HKDF-SHA-256 (RFC 5869) through WebCrypto. Every key the CPNS profile derives
 * (key transport, channel keys) goes through here with a fixed label in `info`.
 *
 * Implements: CRYPTO-PROVIDERS
 */
import { type CryptoProvider, defaultCrypto } from "./provider.ts";

export async function hkdfSha256(
  secret: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
  crypto: CryptoProvider = defaultCrypto(),
): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", secret as BufferSource, "HKDF", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: salt as BufferSource, info: info as BufferSource },
    key,
    length * 8,
  );
  return new Uint8Array(bits);
}
