/**
 * Issue #9 items 4 and 8: the identity a Digest attempt is charged to, read
 * from the Authorization header alone (no store read, so the limiter answers
 * alike for names that exist and names that do not).
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
import { ALGORITHMS, parseAlgorithm, parseCredentials } from "../digest/index.ts";
import { decodeExtValue } from "../digest/params.ts";

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

/** The identity an Authorization header claims, or undefined when it names none. */
export function attemptedIdentity(header: string, realm: string): AttemptedIdentity | undefined {
  let params: Map<string, string>;
  try {
    const credentials = parseCredentials(header);
    if (credentials.scheme.toLowerCase() !== "digest") return undefined;
    params = credentials.params;
  } catch {
    return undefined;
  }
  const ext = params.get("username*");
  let name = params.get("username");
  if (ext !== undefined) {
    try {
      name = decodeExtValue(ext);
    } catch {
      return undefined;
    }
  }
  if (name === undefined) return undefined;
  if (ext === undefined && params.get("userhash")?.toLowerCase() === "true") {
    const algorithm = parseAlgorithm(params.get("algorithm"));
    const hash = algorithm ? ALGORITHMS[algorithm].hash : "?";
    const userhash = name.toLowerCase();
    return { sent: userhash, userhash: true, keys: [`h:${hash}:${bounded(userhash)}`] };
  }
  return { sent: name, userhash: false, keys: identityKeysOfName(name, realm) };
}
