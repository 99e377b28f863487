/**
 * OTK transport (seed 5.x.2: "Sharing of onetime security key is intermediated
 * by CPNS Server and secured by EUKey"; spec/key-transport.md). The OTK
 * crosses the network twice, each time sealed with AES-256-GCM under a key
 * derived from the EUKey of the entity on the other end of that hop:
 *
 *   deposit  (PN GW -> server): IKM = issuer's EUKey, info = "cpns-otk-deposit-v1"
 *   delivery (server -> peer):  IKM = peer's EUKey,   info = "cpns-otk-delivery-v1"
 *   salt = UTF-8(otkId)
 *   AAD  = "cpns-otk-v1" 0x00 issuerId 0x00 peerId 0x00 otkId 0x00 decimal(expiresAt)
 *          [0x00 "tls-pin" 0x00 tlsPin]   (issue #10, OTK-TLS-PIN: only when the PN GW serves TLS)
 *   sealedOtk = base64url(iv(12) || ciphertext || tag(16))
 *
 * Distinct labels keep a deposit blob from being accepted as a delivery (and
 * back); the AAD binds the blob to who it is from, whom it is for and until when.
 *
 * Implements: SEED-5.x.2-2, SEED-5.x.2-5, OTK-FORMAT, OTK-DEPOSIT, OTK-DELIVERY, KEY-TRANSPORT-LABELS
 * Implements: TLS-GATEWAY-PIN, OTK-TLS-PIN
 */
import { open, seal } from "../crypto/aead.ts";
import { fromBase64url, toBase64url, utf8 } from "../crypto/bytes.ts";
import { hkdfSha256 } from "../crypto/hkdf.ts";
import { type CryptoProvider, defaultCrypto } from "../crypto/provider.ts";

export const OTK_TRANSPORT_ALG = "A256GCM+HKDF-SHA256";
export const OTK_BYTES = 32;

export type OtkHop = "deposit" | "delivery";

export interface OtkContext {
  otkId: string;
  issuerId: string;
  peerId: string;
  /** Epoch seconds. */
  expiresAt: number;
  /**
   * The issuing PN GW's TLS key, RFC 7469 form "sha256//<base64>" (issue #10,
   * OTK-TLS-PIN). In the AAD of both hops, so that a pin swapped, added or
   * stripped on the way makes the OTK unopenable: the peer pins exactly the
   * key the PN GW sealed with its OTK.
   */
  tlsPin?: string;
}

function otkAad(context: OtkContext): Uint8Array {
  const { issuerId, peerId, otkId, expiresAt, tlsPin } = context;
  const pin = tlsPin === undefined ? "" : `\u0000tls-pin\u0000${tlsPin}`;
  return utf8(`cpns-otk-v1\u0000${issuerId}\u0000${peerId}\u0000${otkId}\u0000${expiresAt}${pin}`);
}

function wrappingKey(
  hop: OtkHop,
  eukey: Uint8Array,
  otkId: string,
  crypto: CryptoProvider,
): Promise<Uint8Array> {
  return hkdfSha256(eukey, utf8(otkId), utf8(`cpns-otk-${hop}-v1`), 32, crypto);
}

export async function sealOtk(
  hop: OtkHop,
  otk: Uint8Array,
  eukey: Uint8Array,
  context: OtkContext,
  crypto: CryptoProvider = defaultCrypto(),
): Promise<string> {
  const key = await wrappingKey(hop, eukey, context.otkId, crypto);
  return toBase64url(await seal(key, otk, otkAad(context), crypto));
}

/** The OTK, or undefined when the blob, the context, the hop or the key does not match. */
export async function openOtk(
  hop: OtkHop,
  sealedOtk: string,
  eukey: Uint8Array,
  context: OtkContext,
  crypto: CryptoProvider = defaultCrypto(),
): Promise<Uint8Array | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64url(sealedOtk);
  } catch {
    return undefined;
  }
  const key = await wrappingKey(hop, eukey, context.otkId, crypto);
  const otk = await open(key, bytes, otkAad(context), crypto);
  return otk?.length === OTK_BYTES ? otk : undefined;
}

/**
 * The peer-session secret (spec/otk.md): both ends of the opening Digest
 * exchange can compute it, nobody else can, and it differs for every session.
 *   HKDF-SHA-256(IKM = OTK, salt = UTF-8(nonce ":" cnonce), info = "cpns-peer-session-v1", 32)
 */
export function peerSessionSecret(
  otk: Uint8Array,
  exchange: { nonce: string; cnonce: string },
  crypto: CryptoProvider = defaultCrypto(),
): Promise<Uint8Array> {
  return hkdfSha256(
    otk,
    utf8(`${exchange.nonce}:${exchange.cnonce}`),
    utf8("cpns-peer-session-v1"),
    32,
    crypto,
  );
}
