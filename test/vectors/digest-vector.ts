/**
 * The shape of one HTTP Digest test vector (RFC 7616 §3.4.1-§3.4.4, §3.5; RFC 2617 §3.2.2).
 * Inputs are exactly what the RFC example states; `expected` holds every intermediate value so
 * a failure points at the step that broke. Values the RFC does not print (HA1, HA2, rspauth)
 * were computed with Python's hashlib and are recomputed with node:crypto by the tests.
 */
import type { DigestAlgorithm } from "../../src/digest/index.ts";

export interface DigestVector {
  /** Where the example comes from, e.g. "RFC 7616 §3.9.1". */
  source: string;
  /** Anything a reader must know: errata applied, values recomputed. */
  note?: string;
  algorithm: DigestAlgorithm;
  username: string;
  realm: string;
  password: string;
  method: string;
  uri: string;
  nonce: string;
  nc: string;
  cnonce: string;
  qop: "auth" | "auth-int";
  opaque?: string;
  /** Request entity body for auth-int (UTF-8). */
  body?: string;
  /** Response entity body for the auth-int rspauth (UTF-8). */
  responseBody?: string;
  /** Whether the example's Authorization sends H(username:realm) instead of the name. */
  userhash?: boolean;
  expected: {
    ha1: string;
    /** HA1 rebound to nonce and cnonce, "-sess" algorithms only (RFC 7616 §3.4.2). */
    sessionHa1?: string;
    ha2: string;
    response: string;
    /** KD(HA1, nonce:nc:cnonce:qop:H(":" uri)) (RFC 7616 §3.5), not printed by any RFC. */
    rspauth: string;
    /** H(username ":" realm) (RFC 7616 §3.4.4). */
    userhash?: string;
    /** RFC 8187 ext-value of the username (RFC 7616 §3.4, §3.9.2). */
    usernameStar?: string;
  };
  /** Values as printed in the RFC when they are known to be wrong (kept for the record). */
  printedInRfc?: { response?: string; userhash?: string };
}
