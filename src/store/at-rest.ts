/**
 * Secrets at rest (our profile, DESIGN §4 "at rest"): EUKeys, OTKs and HA1s are
 * stored sealed with AES-256-GCM under a key derived from the server master key,
 * and the AAD names what the value is and whose it is, so a sealed blob copied
 * to another record or field does not open.
 *
 *   key = HKDF-SHA-256(IKM = master key, salt = "cpns-at-rest", info = "cpns-at-rest-v1", 32)
 *   aad = "cpns-at-rest-v1" 0x00 purpose 0x00 owner-id
 *   stored = base64url(iv || ciphertext || tag)
 *
 * Implements: STORE-AT-REST
 */
import { importAesKey, open, seal } from "../crypto/aead.ts";
import { fromBase64url, toBase64url, utf8 } from "../crypto/bytes.ts";
import { hkdfSha256 } from "../crypto/hkdf.ts";
import { type CryptoProvider, defaultCrypto } from "../crypto/provider.ts";
import { CpnsError } from "../errors.ts";

const LABEL = "cpns-at-rest-v1";

export type SealedPurpose = "eukey" | "ha1" | "otk";

export class AtRestCipher {
  /** Imported once (issue #12 "Speed"): every record read or write would otherwise import it again. */
  readonly #key: Promise<CryptoKey>;

  constructor(
    masterKey: Uint8Array,
    readonly crypto: CryptoProvider = defaultCrypto(),
  ) {
    if (masterKey.length !== 32)
      throw new CpnsError("ERR_CONFIG", "the master key must be 32 bytes");
    this.#key = hkdfSha256(masterKey, utf8("cpns-at-rest"), utf8(LABEL), 32, crypto).then(
      async (raw) => {
        const key = await importAesKey(raw, crypto);
        raw.fill(0);
        return key;
      },
    );
  }

  #aad(purpose: SealedPurpose, ownerId: string): Uint8Array {
    return utf8(`${LABEL}\u0000${purpose}\u0000${ownerId}`);
  }

  async seal(purpose: SealedPurpose, ownerId: string, plaintext: Uint8Array): Promise<string> {
    return toBase64url(
      await seal(await this.#key, plaintext, this.#aad(purpose, ownerId), this.crypto),
    );
  }

  /** Throws ERR_STORE_CORRUPT when the blob was altered, moved, or sealed under another key. */
  async open(purpose: SealedPurpose, ownerId: string, sealed: string): Promise<Uint8Array> {
    let bytes: Uint8Array;
    try {
      bytes = fromBase64url(sealed);
    } catch {
      throw new CpnsError("ERR_STORE_CORRUPT");
    }
    const plain = await open(await this.#key, bytes, this.#aad(purpose, ownerId), this.crypto);
    if (!plain) throw new CpnsError("ERR_STORE_CORRUPT");
    return plain;
  }
}
