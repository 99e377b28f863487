/**
 * The relay of a PNE's traffic to the CPNS Server (DESIGN §1: a PNE may have
 * no route of its own; seed 5.x.4: the PNE-Server session is end to end). The
 * PN GW forwards the request as it came: method, path, query, body, and the
 * PNE's own Authorization header (its Digest with its EUKey, which the PN GW
 * cannot compute), and hands back the server's answer as it came, including
 * WWW-Authenticate and the server's Authentication-Info (rspauth), which the
 * PNE verifies. The PN GW drops only what belongs to its own hop: hop-by-hop
 * headers (RFC 9110 §7.6.1) and the Proxy-Authorization that admitted the PNE.
 *
 * Implements: GATEWAY-RELAY
 * Implements: PEERCH-MATRIX
 */

import type { FetchLike } from "../digest/index.ts";
import { CpnsError } from "../errors.ts";

const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-authentication-info",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
];

function withoutHopByHop(source: Headers, extra: readonly string[] = []): Headers {
  const headers = new Headers(source);
  const named = (headers.get("connection") ?? "").split(",").map((name) => name.trim());
  for (const name of [...HOP_BY_HOP, ...named, ...extra]) if (name) headers.delete(name);
  return headers;
}

export interface RelayOptions {
  /** The CPNS Server's base URL (origin). */
  serverUrl: string;
  upstream: FetchLike;
}

/**
 * `body` is the request body as already read (and bounded) by the caller: the
 * proxy Digest layer may have read the stream for qop=auth-int, so it cannot be
 * read from `request` again.
 */
export async function relayToServer(
  request: Request,
  body: Uint8Array | undefined,
  options: RelayOptions,
): Promise<Response> {
  const incoming = new URL(request.url);
  const target = new URL(incoming.pathname + incoming.search, options.serverUrl);
  let answer: Response;
  try {
    answer = await options.upstream(
      new Request(target, {
        method: request.method,
        headers: withoutHopByHop(request.headers),
        body: body as BodyInit | undefined,
        redirect: "manual",
      }),
    );
  } catch {
    throw new CpnsError("ERR_RELAY_UPSTREAM");
  }
  // fetch has already decoded any content-encoding: the length and coding no longer apply.
  const headers = withoutHopByHop(answer.headers, ["content-encoding"]);
  const bytes = new Uint8Array(await answer.arrayBuffer());
  const bodiless = answer.status === 204 || answer.status === 304 || request.method === "HEAD";
  return new Response(bodiless ? null : bytes, {
    status: answer.status,
    statusText: answer.statusText,
    headers,
  });
}
