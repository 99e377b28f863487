/**
 * Node's OpenSSL AES-256-GCM as the synchronous AEAD backend (see
 * src/crypto/aead.ts): the same bytes as WebCrypto's AES-GCM (96-bit IV,
 * 128-bit tag, AAD), without a WebCrypto job and its thread hop per value.
 * A CryptoKey (the store's at-rest key, imported once and non-extractable) is
 * used through its KeyObject, so its bytes never come back to JavaScript.
 *
 * Implements: CRYPTO-NODE-AEAD
 */
import { createCipheriv, createDecipheriv, KeyObject } from "node:crypto";
import type { AeadBackend } from "../crypto/aead.ts";

const TAG_LENGTH = 16;

const keyOf = (key: Uint8Array | CryptoKey): Uint8Array | KeyObject =>
  key instanceof Uint8Array ? key : KeyObject.from(key);

export const nodeAead: AeadBackend = {
  encrypt(key, iv, plaintext, aad) {
    const cipher = createCipheriv("aes-256-gcm", keyOf(key), iv, { authTagLength: TAG_LENGTH });
    cipher.setAAD(aad);
    const head = cipher.update(plaintext);
    const tail = cipher.final();
    const out = new Uint8Array(head.length + tail.length + TAG_LENGTH);
    out.set(head, 0);
    out.set(tail, head.length);
    out.set(cipher.getAuthTag(), head.length + tail.length);
    return out;
  },
  decrypt(key, iv, ciphertextAndTag, aad) {
    if (ciphertextAndTag.length < TAG_LENGTH) return undefined;
    const split = ciphertextAndTag.length - TAG_LENGTH;
    try {
      const decipher = createDecipheriv("aes-256-gcm", keyOf(key), iv, {
        authTagLength: TAG_LENGTH,
      });
      decipher.setAAD(aad);
      decipher.setAuthTag(ciphertextAndTag.subarray(split));
      const head = decipher.update(ciphertextAndTag.subarray(0, split));
      const tail = decipher.final();
      const out = new Uint8Array(head.length + tail.length);
      out.set(head, 0);
      out.set(tail, head.length);
      head.fill(0);
      return out;
    } catch {
      // The tag did not verify (altered value, wrong key or AAD): like WebCrypto's OperationError.
      return undefined;
    }
  },
};
