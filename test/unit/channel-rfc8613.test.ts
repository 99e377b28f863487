// RFC 8613 Appendix C.1-C.3 reproduced with the HKDF code the CPNS secure channel uses
// (src/crypto/hkdf.ts): a check of the key-derivation construction spec/channel.md §7 says it
// shares with OSCORE. The `info` is built here from its parts (RFC 8613 §3.2.1: the CBOR array
// [id, id_context, alg_aead, type, L]) and must equal the bytes the RFC prints.
import { describe, expect, it } from "vitest";
import { fromHex, toHex, utf8 } from "../../src/crypto/bytes.ts";
import { hkdfSha256 } from "../../src/crypto/hkdf.ts";
import { RFC8613_DERIVATIONS } from "../vectors/rfc8613-appendix-c.ts";

/** The few CBOR items RFC 8613's info needs (RFC 8949 §3): short byte/text strings, null, small uints. */
function cborInfo(
  id: Uint8Array,
  idContext: Uint8Array | null,
  type: "Key" | "IV",
  length: number,
) {
  const bstr = (bytes: Uint8Array) => [0x40 | bytes.length, ...bytes];
  const text = utf8(type);
  return new Uint8Array([
    0x85, // array of 5
    ...bstr(id),
    ...(idContext ? bstr(idContext) : [0xf6]), // null without an ID Context
    0x0a, // alg_aead 10 = AES-CCM-16-64-128
    0x60 | text.length,
    ...text,
    length, // L: 16 for the key, 13 for the IV (both < 24: one byte)
  ]);
}

describe("[CHANNEL-KEYS] RFC 8613 Appendix C key derivations with our HKDF-SHA-256", () => {
  for (const vector of RFC8613_DERIVATIONS) {
    it(`[CHANNEL-KEYS] ${vector.title}`, async () => {
      const secret = fromHex(vector.masterSecret);
      const salt = fromHex(vector.masterSalt);
      const context = vector.idContext === null ? null : fromHex(vector.idContext);
      const senderInfo = cborInfo(fromHex(vector.senderId), context, "Key", 16);
      const recipientInfo = cborInfo(fromHex(vector.recipientId), context, "Key", 16);
      const ivInfo = cborInfo(new Uint8Array(0), context, "IV", 13);
      expect(toHex(senderInfo)).toBe(vector.senderKeyInfo);
      expect(toHex(recipientInfo)).toBe(vector.recipientKeyInfo);
      expect(toHex(ivInfo)).toBe(vector.commonIvInfo);
      expect(toHex(await hkdfSha256(secret, salt, senderInfo, 16))).toBe(vector.senderKey);
      expect(toHex(await hkdfSha256(secret, salt, recipientInfo, 16))).toBe(vector.recipientKey);
      expect(toHex(await hkdfSha256(secret, salt, ivInfo, 13))).toBe(vector.commonIv);
    });
  }
});
