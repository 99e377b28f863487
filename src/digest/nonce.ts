/**
 * Stateless, tamper-evident nonces (RFC 7616 §3.3 and §5.4 suggest
 * "time-stamp H(time-stamp ":" ETag ":" secret-data)"). Ours:
 *
 *   nonce  = base64url( issuedAt(8, ms, big-endian) || random(8) || mac(16) )
 *   mac    = HMAC-SHA-256(secret, "cpns-digest-nonce-v2" || 0x00 || len(epoch) || epoch || realm || 0x00 || issuedAt || random)[0..16)
 *
 * Issuing a challenge stores nothing, so unanswered challenges cost no memory.
 * The realm is inside the MAC, so a nonce from another realm (of a server that
 * shares the secret) is refused. Freshness comes from issuedAt; replay of a
 * fresh nonce is the replay ledger's job, and the ledger's epoch (fixed length)
 * is inside the MAC too (issue #9 item 2), so a nonce issued before a restart,
 * or by a second process with its own ledger, is refused instead of being
 * answered again under a ledger that never saw its first answers.
 *
 * Implements: DIGEST-NONCE, DIGEST-EPOCH, DIGEST-REPLAY-RESTART, DIGEST-REALM-BOUND, DIGEST-NONCE-CANONICAL
 */
import { concatBytes, fromBase64url, toBase64url, uint64be, utf8 } from "../crypto/bytes.ts";
import { timingSafeEqualBytes } from "../crypto/compare.ts";
import { hmacSha256Sync } from "../crypto/hash.ts";
import { type CryptoProvider, randomBytes } from "../crypto/provider.ts";

const NONCE_BYTES = 32;
const MAC_BYTES = 16;
const LABEL = utf8("cpns-digest-nonce-v2\u0000");
/** Nonces claiming to come from further in the future than this are forged or from a bad clock. */
const MAX_CLOCK_SKEW_MS = 5_000;

/** Integrity and origin only: freshness depends on the clock, so callers apply isExpired(). */
export type NonceCheck = { valid: true; issuedAtMs: number } | { valid: false };

export type Freshness = "fresh" | "expired" | "future";

/**
 * A nonce is good for [issuedAt, issuedAt + lifetime): the same half-open
 * interval the replay ledger keeps entries for, so no instant exists at which
 * the nonce is still accepted but its ledger entry is already gone. A nonce
 * from further in the future than the allowed clock skew is treated as forged.
 */
export function freshness(issuedAtMs: number, nowMs: number, lifetimeMs: number): Freshness {
  if (issuedAtMs > nowMs + MAX_CLOCK_SKEW_MS) return "future";
  return nowMs - issuedAtMs >= lifetimeMs ? "expired" : "fresh";
}

export class NonceFactory {
  readonly #secret: Uint8Array;
  readonly #realm: Uint8Array;
  /** Label, length-prefixed epoch and realm: the fixed prefix of every MAC input. */
  readonly #prefix: Uint8Array;

  constructor(
    secret: Uint8Array,
    realm: string,
    readonly crypto: CryptoProvider,
    epoch: Uint8Array = new Uint8Array(0),
  ) {
    if (epoch.length > 255) throw new TypeError("digest: a ledger epoch is at most 255 bytes");
    this.#secret = secret.slice();
    this.#realm = utf8(`${realm}\u0000`);
    this.#prefix = concatBytes(LABEL, Uint8Array.of(epoch.length), epoch, this.#realm);
  }

  #mac(body: Uint8Array): Uint8Array {
    return hmacSha256Sync(this.#secret, concatBytes(this.#prefix, body)).subarray(0, MAC_BYTES);
  }

  issue(nowMs: number): string {
    const body = concatBytes(uint64be(Math.floor(nowMs)), randomBytes(8, this.crypto));
    return toBase64url(concatBytes(body, this.#mac(body)));
  }

  check(nonce: string): NonceCheck {
    let raw: Uint8Array;
    try {
      raw = fromBase64url(nonce);
    } catch {
      return { valid: false };
    }
    // Canonical encoding only: otherwise the unused low bits of the last character
    // would give each nonce aliases, each with a fresh replay window.
    if (raw.length !== NONCE_BYTES || toBase64url(raw) !== nonce) return { valid: false };
    const body = raw.subarray(0, NONCE_BYTES - MAC_BYTES);
    if (!timingSafeEqualBytes(raw.subarray(NONCE_BYTES - MAC_BYTES), this.#mac(body))) {
      return { valid: false };
    }
    const issuedAtMs = Number(new DataView(body.buffer, body.byteOffset, 8).getBigUint64(0));
    return { valid: true, issuedAtMs };
  }

  /** A per-realm opaque value: constant, so it costs nothing to check, and bound to the secret. */
  opaque(): string {
    const mac = hmacSha256Sync(
      this.#secret,
      concatBytes(utf8("cpns-digest-opaque-v1\u0000"), this.#realm),
    );
    return toBase64url(mac.subarray(0, 12));
  }
}
