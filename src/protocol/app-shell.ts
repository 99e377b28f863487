/**
 * Issue #11 ("share one app shell ... instead of three copies"): what every
 * Hono app of the project does the same way around its routes, the CPNS Server
 * (src/server/app.ts), the PN GW (src/gateway/app.ts) and the Digest demo
 * (src/demo/app.ts), and the inner apps that a secure channel's requests reach:
 *
 *   - an unknown route is 404 problem+json ERR_NOT_FOUND (never a challenge);
 *   - an HTTPException answers with its ready Response (the Digest middleware's
 *     401/407 challenges); a CpnsError with its problem+json; anything else is
 *     500 ERR_INTERNAL without a detail (its message may hold secret material);
 *   - a request that declares a body over the app's ceiling is refused 413
 *     ERR_BODY_TOO_LARGE before any middleware runs (no Digest work, no lock,
 *     no store read), and the connection is closed (its unread rest would be
 *     taken for the next request). Bodies without a declared length are bounded
 *     by the bounded reader of the route that reads them (src/protocol/body.ts,
 *     src/channel/http.ts): the shell never replaces the request, so whatever a
 *     runtime keyed on it (client address, TLS) stays valid.
 *
 * Web standards and Hono only; src/digest does not import it.
 *
 * Implements: FLEET-SHELL-ONE
 */
import { type Env, Hono, type MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { type ErrorCode, errorToResponse, problemResponse } from "../errors.ts";

export interface ShellOptions {
  /** The largest body any route of the app accepts (its ceiling; routes keep their own lower limits). */
  maxBodyBytes: number;
}

/** A new app with the shell's body ceiling in front of every route, and its 404 and error mapping. */
export function shellApp<E extends Env>(options: ShellOptions): Hono<E> {
  if (!Number.isSafeInteger(options.maxBodyBytes) || options.maxBodyBytes < 0) {
    throw new RangeError("maxBodyBytes must be a non-negative integer");
  }
  const app = new Hono<E>();
  app.use("*", bodyCeiling(options.maxBodyBytes));
  return withShellErrors(app);
}

/** The shell's not-found and error mapping on an app that has its own way in (an inner app). */
export function withShellErrors<E extends Env>(app: Hono<E>): Hono<E> {
  app.notFound(() => problemResponse("ERR_NOT_FOUND"));
  app.onError((err) => shellErrorResponse(err));
  return app;
}

/** An HTTPException without a ready Response still answers problem+json, by its status. */
const BY_STATUS: Record<number, ErrorCode> = {
  403: "ERR_FORBIDDEN",
  404: "ERR_NOT_FOUND",
  413: "ERR_BODY_TOO_LARGE",
  415: "ERR_UNSUPPORTED_MEDIA_TYPE",
};

/** What the shell answers for an error thrown by a route or a middleware. */
export function shellErrorResponse(err: unknown): Response {
  if (err instanceof HTTPException) {
    if (err.res) return err.getResponse();
    return problemResponse(BY_STATUS[err.status] ?? "ERR_INTERNAL");
  }
  return errorToResponse(err);
}

function bodyCeiling(max: number): MiddlewareHandler {
  return async function bodyCeiling(c, next) {
    const declared = c.req.header("content-length");
    if (declared !== undefined && Number(declared) > max) {
      return problemResponse("ERR_BODY_TOO_LARGE", undefined, { connection: "close" });
    }
    await next();
  };
}
