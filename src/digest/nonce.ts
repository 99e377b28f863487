/**
 * Stateless, tamper-evident nonces (RFC 7616 §3.3 and §5.4 suggest
 * "time-stamp H(time-stamp ":" ETag ":" secret-data)"). Ours:
 *
 *   nonce  = base64url( issuedAt(8, ms, big-endian) || random(8) || mac(16) )
 *   mac    = HMAC-SHA-256(secret, "cpns-digest-nonce-v1" || 0x00 || realm || 0x00 || issuedAt || random)[0..16)
 *
 * Issuing a challenge stores nothing, so unanswered challenges cost no memory.
 * The realm is inside the MAC, so a nonce from another realm (of a server that
 * shares the secret) is refused. Freshness comes from issuedAt; replay of a
 * fresh nonce is the replay ledger's job.
 */
import { concatBytes, fromBase64url, toBase64url, uint64be, utf8 } from "../crypto/bytes.ts";
import { timingSafeEqualBytes } from "../crypto/compare.ts";
import { hmacSha256, importHmacKey } from "../crypto/hmac.ts";
import { type CryptoProvider, randomBytes } from "../crypto/provider.ts";

const NONCE_BYTES = 32;
const MAC_BYTES = 16;
const LABEL = utf8("cpns-digest-nonce-v1\u0000");
/** Nonces claiming to come from further in the future than this are forged or from a bad clock. */
const MAX_CLOCK_SKEW_MS = 5_000;

export type NonceCheck = { valid: true; issuedAtMs: number; expired: boolean } | { valid: false };

export class NonceFactory {
  readonly #key: Promise<CryptoKey>;
  readonly #realm: Uint8Array;

  constructor(
    secret: Uint8Array,
    realm: string,
    readonly lifetimeMs: number,
    readonly crypto: CryptoProvider,
  ) {
    this.#key = importHmacKey(secret, crypto);
    this.#realm = utf8(`${realm}\u0000`);
  }

  async #mac(body: Uint8Array): Promise<Uint8Array> {
    const mac = await hmacSha256(
      await this.#key,
      concatBytes(LABEL, this.#realm, body),
      this.crypto,
    );
    return mac.subarray(0, MAC_BYTES);
  }

  async issue(nowMs: number): Promise<string> {
    const body = concatBytes(uint64be(Math.floor(nowMs)), randomBytes(8, this.crypto));
    return toBase64url(concatBytes(body, await this.#mac(body)));
  }

  async check(nonce: string, nowMs: number): Promise<NonceCheck> {
    let raw: Uint8Array;
    try {
      raw = fromBase64url(nonce);
    } catch {
      return { valid: false };
    }
    if (raw.length !== NONCE_BYTES) return { valid: false };
    const body = raw.subarray(0, NONCE_BYTES - MAC_BYTES);
    if (!timingSafeEqualBytes(raw.subarray(NONCE_BYTES - MAC_BYTES), await this.#mac(body))) {
      return { valid: false };
    }
    const issuedAtMs = Number(new DataView(body.buffer, body.byteOffset, 8).getBigUint64(0));
    if (issuedAtMs > nowMs + MAX_CLOCK_SKEW_MS) return { valid: false };
    return { valid: true, issuedAtMs, expired: nowMs - issuedAtMs > this.lifetimeMs };
  }

  /** A per-realm opaque value: constant, so it costs nothing to check, and bound to the secret. */
  async opaque(): Promise<string> {
    const mac = await hmacSha256(
      await this.#key,
      concatBytes(utf8("cpns-digest-opaque-v1\u0000"), this.#realm),
      this.crypto,
    );
    return toBase64url(mac.subarray(0, 12));
  }
}
