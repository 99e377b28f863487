/**
 * Issue #9 item 6: the admin API's secrets are never in clear on the wire, TLS
 * or not. The admin seals a new user's password to the server's "admin
 * transport key", an X25519 key pair the server keeps; its public key is served
 * anonymously at /.well-known/cpns-admin-key and pinned by the admin
 * (pin = base64url(SHA-256(raw public key))), so a man in the middle cannot
 * substitute its own key.
 *
 * The construction follows HPKE base mode (RFC 9180) in spirit: ephemeral
 * X25519, ECDH, HKDF-SHA-256, AES-256-GCM. Where it differs: one HKDF call
 * (salt = ephemeral public || server public, fixed info label) instead of
 * HPKE's labelled extract/expand key schedule, and a random 96-bit IV carried
 * in the ciphertext instead of a derived base nonce (every envelope has a fresh
 * ephemeral key, so each key seals exactly one message either way). The AAD
 * binds the purpose, the route and the User ID; the payload carries the time it
 * was sealed so a captured envelope is refused once it is old.
 *
 * WebCrypto only (X25519 is in Node 20, Deno, workerd and @peculiar/webcrypto).
 *
 * Implements: ADMIN-TRANSPORT-KEY, ADMIN-SEALED-SECRET
 */

import type * as z from "zod";
import { open, seal } from "../crypto/aead.ts";
import { concatBytes, fromBase64url, fromUtf8, toBase64url, utf8 } from "../crypto/bytes.ts";
import { hkdfSha256 } from "../crypto/hkdf.ts";
import { type CryptoProvider, defaultCrypto, randomBytes } from "../crypto/provider.ts";
import type { adminKeySchema } from "./responses.ts";

export const ADMIN_KEY_PATH = "/.well-known/cpns-admin-key";
export const ADMIN_ENVELOPE_ALG = "X25519-HKDF-SHA256-A256GCM";
const HKDF_INFO = "cpns admin transport v1";
/** The route a create-user envelope is for: an envelope cannot be replayed to another admin route. */
const CREATE_USER_PURPOSE = "POST /cpns/v1/admin/users";
/** How long a sealed envelope stays acceptable, and how far ahead its clock may run. */
export const ADMIN_ENVELOPE_MAX_AGE_SECONDS = 300;
export const ADMIN_ENVELOPE_MAX_SKEW_SECONDS = 60;

/** What GET /.well-known/cpns-admin-key answers (its schema is the API document's, issue #13). */
export type AdminKeyDocument = z.infer<typeof adminKeySchema>;

/** The `sealed` member of a create-user body. */
export interface AdminEnvelope {
  alg: typeof ADMIN_ENVELOPE_ALG;
  /** The pin of the key it was sealed to, so the server can say "sealed to another key". */
  kid: string;
  /** base64url of the ephemeral X25519 public key. */
  epk: string;
  /** base64url of iv(12) || ciphertext || tag(16). */
  ct: string;
}

/** The sealed payload. */
export interface AdminSecretPayload {
  password: string;
  /** Seconds since the epoch when it was sealed. */
  iat: number;
}

export interface AdminTransportKey {
  privateKey: CryptoKey;
  publicKey: Uint8Array;
  pin: string;
}

/** PKCS#8 wrapping of a raw X25519 private key (RFC 8410): WebCrypto imports no raw private keys. */
const PKCS8_X25519_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);

export async function adminKeyPin(
  publicKey: Uint8Array,
  crypto: CryptoProvider = defaultCrypto(),
): Promise<string> {
  return toBase64url(
    new Uint8Array(await crypto.subtle.digest("SHA-256", publicKey as BufferSource)),
  );
}

/** The key pair from its 32 raw private bytes (kept in a file or the environment). */
export async function importAdminTransportKey(
  privateBytes: Uint8Array,
  crypto: CryptoProvider = defaultCrypto(),
): Promise<AdminTransportKey> {
  if (privateBytes.length !== 32) throw new RangeError("an X25519 private key is 32 bytes");
  const pkcs8 = concatBytes(PKCS8_X25519_PREFIX, privateBytes);
  const extractable = await crypto.subtle.importKey(
    "pkcs8",
    pkcs8 as BufferSource,
    { name: "X25519" },
    true,
    ["deriveBits"],
  );
  // Exporting the private key as JWK yields its public half (x): WebCrypto has no other way.
  const jwk = await crypto.subtle.exportKey("jwk", extractable);
  pkcs8.fill(0);
  const publicKey = fromBase64url(jwk.x as string);
  const privateKey = await crypto.subtle.importKey("jwk", jwk, { name: "X25519" }, false, [
    "deriveBits",
  ]);
  return { privateKey, publicKey, pin: await adminKeyPin(publicKey, crypto) };
}

export function adminKeyDocument(key: AdminTransportKey): AdminKeyDocument {
  return {
    kty: "OKP",
    crv: "X25519",
    x: toBase64url(key.publicKey),
    pin: key.pin,
    alg: ADMIN_ENVELOPE_ALG,
  };
}

/** AAD: label, purpose and the User ID, NUL-separated (ids cannot contain NUL). */
function aadBytes(userId: string): Uint8Array {
  return utf8(`${HKDF_INFO}\0${CREATE_USER_PURPOSE}\0${userId}`);
}

async function envelopeKey(
  shared: Uint8Array,
  ephemeralPublic: Uint8Array,
  serverPublic: Uint8Array,
  crypto: CryptoProvider,
): Promise<Uint8Array> {
  return hkdfSha256(
    shared,
    concatBytes(ephemeralPublic, serverPublic),
    utf8(HKDF_INFO),
    32,
    crypto,
  );
}

async function x25519(
  privateKey: CryptoKey,
  publicBytes: Uint8Array,
  crypto: CryptoProvider,
): Promise<Uint8Array> {
  const publicKey = await crypto.subtle.importKey(
    "raw",
    publicBytes as BufferSource,
    { name: "X25519" },
    false,
    [],
  );
  return new Uint8Array(
    await crypto.subtle.deriveBits({ name: "X25519", public: publicKey }, privateKey, 256),
  );
}

/** Admin side: seals the password of `userId` to the pinned server public key. */
export async function sealAdminSecret(
  serverPublic: Uint8Array,
  userId: string,
  password: string,
  options: { now?: () => number; crypto?: CryptoProvider } = {},
): Promise<AdminEnvelope> {
  const crypto = options.crypto ?? defaultCrypto();
  const now = options.now ?? Date.now;
  const ephemeral = (await crypto.subtle.generateKey({ name: "X25519" }, true, [
    "deriveBits",
  ])) as CryptoKeyPair;
  const ephemeralPublic = new Uint8Array(await crypto.subtle.exportKey("raw", ephemeral.publicKey));
  const shared = await x25519(ephemeral.privateKey, serverPublic, crypto);
  const key = await envelopeKey(shared, ephemeralPublic, serverPublic, crypto);
  const payload: AdminSecretPayload = { password, iat: Math.floor(now() / 1000) };
  const plain = utf8(JSON.stringify(payload));
  const ct = await seal(key, plain, aadBytes(userId), crypto);
  plain.fill(0);
  key.fill(0);
  shared.fill(0);
  return {
    alg: ADMIN_ENVELOPE_ALG,
    kid: await adminKeyPin(serverPublic, crypto),
    epk: toBase64url(ephemeralPublic),
    ct: toBase64url(ct),
  };
}

export type OpenResult =
  | { ok: true; password: string }
  | { ok: false; reason: "key" | "integrity" | "expired" };

/**
 * Server side: opens an envelope for `userId`, or says why not. Every failure
 * is one of three reasons and carries nothing of the envelope's content.
 */
export async function openAdminSecret(
  key: AdminTransportKey,
  envelope: AdminEnvelope,
  userId: string,
  options: { now?: () => number; crypto?: CryptoProvider } = {},
): Promise<OpenResult> {
  const crypto = options.crypto ?? defaultCrypto();
  const now = options.now ?? Date.now;
  if (envelope.kid !== key.pin) return { ok: false, reason: "key" };
  let ephemeralPublic: Uint8Array;
  let sealed: Uint8Array;
  try {
    ephemeralPublic = fromBase64url(envelope.epk);
    sealed = fromBase64url(envelope.ct);
  } catch {
    return { ok: false, reason: "integrity" };
  }
  if (ephemeralPublic.length !== 32) return { ok: false, reason: "integrity" };
  let shared: Uint8Array;
  try {
    shared = await x25519(key.privateKey, ephemeralPublic, crypto);
  } catch {
    // A low-order point makes X25519 fail (all-zero output): as bad as a bit flip.
    return { ok: false, reason: "integrity" };
  }
  const aesKey = await envelopeKey(shared, ephemeralPublic, key.publicKey, crypto);
  shared.fill(0);
  const plain = await open(aesKey, sealed, aadBytes(userId), crypto);
  aesKey.fill(0);
  if (!plain) return { ok: false, reason: "integrity" };
  let payload: Partial<AdminSecretPayload>;
  try {
    payload = JSON.parse(fromUtf8(plain)) as Partial<AdminSecretPayload>;
  } catch {
    return { ok: false, reason: "integrity" };
  } finally {
    plain.fill(0);
  }
  if (typeof payload.password !== "string" || typeof payload.iat !== "number") {
    return { ok: false, reason: "integrity" };
  }
  const age = now() / 1000 - payload.iat;
  if (age > ADMIN_ENVELOPE_MAX_AGE_SECONDS || age < -ADMIN_ENVELOPE_MAX_SKEW_SECONDS) {
    return { ok: false, reason: "expired" };
  }
  return { ok: true, password: payload.password };
}

/** A fresh key pair's private bytes (for a server that was given none). */
export function generateAdminTransportSecret(crypto: CryptoProvider = defaultCrypto()): Uint8Array {
  // Any 32 bytes are a valid X25519 private key (RFC 7748 clamps them).
  return randomBytes(32, crypto);
}
