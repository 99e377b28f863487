/**
 * Secrets at rest (STORE-AT-REST; src/store/at-rest.ts): AES-256-GCM under a
 * key derived from the master key, with purpose and owner in the AAD. A
 * sealed value opens only for the purpose and owner it was sealed for and
 * only under its master key; anything else is ERR_STORE_CORRUPT. The layout is
 * checked against an independent implementation (node:crypto).
 */
import { createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fromBase64url, toBase64url, utf8 } from "../../src/crypto/bytes.ts";
import { CpnsError } from "../../src/errors.ts";
import { AtRestCipher, type SealedPurpose } from "../../src/store/at-rest.ts";

const master = () => new Uint8Array(randomBytes(32));

async function expectCorrupt(promise: Promise<unknown>) {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(CpnsError);
  expect((error as CpnsError).code).toBe("ERR_STORE_CORRUPT");
  expect((error as CpnsError).status).toBe(503);
}

describe("[STORE-AT-REST] AtRestCipher", () => {
  it("[STORE-AT-REST] round trip; every seal is fresh (random IV) and does not contain the plaintext", async () => {
    const cipher = new AtRestCipher(master());
    const secret = new Uint8Array(randomBytes(32));
    const a = await cipher.seal("eukey", "watch-1#1", secret);
    const b = await cipher.seal("eukey", "watch-1#1", secret);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(fromBase64url(a)).toHaveLength(12 + 32 + 16);
    expect(a).not.toContain(toBase64url(secret));
    expect(await cipher.open("eukey", "watch-1#1", a)).toEqual(secret);
    expect(await cipher.open("eukey", "watch-1#1", b)).toEqual(secret);
    expect(
      await cipher.open(
        "ha1",
        "alice#MD5",
        await cipher.seal("ha1", "alice#MD5", new Uint8Array()),
      ),
    ).toEqual(new Uint8Array());
  });

  it("[STORE-AT-REST] a value moved to another purpose or owner does not open (ERR_STORE_CORRUPT)", async () => {
    const cipher = new AtRestCipher(master());
    const sealed = await cipher.seal("eukey", "watch-1#1", new Uint8Array(32).fill(7));
    const purposes: SealedPurpose[] = ["ha1", "otk"];
    for (const purpose of purposes) await expectCorrupt(cipher.open(purpose, "watch-1#1", sealed));
    for (const owner of ["watch-1#2", "watch-2#1", "watch-1", "", "watch-1#1 ", "WATCH-1#1"]) {
      await expectCorrupt(cipher.open("eukey", owner, sealed));
    }
    // The separator cannot be forged by moving characters between purpose and owner.
    const ha1 = await cipher.seal("ha1", "alice#SHA-256", utf8("ab"));
    await expectCorrupt(cipher.open("ha1", "alice#SHA-256\u0000", ha1));
  });

  it("[STORE-AT-REST] another master key does not open it; a bad master key is refused at construction", async () => {
    const sealed = await new AtRestCipher(master()).seal("ha1", "alice#MD5", utf8("x"));
    await expectCorrupt(new AtRestCipher(master()).open("ha1", "alice#MD5", sealed));
    for (const length of [0, 16, 31, 33, 64]) {
      expect(() => new AtRestCipher(new Uint8Array(length))).toThrow(CpnsError);
    }
  });

  it("[STORE-AT-REST] any altered byte, a truncation, or a non-base64url value is ERR_STORE_CORRUPT", async () => {
    const cipher = new AtRestCipher(master());
    const sealed = await cipher.seal("otk", "gw#peer", new Uint8Array(32).fill(1));
    const bytes = fromBase64url(sealed);
    for (let i = 0; i < bytes.length; i++) {
      const altered = bytes.slice();
      altered[i] = (altered[i] as number) ^ 0x01;
      await expectCorrupt(cipher.open("otk", "gw#peer", toBase64url(altered)));
    }
    for (const bad of [
      "",
      "A",
      "====",
      "not base64!",
      sealed.slice(0, 20),
      `${sealed}A`,
      toBase64url(bytes.slice(0, 27)),
    ]) {
      await expectCorrupt(cipher.open("otk", "gw#peer", bad));
    }
  });

  it("[STORE-AT-REST][KEY-TRANSPORT-LABELS] the documented layout: HKDF-SHA-256(master, 'cpns-at-rest', 'cpns-at-rest-v1'), AAD label 0 purpose 0 owner, iv||ct||tag", async () => {
    const key = master();
    const secret = new Uint8Array(randomBytes(32));
    const sealed = fromBase64url(await new AtRestCipher(key).seal("eukey", "watch-9#3", secret));
    const derived = Buffer.from(hkdfSync("sha256", key, "cpns-at-rest", "cpns-at-rest-v1", 32));
    const decipher = createDecipheriv("aes-256-gcm", derived, sealed.subarray(0, 12));
    decipher.setAAD(Buffer.from("cpns-at-rest-v1\u0000eukey\u0000watch-9#3"));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    const plain = Buffer.concat([
      decipher.update(sealed.subarray(12, sealed.length - 16)),
      decipher.final(),
    ]);
    expect(new Uint8Array(plain)).toEqual(secret);
  });
});
