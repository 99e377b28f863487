/**
 * Seed 5.x.4 (our answer to FFS-NO-TLS), spec/channel.md §3: the keys of the
 * CPNS secure channel. Every key and IV is derived from the shared secret with
 * HKDF-SHA-256, salted with the nonce and cnonce of the Digest exchange that
 * opened the channel, and labelled with direction, both ids, session and
 * epoch, so no two directions, sessions or epochs ever share a key or an IV.
 * The long-term secret (EUKey, peer-session secret) is never an AEAD key.
 *
 * Implements: FFS-NO-TLS, CHANNEL-KEYS, CHANNEL-VECTORS
 */
import { utf8 } from "../crypto/bytes.ts";
import { hkdfSha256 } from "../crypto/hkdf.ts";
import { type CryptoProvider, defaultCrypto } from "../crypto/provider.ts";

export const CHANNEL_LABEL = "cpns-channel-v1";
export const CHANNEL_SUITE = "A256GCM+HKDF-SHA256";

export type Direction = "c2s" | "s2c";

/** What both ends know once the opening Digest exchange has authenticated both of them. */
export interface ChannelContext {
  /** EUKey (entity–server) or the peer-session secret (peers); at least 32 bytes. */
  secret: Uint8Array;
  /** The opening exchange's Digest nonce (server's) and cnonce (client's). */
  nonce: string;
  cnonce: string;
  clientId: string;
  serverId: string;
  sessionId: string;
}

/** One direction's AEAD state under one epoch: the imported key (imported once, not per record) and the IV. */
export interface DirectionKeys {
  key: CryptoKey;
  iv: Uint8Array;
}

function info(context: ChannelContext, label: "key" | "iv", direction: Direction, epoch: number) {
  const { clientId, serverId, sessionId } = context;
  return utf8(
    [CHANNEL_LABEL, label, direction, clientId, serverId, sessionId, String(epoch)].join("\u0000"),
  );
}

/** The raw key and IV of one direction and epoch (the published vectors show these). */
export async function deriveDirectionBytes(
  context: ChannelContext,
  direction: Direction,
  epoch: number,
  crypto: CryptoProvider = defaultCrypto(),
): Promise<{ key: Uint8Array; iv: Uint8Array }> {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > 0xffffffff) {
    throw new RangeError("channel: epoch must fit in 32 bits");
  }
  if (context.secret.length < 32) throw new RangeError("channel: the secret must be >= 32 bytes");
  const salt = utf8(`${context.nonce}:${context.cnonce}`);
  const [key, iv] = await Promise.all([
    hkdfSha256(context.secret, salt, info(context, "key", direction, epoch), 32, crypto),
    hkdfSha256(context.secret, salt, info(context, "iv", direction, epoch), 12, crypto),
  ]);
  return { key, iv };
}

export async function deriveDirectionKeys(
  context: ChannelContext,
  direction: Direction,
  epoch: number,
  crypto: CryptoProvider = defaultCrypto(),
): Promise<DirectionKeys> {
  const bytes = await deriveDirectionBytes(context, direction, epoch, crypto);
  const key = await crypto.subtle.importKey("raw", bytes.key as BufferSource, "AES-GCM", false, [
    "encrypt",
    "decrypt",
  ]);
  bytes.key.fill(0);
  return { key, iv: bytes.iv };
}
