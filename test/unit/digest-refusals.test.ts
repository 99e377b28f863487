/**
 * Issue #13 item 1: under requireRspauth a refusal the server did not authenticate (the
 * failure limiter's 429, a 503) is handed back as what it is, unproven, instead of being
 * reported as an impostor server; anything that could carry data is still refused without
 * proof, and a wrong rspauth is an error on any status.
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import {
  createDigestFetch,
  type DigestEnv,
  DigestError,
  digestAuth,
  digestExchangeOf,
  staticCredentials,
} from "../../src/digest/index.ts";

const ORIGIN = "http://api.example.org";
const REALM = "refusals@example.org";

/** A Digest-protected app whose failure limiter can be switched on in front of it. */
function limitedServer() {
  const state = { limited: false, forgedRspauth: false, status: 0 };
  const app = new Hono<DigestEnv>();
  app.use("/api/*", async (c, next) => {
    if (state.limited) {
      return c.json({ code: "ERR_RATE_LIMITED", title: "Too many failed attempts" }, 429, {
        "retry-after": "17",
      });
    }
    if (state.status) {
      // A bare status in front of the verifier: no Authentication-Info, whatever it is.
      return c.body(null, state.status as 400 | 302);
    }
    if (state.forgedRspauth) {
      // An impostor on the path: a refusal carrying an rspauth it could not compute.
      return c.json({ code: "ERR_FORBIDDEN" }, 403, {
        "authentication-info": `qop=auth, rspauth="${"0".repeat(64)}", cnonce="x", nc=00000001`,
      });
    }
    await next();
  });
  app.use(
    "/api/*",
    digestAuth({
      realm: REALM,
      secret: "refusals-test-secret-0123456789abcdef",
      lookup: staticCredentials({ alice: "alice-pw" }),
    }),
  );
  app.get("/api/me", (c) => c.json({ username: c.var.digest.username }));
  return { state, fetch: async (request: Request) => app.fetch(request) };
}

const client = (fetch: (r: Request) => Promise<Response>) =>
  createDigestFetch({ username: "alice", password: "alice-pw", requireRspauth: true, fetch });

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return err instanceof DigestError ? err.code : String(err);
  }
}

describe("[FIRSTRUN-REFUSALS][DIGEST-AUTHINFO] requireRspauth hands back unproven refusals as refusals", () => {
  it("a 429 after an authenticated exchange comes back as 429 with Retry-After, unproven", async () => {
    const server = limitedServer();
    const strict = client(server.fetch);
    const ok = await strict(`${ORIGIN}/api/me`);
    expect(ok.status).toBe(200);
    expect(digestExchangeOf(ok)).toBeDefined();
    server.state.limited = true;
    const refused = await strict(`${ORIGIN}/api/me`);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("17");
    expect(await refused.json()).toMatchObject({ code: "ERR_RATE_LIMITED" });
    expect(digestExchangeOf(refused)).toBeUndefined();
  });

  it("a 429 to the first, credential-less request comes back too, unproven", async () => {
    const server = limitedServer();
    server.state.limited = true;
    const refused = await client(server.fetch)(`${ORIGIN}/api/me`);
    expect(refused.status).toBe(429);
    expect(digestExchangeOf(refused)).toBeUndefined();
  });

  it("the line is 400: a 400 comes back unproven, a 3xx without proof is refused like a 2xx", async () => {
    for (const fresh of [false, true]) {
      const server = limitedServer();
      const strict = client(server.fetch);
      // Authorized first (a cached space), or the very first request (no Digest exchange at all).
      if (!fresh) expect((await strict(`${ORIGIN}/api/me`)).status).toBe(200);
      server.state.status = 400;
      const refused = await strict(`${ORIGIN}/api/me`);
      expect(refused.status).toBe(400);
      expect(digestExchangeOf(refused)).toBeUndefined();
      server.state.status = 302;
      expect(await codeOf(strict(`${ORIGIN}/api/me`))).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
    }
  });

  it("a 2xx without proof is still refused, and a refusal with a wrong rspauth is an error", async () => {
    const impostor = new Hono();
    impostor.get("/api/me", (c) => c.json({ username: "mallory" }));
    expect(await codeOf(client(async (r) => impostor.fetch(r))(`${ORIGIN}/api/me`))).toBe(
      "ERR_DIGEST_SERVER_UNAUTHENTICATED",
    );
    const server = limitedServer();
    const strict = client(server.fetch);
    expect((await strict(`${ORIGIN}/api/me`)).status).toBe(200);
    server.state.forgedRspauth = true;
    expect(await codeOf(strict(`${ORIGIN}/api/me`))).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
  });
});
