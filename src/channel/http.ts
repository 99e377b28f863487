/**
 * spec/channel.md §4 "Carriage": records over HTTP. A record travels as the
 * whole body of `POST <channel path>` with its own media type, and the answer
 * is one record with the same media type, so a relay forwards both byte for
 * byte and sees neither route nor payload. Shared by the CPNS Server, the PN GW
 * and the client agent; web standards only.
 *
 * Implements: FFS-NO-TLS
 */
import { CpnsError } from "../errors.ts";
import type { InnerRequest, InnerResponse } from "./inner.ts";
import { CHANNEL_MEDIA_TYPE } from "./record.ts";

/** A record may carry a body up to this size (plus framing and the 30-byte record overhead). */
export const DEFAULT_CHANNEL_BODY_LIMIT = 1024 * 1024;
const FRAMING_ALLOWANCE = 64 * 1024;
/** The largest record body readRecord accepts by default: the ceiling of an app that serves channels. */
export const MAX_RECORD_BYTES = DEFAULT_CHANNEL_BODY_LIMIT + FRAMING_ALLOWANCE;

/** Reads one record from a request: the channel media type only, bounded while reading. */
export async function readRecord(
  request: Request,
  limit: number = DEFAULT_CHANNEL_BODY_LIMIT,
): Promise<Uint8Array> {
  const type = request.headers.get("content-type") ?? "";
  if (type.split(";")[0]?.trim().toLowerCase() !== CHANNEL_MEDIA_TYPE) {
    throw new CpnsError("ERR_UNSUPPORTED_MEDIA_TYPE", `send ${CHANNEL_MEDIA_TYPE}`);
  }
  const max = limit + FRAMING_ALLOWANCE;
  if (Number(request.headers.get("content-length") ?? "0") > max) {
    throw new CpnsError("ERR_BODY_TOO_LARGE", undefined, { connection: "close" });
  }
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (bytes.length > max) throw new CpnsError("ERR_BODY_TOO_LARGE");
  return bytes;
}

export function recordResponse(record: Uint8Array): Response {
  return new Response(record as BodyInit, {
    status: 200,
    headers: { "content-type": CHANNEL_MEDIA_TYPE, "cache-control": "no-store" },
  });
}

/** Headers that describe a message itself; hop-by-hop and credential headers never go inside. */
const INNER_HEADERS = new Set(["content-type", "accept", "retry-after", "location"]);

export function innerHeaders(headers: Headers): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  headers.forEach((value, name) => {
    if (INNER_HEADERS.has(name)) out.push([name, value]);
  });
  return out;
}

/** The inner request as a Request against `origin` (a placeholder origin is fine in process). */
export function innerToRequest(inner: InnerRequest, origin: string): Request {
  const bodiless = inner.method === "GET" || inner.method === "HEAD";
  return new Request(new URL(inner.target, origin), {
    method: inner.method,
    headers: inner.headers,
    body: bodiless ? undefined : (inner.body as BodyInit),
  });
}

export async function responseToInner(response: Response): Promise<InnerResponse> {
  return {
    status: response.status,
    headers: innerHeaders(response.headers),
    body: new Uint8Array(await response.arrayBuffer()),
  };
}

export function innerToResponse(inner: InnerResponse): Response {
  const bodiless = inner.status === 204 || inner.status === 205 || inner.status === 304;
  return new Response(bodiless ? null : (inner.body as BodyInit), {
    status: inner.status,
    headers: inner.headers,
  });
}
