/**
 * Which WebCrypto implementation to use. Every helper takes its `Crypto` from
 * the caller and defaults to `globalThis.crypto`, so a test (or an embedder) can
 * pass @peculiar/webcrypto instead and prove that nothing leans on one runtime's
 * extensions (workerd's non-standard MD5 digest, Node's KeyObject, ...).
 *
 * Implements: CRYPTO-PROVIDERS
 */
export type CryptoProvider = Crypto;

export function defaultCrypto(): CryptoProvider {
  return globalThis.crypto;
}

export function randomBytes(length: number, crypto: CryptoProvider = defaultCrypto()): Uint8Array {
  const out = new Uint8Array(length);
  crypto.getRandomValues(out);
  return out;
}
