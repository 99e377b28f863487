/**
 * The Digest engine's own failures (issue #12 "Walls"): a stable code, an
 * HTTP status and a fixed title per failure, rendered as RFC 9457
 * problem+json under this library's own problem namespace, so src/digest
 * imports nothing from the application that uses it. An application maps
 * them to its own problem types (the CPNS Server passes `problem` to
 * digestAuth(), and its error module renders a thrown DigestError); the
 * codes are the same strings, so a client sees one code whichever renders it.
 *
 * Titles are fixed strings: nothing a caller passes can carry a secret into
 * a message.
 *
 * Implements: DIGEST-WALLS
 */

export const DIGEST_PROBLEMS = {
  ERR_DIGEST_MALFORMED: { status: 400, title: "Malformed Authorization header" },
  ERR_DIGEST_UNAUTHORIZED: { status: 401, title: "Authentication required" },
  ERR_DIGEST_URI_MISMATCH: { status: 400, title: "Digest uri does not match the request target" },
  ERR_PROXY_UNAUTHORIZED: { status: 407, title: "Proxy authentication required" },
  ERR_BODY_TOO_LARGE: { status: 413, title: "The request body is too large" },
  // Client side: what a caller of createDigestFetch may catch.
  ERR_DIGEST_SERVER_UNAUTHENTICATED: {
    status: 502,
    title: "The server did not prove knowledge of the shared secret (rspauth)",
  },
  ERR_DIGEST_DOWNGRADE: {
    status: 502,
    title: "The challenge offers only weaker protection than required",
  },
} as const satisfies Record<string, { status: number; title: string }>;

export type DigestErrorCode = keyof typeof DIGEST_PROBLEMS;

/** The problem type URI of a Digest failure rendered by this library. */
export const DIGEST_PROBLEM_TYPE = "urn:http-digest:problem:";

export class DigestError extends Error {
  readonly code: DigestErrorCode;
  readonly status: number;
  /** A fixed explanation chosen by this library (never caller input, never a secret). */
  readonly detail: string | undefined;
  /** Headers the answer must carry (e.g. `connection: close` after an oversized body). */
  readonly headers: HeadersInit | undefined;

  constructor(code: DigestErrorCode, detail?: string, headers?: HeadersInit) {
    const { title, status } = DIGEST_PROBLEMS[code];
    super(detail ? `${title}: ${detail}` : title);
    this.name = "DigestError";
    this.code = code;
    this.status = status;
    this.detail = detail;
    this.headers = headers;
  }
}

/** How a failure becomes a Response: the library's default, or the application's own. */
export type DigestProblemRenderer = (code: DigestErrorCode, headers: HeadersInit) => Response;

/** The default rendering: problem+json with this library's type, code, status and title. */
export function digestProblemResponse(code: DigestErrorCode, headers?: HeadersInit): Response {
  const { status, title } = DIGEST_PROBLEMS[code];
  const allHeaders = new Headers(headers);
  allHeaders.set("content-type", "application/problem+json");
  return new Response(
    JSON.stringify({ type: `${DIGEST_PROBLEM_TYPE}${code}`, title, status, code }),
    {
      status,
      headers: allHeaders,
    },
  );
}
