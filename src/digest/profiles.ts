/**
 * Issue #12 (The clients people have): named Digest profiles an operator picks
 * instead of spelling out algorithm lists. Many clients in wide use know only
 * MD5 and read only the FIRST WWW-Authenticate challenge (RFC 7616 §3.7 lets a
 * server offer several, strongest first); some also understand qop only when it
 * is offered alone as "auth". A profile fixes the challenge order and, for the
 * routes that do not need auth-int, the qops offered:
 *
 *   strong        SHA-256, SHA-512-256, MD5; qop auth, auth-int   (the default)
 *   legacy-first  MD5, SHA-512-256, SHA-256; qop auth            (first-challenge-only clients)
 *   md5-only      MD5;                       qop auth            (what Apache offers)
 *
 * Under legacy-first a client that reads every challenge and picks the best
 * (Firefox) still answers SHA-256, and so does one that keeps the LAST challenge
 * of the joined header (Python requests), which is why SHA-256, the algorithm
 * such clients know, comes last (as measured in test/interop/browsers-digest.test.ts).
 * Only md5-only lowers what everybody gets. Routes that need
 * qop=auth-int (the CPNS routes) take only the algorithm order of a profile.
 *
 * Implements: DIGEST-CLIENTS-PROFILES, DIGEST-CLIENTS-CHROMIUM, DIGEST-CLIENTS-FIREFOX
 */
import { ALGORITHMS, type DigestAlgorithm } from "./algorithms.ts";
import type { Qop } from "./server.ts";

export type DigestProfileName = "strong" | "legacy-first" | "md5-only";

export interface DigestProfile {
  /** Challenge order (first = the one a first-challenge-only client answers). */
  readonly algorithms: readonly DigestAlgorithm[];
  /** The qops offered on routes that accept qop=auth. */
  readonly qop: readonly Qop[];
}

export const DIGEST_PROFILES: Readonly<Record<DigestProfileName, DigestProfile>> = {
  strong: { algorithms: ["SHA-256", "SHA-512-256", "MD5"], qop: ["auth", "auth-int"] },
  "legacy-first": { algorithms: ["MD5", "SHA-512-256", "SHA-256"], qop: ["auth"] },
  "md5-only": { algorithms: ["MD5"], qop: ["auth"] },
};

export function isDigestProfileName(value: string): value is DigestProfileName {
  return Object.hasOwn(DIGEST_PROFILES, value);
}

/** What a setting such as CPNS_DIGEST_ALGORITHMS names: a profile, or a plain algorithm list. */
export interface DigestAlgorithmSetting {
  readonly algorithms: readonly DigestAlgorithm[];
  /** Set only when a profile was named: a plain list keeps the route's own qops. */
  readonly profile?: DigestProfileName;
  readonly qop?: readonly Qop[];
}

/**
 * Reads a profile name ("legacy-first") or a comma list of algorithm names in
 * challenge order ("MD5, SHA-256"). Throws a RangeError that never repeats the
 * value.
 */
export function parseDigestAlgorithmSetting(value: string): DigestAlgorithmSetting {
  const trimmed = value.trim();
  if (isDigestProfileName(trimmed)) {
    const profile = DIGEST_PROFILES[trimmed];
    return { algorithms: profile.algorithms, profile: trimmed, qop: profile.qop };
  }
  const names = trimmed.split(",").map((name) => name.trim());
  const known = Object.keys(ALGORITHMS);
  if (names.length === 0 || names.some((name) => !known.includes(name))) {
    throw new RangeError(
      `must be a profile (${Object.keys(DIGEST_PROFILES).join(", ")}) or a comma list of ${known.join(", ")}`,
    );
  }
  if (new Set(names).size !== names.length) {
    throw new RangeError("must not name an algorithm twice");
  }
  return { algorithms: names as DigestAlgorithm[] };
}
