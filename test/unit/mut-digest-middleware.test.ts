/**
 * Issue #9, checks the suite could not see (Stryker survivors in src/digest/middleware.ts):
 * the auth-int body bound decided from Content-Length before a byte is read (and the
 * connection closed, so the unread body is not left on it), the limit itself allowed; a
 * 204, 205 or 304 answered under auth-int keeps its status and stays bodiless while rspauth
 * still covers the (empty) body; a malformed Proxy-Authorization is 400, not a 407 challenge.
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { createDigestFetch, digestAuth, staticCredentials } from "../../src/digest/index.ts";
import { errorToResponse } from "../../src/errors.ts";

const SECRET = "mut-middleware-secret-0123456789";

function app(options: { maxBodyBytes?: number; proxy?: boolean } = {}) {
  const hono = new Hono();
  let bodiesRead = 0;
  hono.use(
    "/p/*",
    digestAuth({
      realm: "r",
      secret: SECRET,
      lookup: staticCredentials({ alice: "pw" }),
      qop: ["auth-int"],
      ...options,
    }),
  );
  hono.post("/p/echo", async (c) => {
    bodiesRead++;
    return c.text(await c.req.text());
  });
  for (const status of [204, 205, 304] as const) {
    hono.post(`/p/${status}`, (c) => c.body(null, status, { "x-handler": "ran" }));
  }
  hono.onError((err) => errorToResponse(err));
  return { hono, bodiesRead: () => bodiesRead };
}

function client(hono: Hono, proxy = false) {
  return createDigestFetch({
    username: "alice",
    password: "pw",
    qop: "auth-int",
    requireRspauth: true,
    proxy,
    fetch: (r) => hono.fetch(r),
  });
}

describe("[DIGEST-AUTHINT] the auth-int body bound, from Content-Length first", () => {
  it("[DIGEST-AUTHINT] a declared Content-Length over the limit is refused before the body is read, and the connection is closed", async () => {
    const { hono, bodiesRead } = app({ maxBodyBytes: 64 });
    const direct = await hono.request("http://x/p/echo", {
      method: "POST",
      body: "a".repeat(65),
      headers: { "content-length": "65", authorization: await authorizationFor(hono, 65) },
    });
    expect(direct.status).toBe(413);
    expect(direct.headers.get("connection")).toBe("close");
    expect(((await direct.json()) as { code: string }).code).toBe("ERR_BODY_TOO_LARGE");
    expect(bodiesRead()).toBe(0);
  });

  it("[DIGEST-AUTHINT] a Content-Length of exactly the limit is accepted and echoed", async () => {
    const { hono } = app({ maxBodyBytes: 64 });
    const res = await client(hono)("http://x/p/echo", {
      method: "POST",
      body: "b".repeat(64),
      headers: { "content-length": "64" },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("b".repeat(64));
  });

  it("[DIGEST-AUTHINT] a body longer than its declared Content-Length is still bounded (413, no close needed: it was read)", async () => {
    const { hono } = app({ maxBodyBytes: 64 });
    const direct = await hono.request("http://x/p/echo", {
      method: "POST",
      body: "c".repeat(65),
      headers: { "content-length": "10", authorization: await authorizationFor(hono, 65) },
    });
    expect(direct.status).toBe(413);
    expect(direct.headers.get("connection")).toBeNull();
  });
});

/** A genuine auth-int Authorization for POST /p/echo with a body of `length` bytes, made by the library's own client. */
async function authorizationFor(hono: Hono, length: number): Promise<string> {
  let captured = "";
  const capture = createDigestFetch({
    username: "alice",
    password: "pw",
    qop: "auth-int",
    fetch: async (request) => {
      const header = request.headers.get("authorization");
      if (header) {
        captured = header;
        return new Response("captured");
      }
      return hono.fetch(request);
    },
  });
  await capture("http://x/p/echo", { method: "POST", body: "c".repeat(length) });
  return captured;
}

describe("[DIGEST-AUTHINT][DIGEST-AUTHINFO] null-body statuses under auth-int", () => {
  for (const status of [204, 205, 304]) {
    it(`[DIGEST-AUTHINT][DIGEST-AUTHINFO] ${status}: status and headers kept, no body, rspauth over the empty body verifies`, async () => {
      const { hono } = app();
      const res = await client(hono)(`http://x/p/${status}`, { method: "POST", body: "x" });
      expect(res.status).toBe(status);
      expect(res.headers.get("x-handler")).toBe("ran");
      expect(res.headers.get("authentication-info")).toContain("rspauth=");
      expect(res.body).toBeNull();
    });
  }
});

describe("[DIGEST-PROXY] proxy mode keeps malformed credentials a 400", () => {
  it("[DIGEST-PROXY][DIGEST-PARSE] a malformed Proxy-Authorization is 400 ERR_DIGEST_MALFORMED, not a 407 challenge", async () => {
    const { hono } = app({ proxy: true });
    const res = await hono.request("http://x/p/echo", {
      method: "POST",
      body: "x",
      headers: { "proxy-authorization": 'Digest username="alice", realm="r' },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe("ERR_DIGEST_MALFORMED");
    expect(res.headers.get("proxy-authenticate")).toBeNull();
  });

  it("[DIGEST-PROXY] no Proxy-Authorization: 407 ERR_PROXY_UNAUTHORIZED with Proxy-Authenticate", async () => {
    const { hono } = app({ proxy: true });
    const res = await hono.request("http://x/p/echo", { method: "POST", body: "x" });
    expect(res.status).toBe(407);
    expect(((await res.json()) as { code: string }).code).toBe("ERR_PROXY_UNAUTHORIZED");
    expect(res.headers.get("proxy-authenticate")).toMatch(/^Digest /);
    expect(res.headers.get("www-authenticate")).toBeNull();
  });
});

describe("[DIGEST-HOSTILE] onFailure sees every refusal, and nothing else", () => {
  it("[DIGEST-HOSTILE] called once per refused request with the verifier's outcome; never for an accepted one", async () => {
    const seen: string[] = [];
    const hono = new Hono();
    hono.use(
      "/p/*",
      digestAuth({
        realm: "r",
        secret: SECRET,
        lookup: staticCredentials({ alice: "pw" }),
        onFailure: (_c, failure) => {
          seen.push(`${failure.status} ${failure.code}`);
        },
      }),
    );
    hono.get("/p/x", (c) => c.text("ok"));
    await hono.request("http://x/p/x");
    await hono.request("http://x/p/x", { headers: { authorization: 'Digest realm="r' } });
    const ok = await createDigestFetch({
      username: "alice",
      password: "pw",
      fetch: (r) => hono.fetch(r),
    })("http://x/p/x");
    expect(ok.status).toBe(200);
    // The client's first, credential-less request was refused once more (401).
    expect(seen).toEqual([
      "401 ERR_DIGEST_UNAUTHORIZED",
      "400 ERR_DIGEST_MALFORMED",
      "401 ERR_DIGEST_UNAUTHORIZED",
    ]);
  });
});
