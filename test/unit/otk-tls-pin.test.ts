/**
 * Issue #10 (OTK-TLS-PIN; src/protocol/otk-transport.ts): the PN GW's TLS pin
 * travels inside what the EUKey seals, as part of the AAD of both hops. From
 * the attacker's side: a pin swapped for the attacker's own key, stripped (to
 * make the peer skip pinning), or added to a pinless OTK makes the OTK
 * unopenable, on the deposit (server side) and on the delivery (peer side);
 * and an OTK without a pin keeps the AAD of before (no change for plain-HTTP
 * development gateways and existing vectors). The AAD bytes are written out
 * here by hand from spec/key-transport.md, not taken from the code.
 */
import { createDecipheriv, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fromBase64url } from "../../src/crypto/bytes.ts";
import { type OtkContext, openOtk, sealOtk } from "../../src/protocol/otk-transport.ts";

const bytes = (n: number) => new Uint8Array(randomBytes(n));
const pinOf = (seed: number) => `sha256//${Buffer.alloc(32, seed).toString("base64")}`;
const base: OtkContext = {
  otkId: "b3RrLWlkLTAxMjM0NTY3ODk",
  issuerId: "gw-1",
  peerId: "watch-1",
  expiresAt: 1_748_779_500,
};
const genuine = { ...base, tlsPin: pinOf(1) };

describe("[OTK-TLS-PIN] the PN GW's TLS pin is bound into the sealed OTK", () => {
  for (const hop of ["deposit", "delivery"] as const) {
    it(`[OTK-TLS-PIN][TLS-GATEWAY-PIN] ${hop}: the genuine pin opens; a swapped, stripped or added pin does not`, async () => {
      const eukey = bytes(32);
      const otk = bytes(32);
      const sealed = await sealOtk(hop, otk, eukey, genuine);
      expect(await openOtk(hop, sealed, eukey, genuine)).toEqual(otk);
      // The attacker's own key instead of the PN GW's.
      expect(await openOtk(hop, sealed, eukey, { ...genuine, tlsPin: pinOf(2) })).toBeUndefined();
      // Stripped, so that the peer would not pin at all.
      expect(await openOtk(hop, sealed, eukey, base)).toBeUndefined();
      // A pin added to an OTK the PN GW sealed without one (plain-HTTP development gateway).
      const pinless = await sealOtk(hop, otk, eukey, base);
      expect(await openOtk(hop, pinless, eukey, base)).toEqual(otk);
      expect(await openOtk(hop, pinless, eukey, { ...base, tlsPin: pinOf(2) })).toBeUndefined();
      // Same spelling, different case of one base64 character: another pin.
      const flipped = genuine.tlsPin.replace(/[a-z]/, (c) => c.toUpperCase());
      if (flipped !== genuine.tlsPin) {
        expect(await openOtk(hop, sealed, eukey, { ...genuine, tlsPin: flipped })).toBeUndefined();
      }
    });
  }

  it("[OTK-TLS-PIN] the AAD is the pinless AAD followed by 0x00 'tls-pin' 0x00 pin (checked with node:crypto)", async () => {
    const eukey = bytes(32);
    const otk = bytes(32);
    const sealed = fromBase64url(await sealOtk("deposit", otk, eukey, genuine));
    const { hkdfSync } = await import("node:crypto");
    const key = Buffer.from(
      hkdfSync("sha256", eukey, Buffer.from(base.otkId), Buffer.from("cpns-otk-deposit-v1"), 32),
    );
    const aad = Buffer.from(
      `cpns-otk-v1\0gw-1\0watch-1\0${base.otkId}\0${base.expiresAt}\0tls-pin\0${genuine.tlsPin}`,
    );
    const iv = sealed.subarray(0, 12);
    const tag = sealed.subarray(sealed.length - 16);
    const decipher = createDecipheriv("aes-256-gcm", key, iv);
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    const opened = Buffer.concat([decipher.update(sealed.subarray(12, -16)), decipher.final()]);
    expect(new Uint8Array(opened)).toEqual(otk);
  });
});
