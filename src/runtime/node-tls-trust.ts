/**
 * Issue #10, "TLS where both ends support it" (seed 5.x.4, SEED-5.x.4-6;
 * TLS-TRUST): a FetchLike that trusts a server by a CA file (PEM) or by an
 * RFC 7469 SPKI pin ("sha256//<base64>", what src/channel/certificate.ts
 * prints), without ever turning verification off.
 *
 * - CA file: Node's normal chain AND hostname verification, against that CA
 *   only (the self-signed development certificate is its own CA).
 * - Pin: the SHA-256 of the server's SubjectPublicKeyInfo must equal the pin.
 *   It is checked on the TLS socket right after the handshake, inside undici's
 *   connector, so not one HTTP byte reaches a server with another key. A pin
 *   replaces the chain check (the key itself is what we trust, as curl's
 *   --pinnedpubkey does), so a self-signed certificate needs no CA file.
 * - Both: both checks.
 *
 * Node's global fetch cannot take a custom connector, hence undici's own
 * fetch with an Agent; its Response is copied into a global Response so the
 * rest of the code (WeakMaps keyed by Response in the Digest client) sees the
 * standard class.
 *
 * Implements: TLS-TRUST, TLS-PIN-FIRST, SEED-5.x.4-6
 */
import { createHash } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { Agent, buildConnector, fetch as undiciFetch } from "undici";
import { parsePin, type ServerTrust, tlsFailureOf } from "../channel/tls-pin.ts";
import type { FetchLike } from "../digest/index.ts";
import { CpnsError } from "../errors.ts";
import { TLS_MIN_VERSION } from "./node-server.ts";

export type { ServerTrust };

/** RFC 7469 pin of the leaf certificate's key on a connected TLS socket. */
export function pinOfSocket(socket: TLSSocket): string | undefined {
  // Not getPeerCertificate().pubkey: for EC keys that is the bare point, not the SPKI DER.
  const certificate = socket.getPeerX509Certificate();
  if (!certificate) return undefined;
  const spki = certificate.publicKey.export({ type: "spki", format: "der" });
  return `sha256//${createHash("sha256").update(spki).digest("base64")}`;
}

export interface TrustedFetch extends FetchLike {
  /** Closes the pooled connections (a CLI run ends sooner). */
  close(): Promise<void>;
}

/**
 * A fetch that trusts the server only as `trust` says. A plain http: URL is
 * refused: whoever asked for a CA or a pin asked for TLS, and a downgrade to
 * clear text must not pass silently.
 */
export function createTrustedFetch(trust: ServerTrust): TrustedFetch {
  const pin = trust.pin === undefined ? undefined : parsePin(trust.pin);
  if (!pin && !trust.ca) throw new TypeError("createTrustedFetch: give a CA, a pin, or both");
  const base = buildConnector({
    minVersion: TLS_MIN_VERSION,
    // A resumed session may carry no peer certificate to pin: always a full handshake.
    maxCachedSessions: 0,
    ...(trust.ca
      ? { ca: trust.ca, rejectUnauthorized: true }
      : // Pin only: the chain check is replaced by the key check below, never skipped.
        { rejectUnauthorized: false }),
  });
  const connect: buildConnector.connector = (options, callback) =>
    base(options, (err, socket) => {
      if (err || !socket) return callback(err ?? new Error("no socket"), null);
      if (pin && pinOfSocket(socket as TLSSocket) !== pin) {
        socket.destroy();
        return callback(
          new CpnsError("ERR_TLS_PIN_MISMATCH", `${options.hostname}:${options.port}`),
          null,
        );
      }
      callback(null, socket);
    });
  const dispatcher = new Agent({ connect });

  const trusted = async (request: Request): Promise<Response> => {
    if (new URL(request.url).protocol !== "https:") {
      throw new CpnsError("ERR_TLS_UNTRUSTED", "plain http: where TLS was required");
    }
    const body = request.body ? await request.arrayBuffer() : undefined;
    let res: Awaited<ReturnType<typeof undiciFetch>>;
    try {
      res = await undiciFetch(request.url, {
        method: request.method,
        headers: [...request.headers],
        body,
        redirect: request.redirect,
        signal: request.signal,
        dispatcher,
      });
    } catch (err) {
      throw tlsFailureOf(err) ?? err;
    }
    return new Response(res.body as ReadableStream<Uint8Array> | null, {
      status: res.status,
      statusText: res.statusText,
      headers: [...res.headers],
    });
  };
  return Object.assign(trusted, { close: () => dispatcher.close() });
}
