/**
 * Issue #12 (Speed): OpenSSL's AES-256-GCM as the Node runtime's synchronous
 * AEAD backend must be WebCrypto's AES-GCM byte for byte, refuse what WebCrypto
 * refuses, and stand aside when a caller passes its own CryptoProvider.
 */
import { Crypto as PeculiarCrypto } from "@peculiar/webcrypto";
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { importAesKey, installAeadBackend, open, seal } from "../../src/crypto/aead.ts";
import { nodeAead } from "../../src/runtime/node-aead.ts";

afterEach(() => installAeadBackend(undefined));

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });

describe("[CRYPTO-NODE-AEAD] OpenSSL AES-256-GCM as the AEAD backend", () => {
  it("[CRYPTO-NODE-AEAD] what one seals the other opens, both ways, raw keys and CryptoKeys alike", async () => {
    await fc.assert(
      fc.asyncProperty(
        bytes(32, 32),
        bytes(0, 300),
        bytes(0, 80),
        fc.boolean(),
        async (raw, plain, aad, asCryptoKey) => {
          const key = asCryptoKey ? await importAesKey(raw, globalThis.crypto) : raw;
          installAeadBackend(undefined);
          const byWebCrypto = await seal(key, plain, aad);
          installAeadBackend(nodeAead);
          const byOpenSsl = await seal(key, plain, aad);
          expect(await open(key, byWebCrypto, aad)).toEqual(plain);
          installAeadBackend(undefined);
          expect(await open(key, byOpenSsl, aad)).toEqual(plain);
          expect(byOpenSsl.length).toBe(byWebCrypto.length);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("[CRYPTO-NODE-AEAD] the same IV gives the same bytes as WebCrypto (ciphertext and tag)", async () => {
    await fc.assert(
      fc.asyncProperty(
        bytes(32, 32),
        bytes(12, 12),
        bytes(0, 200),
        bytes(0, 40),
        async (raw, iv, plain, aad) => {
          const key = await globalThis.crypto.subtle.importKey("raw", raw, "AES-GCM", false, [
            "encrypt",
          ]);
          const reference = new Uint8Array(
            await globalThis.crypto.subtle.encrypt(
              { name: "AES-GCM", iv, additionalData: aad },
              key,
              plain,
            ),
          );
          expect(nodeAead.encrypt(raw, iv, plain, aad)).toEqual(reference);
          expect(nodeAead.encrypt(key, iv, plain, aad)).toEqual(reference);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("[CRYPTO-NODE-AEAD] an altered value, a wrong key, a wrong AAD or a cut tag opens to nothing", async () => {
    installAeadBackend(nodeAead);
    const key = new Uint8Array(32).fill(7);
    const aad = new TextEncoder().encode("cpns-at-rest-v1\u0000eukey\u0000alice");
    const sealed = await seal(
      key,
      new TextEncoder().encode("a 32-byte EUKey would go here..."),
      aad,
    );
    for (let i = 0; i < sealed.length; i++) {
      const altered = new Uint8Array(sealed);
      altered[i] = (altered[i] as number) ^ 0x01;
      expect(await open(key, altered, aad)).toBeUndefined();
    }
    expect(await open(new Uint8Array(32).fill(8), sealed, aad)).toBeUndefined();
    expect(
      await open(key, sealed, new TextEncoder().encode("cpns-at-rest-v1\u0000eukey\u0000mallory")),
    ).toBeUndefined();
    expect(await open(key, sealed.subarray(0, sealed.length - 1), aad)).toBeUndefined();
    expect(await open(key, sealed.subarray(0, 27), aad)).toBeUndefined();
    await expect(seal(new Uint8Array(16), new Uint8Array(1), aad)).rejects.toThrow(RangeError);
  });

  it("[CRYPTO-NODE-AEAD] a caller's own CryptoProvider is used, not the installed backend", async () => {
    const spy = { encrypt: vi.fn(nodeAead.encrypt), decrypt: vi.fn(nodeAead.decrypt) };
    installAeadBackend(spy);
    const peculiar = new PeculiarCrypto() as unknown as Crypto;
    const key = new Uint8Array(32).fill(3);
    const sealed = await seal(key, new Uint8Array([1, 2, 3]), new Uint8Array(0), peculiar);
    expect(await open(key, sealed, new Uint8Array(0), peculiar)).toEqual(new Uint8Array([1, 2, 3]));
    expect(spy.encrypt).not.toHaveBeenCalled();
    expect(spy.decrypt).not.toHaveBeenCalled();
    // And with the default provider it is.
    expect(
      await open(key, await seal(key, new Uint8Array([4]), new Uint8Array(0)), new Uint8Array(0)),
    ).toEqual(new Uint8Array([4]));
    expect(spy.encrypt).toHaveBeenCalledTimes(1);
    expect(spy.decrypt).toHaveBeenCalledTimes(1);
  });
});
