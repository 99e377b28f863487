/**
 * Unit tests of src/crypto, each run against globalThis.crypto and @peculiar/webcrypto:
 * base64url (RFC 4648 §5, unpadded; §10 test vectors) and hex, AES-256-GCM seal/open
 * (NIST SP 800-38D; every byte of a sealed blob is tamper-evident, cross-checked with
 * node:crypto), HKDF-SHA-256 (RFC 5869 Appendix A.1), HMAC-SHA-256 (RFC 4231 §4.3), the
 * Digest hashes (MD5, SHA-256, SHA-512/256 per FIPS 180-4 §5.3.6, against node:crypto) and
 * the constant-time comparisons.
 */
import { createDecipheriv, createHash } from "node:crypto";
import { Crypto } from "@peculiar/webcrypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { open, seal } from "../../src/crypto/aead.ts";
import {
  concatBytes,
  fromBase64url,
  fromHex,
  fromUtf8,
  toBase64url,
  toHex,
  uint64be,
  utf8,
} from "../../src/crypto/bytes.ts";
import { timingSafeEqualBytes, timingSafeEqualString } from "../../src/crypto/compare.ts";
import { type HashName, hashBytes, hashHex, nobleHashes } from "../../src/crypto/hash.ts";
import { hkdfSha256 } from "../../src/crypto/hkdf.ts";
import { type CryptoProvider, defaultCrypto, randomBytes } from "../../src/crypto/provider.ts";
import { nodeHashes } from "../../src/runtime/node-hashes.ts";
import { RFC4231_4_3, RFC5869_A_1 } from "../vectors/crypto-rfc-vectors.ts";

const PROVIDERS: ReadonlyArray<readonly [string, CryptoProvider]> = [
  ["globalThis.crypto", globalThis.crypto],
  ["@peculiar/webcrypto", new Crypto()],
];

const KEY = fromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
const AAD = utf8("cpns-test-aad");

describe("[CRYPTO-PROVIDERS] base64url (RFC 4648 §5) and hex", () => {
  // RFC 4648 §10 test vectors, which are the same in both alphabets once padding is dropped.
  it.each([
    ["", ""],
    ["f", "Zg"],
    ["fo", "Zm8"],
    ["foo", "Zm9v"],
    ["foob", "Zm9vYg"],
    ["fooba", "Zm9vYmE"],
    ["foobar", "Zm9vYmFy"],
  ])("RFC 4648 §10: %j <-> %j", (text, encoded) => {
    expect(toBase64url(utf8(text))).toBe(encoded);
    expect(fromUtf8(fromBase64url(encoded))).toBe(text);
  });

  it("uses '-' and '_' where the standard alphabet has '+' and '/'", () => {
    expect(toBase64url(new Uint8Array([0xfb, 0xff, 0xbf]))).toBe("-_-_");
    expect(toBase64url(new Uint8Array([0xfb, 0xff]))).toBe("-_8");
    expect(fromBase64url("-_-_")).toEqual(new Uint8Array([0xfb, 0xff, 0xbf]));
  });

  it("round-trips arbitrary bytes and agrees with Buffer's base64url", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const encoded = toBase64url(bytes);
        expect(encoded).toBe(Buffer.from(bytes).toString("base64url"));
        expect(encoded).toMatch(/^[A-Za-z0-9_-]*$/);
        expect(fromBase64url(encoded)).toEqual(bytes);
      }),
    );
  });

  it.each([
    ["padding", "Zg=="],
    ["single pad", "Zm8="],
    ["standard alphabet '+'", "+_-_"],
    ["standard alphabet '/'", "-/-_"],
    ["impossible length (4n+1)", "Zm9vY"],
    ["whitespace", "Zm9v Yg"],
    ["newline", "Zm9v\nYg"],
    ["non-ASCII", "Zm9vÿ"],
    ["dot", "Zm9v.g"],
  ])("fromBase64url rejects %s (%j)", (_name, text) => {
    expect(() => fromBase64url(text)).toThrow(TypeError);
  });

  it("fromBase64url rejects every padded or standard-alphabet encoding of random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (bytes) => {
        const standard = Buffer.from(bytes).toString("base64");
        if (/[+/=]/.test(standard)) expect(() => fromBase64url(standard)).toThrow(TypeError);
      }),
    );
  });

  it("hex round-trips, reads upper case and agrees with Buffer", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const hex = toHex(bytes);
        expect(hex).toBe(Buffer.from(bytes).toString("hex"));
        expect(fromHex(hex)).toEqual(bytes);
        expect(fromHex(hex.toUpperCase())).toEqual(bytes);
      }),
    );
  });

  it.each([
    ["odd length", "abc"],
    ["non-hex", "zz"],
    ["0x prefix", "0x00"],
    ["space", "00 11"],
    ["sign", "-1"],
  ])("fromHex rejects %s (%j)", (_name, text) => {
    expect(() => fromHex(text)).toThrow(TypeError);
  });

  it("utf8/fromUtf8 round-trip and fromUtf8 is strict", () => {
    expect(fromUtf8(utf8("J\u00e4s\u00f8n Doe"))).toBe("J\u00e4s\u00f8n Doe");
    expect(() => fromUtf8(new Uint8Array([0xc3]))).toThrow(TypeError);
    expect(() => fromUtf8(new Uint8Array([0xff, 0xfe]))).toThrow(TypeError);
  });

  it("uint64be and concatBytes", () => {
    expect(toHex(uint64be(0))).toBe("0000000000000000");
    expect(toHex(uint64be(0x0102030405))).toBe("0000000102030405");
    expect(toHex(uint64be(Number.MAX_SAFE_INTEGER))).toBe("001fffffffffffff");
    expect(() => uint64be(-1)).toThrow(RangeError);
    expect(() => uint64be(1.5)).toThrow(RangeError);
    expect(() => uint64be(2 ** 53)).toThrow(RangeError);
    expect(concatBytes(new Uint8Array([1]), new Uint8Array(0), new Uint8Array([2, 3]))).toEqual(
      new Uint8Array([1, 2, 3]),
    );
  });
});

describe("[CRYPTO-PROVIDERS] Digest hashes against node:crypto (MD5, SHA-256, SHA-512/256)", () => {
  const NODE: Record<HashName, string> = {
    MD5: "md5",
    "SHA-256": "sha256",
    "SHA-512-256": "sha512-256",
  };

  it.each([
    ["MD5", "", "d41d8cd98f00b204e9800998ecf8427e"],
    ["SHA-256", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
    // FIPS 180-4 / NIST example "abc" for SHA-512/256 (not SHA-512 truncated).
    ["SHA-512-256", "abc", "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"],
  ] as const)("%s(%j) known answer", (name, text, hex) => {
    expect(hashHex(name, text)).toBe(hex);
  });

  it("agree with OpenSSL on arbitrary input", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<HashName>("MD5", "SHA-256", "SHA-512-256"),
        fc.uint8Array({ maxLength: 300 }),
        (name, bytes) => {
          const expected = createHash(NODE[name]).update(bytes).digest("hex");
          expect(toHex(hashBytes(name, bytes))).toBe(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("the @noble/hashes and node:crypto backends agree on arbitrary text and bytes", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<HashName>("MD5", "SHA-256", "SHA-512-256"),
        // "binary" includes lone surrogates: both backends must encode them the same way.
        fc.string({ unit: "binary", maxLength: 80 }),
        fc.uint8Array({ maxLength: 80 }),
        (name, text, bytes) => {
          expect(nodeHashes.hex(name, text)).toBe(nobleHashes.hex(name, text));
          expect(nodeHashes.bytes(name, bytes)).toEqual(nobleHashes.bytes(name, bytes));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("hashHex hashes the UTF-8 encoding of the text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 50 }), (text) => {
        expect(hashHex("SHA-256", text)).toBe(
          createHash("sha256").update(Buffer.from(text, "utf8")).digest("hex"),
        );
      }),
    );
  });
});

describe("[CRYPTO-PROVIDERS] constant-time comparison", () => {
  it("timingSafeEqualBytes", () => {
    const a = new Uint8Array([1, 2, 3]);
    expect(timingSafeEqualBytes(a, new Uint8Array([1, 2, 3]))).toBe(true);
    expect(timingSafeEqualBytes(a, new Uint8Array([1, 2, 4]))).toBe(false);
    expect(timingSafeEqualBytes(a, new Uint8Array([1, 2]))).toBe(false);
    expect(timingSafeEqualBytes(a, new Uint8Array([1, 2, 3, 0]))).toBe(false);
    expect(timingSafeEqualBytes(new Uint8Array(0), new Uint8Array(0))).toBe(true);
    expect(timingSafeEqualBytes(new Uint8Array(0), new Uint8Array([0]))).toBe(false);
  });

  it("timingSafeEqualString", () => {
    expect(timingSafeEqualString("abc", "abc")).toBe(true);
    expect(timingSafeEqualString("abc", "abd")).toBe(false);
    expect(timingSafeEqualString("abc", "ab")).toBe(false);
    expect(timingSafeEqualString("", "")).toBe(true);
    expect(timingSafeEqualString("", "\u0000")).toBe(false);
    // Same UTF-16 length, different code units beyond Latin-1.
    expect(timingSafeEqualString("\u00e4", "\u01e4")).toBe(false);
    // Different UTF-16 lengths fall back to bytes.
    expect(timingSafeEqualString("\u{1f600}", "\u{1f600}x")).toBe(false);
  });

  it("agrees with === on arbitrary strings and bytes", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.string({ unit: "binary" }), (a, b) => {
        expect(timingSafeEqualString(a, b)).toBe(a === b);
        expect(timingSafeEqualString(a, a)).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), (a, b) => {
        expect(timingSafeEqualBytes(a, b)).toBe(Buffer.from(a).equals(Buffer.from(b)));
      }),
    );
  });
});

describe.each(PROVIDERS)("[CRYPTO-PROVIDERS] WebCrypto helpers (%s)", (_provider, crypto) => {
  it("randomBytes fills the requested length from the provider", () => {
    const a = randomBytes(32, crypto);
    const b = randomBytes(32, crypto);
    expect(a).toHaveLength(32);
    expect(toHex(a)).not.toBe(toHex(b));
    expect(randomBytes(0, crypto)).toHaveLength(0);
    expect(defaultCrypto()).toBe(globalThis.crypto);
  });

  it(`HKDF-SHA-256: ${RFC5869_A_1.source}`, async () => {
    const okm = await hkdfSha256(
      fromHex(RFC5869_A_1.ikm),
      fromHex(RFC5869_A_1.salt),
      fromHex(RFC5869_A_1.info),
      RFC5869_A_1.length,
      crypto,
    );
    expect(toHex(okm)).toBe(RFC5869_A_1.okm);
  });

  it("AES-256-GCM: seal/open round trip, layout iv(12) || ct || tag(16)", async () => {
    const plaintext = utf8("the EUKey is 32 bytes of entropy");
    const sealed = await seal(KEY, plaintext, AAD, crypto);
    expect(sealed).toHaveLength(12 + plaintext.length + 16);
    expect(await open(KEY, sealed, AAD, crypto)).toEqual(plaintext);
    // Fresh IV each time.
    const again = await seal(KEY, plaintext, AAD, crypto);
    expect(toHex(again.subarray(0, 12))).not.toBe(toHex(sealed.subarray(0, 12)));
    // Empty plaintext works too.
    const empty = await seal(KEY, new Uint8Array(0), AAD, crypto);
    expect(empty).toHaveLength(28);
    expect(await open(KEY, empty, AAD, crypto)).toEqual(new Uint8Array(0));
  });

  it("AES-256-GCM: a sealed blob opens with node:crypto (independent implementation)", async () => {
    const plaintext = utf8("interop");
    const sealed = await seal(KEY, plaintext, AAD, crypto);
    const decipher = createDecipheriv("aes-256-gcm", KEY, sealed.subarray(0, 12));
    decipher.setAAD(AAD);
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    const out = Buffer.concat([
      decipher.update(sealed.subarray(12, sealed.length - 16)),
      decipher.final(),
    ]);
    expect(new Uint8Array(out)).toEqual(plaintext);
  });

  it("AES-256-GCM: tampering with any byte position gives undefined", async () => {
    const sealed = await seal(KEY, utf8("tamper me"), AAD, crypto);
    for (let i = 0; i < sealed.length; i++) {
      for (const mask of [0x01, 0x80]) {
        const bad = sealed.slice();
        bad[i] = (bad[i] as number) ^ mask;
        expect(await open(KEY, bad, AAD, crypto), `byte ${i} ^ ${mask}`).toBeUndefined();
      }
    }
    expect(await open(KEY, sealed, AAD, crypto)).toEqual(utf8("tamper me"));
  });

  it("AES-256-GCM: wrong AAD, wrong key, truncation, extension and short input give undefined", async () => {
    const sealed = await seal(KEY, utf8("x"), AAD, crypto);
    expect(await open(KEY, sealed, utf8("other-aad"), crypto)).toBeUndefined();
    expect(await open(KEY, sealed, new Uint8Array(0), crypto)).toBeUndefined();
    const otherKey = KEY.slice();
    otherKey[0] = (otherKey[0] as number) ^ 1;
    expect(await open(otherKey, sealed, AAD, crypto)).toBeUndefined();
    expect(await open(KEY, sealed.subarray(0, sealed.length - 1), AAD, crypto)).toBeUndefined();
    expect(await open(KEY, concatBytes(sealed, new Uint8Array([0])), AAD, crypto)).toBeUndefined();
    expect(await open(KEY, new Uint8Array(27), AAD, crypto)).toBeUndefined();
    expect(await open(KEY, new Uint8Array(0), AAD, crypto)).toBeUndefined();
    // A wrong-length key never opens anything.
    expect(await open(KEY.subarray(0, 16), sealed, AAD, crypto)).toBeUndefined();
  });

  it("AES-256-GCM: seal refuses a key that is not 32 bytes", async () => {
    await expect(seal(new Uint8Array(16), utf8("x"), AAD, crypto)).rejects.toThrow(RangeError);
    await expect(seal(new Uint8Array(33), utf8("x"), AAD, crypto)).rejects.toThrow(RangeError);
  });

  it("AES-256-GCM: blobs sealed by one provider open with the other", async () => {
    for (const [, other] of PROVIDERS) {
      const sealed = await seal(KEY, utf8("cross"), AAD, crypto);
      expect(await open(KEY, sealed, AAD, other)).toEqual(utf8("cross"));
    }
  });
});

// The nonce MAC is HMAC-SHA-256 from the synchronous hash backend (src/crypto/hash.ts):
// the portable one and the one Node's runtime entry installs must agree with RFC 4231.
describe.each([
  ["@noble/hashes", nobleHashes],
  ["node:crypto", nodeHashes],
] as const)("[CRYPTO-PROVIDERS] HMAC-SHA-256 of the hash backend (%s)", (_name, backend) => {
  it(`${RFC4231_4_3.source}`, () => {
    const mac = backend.hmacSha256(fromHex(RFC4231_4_3.key), fromHex(RFC4231_4_3.data));
    expect(toHex(mac)).toBe(RFC4231_4_3.hmacSha256);
  });

  it(`HKDF-Extract is HMAC(salt, IKM): PRK of ${RFC5869_A_1.source}`, () => {
    const prk = backend.hmacSha256(fromHex(RFC5869_A_1.salt), fromHex(RFC5869_A_1.ikm));
    expect(toHex(prk)).toBe(RFC5869_A_1.prk);
  });
});
