/**
 * EUKey transport at assignment (KEY-TRANSPORT-EUKEY, KEY-TRANSPORT-LABELS;
 * src/protocol/key-transport.ts): the EUKey travels sealed under
 * HKDF-SHA-256(HA1, nonce ":" cnonce, "cpns-eukey-transport-v1") with the
 * context in the AAD. Round trip; any tampered byte, any other context field,
 * any other exchange value gives undefined; and an independent implementation
 * of the documented labels (node:crypto) opens what sealEukey produced.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fromBase64url, toBase64url } from "../../src/crypto/bytes.ts";
import { ALGORITHMS, computeHa1 } from "../../src/digest/index.ts";
import {
  type EukeyContext,
  type EukeyExchange,
  openEukey,
  sealEukey,
} from "../../src/protocol/key-transport.ts";

const ha1 = computeHa1(ALGORITHMS["SHA-256"], "alice", "cpns", "alice-password");
const exchange: EukeyExchange = { ha1, nonce: "bm9uY2UtdmFsdWU", cnonce: "0a1b2c3d4e5f" };
const context: EukeyContext = { entityId: "watch-1", userId: "alice", type: "PNE", keyVersion: 1 };
const eukey = () => new Uint8Array(randomBytes(32));

describe("[KEY-TRANSPORT-EUKEY][SEED-5.x.1-1] sealEukey / openEukey", () => {
  it("[KEY-TRANSPORT-EUKEY] round trip, fresh IV each time, never the key in clear", async () => {
    const key = eukey();
    const a = await sealEukey(key, exchange, context);
    const b = await sealEukey(key, exchange, context);
    expect(a).not.toBe(b);
    expect(fromBase64url(a)).toHaveLength(12 + 32 + 16);
    expect(a).not.toContain(toBase64url(key));
    expect(await openEukey(a, exchange, context)).toEqual(key);
    expect(await openEukey(b, exchange, context)).toEqual(key);
    // HA1 is hex: its case does not matter.
    expect(await openEukey(a, { ...exchange, ha1: ha1.toUpperCase() }, context)).toEqual(key);
  });

  it("[KEY-TRANSPORT-EUKEY] tampering with any byte gives undefined", async () => {
    const sealed = fromBase64url(await sealEukey(eukey(), exchange, context));
    for (let i = 0; i < sealed.length; i++) {
      for (const flip of [0x01, 0x80]) {
        const altered = sealed.slice();
        altered[i] = (altered[i] as number) ^ flip;
        expect(
          await openEukey(toBase64url(altered), exchange, context),
          `byte ${i}`,
        ).toBeUndefined();
      }
    }
    for (const bad of [
      "",
      "A",
      "!!",
      toBase64url(sealed.slice(0, 28)),
      toBase64url(sealed.slice(1)),
    ]) {
      expect(await openEukey(bad, exchange, context)).toBeUndefined();
    }
  });

  it("[KEY-TRANSPORT-EUKEY][SERVER-OWNERSHIP] another entity, user, type or key version gives undefined", async () => {
    const sealed = await sealEukey(eukey(), exchange, context);
    const others: EukeyContext[] = [
      { ...context, entityId: "watch-2" },
      { ...context, entityId: "watch-1\u0000" },
      { ...context, userId: "bob" },
      { ...context, type: "PNGW" },
      { ...context, keyVersion: 2 },
      { ...context, keyVersion: 0 },
      // Moving characters across the separator does not keep the AAD.
      { ...context, entityId: "watch-1\u0000alice", userId: "" },
    ];
    for (const other of others) expect(await openEukey(sealed, exchange, other)).toBeUndefined();
  });

  it("[KEY-TRANSPORT-EUKEY] another HA1, nonce or cnonce (another exchange) gives undefined", async () => {
    const sealed = await sealEukey(eukey(), exchange, context);
    const others: EukeyExchange[] = [
      { ...exchange, ha1: computeHa1(ALGORITHMS["SHA-256"], "alice", "cpns", "wrong") },
      { ...exchange, ha1: computeHa1(ALGORITHMS.MD5, "alice", "cpns", "alice-password") },
      { ...exchange, nonce: `${exchange.nonce}x` },
      { ...exchange, cnonce: "0a1b2c3d4e5e" },
      // Swapped: the salt is ordered.
      { ...exchange, nonce: exchange.cnonce, cnonce: exchange.nonce },
    ];
    for (const other of others) expect(await openEukey(sealed, other, context)).toBeUndefined();
  });

  it("[KEY-TRANSPORT-EUKEY] a sealed value that is not 32 bytes is refused even when it authenticates", async () => {
    const derived = Buffer.from(
      hkdfSync(
        "sha256",
        Buffer.from(ha1),
        `${exchange.nonce}:${exchange.cnonce}`,
        "cpns-eukey-transport-v1",
        32,
      ),
    );
    for (const length of [0, 16, 31, 33]) {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", derived, iv);
      cipher.setAAD(Buffer.from("cpns-eukey-v1\u0000watch-1\u0000alice\u0000PNE\u00001"));
      const ct = Buffer.concat([cipher.update(randomBytes(length)), cipher.final()]);
      const blob = Buffer.concat([iv, ct, cipher.getAuthTag()]).toString("base64url");
      expect(await openEukey(blob, exchange, context), `${length} bytes`).toBeUndefined();
    }
  });
});

describe("[KEY-TRANSPORT-LABELS] the labels in spec/ are the labels in the code", () => {
  it("[KEY-TRANSPORT-LABELS] an independent implementation (node:crypto) opens sealEukey's output", async () => {
    const key = eukey();
    const sealed = Buffer.from(fromBase64url(await sealEukey(key, exchange, context)));
    const wrapping = Buffer.from(
      hkdfSync(
        "sha256",
        Buffer.from(ha1.toLowerCase(), "utf8"),
        Buffer.from(`${exchange.nonce}:${exchange.cnonce}`, "utf8"),
        Buffer.from("cpns-eukey-transport-v1", "utf8"),
        32,
      ),
    );
    const decipher = createDecipheriv("aes-256-gcm", wrapping, sealed.subarray(0, 12));
    decipher.setAAD(Buffer.from("cpns-eukey-v1\u0000watch-1\u0000alice\u0000PNE\u00001", "utf8"));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    const plain = Buffer.concat([
      decipher.update(sealed.subarray(12, sealed.length - 16)),
      decipher.final(),
    ]);
    expect(new Uint8Array(plain)).toEqual(key);
  });
});
