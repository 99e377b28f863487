/**
 * AES-256-GCM seal/open (NIST SP 800-38D) through WebCrypto. A sealed value is
 * iv(12) || ciphertext || tag(16); the caller's context goes in the AAD so a
 * blob cannot be moved to another record or purpose.
 *
 * Implements: CRYPTO-PROVIDERS
 */
import { concatBytes } from "./bytes.ts";
import { type CryptoProvider, defaultCrypto, randomBytes } from "./provider.ts";

const IV_LENGTH = 12;
const TAG_LENGTH = 16;

/**
 * A raw 32-byte key as a non-extractable AES-GCM CryptoKey. Callers that use one
 * key for many values (the store's at-rest key) import it once and pass the
 * CryptoKey to seal/open: each import is a WebCrypto job of its own.
 */
export async function importAesKey(key: Uint8Array, crypto: CryptoProvider): Promise<CryptoKey> {
  if (key.length !== 32) throw new RangeError("AES-256-GCM needs a 32-byte key");
  return crypto.subtle.importKey("raw", key as BufferSource, "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
}

/** A raw key is imported for this one call; a CryptoKey is used as it is. */
function aesKey(key: Uint8Array | CryptoKey, crypto: CryptoProvider): Promise<CryptoKey> {
  return key instanceof Uint8Array ? importAesKey(key, crypto) : Promise.resolve(key);
}

export async function seal(
  key: Uint8Array | CryptoKey,
  plaintext: Uint8Array,
  aad: Uint8Array,
  crypto: CryptoProvider = defaultCrypto(),
): Promise<Uint8Array> {
  const iv = randomBytes(IV_LENGTH, crypto);
  const cipher = await crypto.subtle.encrypt(
    {
      name: "AES-GCM",
      iv: iv as BufferSource,
      additionalData: aad as BufferSource,
      tagLength: 128,
    },
    await aesKey(key, crypto),
    plaintext as BufferSource,
  );
  return concatBytes(iv, new Uint8Array(cipher));
}

/** Returns the plaintext, or `undefined` when the blob was altered or the key/AAD is wrong. */
export async function open(
  key: Uint8Array | CryptoKey,
  sealed: Uint8Array,
  aad: Uint8Array,
  crypto: CryptoProvider = defaultCrypto(),
): Promise<Uint8Array | undefined> {
  if (sealed.length < IV_LENGTH + TAG_LENGTH) return undefined;
  try {
    const plain = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: sealed.subarray(0, IV_LENGTH) as BufferSource,
        additionalData: aad as BufferSource,
        tagLength: 128,
      },
      await aesKey(key, crypto),
      sealed.subarray(IV_LENGTH) as BufferSource,
    );
    return new Uint8Array(plain);
  } catch {
    return undefined;
  }
}
