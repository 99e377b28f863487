/**
 * RFC 7616 §3.4.3 (qop=auth-int hashes the entity body): the body is read
 * before the response can be checked, so the middleware bounds it.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { describe, expect, it } from "vitest";
import { createDigestFetch, digestAuth, staticCredentials } from "../../src/digest/index.ts";

function app(maxBodyBytes: number) {
  const hono = new Hono();
  hono.use(
    "/p/*",
    digestAuth({
      realm: "r",
      secret: "0123456789abcdef0123",
      lookup: staticCredentials({ alice: "pw" }),
      qop: ["auth-int"],
      maxBodyBytes,
    }),
  );
  hono.post("/p/echo", async (c) => c.text(await c.req.text()));
  // Issue #12: the middleware answers its own failures; an app needs no error mapping for them.
  hono.onError((err) =>
    err instanceof HTTPException ? err.getResponse() : new Response(null, { status: 500 }),
  );
  return hono;
}

describe("[DIGEST-AUTHINT] auth-int body limit", () => {
  it("hashes and accepts a body within the limit", async () => {
    const hono = app(64);
    const client = createDigestFetch({
      username: "alice",
      password: "pw",
      qop: "auth-int",
      fetch: (r) => hono.fetch(r),
    });
    const res = await client("http://x/p/echo", { method: "POST", body: "a".repeat(64) });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("a".repeat(64));
  });

  it("refuses a body over the limit with ERR_BODY_TOO_LARGE before comparing the response", async () => {
    const hono = app(64);
    const client = createDigestFetch({
      username: "alice",
      password: "pw",
      qop: "auth-int",
      fetch: (r) => hono.fetch(r),
    });
    const res = await client("http://x/p/echo", { method: "POST", body: "a".repeat(65) });
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(await res.json()).toMatchObject({
      code: "ERR_BODY_TOO_LARGE",
      status: 413,
      type: "urn:http-digest:problem:ERR_BODY_TOO_LARGE",
    });
  });
});
