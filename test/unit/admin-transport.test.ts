/**
 * Issue #9 items 6 and 7, from the attacker's side, in process: the sealed
 * admin envelope (src/protocol/admin-transport.ts) opens only untouched, for
 * its User ID, under its key and while fresh; the password policy
 * (src/protocol/password-policy.ts) refuses short, common and user-derived
 * passwords without ever echoing them; the server refuses plain secrets over
 * plain HTTP and takes an injected strength estimator. Clocks are `now`
 * options; nothing here is timed.
 */
import { Crypto as PeculiarCrypto } from "@peculiar/webcrypto";
import { createStorage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { describe, expect, it } from "vitest";
import { fromBase64url, toBase64url } from "../../src/crypto/bytes.ts";
import {
  ADMIN_ENVELOPE_MAX_AGE_SECONDS,
  ADMIN_ENVELOPE_MAX_SKEW_SECONDS,
  adminKeyPin,
  generateAdminTransportSecret,
  importAdminTransportKey,
  openAdminSecret,
  sealAdminSecret,
} from "../../src/protocol/admin-transport.ts";
import { checkPassword, PASSWORD_MIN_LENGTH } from "../../src/protocol/password-policy.ts";
import { zxcvbnEstimator } from "../../src/protocol/password-strength.ts";
import { createServerApp } from "../../src/server/app.ts";
import { createUserSealed, sealedFor } from "../admin-users.ts";

const T0 = Date.UTC(2026, 0, 1);
const at = (ms: number) => () => ms;
const STRONG = "Tr0ub4dor-staple-horse";

async function keyPair() {
  return importAdminTransportKey(generateAdminTransportSecret());
}

describe("[ADMIN-SEALED-SECRET] the sealed admin envelope", () => {
  it("[ADMIN-SEALED-SECRET] opens for its User ID, with the password inside and nothing of it outside", async () => {
    const key = await keyPair();
    const envelope = await sealAdminSecret(key.publicKey, "alice", STRONG, { now: at(T0) });
    expect(JSON.stringify(envelope)).not.toContain(STRONG);
    expect(JSON.stringify(envelope)).not.toContain(toBase64url(new TextEncoder().encode(STRONG)));
    expect(envelope.kid).toBe(key.pin);
    expect(await openAdminSecret(key, envelope, "alice", { now: at(T0) })).toEqual({
      ok: true,
      password: STRONG,
    });
  });

  it("[ADMIN-SEALED-SECRET][ADMIN-TRANSPORT-KEY] the same key opens across WebCrypto implementations (Node's and @peculiar/webcrypto)", async () => {
    const peculiar = new PeculiarCrypto() as unknown as Crypto;
    const secret = generateAdminTransportSecret();
    const nodeKey = await importAdminTransportKey(secret);
    const peculiarKey = await importAdminTransportKey(secret, peculiar);
    expect(toBase64url(peculiarKey.publicKey)).toBe(toBase64url(nodeKey.publicKey));
    expect(peculiarKey.pin).toBe(nodeKey.pin);
    const envelope = await sealAdminSecret(nodeKey.publicKey, "alice", STRONG, {
      now: at(T0),
      crypto: peculiar,
    });
    expect(await openAdminSecret(nodeKey, envelope, "alice", { now: at(T0) })).toMatchObject({
      ok: true,
    });
  });

  it("[ADMIN-SEALED-SECRET] every single-bit flip of the ciphertext or the ephemeral key is refused", async () => {
    const key = await keyPair();
    const envelope = await sealAdminSecret(key.publicKey, "alice", STRONG, { now: at(T0) });
    let refused = 0;
    let tried = 0;
    for (const field of ["ct", "epk"] as const) {
      const bytes = fromBase64url(envelope[field]);
      for (let i = 0; i < bytes.length; i++) {
        for (const bit of [0x01, 0x80]) {
          const flipped = bytes.slice();
          flipped[i] = (flipped[i] as number) ^ bit;
          const result = await openAdminSecret(
            key,
            { ...envelope, [field]: toBase64url(flipped) },
            "alice",
            { now: at(T0) },
          );
          tried++;
          if (!result.ok && result.reason === "integrity") refused++;
        }
      }
    }
    // X25519 ignores the top bit of the last byte of a public key (RFC 7748 §5), but the
    // HKDF salt carries the bytes as sent, so even that flip changes the key.
    expect(refused).toBe(tried);
  });

  it("[ADMIN-SEALED-SECRET] an envelope moved to another User ID, sealed to another key, or truncated is refused", async () => {
    const key = await keyPair();
    const other = await keyPair();
    const envelope = await sealAdminSecret(key.publicKey, "alice", STRONG, { now: at(T0) });
    const opts = { now: at(T0) };
    expect(await openAdminSecret(key, envelope, "mallory", opts)).toEqual({
      ok: false,
      reason: "integrity",
    });
    expect(await openAdminSecret(other, envelope, "alice", opts)).toEqual({
      ok: false,
      reason: "key",
    });
    // Claiming the right kid does not help an envelope sealed to another key.
    const toOther = await sealAdminSecret(other.publicKey, "alice", STRONG, opts);
    expect(await openAdminSecret(key, { ...toOther, kid: key.pin }, "alice", opts)).toEqual({
      ok: false,
      reason: "integrity",
    });
    const short = { ...envelope, ct: envelope.ct.slice(0, 20) };
    expect(await openAdminSecret(key, short, "alice", opts)).toEqual({
      ok: false,
      reason: "integrity",
    });
    // A low-order public key (all zeros) makes X25519 fail: refused, not thrown.
    const lowOrder = { ...envelope, epk: toBase64url(new Uint8Array(32)) };
    expect(await openAdminSecret(key, lowOrder, "alice", opts)).toEqual({
      ok: false,
      reason: "integrity",
    });
  });

  it("[ADMIN-SEALED-SECRET] a captured envelope is refused once older than the limit, or when sealed too far ahead", async () => {
    const key = await keyPair();
    const envelope = await sealAdminSecret(key.publicKey, "alice", STRONG, { now: at(T0) });
    const openAfter = (seconds: number) =>
      openAdminSecret(key, envelope, "alice", { now: at(T0 + seconds * 1000) });
    expect(await openAfter(ADMIN_ENVELOPE_MAX_AGE_SECONDS)).toMatchObject({ ok: true });
    expect(await openAfter(ADMIN_ENVELOPE_MAX_AGE_SECONDS + 1)).toEqual({
      ok: false,
      reason: "expired",
    });
    expect(await openAfter(-ADMIN_ENVELOPE_MAX_SKEW_SECONDS)).toMatchObject({ ok: true });
    expect(await openAfter(-ADMIN_ENVELOPE_MAX_SKEW_SECONDS - 1)).toEqual({
      ok: false,
      reason: "expired",
    });
  });

  it("[ADMIN-TRANSPORT-KEY] the pin is base64url(SHA-256(raw public key)) and names one key", async () => {
    const key = await keyPair();
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", key.publicKey as BufferSource),
    );
    expect(key.pin).toBe(toBase64url(digest));
    expect(await adminKeyPin(key.publicKey)).toBe(key.pin);
    expect((await keyPair()).pin).not.toBe(key.pin);
  });
});

describe("[PASSWORD-POLICY] the password policy", () => {
  const context = { userId: "zorblax.quintavius", realm: "cpns" };
  const check = (password: string) => checkPassword(password, context, zxcvbnEstimator);

  it("[PASSWORD-POLICY] refuses a 1-character password, one just under the minimum, a common one and one built on the User ID", () => {
    for (const weak of [
      "x",
      "Zq9!vB2#kL7".slice(0, PASSWORD_MIN_LENGTH - 1),
      "password1234",
      "qwertyuiop123",
      "zorblax.quintavius1",
    ]) {
      const verdict = check(weak);
      expect(verdict.ok, weak).toBe(false);
      if (!verdict.ok) expect(verdict.reason).not.toContain(weak);
    }
    // The same User ID-based password is strong for somebody else: the user inputs count.
    expect(
      checkPassword("zorblax.quintavius1", { userId: "bob", realm: "cpns" }, zxcvbnEstimator),
    ).toEqual({ ok: true });
  });

  it("[PASSWORD-POLICY] long inputs: a 1024-character repetition is refused, a long varied passphrase accepted, 1025 characters refused by length", () => {
    expect(check("a".repeat(1024))).toMatchObject({ ok: false });
    const passphrase = Array.from({ length: 12 }, (_, i) => `quill${i * 7}-marsh${i * 3}`).join(
      " ",
    );
    expect(passphrase.length).toBeGreaterThan(64);
    expect(check(passphrase)).toEqual({ ok: true });
    expect(check(`${STRONG}${"x".repeat(1025)}`)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/at most 1024/),
    });
  });

  it("[PASSWORD-POLICY] accepts a strong password and passes the library's advice on", () => {
    expect(check(STRONG)).toEqual({ ok: true });
    expect(check("correct horse battery staple")).toEqual({ ok: true });
    const common = check("password1234");
    expect(common).toMatchObject({ ok: false });
    if (!common.ok) expect(common.reason).toMatch(/commonly used password/);
  });
});

describe("[ADMIN-NO-PLAIN-SECRET][PASSWORD-POLICY] the create-user route, in process", () => {
  const ADMIN = "admin-transport-unit-admin-token-0123";
  function app(extra: Parameters<typeof createServerApp>[0] extends infer C ? Partial<C> : never) {
    const storage = createStorage({ driver: memoryDriver() });
    const server = createServerApp({
      realm: "cpns",
      storage,
      masterKey: crypto.getRandomValues(new Uint8Array(32)),
      adminToken: ADMIN,
      digestSecret: "admin-transport-unit-digest-secret-01",
      ...extra,
    });
    return { storage, fetch: (request: Request) => server.fetch(request) };
  }
  const post = (base: string, body: unknown) =>
    new Request(`${base}/cpns/v1/admin/users`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("[ADMIN-NO-PLAIN-SECRET] a clear password is taken over TLS (https:) only; HA1 values never", async () => {
    const server = app({});
    const plain = await server.fetch(
      post("http://cpns.test", { userId: "alice", password: STRONG }),
    );
    expect(plain.status).toBe(400);
    expect(((await plain.json()) as { code: string }).code).toBe("ERR_ADMIN_PLAIN_SECRET");
    expect(await server.storage.getKeys()).toEqual([]);
    const ha1 = { "SHA-256": "a".repeat(64), "SHA-512-256": "b".repeat(64), MD5: "c".repeat(32) };
    for (const base of ["http://cpns.test", "https://cpns.test"]) {
      const res = await server.fetch(post(base, { userId: "alice", ha1 }));
      expect(((await res.json()) as { code: string }).code).toBe("ERR_ADMIN_HA1_RETIRED");
    }
    expect(await server.storage.getKeys()).toEqual([]);
    const tls = await server.fetch(
      post("https://cpns.test", { userId: "alice", password: STRONG }),
    );
    expect(tls.status).toBe(201);
  });

  it("[PASSWORD-POLICY] the server uses an injected strength estimator instead of zxcvbn", async () => {
    const calls: string[][] = [];
    const server = app({
      passwordStrength: (_password, userInputs) => {
        calls.push(userInputs);
        return { score: 0, feedback: ["injected estimator says no"] };
      },
    });
    const res = await createUserSealed({
      transport: server.fetch,
      base: "http://cpns.test",
      adminToken: ADMIN,
      userId: "alice",
      password: STRONG,
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; detail: string };
    expect(body.code).toBe("ERR_WEAK_PASSWORD");
    expect(body.detail).toContain("injected estimator says no");
    expect(calls).toEqual([["alice", "cpns"]]);
    expect(await server.storage.getKeys()).toEqual([]);
  });

  it("[ADMIN-TRANSPORT-KEY] a configured admin transport key of the wrong size is a configuration error at start, not a 500 later", () => {
    expect(() => app({ adminTransportKey: new Uint8Array(31) })).toThrow(/adminTransportKey/);
  });

  it("[ADMIN-SEALED-SECRET] an envelope sealed to a configured key is opened by a second instance with the same key (restart)", async () => {
    const secret = generateAdminTransportSecret();
    const storage = createStorage({ driver: memoryDriver() });
    const first = app({ adminTransportKey: secret, storage });
    const sealed = await sealedFor(first.fetch, "http://cpns.test", "alice", STRONG);
    const second = app({ adminTransportKey: secret, storage });
    const res = await second.fetch(post("http://cpns.test", { userId: "alice", sealed }));
    expect(res.status).toBe(201);
    // A server with a key of its own (another instance without the configured key) refuses it.
    const stranger = app({});
    const refused = await stranger.fetch(post("http://cpns.test", { userId: "bob", sealed }));
    expect(((await refused.json()) as { code: string }).code).toBe("ERR_ADMIN_ENVELOPE_KEY");
  });
});
