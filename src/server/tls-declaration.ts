/**
 * Issue #10 (tls-declare), seed 5.x.4: "If both CPNS Entities support TLS,
 * secure session is established by using TLS." An entity declares at
 * enrollment that it supports TLS (src/server/entities.ts); this server
 * supports TLS, so from then on a request that acts for that entity and
 * arrives over plain HTTP is refused with ERR_TLS_REQUIRED before it has any
 * effect: its own Digest-authenticated requests (src/server/guard.ts), the
 * records of its secure channels (src/server/channels.ts), and the enrollment
 * or rotation whose answer carries its sealed key.
 *
 * Whether a request came over TLS is the runtime's knowledge (config
 * `requestIsTls`); the default reads the request URL's scheme, which is what
 * Node (@hono/node-server builds https: URLs for encrypted sockets) and Deno
 * report. `allowPlainHttpForTlsEntities` is the explicit development mode.
 *
 * Implements: TLSDECL-REFUSE-PLAIN, TLSDECL-DEV-MODE, SEED-5.x.4-6
 * Implements: TLSDECL-UNDECLARED-PLAIN
 */
import type { CpnsServerConfig, ServerParts } from "./context.ts";

/** The default: a request URL with the https: scheme (set by the runtime that terminated TLS). */
export function requestUrlIsHttps(request: Request): boolean {
  return new URL(request.url).protocol === "https:";
}

/**
 * Puts a refusal in the security log (aggregated per address like failed attempts:
 * whoever holds captured requests can replay them over plain HTTP in bulk).
 */
export function logTlsRefusal(
  parts: Pick<ServerParts, "log" | "config">,
  request: Request,
  env: unknown,
  ids: { entityId?: string; userId?: string },
): void {
  parts.log.emit({
    event: "tls.required",
    ...ids,
    address: parts.config.clientAddress?.(request, env) ?? "unknown",
  });
}

export interface TlsRequirement {
  /** True when `declared` and the request came over plain HTTP (outside dev mode): answer ERR_TLS_REQUIRED. */
  refuses(declared: boolean | undefined, request: Request, env: unknown): boolean;
}

export function tlsRequirement(
  config: Pick<CpnsServerConfig, "requestIsTls" | "allowPlainHttpForTlsEntities">,
): TlsRequirement {
  const isTls = config.requestIsTls ?? ((request: Request) => requestUrlIsHttps(request));
  const devMode = config.allowPlainHttpForTlsEntities === true;
  const refuses = (declared: boolean | undefined, request: Request, env: unknown) =>
    declared === true && !devMode && !isTls(request, env);
  return { refuses };
}
