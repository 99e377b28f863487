/**
 * AES-256-GCM seal/open (NIST SP 800-38D) through WebCrypto. A sealed value is
 * iv(12) || ciphertext || tag(16); the caller's context goes in the AAD so a
 * blob cannot be moved to another record or purpose.
 *
 * Implements: CRYPTO-PROVIDERS, CRYPTO-NODE-AEAD
 */
import { concatBytes } from "./bytes.ts";
import { type CryptoProvider, defaultCrypto, randomBytes } from "./provider.ts";

const IV_LENGTH = 12;
const TAG_LENGTH = 16;

/**
 * A synchronous AES-256-GCM that a runtime entry may install (Node: OpenSSL,
 * src/runtime/node-aead.ts) with byte-for-byte WebCrypto results. Why: a
 * WebCrypto AES job costs ~30 us of CPU and a thread hop for 32 bytes, on every
 * authenticated request (issue #12 "Speed"). Used only with the default
 * provider: a caller that passes its own CryptoProvider gets that provider.
 */
export interface AeadBackend {
  /** ciphertext || tag(16) */
  encrypt(
    key: Uint8Array | CryptoKey,
    iv: Uint8Array,
    plaintext: Uint8Array,
    aad: Uint8Array,
  ): Uint8Array;
  /** The plaintext, or undefined when the tag does not verify. */
  decrypt(
    key: Uint8Array | CryptoKey,
    iv: Uint8Array,
    ciphertextAndTag: Uint8Array,
    aad: Uint8Array,
  ): Uint8Array | undefined;
}

let backend: AeadBackend | undefined;

/** Installs (or, with undefined, removes) the synchronous backend. */
export function installAeadBackend(next: AeadBackend | undefined): void {
  backend = next;
}

/** The backend to use for this call: only for the default provider. */
function backendFor(crypto: CryptoProvider, key: Uint8Array | CryptoKey): AeadBackend | undefined {
  if (backend === undefined || crypto !== defaultCrypto()) return undefined;
  if (key instanceof Uint8Array && key.length !== 32) {
    throw new RangeError("AES-256-GCM needs a 32-byte key");
  }
  return backend;
}

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
  const sync = backendFor(crypto, key);
  if (sync) return concatBytes(iv, sync.encrypt(key, iv, plaintext, aad));
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
  const sync = backendFor(crypto, key);
  if (sync) {
    return sync.decrypt(key, sealed.subarray(0, IV_LENGTH), sealed.subarray(IV_LENGTH), aad);
  }
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
