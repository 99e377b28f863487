/**
 * The Node hash backend's HMAC-SHA-256 (src/runtime/node-hashes.ts, issue #12
 * Speed): two one-shot SHA-256 over cached padded keys instead of createHmac()
 * per call. It must be RFC 2104 HMAC exactly: against OpenSSL's createHmac and
 * @noble/hashes on every key length (empty, below, at and above the 64-byte
 * block), with a key object reused (the cached pads) and with distinct key
 * objects of equal bytes.
 */
import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nobleHashes } from "../../src/crypto/hash.ts";
import { nodeHashes } from "../../src/runtime/node-hashes.ts";

const openssl = (key: Uint8Array, data: Uint8Array) =>
  new Uint8Array(createHmac("sha256", key).update(data).digest());

describe("node backend HMAC-SHA-256", () => {
  it("[DIGEST-SPEED-HMAC] RFC 4231 test case 2 (key 'Jefe')", () => {
    const key = new TextEncoder().encode("Jefe");
    const data = new TextEncoder().encode("what do ya want for nothing?");
    expect(Buffer.from(nodeHashes.hmacSha256(key, data)).toString("hex")).toBe(
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    );
  });

  it("[DIGEST-SPEED-HMAC] agrees with OpenSSL and @noble/hashes for keys of 0 to 200 bytes, each key used twice", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 300 }),
        (key, first, second) => {
          expect(nodeHashes.hmacSha256(key, first)).toEqual(openssl(key, first));
          // The same key object again: the cached pads give the same answer as a fresh key.
          expect(nodeHashes.hmacSha256(key, second)).toEqual(openssl(key, second));
          expect(nodeHashes.hmacSha256(key, second)).toEqual(nobleHashes.hmacSha256(key, second));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("[DIGEST-SPEED-HMAC] keys at the block boundary (63, 64, 65 bytes) and distinct key objects with different bytes", () => {
    const data = new TextEncoder().encode("cpns-digest-nonce-v2");
    for (const length of [0, 1, 31, 32, 63, 64, 65, 128]) {
      const a = new Uint8Array(length).fill(0xa5);
      const b = new Uint8Array(length).fill(0x5a);
      expect(nodeHashes.hmacSha256(a, data), `${length}`).toEqual(openssl(a, data));
      expect(nodeHashes.hmacSha256(b, data), `${length}`).toEqual(openssl(b, data));
      if (length > 0)
        expect(nodeHashes.hmacSha256(a, data)).not.toEqual(nodeHashes.hmacSha256(b, data));
    }
  });
});
