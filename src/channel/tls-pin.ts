/**
 * Issue #10, "TLS where both ends support it" (TLS-TRUST): how a client names
 * the TLS server it trusts, and the stable codes of a refused one. Web
 * standards only, so the CLI and the agents can use it without loading the
 * Node TLS client (src/runtime/node-tls-trust.ts does the checking).
 *
 * Implements: TLS-TRUST, TLS-PIN-FIRST
 */
import { CpnsError } from "../errors.ts";

export interface ServerTrust {
  /** PEM CA certificate(s) the server's chain must lead to (e.g. its self-signed certificate). */
  ca?: string;
  /** RFC 7469 pin, "sha256//<base64 of SHA-256(SPKI DER)>". */
  pin?: string;
}

const PIN_FORM = /^sha256\/\/([A-Za-z0-9+/]{43}=)$/;

/** The pin as given, checked for form: "sha256//" and the base64 of 32 bytes. */
export function parsePin(pin: string): string {
  const match = PIN_FORM.exec(pin.trim());
  if (!match) {
    throw new CpnsError("ERR_TLS_PIN_INVALID", "expected sha256//<44 base64 characters>");
  }
  return `sha256//${match[1]}`;
}

/** Certificate failures Node reports (OpenSSL verify codes, host-name check): the server is not trusted. */
const UNTRUSTED = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "HOSTNAME_MISMATCH",
]);

/**
 * A TLS trust failure (ours or the platform's) found on a fetch error or its
 * causes, as a CpnsError with a stable code; undefined for any other failure.
 * The detail is the platform's verify code only: nothing secret.
 */
export function tlsFailureOf(err: unknown): CpnsError | undefined {
  let e = err as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && typeof e === "object" && depth < 4; depth++) {
    if (e instanceof CpnsError && e.code.startsWith("ERR_TLS_")) return e;
    if (typeof e.code === "string" && UNTRUSTED.has(e.code)) {
      return new CpnsError("ERR_TLS_UNTRUSTED", e.code);
    }
    e = e.cause as typeof e;
  }
  return undefined;
}
