/**
 * Issue #9 items 4 and 8: the identity a Digest attempt is charged to, from
 * what the credentials claim as the Digest verifier parsed them (issue #12:
 * the header is parsed once, by the verifier) and no store read, so the
 * limiter answers alike for names that exist and names that do not.
 *
 * A plain name (username or username*) is charged under the name and under its
 * userhash for every hash (RFC 7616 §3.4.4, H(name:realm)); a userhash is
 * charged under itself, any case. So plain and userhash spellings share one
 * budget, and only the three userhash spellings of a name are apart: resolving
 * a userhash to its id would need the store, and would tell an attacker that
 * the id exists (whose budget another spelling then shares). Keys are bounded:
 * a long name is charged under its SHA-256.
 *
 * Implements: LIMIT-SPELLING, ORACLE-LIMIT
 */
import { type HashName, hashHex } from "../crypto/hash.ts";
import { ALGORITHMS, type ClaimedIdentity } from "../digest/index.ts";

const HASHES: readonly HashName[] = ["MD5", "SHA-256", "SHA-512-256"];

/** Longer keys are charged under their hash, so a 15 KB name costs 70 bytes of memory. */
const MAX_KEY_CHARS = 128;

const bounded = (text: string) =>
  text.length <= MAX_KEY_CHARS ? text : `#${hashHex("SHA-256", text)}`;

/** Every key a proven identity (or a plain name) is charged under. */
export function identityKeysOfName(name: string, realm: string): string[] {
  return [
    `n:${bounded(name)}`,
    ...HASHES.map((hash) => `h:${hash}:${hashHex(hash, `${name}:${realm}`)}`),
  ];
}

export interface AttemptedIdentity {
  /** What the log names: the name as sent, or the userhash as sent (lower case). */
  sent: string;
  userhash: boolean;
  keys: string[];
}

/** The budgets' view of the identity a request's credentials claim. */
export function attemptedIdentity(claimed: ClaimedIdentity, realm: string): AttemptedIdentity {
  if (claimed.userhash) {
    const hash = claimed.algorithm ? ALGORITHMS[claimed.algorithm].hash : "?";
    const userhash = claimed.username.toLowerCase();
    return { sent: userhash, userhash: true, keys: [`h:${hash}:${bounded(userhash)}`] };
  }
  return {
    sent: claimed.username,
    userhash: false,
    keys: identityKeysOfName(claimed.username, realm),
  };
}
