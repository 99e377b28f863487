/**
 * Reads a request body safely (issue #3, "bad input"; used by the server and the PN GW): application/json
 * only, a size limit enforced while reading (not trusted from Content-Length),
 * strict UTF-8, and a zod schema; every failure is a 4xx problem with a
 * stable code, and nothing is stored before the body has passed all of it.
 *
 * Implements: SERVER-BAD-INPUT
 */
import type { Context } from "hono";
import type { z } from "zod";
import { fromUtf8 } from "../crypto/bytes.ts";
import { CpnsError } from "../errors.ts";

export const DEFAULT_BODY_LIMIT = 16 * 1024;

/**
 * The unread rest of an oversized body would be taken for the next request on
 * the connection, so the answer closes it.
 */
const tooLarge = () => new CpnsError("ERR_BODY_TOO_LARGE", undefined, { connection: "close" });

async function readLimited(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) throw tooLarge();
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

export async function readJson<S extends z.ZodType>(
  c: Context,
  schema: S,
  limit: number = DEFAULT_BODY_LIMIT,
): Promise<z.infer<S>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new CpnsError("ERR_UNSUPPORTED_MEDIA_TYPE");
  let value: unknown;
  try {
    // With qop=auth-int the Digest middleware has already read (and Hono cached) the body.
    const bytes = c.req.raw.bodyUsed
      ? new Uint8Array(await c.req.arrayBuffer())
      : await readLimited(c.req.raw, limit);
    if (bytes.length > limit) throw tooLarge();
    value = JSON.parse(fromUtf8(bytes));
  } catch (err) {
    if (err instanceof CpnsError) throw err;
    throw new CpnsError("ERR_BODY_MALFORMED");
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    // Paths and messages only: never echo the values, which may be passwords.
    const detail = parsed.error.issues
      .map((issue) => `${issue.path.join(".") || "(body)"}: ${issue.message}`)
      .join("; ");
    throw new CpnsError("ERR_BODY_INVALID", detail.slice(0, 500));
  }
  return parsed.data;
}
