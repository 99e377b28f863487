/**
 * `digestAuth()`: HTTP Digest (RFC 7616) as a Hono middleware, shaped like
 * hono/basic-auth: the factory validates options once and returns a named
 * middleware; a failure is answered at once with a problem+json Response
 * carrying the challenges; success sets the principal on `c.var.digest` and
 * adds Authentication-Info (RFC 7615) so the client can authenticate the server.
 */
import type { Context, MiddlewareHandler } from "hono";
import { CpnsError, problemResponse } from "../errors.ts";
import {
  createDigestVerifier,
  type DigestOutcome,
  type DigestPrincipal,
  type DigestServerOptions,
} from "./server.ts";

export type DigestEnv<D = unknown> = { Variables: { digest: DigestPrincipal<D> } };

export type DigestFailure = Extract<DigestOutcome, { ok: false }>;

export interface DigestAuthOptions<D = unknown> extends DigestServerOptions<D> {
  /**
   * Largest request body hashed for qop=auth-int (default 1 MiB): the body is
   * read before the response can be checked, so it must be bounded.
   */
  maxBodyBytes?: number;
  /** Called before a failure is answered, e.g. to count failed attempts. */
  onFailure?: (c: Context, failure: DigestFailure) => void | Promise<void>;
}

export function digestAuth<D = unknown>(
  options: DigestAuthOptions<D>,
): MiddlewareHandler<DigestEnv<D>> {
  const verifier = createDigestVerifier(options);
  const { onFailure } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;

  return async function digestAuth(c, next) {
    const outcome = await verifier.verify({
      method: c.req.method,
      url: c.req.url,
      authorization: c.req.header("authorization"),
      // Only read for qop=auth-int. Hono caches it, so the handler can still read it.
      body: async () => {
        if (Number(c.req.header("content-length") ?? 0) > maxBodyBytes) {
          throw new CpnsError("ERR_BODY_TOO_LARGE", undefined, { connection: "close" });
        }
        const body = new Uint8Array(await c.req.arrayBuffer());
        if (body.length > maxBodyBytes) throw new CpnsError("ERR_BODY_TOO_LARGE");
        return body;
      },
    });
    if (!outcome.ok) {
      if (onFailure) await onFailure(c, outcome);
      const challenges = outcome.challenges.map((value): [string, string] => [
        "WWW-Authenticate",
        value,
      ]);
      // Returned, not thrown as an HTTPException: Hono's getResponse() would re-wrap
      // the body as a stream, which @hono/node-server writes on a slow path (a timer
      // per response), and challenges are the one answer an attacker can ask for in bulk.
      return problemResponse(outcome.code, undefined, challenges);
    }
    c.set("digest", outcome.principal);
    await next();
    if (!outcome.needsResponseBody) {
      const info = outcome.authenticationInfo();
      try {
        c.res.headers.set("Authentication-Info", info);
        return;
      } catch {
        // Immutable headers (a Response straight from fetch, e.g. a relay): rebuild below.
      }
    }
    // auth-int (rspauth covers the response body) or immutable headers: read the body once and rebuild the
    // response from bytes and a copy of its headers, so nothing the handler set is
    // lost (@hono/node-server's lightweight Response forgets header changes once
    // its body is read).
    // Headers first: on @hono/node-server, reading statusText or the body makes a
    // lightweight Response rebuild itself from its original headers.
    const headers = new Headers(c.res.headers);
    const { status, statusText } = c.res;
    const body = new Uint8Array(await c.res.arrayBuffer());
    headers.set(
      "Authentication-Info",
      outcome.authenticationInfo(outcome.needsResponseBody ? body : undefined),
    );
    c.res = undefined;
    c.res = new Response(body, { status, statusText, headers });
  };
}
