/**
 * The CLI's calls to the CPNS Server (base path /cpns/v1): the public server
 * information, the admin API with the Bearer token (SERVER-ADMIN-API), and a
 * CPNS User's own requests with HTTP Digest, requiring the server's rspauth
 * (AGENT-REQUIRE-RSPAUTH): an answer the server did not authenticate is
 * refused, whatever its status. Failures become problem codes.
 *
 * Implements: CLI-FLOWS, AGENT-REQUIRE-RSPAUTH, AGENT-NO-DOWNGRADE
 * Implements: TLS-CLI-TRUST
 */

import { agentDigestFetch } from "../agent/digest-fetch.ts";
import { tlsFailureOf } from "../channel/tls-pin.ts";
import { digestExchangeOf, type FetchLike, STRONG_ALGORITHMS } from "../digest/index.ts";
import { CpnsError, errorCodeOf } from "../errors.ts";
import type { ServerInfo } from "../protocol/schemas.ts";
import type { CliContext } from "./context.ts";
import { CliError } from "./errors.ts";
import { type GlobalOptions, serverTrust } from "./settings.ts";

/** fetch, with "cannot connect" turned into a clear CLI error naming the server. */
export function transport(base: string, inner: FetchLike = (request) => fetch(request)): FetchLike {
  return async (request) => {
    try {
      return await inner(request);
    } catch (err) {
      if (err instanceof CliError) throw err;
      const tls = tlsFailureOf(err);
      if (tls) throw new CliError(tls.code, `${base}: ${tlsAdvice(tls)}`);
      if (errorCodeOf(err)) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const reason = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new CliError(
        "ERR_SERVER_UNREACHABLE",
        `cannot reach the CPNS Server at ${base}: ${reason}`,
      );
    }
  };
}

/** The refusal, and what the operator can do about it (no certificate content, nothing secret). */
export function tlsAdvice(err: CpnsError): string {
  if (err.code === "ERR_TLS_PIN_MISMATCH") {
    return `${err.message}; check --pin / CPNS_TLS_PIN (the server prints its pin at start)`;
  }
  return `${err.message}; give the server's CA with --cacert or its pin with --pin`;
}

/**
 * The transport to the CPNS Server at `base` with the trust the options name
 * (settings.ts serverTrust): an injected ctx.fetch (tests) as is, else the
 * runtime's trusting fetch for a CA or pin, else the global fetch.
 */
export function serverTransport(ctx: CliContext, options: GlobalOptions, base: string): FetchLike {
  return transport(base, serverFetch(ctx, options, base));
}

/** serverTransport without the error wording (the PN GW's relay upstream uses it). */
export function serverFetch(
  ctx: CliContext,
  options: GlobalOptions,
  base: string,
): FetchLike | undefined {
  const trust = serverTrust(options, ctx, base);
  if (ctx.fetch || !trust) return ctx.fetch;
  if (!ctx.trustedFetch) {
    throw new CliError("ERR_CONFIG", "this runtime cannot check a TLS CA file or pin");
  }
  return ctx.trustedFetch(trust);
}

/** The problem+json of a failed response as a CLI error (code from the body when there is one). */
export async function problemOf(res: Response, context?: string): Promise<CliError> {
  let code = `HTTP_${res.status}`;
  let message = `HTTP ${res.status} ${res.statusText}`.trim();
  try {
    const body = (await res.json()) as { code?: unknown; title?: unknown; detail?: unknown };
    if (typeof body.code === "string") code = body.code;
    const parts = [body.title, body.detail].filter((part) => typeof part === "string" && part);
    if (parts.length > 0) message = parts.join(": ");
  } catch {
    // Not problem+json: keep the status line.
  }
  if (res.status === 429) {
    const retry = res.headers.get("retry-after");
    if (retry) message += ` (retry after ${retry} s)`;
  }
  return new CliError(code, context ? `${context}: ${message}` : message);
}

async function readJson<T>(res: Response): Promise<T> {
  try {
    return (await res.json()) as T;
  } catch {
    throw new CliError("ERR_SERVER_RESPONSE", `the server answered ${res.status} without JSON`);
  }
}

/** GET /cpns/v1: realm and algorithms, anonymous. */
export async function serverInfo(base: string, fetchLike: FetchLike): Promise<ServerInfo> {
  const res = await fetchLike(new Request(`${base}/cpns/v1`));
  if (!res.ok) throw await problemOf(res, `GET ${base}/cpns/v1`);
  const info = await readJson<Partial<ServerInfo>>(res);
  if (info.service !== "cpns" || typeof info.realm !== "string") {
    throw new CliError("ERR_SERVER_RESPONSE", `${base} does not look like a CPNS Server`);
  }
  return info as ServerInfo;
}

function isLoopback(base: string): boolean {
  const host = new URL(base).hostname;
  return host === "localhost" || host === "[::1]" || /^127\./.test(host);
}

/** A request to the admin API with the Bearer token. */
export async function adminRequest<T>(
  base: string,
  token: string,
  fetchLike: FetchLike,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
  warn?: (text: string) => void,
): Promise<T> {
  if (new URL(base).protocol === "http:" && !isLoopback(base)) {
    warn?.(`cpns: warning: the admin token travels in clear to ${base}; prefer https\n`);
  }
  const headers = new Headers({ authorization: `Bearer ${token}` });
  if (body !== undefined) headers.set("content-type", "application/json");
  const res = await fetchLike(
    new Request(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
  if (!res.ok) throw await problemOf(res);
  return readJson<T>(res);
}

/**
 * A CPNS User's Digest session: every answer must come from an authenticated
 * exchange with a valid rspauth, or it is refused.
 */
export function userSession(base: string, userId: string, password: string, fetchLike: FetchLike) {
  const digestFetch = agentDigestFetch({
    username: userId,
    password,
    requireRspauth: true,
    // Bodies covered both ways, and no downgrade by a stripped challenge (issue #9 item 1).
    qop: "auth-int",
    minimumQop: "auth-int",
    algorithms: STRONG_ALGORITHMS,
    fetch: fetchLike,
  });
  return async function request<T>(method: "GET" | "DELETE", path: string): Promise<T> {
    const res = await digestFetch(`${base}${path}`, { method });
    if (res.status === 401) {
      const problem = await problemOf(res);
      if (problem.code === "ERR_DIGEST_UNAUTHORIZED") {
        throw new CliError(
          problem.code,
          `the server refused the credentials of ${userId} (wrong User ID or password)`,
        );
      }
      throw problem;
    }
    if (res.ok && !digestExchangeOf(res)) {
      await res.body?.cancel();
      throw new CpnsError("ERR_DIGEST_SERVER_UNAUTHENTICATED", "the answer was not authenticated");
    }
    if (!res.ok) throw await problemOf(res);
    return readJson<T>(res);
  };
}
