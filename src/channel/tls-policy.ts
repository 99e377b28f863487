/**
 * Our resolution of the seed's FFS on the TLS version (seed 5.x.4 editor's
 * note): TLS 1.2 minimum, 1.3 preferred; TLS 1.0 and 1.1 are refused (RFC 8996
 * deprecated them). Where this process terminates TLS itself (Node, Deno) the
 * TLS library enforces it; on Cloudflare Workers TLS ends at the edge, and the
 * Worker sees the negotiated version only as `request.cf.tlsVersion`, so it
 * checks it here.
 *
 * Implements: SEED-5.x.4-6, FFS-TLS-VERSION
 */
export const MIN_TLS_VERSION = "TLSv1.2";

/** The names Cloudflare reports in `cf.tlsVersion` for versions we refuse. */
const TOO_OLD = new Set(["SSLv2", "SSLv3", "TLSv1", "TLSv1.0", "TLSv1.1"]);

/**
 * True when the request came over a TLS version we refuse. An empty or missing
 * value means plain HTTP (or a local `wrangler dev`), which is not a TLS
 * version question: whether plain HTTP is acceptable is decided elsewhere.
 */
export function isRefusedTlsVersion(tlsVersion: string | undefined): boolean {
  return tlsVersion !== undefined && TOO_OLD.has(tlsVersion);
}
