/**
 * Issue #10 (tls-declare): how each runtime tells the CPNS Server whether a
 * request reached it over TLS (config `requestIsTls`), so an entity that
 * declared TLS can be refused plain HTTP (src/server/tls-declaration.ts).
 * Structural types only (no node:* import), so Deno and workerd can load it.
 *
 * Implements: TLSDECL-RUNTIME
 */

/** Node (@hono/node-server passes `{ incoming }` as env): the request's socket is a TLSSocket. */
export function nodeRequestIsTls(_request: Request, env: unknown): boolean {
  const incoming = (env as { incoming?: { socket?: { encrypted?: boolean } } } | undefined)
    ?.incoming;
  return incoming?.socket?.encrypted === true;
}

/** Deno.serve with cert and key hands the handler https: URLs. */
export function denoRequestIsTls(request: Request): boolean {
  return new URL(request.url).protocol === "https:";
}

/**
 * Workers: TLS ends at Cloudflare's edge, which reports the negotiated version
 * in `request.cf.tlsVersion` (empty for plain HTTP); the URL scheme is the
 * fallback where `cf` is absent (a local `wrangler dev`).
 */
export function workerRequestIsTls(request: Request): boolean {
  const { cf } = request as Request & { cf?: { tlsVersion?: string } };
  if (cf && typeof cf.tlsVersion === "string") return cf.tlsVersion !== "";
  return new URL(request.url).protocol === "https:";
}

/** Explicit development mode: entities that declared TLS may use plain HTTP (CPNS_PLAIN_HTTP=1). */
export function plainHttpDevMode(env: Record<string, string | undefined>): boolean {
  return env.CPNS_PLAIN_HTTP === "1";
}
