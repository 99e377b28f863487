/**
 * The one errors module: every failure a client can observe carries a stable
 * `code`, an HTTP status and a short title, and is rendered as RFC 9457
 * problem+json. Messages here are fixed strings so that no caller can leak a
 * secret through them; the optional `detail` must never contain secret material.
 *
 * The Digest engine has its own error type and problem namespace (src/digest
 * /errors.ts, issue #12); its codes are listed here too, so the CPNS Server
 * renders them under its own problem type with the same code.
 *
 * Implements: SERVER-API, DIGEST-WALLS
 */
import { DIGEST_PROBLEMS, DigestError } from "./digest/index.ts";

export const ErrorCodes = {
  // HTTP Digest (RFC 7616): the engine's own codes (src/digest/errors.ts), the same here.
  ...DIGEST_PROBLEMS,
  // Requests (any route)
  ERR_BODY_MALFORMED: { status: 400, title: "The request body is not valid JSON" },
  ERR_BODY_INVALID: { status: 400, title: "The request body does not match the schema" },
  ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: "Send application/json" },
  ERR_NOT_FOUND: { status: 404, title: "No such resource" },
  ERR_FORBIDDEN: { status: 403, title: "This principal may not use this route" },
  ERR_ADMIN_UNAUTHORIZED: { status: 401, title: "Admin Bearer token required" },
  ERR_RATE_LIMITED: { status: 429, title: "Too many failed attempts; retry later" },
  // CPNS Server (seed 5.x.1, 5.x.3)
  ERR_USER_EXISTS: { status: 409, title: "A CPNS User with this User ID exists" },
  ERR_ID_TAKEN: { status: 409, title: "This id names a CPNS User or an entity already" },
  ERR_NOT_OWNER: { status: 403, title: "The entity belongs to another CPNS User" },
  ERR_ENTITY_STATE: { status: 409, title: "The entity's lifecycle does not allow this now" },
  ERR_ENTITY_TYPE_MISMATCH: { status: 409, title: "The entity is enrolled with another type" },
  ERR_KEY_UNWRAP: { status: 502, title: "The sealed key could not be opened" },
  // One-time keys (seed 5.x.2, second bullet)
  ERR_OTK_PAIRING_REFUSED: {
    status: 403,
    title: "This entity may not share a one-time key with that peer",
  },
  ERR_OTK_EXPIRY: {
    status: 400,
    title: "The one-time key's expiry is outside the allowed lifetime",
  },
  ERR_OTK_REPLAYED: { status: 409, title: "A one-time key with this id was deposited already" },
  ERR_OTK_UNSEAL: {
    status: 400,
    title: "The sealed one-time key does not open under the sender's key",
  },
  ERR_OTK_NOT_ADDRESSEE: { status: 403, title: "The one-time key is addressed to another entity" },
  ERR_OTK_NOT_ISSUER: { status: 403, title: "Only the issuing PN GW may consume its one-time key" },
  ERR_OTK_STATE: { status: 409, title: "The one-time key's lifecycle does not allow this now" },
  ERR_OTK_GONE: {
    status: 410,
    title: "The one-time key expired, was used, or its issuer's key changed",
  },
  // Secure sessions (seed 5.x.4)
  ERR_TLS_VERSION: { status: 400, title: "TLS 1.2 or later is required" },
  ERR_CHANNEL_UNKNOWN: { status: 404, title: "No such secure channel" },
  ERR_CHANNEL_RECORD: { status: 400, title: "The channel record does not open" },
  ERR_CHANNEL_REPLAY: { status: 409, title: "The channel record was accepted before" },
  ERR_CHANNEL_CLOSED: { status: 410, title: "The secure channel is closed or expired" },
  ERR_CHANNEL_NESTED: { status: 400, title: "A channel request cannot open or use a channel" },
  // --- tls-serve ---
  ERR_TLS_PIN_INVALID: {
    status: 400,
    title: "A TLS pin must be sha256// and the base64 SHA-256 of a public key (RFC 7469)",
  },
  ERR_TLS_PIN_MISMATCH: {
    status: 502,
    title: "The server's TLS key does not match the pin; nothing was sent",
  },
  ERR_TLS_UNTRUSTED: {
    status: 502,
    title: "The server's TLS certificate is not trusted; nothing was sent",
  },
  // --- end: tls-serve ---
  // --- tls-declare ---
  ERR_TLS_REQUIRED: {
    status: 403,
    title: "This entity declared TLS: use https (plain HTTP is refused for it)",
  },
  ERR_TLS_DECLARATION_FIXED: {
    status: 409,
    title: "An entity that declared TLS cannot withdraw it; revoke it and enroll a new Entity ID",
  },
  // --- end: tls-declare ---
  // --- peer-channel ---
  // --- end: peer-channel ---
  // --- channel-machines ---
  // --- end: channel-machines ---
  // Issue #11: edge and fleet targets
  // --- redis ---
  ERR_STORE_BUSY: {
    status: 503,
    title: "Another request holds this record for too long; nothing was changed, try again",
  },
  ERR_LEDGER_EPOCH_LOST: {
    status: 503,
    title:
      "The shared replay ledger was reset; this instance must restart before it judges a nonce",
  },
  // --- end: redis ---
  // --- deno ---
  ERR_KV_CONTENDED: {
    status: 503,
    title: "Another request holds this record; nothing was changed, try again",
  },
  // --- end: deno ---
  // --- workers ---
  ERR_WORKER_NOT_CONFIGURED: {
    status: 503,
    title: "The server is not configured or its storage did not answer; see its log",
  },
  // --- end: workers ---
  // --- conformance ---
  // --- end: conformance ---
  // --- gateway-shell ---
  // --- end: gateway-shell ---
  // --- openapi ---
  // --- end: openapi ---
  // --- playground ---
  ERR_SIM_MACHINE_UNKNOWN: { status: 404, title: "No machine with this id to simulate" },
  ERR_SIM_REQUEST_INVALID: {
    status: 400,
    title: "Send an input or a snapshot, and optionally an event",
  },
  ERR_SIM_STATE_UNKNOWN: { status: 400, title: "The snapshot names a state the machine lacks" },
  ERR_SIM_SNAPSHOT_INVALID: {
    status: 400,
    title: "The snapshot's context does not fit the machine",
  },
  ERR_SIM_INPUT_INVALID: { status: 400, title: "The input does not fit the machine" },
  ERR_SIM_EVENT_UNKNOWN: { status: 400, title: "The machine has no event of this type" },
  ERR_SIM_EVENT_INVALID: { status: 400, title: "The event's payload does not fit the event" },
  // --- end: playground ---
  // PN GW (CPNS-1/6, CPNS-3) and the relay
  ERR_PEER_SESSION_REFUSED: {
    status: 403,
    title: "The CPNS Server did not confirm the one-time key",
  },
  ERR_GATEWAY_UNAUTHENTICATED: {
    status: 502,
    title: "The PN GW did not prove knowledge of the session secret (Proxy-Authentication-Info)",
  },
  ERR_PEER_SESSION_GONE: { status: 410, title: "The peer session is closed or expired" },
  ERR_RELAY_UPSTREAM: {
    status: 502,
    title: "The CPNS Server could not be reached through the relay",
  },
  // Hardening (issue #9): Digest downgrades (ERR_DIGEST_DOWNGRADE is the engine's, above)
  // Hardening (issue #9): failure limits and store
  // (end: failure limits and store)
  // Hardening (issue #9): admin secrets and passwords
  ERR_ADMIN_PLAIN_SECRET: {
    status: 400,
    title: "A password in clear is accepted over TLS only; seal it to the admin transport key",
  },
  ERR_ADMIN_HA1_RETIRED: {
    status: 400,
    title:
      "HA1 values are no longer accepted (they cannot be policy-checked); send the password sealed",
  },
  ERR_ADMIN_ENVELOPE_KEY: {
    status: 400,
    title: "The envelope is sealed to another admin transport key; fetch the current one",
  },
  ERR_ADMIN_ENVELOPE_INVALID: { status: 400, title: "The sealed envelope could not be opened" },
  ERR_ADMIN_ENVELOPE_EXPIRED: {
    status: 400,
    title: "The sealed envelope is too old (or from the future); seal it again",
  },
  ERR_WEAK_PASSWORD: { status: 400, title: "The password does not meet the password policy" },
  // (end: admin secrets and passwords)
  // Storage
  ERR_STORE_UNAVAILABLE: { status: 503, title: "Storage is unavailable; nothing was changed" },
  ERR_STORE_CORRUPT: { status: 503, title: "A stored record failed its integrity check" },
  ERR_CONFIG: { status: 500, title: "Invalid configuration" },
  ERR_INTERNAL: { status: 500, title: "Internal error" },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ErrorCodes;

export class CpnsError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string | undefined;
  readonly headers: HeadersInit | undefined;

  constructor(code: ErrorCode, detail?: string, headers?: HeadersInit) {
    super(detail ? `${ErrorCodes[code].title}: ${detail}` : ErrorCodes[code].title);
    this.name = "CpnsError";
    this.code = code;
    this.status = ErrorCodes[code].status;
    this.detail = detail;
    this.headers = headers;
  }
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail?: string;
}

export function problemBody(code: ErrorCode, detail?: string): ProblemBody {
  const { status, title } = ErrorCodes[code];
  const body: ProblemBody = { type: `urn:cpns:problem:${code}`, title, status, code };
  if (detail !== undefined) body.detail = detail;
  return body;
}

/**
 * Renders an error as an RFC 9457 problem+json Response. Headers are complete
 * before the Response is built: @hono/node-server's lightweight Response drops
 * header changes made after construction once its body is read.
 */
export function problemResponse(code: ErrorCode, detail?: string, headers?: HeadersInit): Response {
  const body = problemBody(code, detail);
  const allHeaders = new Headers(headers);
  allHeaders.set("content-type", "application/problem+json");
  return new Response(JSON.stringify(body), { status: body.status, headers: allHeaders });
}

export function errorToResponse(err: unknown): Response {
  if (err instanceof CpnsError || err instanceof DigestError) {
    return problemResponse(err.code, err.detail, err.headers);
  }
  // Unknown errors never reveal their message: it might carry secret material.
  return problemResponse("ERR_INTERNAL");
}

/** The stable code of a CPNS or Digest engine error, else undefined. */
export function errorCodeOf(err: unknown): ErrorCode | undefined {
  return err instanceof CpnsError || err instanceof DigestError ? err.code : undefined;
}
