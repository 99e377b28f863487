/**
 * OTK transport (seed 5.x.2 second bullet, "Sharing of onetime security key is
 * intermediated by CPNS Server and secured by EUKey"; OTK-DEPOSIT,
 * OTK-DELIVERY, OTK-FORMAT; src/protocol/otk-transport.ts): the OTK crosses
 * each hop sealed with AES-256-GCM under HKDF-SHA-256(EUKey, otkId,
 * "cpns-otk-<hop>-v1") with issuer, peer, otkId and expiry in the AAD.
 * Round trip; every AAD field, the hop label and the key matter; only a
 * 32-byte OTK opens; junk input is undefined, never a throw. A fixed
 * known-answer vector computed outside this code base (Python) pins the
 * labels and layouts, and node:crypto opens what sealOtk produced. Also the
 * peer-session secret HKDF(OTK, nonce ":" cnonce, "cpns-peer-session-v1").
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fromBase64url, fromHex, toBase64url, toHex } from "../../src/crypto/bytes.ts";
import {
  OTK_BYTES,
  type OtkContext,
  type OtkHop,
  openOtk,
  peerSessionSecret,
  sealOtk,
} from "../../src/protocol/otk-transport.ts";

const context: OtkContext = {
  otkId: "b3RrLWlkLTAxMjM0NTY3ODk",
  issuerId: "gw-1",
  peerId: "watch-1",
  expiresAt: 1_748_779_500,
};
const bytes = (n: number) => new Uint8Array(randomBytes(n));

/**
 * Known-answer vector. Computed independently with Python 3.11: HKDF-SHA-256
 * written out with hashlib/hmac (RFC 5869 extract-then-expand; the same
 * function reproduced RFC 5869 A.1), AES-256-GCM from the `cryptography`
 * package (AESGCM), with these inputs:
 *   issuer EUKey = bytes 0x00..0x1f, peer EUKey = bytes 0x40..0x5f,
 *   OTK = bytes 0xa0..0xbf, otkId = "kat-otk-id-0123456789AB",
 *   issuerId = "gw-kat", peerId = "pne-kat", expiresAt = 1748779500,
 *   deposit IV = bytes 0x10..0x1b, delivery IV = bytes 0x20..0x2b,
 *   depositKey  = HKDF(issuer EUKey, salt = UTF-8(otkId), info = "cpns-otk-deposit-v1", 32)
 *   deliveryKey = HKDF(peer EUKey,   salt = UTF-8(otkId), info = "cpns-otk-delivery-v1", 32)
 *   aad = "cpns-otk-v1" 0x00 issuerId 0x00 peerId 0x00 otkId 0x00 "1748779500"
 *   sealed = base64url(IV || AESGCM(key).encrypt(IV, OTK, aad))
 *   peerSession = HKDF(OTK, salt = "kat-nonce-0123:kat-cnonce-4567",
 *                      info = "cpns-peer-session-v1", 32)
 */
const KAT = {
  issuerEukey: Uint8Array.from({ length: 32 }, (_, i) => i),
  peerEukey: Uint8Array.from({ length: 32 }, (_, i) => 0x40 + i),
  otk: Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i),
  context: {
    otkId: "kat-otk-id-0123456789AB",
    issuerId: "gw-kat",
    peerId: "pne-kat",
    expiresAt: 1_748_779_500,
  } satisfies OtkContext,
  depositKey: "929b6adcb7fb00ed20f27fa4b8d295d54e378fc7e54473e60f5b2031cfa24255",
  deliveryKey: "01efbe82553e32e0ef37da6da513437219a9aa59296bc08b1f09aabca55db8da",
  aad:
    "63706e732d6f746b2d76310067772d6b617400706e652d6b6174006b61742d6f746b2d69642d30313233" +
    "34353637383941420031373438373739353030",
  depositSealed: "EBESExQVFhcYGRoby8f8ZAxjm8J-59ilsiL9jhL50GBeycJe3SLYYwrI6oZA8IkVbWbS646M3MCz5lBX",
  deliverySealed:
    "ICEiIyQlJicoKSorJz54zsOesmrbhcViISluhzx2Aa2Fkdqs4xeMsFgMsQu1BTPl2QwACWGY0On4rHHl",
  exchange: { nonce: "kat-nonce-0123", cnonce: "kat-cnonce-4567" },
  peerSession: "7facc3f0ac13712828d5945a605936b9459d44ca7efd64acb25361872c3c9b97",
};

/** node:crypto AES-256-GCM open of iv(12) || ct || tag(16): an implementation independent of src/. */
function nodeOpen(keyHex: string, sealed: string, aadHex: string): Uint8Array {
  const blob = Buffer.from(fromBase64url(sealed));
  const decipher = createDecipheriv(
    "aes-256-gcm",
    Buffer.from(keyHex, "hex"),
    blob.subarray(0, 12),
  );
  decipher.setAAD(Buffer.from(aadHex, "hex"));
  decipher.setAuthTag(blob.subarray(blob.length - 16));
  return new Uint8Array(
    Buffer.concat([decipher.update(blob.subarray(12, blob.length - 16)), decipher.final()]),
  );
}

describe("[OTK-DEPOSIT][OTK-DELIVERY][SEED-5.x.2-5] sealOtk / openOtk", () => {
  it("[OTK-DEPOSIT][OTK-DELIVERY] round trip on both hops, fresh IV each time, never the OTK in clear", async () => {
    const eukey = bytes(32);
    const otk = bytes(OTK_BYTES);
    for (const hop of ["deposit", "delivery"] as const) {
      const a = await sealOtk(hop, otk, eukey, context);
      const b = await sealOtk(hop, otk, eukey, context);
      // A random IV: the same OTK never seals to the same blob twice.
      expect(a).not.toBe(b);
      expect(fromBase64url(a)).toHaveLength(12 + OTK_BYTES + 16);
      expect(a).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(a).not.toContain(toBase64url(otk));
      expect(Buffer.from(fromBase64url(a)).includes(Buffer.from(otk))).toBe(false);
      expect(await openOtk(hop, a, eukey, context)).toEqual(otk);
      expect(await openOtk(hop, b, eukey, context)).toEqual(otk);
    }
  });

  it("[OTK-DEPOSIT][OTK-DELIVERY] the hop label matters: a deposit blob is no delivery and back", async () => {
    // Otherwise a captured deposit of a PN GW to itself could be replayed as a delivery.
    const eukey = bytes(32);
    const otk = bytes(OTK_BYTES);
    const hops: OtkHop[] = ["deposit", "delivery"];
    for (const sealedHop of hops) {
      const sealed = await sealOtk(sealedHop, otk, eukey, context);
      for (const openHop of hops) {
        const opened = await openOtk(openHop, sealed, eukey, context);
        if (openHop === sealedHop) expect(opened).toEqual(otk);
        else expect(opened).toBeUndefined();
      }
    }
  });

  it("[OTK-DEPOSIT][OTK-DELIVERY][SEED-5.x.2-5] every AAD field binds: another otkId, issuer, peer or expiry does not open", async () => {
    const eukey = bytes(32);
    const otk = bytes(OTK_BYTES);
    const variants: Array<[string, OtkContext]> = [
      ["otkId", { ...context, otkId: `${context.otkId.slice(0, -1)}A` }],
      ["otkId (longer)", { ...context, otkId: `${context.otkId}A` }],
      ["issuerId", { ...context, issuerId: "gw-2" }],
      ["peerId", { ...context, peerId: "watch-2" }],
      ["issuer and peer swapped", { ...context, issuerId: "watch-1", peerId: "gw-1" }],
      ["expiresAt + 1", { ...context, expiresAt: context.expiresAt + 1 }],
      ["expiresAt - 1", { ...context, expiresAt: context.expiresAt - 1 }],
      // The 0x00 separators: moving a character across a field boundary is another context.
      ["boundary shift", { ...context, issuerId: "gw-1w", peerId: "atch-1" }],
    ];
    for (const hop of ["deposit", "delivery"] as const) {
      const sealed = await sealOtk(hop, otk, eukey, context);
      for (const [name, other] of variants) {
        expect(await openOtk(hop, sealed, eukey, other), `${hop}: ${name}`).toBeUndefined();
      }
      expect(await openOtk(hop, sealed, eukey, { ...context })).toEqual(otk);
    }
  });

  it("[OTK-DEPOSIT][OTK-DELIVERY][SEED-5.x.2-2] the wrong EUKey does not open (one flipped bit, another entity's key)", async () => {
    const eukey = bytes(32);
    const otk = bytes(OTK_BYTES);
    const sealed = await sealOtk("deposit", otk, eukey, context);
    const flipped = eukey.slice();
    flipped[31] = (flipped[31] as number) ^ 0x01;
    expect(await openOtk("deposit", sealed, flipped, context)).toBeUndefined();
    expect(await openOtk("deposit", sealed, bytes(32), context)).toBeUndefined();
    // The EUKey is HKDF input keying material, not an AES key: other lengths derive other keys.
    expect(await openOtk("deposit", sealed, eukey.subarray(0, 16), context)).toBeUndefined();
  });

  it("[OTK-DEPOSIT] any tampered byte, a truncation or an extension gives undefined", async () => {
    const eukey = bytes(32);
    const sealed = fromBase64url(await sealOtk("deposit", bytes(OTK_BYTES), eukey, context));
    for (let i = 0; i < sealed.length; i++) {
      const tampered = sealed.slice();
      tampered[i] = (tampered[i] as number) ^ 0x80;
      expect(await openOtk("deposit", toBase64url(tampered), eukey, context), `byte ${i}`).toBe(
        undefined,
      );
    }
    for (const cut of [sealed.subarray(0, sealed.length - 1), sealed.subarray(0, 27)]) {
      expect(await openOtk("deposit", toBase64url(cut), eukey, context)).toBeUndefined();
    }
    const longer = new Uint8Array([...sealed, 0]);
    expect(await openOtk("deposit", toBase64url(longer), eukey, context)).toBeUndefined();
  });

  it("[OTK-FORMAT] only a 32-byte OTK opens: a sealed 0, 16, 31, 33 or 64-byte secret is refused", async () => {
    // The blob authenticates, but an OTK is 32 random bytes and nothing else.
    const eukey = bytes(32);
    for (const length of [0, 1, 16, 31, 33, 64]) {
      for (const hop of ["deposit", "delivery"] as const) {
        const sealed = await sealOtk(hop, bytes(length), eukey, context);
        expect(await openOtk(hop, sealed, eukey, context), `${hop} ${length}`).toBeUndefined();
      }
    }
  });

  it("[OTK-DEPOSIT][OTK-DELIVERY] non-base64url or impossible input is undefined, never a throw", async () => {
    const eukey = bytes(32);
    const good = await sealOtk("deposit", bytes(OTK_BYTES), eukey, context);
    const inputs = [
      "",
      "A",
      "AAAAA",
      `${good}=`,
      `${good}==`,
      good.replace(/-/g, "+").replace(/_/g, "/").concat("+/"),
      `${good.slice(0, 20)} ${good.slice(20)}`,
      `${good.slice(0, 20)}\n${good.slice(20)}`,
      `${good}\u0000`,
      `é${good}`,
      "🔑".repeat(20),
      "A".repeat(10_000),
    ];
    for (const input of inputs) {
      await expect(openOtk("deposit", input, eukey, context)).resolves.toBeUndefined();
    }
  });
});

describe("[OTK-DEPOSIT][OTK-DELIVERY][SEED-5.x.2-5] known-answer vector (independent Python)", () => {
  it("[OTK-DEPOSIT] openOtk opens the Python-sealed deposit blob and nothing else", async () => {
    const { issuerEukey, peerEukey, otk, context: ctx, depositSealed } = KAT;
    expect(await openOtk("deposit", depositSealed, issuerEukey, ctx)).toEqual(otk);
    expect(await openOtk("delivery", depositSealed, issuerEukey, ctx)).toBeUndefined();
    expect(await openOtk("deposit", depositSealed, peerEukey, ctx)).toBeUndefined();
    // The documented layout: the IV is the first 12 bytes.
    expect(toHex(fromBase64url(depositSealed).subarray(0, 12))).toBe("101112131415161718191a1b");
  });

  it("[OTK-DELIVERY] openOtk opens the Python-sealed delivery blob and nothing else", async () => {
    const { issuerEukey, peerEukey, otk, context: ctx, deliverySealed } = KAT;
    expect(await openOtk("delivery", deliverySealed, peerEukey, ctx)).toEqual(otk);
    expect(await openOtk("deposit", deliverySealed, peerEukey, ctx)).toBeUndefined();
    expect(await openOtk("delivery", deliverySealed, issuerEukey, ctx)).toBeUndefined();
  });

  it("[OTK-DEPOSIT][OTK-DELIVERY] node:crypto opens sealOtk's output under the Python-derived wrapping keys", async () => {
    // Layout iv(12) || ciphertext || tag(16), key and AAD exactly as documented.
    const { issuerEukey, peerEukey, otk, context: ctx } = KAT;
    const deposit = await sealOtk("deposit", otk, issuerEukey, ctx);
    expect(nodeOpen(KAT.depositKey, deposit, KAT.aad)).toEqual(otk);
    const delivery = await sealOtk("delivery", otk, peerEukey, ctx);
    expect(nodeOpen(KAT.deliveryKey, delivery, KAT.aad)).toEqual(otk);
    // And the reverse direction with node:crypto sealing under a fresh IV.
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", Buffer.from(KAT.depositKey, "hex"), iv);
    cipher.setAAD(Buffer.from(KAT.aad, "hex"));
    const ct = Buffer.concat([cipher.update(otk), cipher.final(), cipher.getAuthTag()]);
    const blob = toBase64url(new Uint8Array(Buffer.concat([iv, ct])));
    expect(await openOtk("deposit", blob, issuerEukey, ctx)).toEqual(otk);
    // The hard-coded AAD really is the documented string.
    expect(Buffer.from(fromHex(KAT.aad)).toString("utf8")).toBe(
      "cpns-otk-v1\u0000gw-kat\u0000pne-kat\u0000kat-otk-id-0123456789AB\u00001748779500",
    );
  });

  it("[SEED-5.x.2-3][OTK-FORMAT] peerSessionSecret matches the Python vector", async () => {
    expect(toHex(await peerSessionSecret(KAT.otk, KAT.exchange))).toBe(KAT.peerSession);
  });
});

describe("[SEED-5.x.2-3][OTK-FORMAT] peerSessionSecret", () => {
  const exchange = { nonce: "bm9uY2UtMQ", cnonce: "0a1b2c3d" };

  it("[SEED-5.x.2-3] is deterministic, 32 bytes, and not the OTK", async () => {
    const otk = bytes(OTK_BYTES);
    const a = await peerSessionSecret(otk, exchange);
    const b = await peerSessionSecret(otk.slice(), { ...exchange });
    expect(a).toHaveLength(32);
    expect(a).toEqual(b);
    expect(a).not.toEqual(otk);
  });

  it("[SEED-5.x.2-3][OTK-FORMAT] depends on the nonce, the cnonce and the OTK", async () => {
    const otk = bytes(OTK_BYTES);
    const base = toHex(await peerSessionSecret(otk, exchange));
    const otherOtk = otk.slice();
    otherOtk[0] = (otherOtk[0] as number) ^ 0x01;
    const others = [
      await peerSessionSecret(otk, { ...exchange, nonce: `${exchange.nonce}x` }),
      await peerSessionSecret(otk, { ...exchange, cnonce: `${exchange.cnonce}x` }),
      // nonce and cnonce are not interchangeable.
      await peerSessionSecret(otk, { nonce: exchange.cnonce, cnonce: exchange.nonce }),
      await peerSessionSecret(otherOtk, exchange),
      await peerSessionSecret(bytes(OTK_BYTES), exchange),
    ].map(toHex);
    expect(new Set([base, ...others]).size).toBe(1 + others.length);
  });
});
