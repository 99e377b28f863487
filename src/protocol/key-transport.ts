/**
 * Key transport (our profile of seed 5.x.1 and 5.x.2; spec/key-transport.md):
 * every key that crosses the network is sealed with AES-256-GCM under a key
 * derived by HKDF-SHA-256 from a secret both ends already hold, with the
 * context in the AAD, so it is never in clear on the wire, with or without TLS.
 *
 * EUKey assignment (5.x.1), bound to the owner's Digest exchange:
 *   IKM  = UTF-8(HA1)                     HA1 = H(userId:realm:password), lower-case hex,
 *                                          H = the hash of the exchange's algorithm
 *   salt = UTF-8(nonce ":" cnonce)        of the authenticated enrollment request
 *   info = "cpns-eukey-transport-v1"
 *   AAD  = "cpns-eukey-v1" 0x00 entityId 0x00 userId 0x00 type 0x00 decimal(keyVersion)
 *   sealedKey = base64url(iv(12) || ciphertext || tag(16))
 *
 * Only the server and the password's owner can derive the wrapping key, and a
 * fresh nonce/cnonce pair makes it different for every enrollment.
 *
 * Implements: SEED-5.x.1-1, KEY-TRANSPORT-EUKEY, KEY-TRANSPORT-LABELS
 */
import { open, seal } from "../crypto/aead.ts";
import { fromBase64url, toBase64url, utf8 } from "../crypto/bytes.ts";
import { hkdfSha256 } from "../crypto/hkdf.ts";
import { type CryptoProvider, defaultCrypto } from "../crypto/provider.ts";

export const EUKEY_TRANSPORT_ALG = "A256GCM+HKDF-SHA256";

export interface EukeyContext {
  entityId: string;
  userId: string;
  type: string;
  keyVersion: number;
}

export interface EukeyExchange {
  /** HA1 for the realm and the exchange's algorithm (not the -sess variant). */
  ha1: string;
  nonce: string;
  cnonce: string;
}

function eukeyAad(context: EukeyContext): Uint8Array {
  const { entityId, userId, type, keyVersion } = context;
  return utf8(`cpns-eukey-v1\u0000${entityId}\u0000${userId}\u0000${type}\u0000${keyVersion}`);
}

function eukeyWrappingKey(exchange: EukeyExchange, crypto: CryptoProvider): Promise<Uint8Array> {
  return hkdfSha256(
    utf8(exchange.ha1.toLowerCase()),
    utf8(`${exchange.nonce}:${exchange.cnonce}`),
    utf8("cpns-eukey-transport-v1"),
    32,
    crypto,
  );
}

export async function sealEukey(
  eukey: Uint8Array,
  exchange: EukeyExchange,
  context: EukeyContext,
  crypto: CryptoProvider = defaultCrypto(),
): Promise<string> {
  const key = await eukeyWrappingKey(exchange, crypto);
  return toBase64url(await seal(key, eukey, eukeyAad(context), crypto));
}

/** Returns the EUKey, or undefined when the blob, the context or the exchange does not match. */
export async function openEukey(
  sealedKey: string,
  exchange: EukeyExchange,
  context: EukeyContext,
  crypto: CryptoProvider = defaultCrypto(),
): Promise<Uint8Array | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64url(sealedKey);
  } catch {
    return undefined;
  }
  const key = await eukeyWrappingKey(exchange, crypto);
  const eukey = await open(key, bytes, eukeyAad(context), crypto);
  return eukey?.length === 32 ? eukey : undefined;
}
