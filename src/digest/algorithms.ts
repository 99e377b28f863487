/**
 * RFC 7616 §3.2 / §6.1: the Digest algorithm registry we implement. Each
 * algorithm is a hash plus a flag for the "-sess" variant (§3.4.2), where HA1 is
 * rebound to the server nonce and client cnonce.
 *
 * Implements: DIGEST-VECTORS, DIGEST-ALGORITHMS
 */
import type { HashName } from "../crypto/hash.ts";

export type DigestAlgorithm =
  | "SHA-256"
  | "SHA-256-sess"
  | "SHA-512-256"
  | "SHA-512-256-sess"
  | "MD5"
  | "MD5-sess";

export interface AlgorithmSpec {
  readonly name: DigestAlgorithm;
  readonly hash: HashName;
  readonly session: boolean;
  /** Length of a hex digest from this hash, used to reject junk before hashing. */
  readonly hexLength: number;
}

function spec(name: DigestAlgorithm, hash: HashName, session: boolean): AlgorithmSpec {
  return { name, hash, session, hexLength: hash === "MD5" ? 32 : 64 };
}

export const ALGORITHMS: Readonly<Record<DigestAlgorithm, AlgorithmSpec>> = {
  "SHA-256": spec("SHA-256", "SHA-256", false),
  "SHA-256-sess": spec("SHA-256-sess", "SHA-256", true),
  "SHA-512-256": spec("SHA-512-256", "SHA-512-256", false),
  "SHA-512-256-sess": spec("SHA-512-256-sess", "SHA-512-256", true),
  MD5: spec("MD5", "MD5", false),
  "MD5-sess": spec("MD5-sess", "MD5", true),
};

/** What a server offers when configured with nothing: SHA-256 first (RFC 7616 §3.7), MD5 last for RFC 2617 clients. */
export const DEFAULT_ALGORITHMS: readonly DigestAlgorithm[] = ["SHA-256", "SHA-512-256", "MD5"];

/** A client's preference, strongest first: SHA-512/256 also resists length extension. */
export const CLIENT_PREFERENCE: readonly DigestAlgorithm[] = [
  "SHA-512-256",
  "SHA-512-256-sess",
  "SHA-256",
  "SHA-256-sess",
  "MD5",
  "MD5-sess",
];

/**
 * The SHA-2 algorithms only, strongest first: what a client that must not be
 * downgraded to MD5 by a path attacker stripping challenges allows (issue #9 item 1).
 */
export const STRONG_ALGORITHMS: readonly DigestAlgorithm[] = [
  "SHA-512-256",
  "SHA-512-256-sess",
  "SHA-256",
  "SHA-256-sess",
];

const BY_UPPER = new Map<string, DigestAlgorithm>(
  Object.keys(ALGORITHMS).map((name) => [name.toUpperCase(), name as DigestAlgorithm]),
);

/**
 * Tokens are case-insensitive (RFC 7616 §3.3). An absent algorithm means MD5
 * (RFC 2617 §3.2.1). Unknown names give `undefined`.
 */
export function parseAlgorithm(token: string | undefined): DigestAlgorithm | undefined {
  if (token === undefined) return "MD5";
  return BY_UPPER.get(token.toUpperCase());
}
