/**
 * The fetch client (RFC 7616 §3.4 answering, §3.7 algorithm choice, §3.3 stale, §3.4.4
 * userhash, §3.4 / §3.9.2 username* for non-ASCII names, §3.4.3 auth-int; RFC 7615
 * Authentication-Info: rspauth and nextnonce) against a real Hono app through
 * `fetch: (r) => app.fetch(r)`, counting transport calls to prove preemptive authentication,
 * single retries and no loops.
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import {
  createDigestFetch,
  type DigestAlgorithm,
  type DigestEnv,
  DigestError,
  type DigestFetchOptions,
  type DigestServerOptions,
  digestAuth,
  staticCredentials,
} from "../../src/digest/index.ts";
import { challengeParam, refH } from "../vectors/reference-digest.ts";

const SECRET = "client-test-secret-0123456789abcdef";
const REALM = "client@example.org";
const T0 = Date.UTC(2025, 6, 7);
const LIFETIME_S = 30;
const JASON = "J\u00e4s\u00f8n Doe";
const USERS = { alice: "alice-pw", [JASON]: "Secret, or not?" };
const ORIGIN = "http://api.example.org";

interface Server {
  app: Hono<DigestEnv>;
  clock: { now: number };
  /** Every request the client put on the wire, in order. */
  calls: Request[];
  fetch: (request: Request) => Promise<Response>;
}

function server(overrides: Partial<DigestServerOptions> = {}): Server {
  const clock = { now: T0 };
  const app = new Hono<DigestEnv>();
  app.use(
    "/api/*",
    digestAuth({
      realm: REALM,
      secret: SECRET,
      lookup: staticCredentials(USERS),
      nonceLifetimeSeconds: LIFETIME_S,
      now: () => clock.now,
      ...overrides,
    }),
  );
  app.get("/api/me", (c) => c.json(c.var.digest));
  app.post("/api/echo", async (c) => c.json({ body: await c.req.text(), ...c.var.digest }));
  const calls: Request[] = [];
  return {
    app,
    clock,
    calls,
    fetch: async (request) => {
      calls.push(request.clone());
      return app.fetch(request);
    },
  };
}

function client(s: Server, options: Partial<DigestFetchOptions> = {}) {
  return createDigestFetch({ username: "alice", password: "alice-pw", fetch: s.fetch, ...options });
}

const authorizationOf = (request: Request | undefined) =>
  request?.headers.get("authorization") ?? "";
const param = (authorization: string, name: string) => challengeParam(authorization, name);

async function principal(res: Response) {
  expect(res.status).toBe(200);
  return (await res.json()) as {
    username: string;
    algorithm: DigestAlgorithm;
    qop: string;
    userhash: boolean;
    body?: string;
  };
}

/** A transport that rewrites the server's Authentication-Info (or drops it with `null`). */
function tamperingTransport(s: Server, rewrite: (info: string) => string | null) {
  return async (request: Request) => {
    const res = await s.fetch(request);
    const info = res.headers.get("authentication-info");
    if (info === null) return res;
    const headers = new Headers(res.headers);
    const next = rewrite(info);
    if (next === null) headers.delete("authentication-info");
    else headers.set("authentication-info", next);
    return new Response(res.body, { status: res.status, headers });
  };
}

describe("[DIGEST-CLIENT] algorithm choice (RFC 7616 §3.7): strongest offered, or the caller's list", () => {
  it.each([
    [["MD5", "SHA-256", "SHA-512-256"], "SHA-512-256"],
    [["SHA-256", "SHA-512-256", "MD5"], "SHA-512-256"],
    [["MD5", "SHA-256"], "SHA-256"],
    [["MD5"], "MD5"],
    [["MD5-sess", "MD5"], "MD5"],
    [["SHA-256-sess", "MD5"], "SHA-256-sess"],
  ] as const)("server offers %j -> client answers %s", async (offered, chosen) => {
    const s = server({ algorithms: [...offered] });
    const res = await client(s)(`${ORIGIN}/api/me`);
    expect((await principal(res)).algorithm).toBe(chosen);
    expect(param(authorizationOf(s.calls[1]), "algorithm")).toBe(chosen);
  });

  it("respects the `algorithms` option", async () => {
    const s = server({ algorithms: ["SHA-512-256", "SHA-256", "MD5"] });
    const res = await client(s, { algorithms: ["MD5", "SHA-256"] })(`${ORIGIN}/api/me`);
    expect((await principal(res)).algorithm).toBe("MD5");
  });

  it("[DIGEST-MINIMUM] no acceptable challenge: ERR_DIGEST_DOWNGRADE after one call, nothing answered", async () => {
    const s = server({ algorithms: ["SHA-256"] });
    const err = await client(s, { algorithms: ["MD5"] })(`${ORIGIN}/api/me`).catch((e) => e);
    expect(err).toBeInstanceOf(DigestError);
    expect((err as DigestError).code).toBe("ERR_DIGEST_DOWNGRADE");
    expect(s.calls).toHaveLength(1);
  });

  it("[DIGEST-MINIMUM] a challenge without qop (RFC 2069 mode) is not answered", async () => {
    const app = new Hono();
    app.get("/api/me", (c) =>
      c.text("no", 401, { "WWW-Authenticate": `Digest realm="${REALM}", nonce="abc"` }),
    );
    let calls = 0;
    const res = await createDigestFetch({
      username: "alice",
      password: "alice-pw",
      fetch: (r) => {
        calls++;
        return app.fetch(r);
      },
    })(`${ORIGIN}/api/me`).catch((e) => e);
    // No qop means no replay protection: as weak as a weak qop, so refused.
    expect((res as DigestError).code).toBe("ERR_DIGEST_DOWNGRADE");
    expect(calls).toBe(1);
  });
});

describe("[DIGEST-CLIENT] round trips: preemptive reuse, stale, nextnonce", () => {
  it("first request: challenge + answer (2 calls); second: preemptive (1 call, nc=2)", async () => {
    const s = server();
    const fetchDigest = client(s);
    expect((await fetchDigest(`${ORIGIN}/api/me`)).status).toBe(200);
    expect(s.calls).toHaveLength(2);
    expect(authorizationOf(s.calls[0])).toBe("");
    expect(param(authorizationOf(s.calls[1]), "nc")).toBe("00000001");
    expect((await fetchDigest(`${ORIGIN}/api/me?page=2`)).status).toBe(200);
    expect(s.calls).toHaveLength(3);
    const third = authorizationOf(s.calls[2]);
    expect(param(third, "nc")).toBe("00000002");
    expect(param(third, "uri")).toBe("/api/me?page=2");
    expect(param(third, "nonce")).toBe(param(authorizationOf(s.calls[1]), "nonce"));
  });

  it("stale=true is handled silently: one extra round trip, then preemptive again", async () => {
    const s = server();
    const fetchDigest = client(s);
    await fetchDigest(`${ORIGIN}/api/me`);
    expect(s.calls).toHaveLength(2);
    s.clock.now = T0 + (LIFETIME_S + 1) * 1000;
    const res = await fetchDigest(`${ORIGIN}/api/me`);
    expect(res.status).toBe(200);
    expect(s.calls).toHaveLength(4);
    const [, , staleTry, retry] = s.calls;
    expect(param(authorizationOf(retry), "nonce")).not.toBe(
      param(authorizationOf(staleTry), "nonce"),
    );
    expect(param(authorizationOf(retry), "nc")).toBe("00000001");
    expect((await fetchDigest(`${ORIGIN}/api/me`)).status).toBe(200);
    expect(s.calls).toHaveLength(5);
  });

  it("follows nextnonce: the next request uses it with nc=1, in one call", async () => {
    const s = server({ nextnonceBeforeSeconds: LIFETIME_S + 1 });
    const fetchDigest = client(s);
    const first = await fetchDigest(`${ORIGIN}/api/me`);
    const next = challengeParam(`Digest ${first.headers.get("authentication-info")}`, "nextnonce");
    expect(next).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await fetchDigest(`${ORIGIN}/api/me`)).status).toBe(200);
    expect(s.calls).toHaveLength(3);
    expect(param(authorizationOf(s.calls[2]), "nonce")).toBe(next);
    expect(param(authorizationOf(s.calls[2]), "nc")).toBe("00000001");
  });

  it("wrong password: the 401 comes back, no loop (2 calls, and 2 again next time)", async () => {
    const s = server();
    const fetchDigest = client(s, { password: "wrong" });
    const res = await fetchDigest(`${ORIGIN}/api/me`);
    expect(res.status).toBe(401);
    expect(s.calls).toHaveLength(2);
    expect((await fetchDigest(`${ORIGIN}/api/me`)).status).toBe(401);
    expect(s.calls).toHaveLength(4);
    expect(authorizationOf(s.calls[2])).toBe("");
  });

  it("unprotected resources pass through untouched", async () => {
    const s = server();
    s.app.get("/public", (c) => c.text("open"));
    const res = await client(s)(`${ORIGIN}/public`);
    expect(await res.text()).toBe("open");
    expect(s.calls).toHaveLength(1);
  });
});

describe("[DIGEST-CLIENT][DIGEST-AUTHINT] auth-int (RFC 7616 §3.4.3)", () => {
  it("POST with a body: qop=auth-int on the wire, rspauth over the response body checked", async () => {
    const s = server({ qop: ["auth", "auth-int"] });
    const fetchDigest = client(s, { qop: "auth-int", requireRspauth: true });
    const res = await fetchDigest(`${ORIGIN}/api/echo`, { method: "POST", body: "payload \u00e9" });
    const p = await principal(res);
    expect(p.qop).toBe("auth-int");
    expect(p.body).toBe("payload \u00e9");
    expect(param(authorizationOf(s.calls[1]), "qop")).toBe("auth-int");
    // The body was sent again on the retry, unchanged.
    expect(await s.calls[1]?.text()).toBe("payload \u00e9");
    // Second, preemptive request with another body.
    const again = await fetchDigest(`${ORIGIN}/api/echo`, { method: "POST", body: "second" });
    expect((await principal(again)).body).toBe("second");
    expect(s.calls).toHaveLength(3);
  });

  it("a server offering only auth-int gets auth-int even when the client prefers auth", async () => {
    const s = server({ qop: ["auth-int"] });
    const res = await client(s)(`${ORIGIN}/api/echo`, { method: "POST", body: "x" });
    expect((await principal(res)).qop).toBe("auth-int");
  });

  it("auth-int with an empty body (GET)", async () => {
    const s = server({ qop: ["auth-int"] });
    const res = await client(s, { requireRspauth: true })(`${ORIGIN}/api/me`);
    expect((await principal(res)).qop).toBe("auth-int");
  });
});

describe("[DIGEST-CLIENT][DIGEST-USERHASH] userhash and non-ASCII usernames (RFC 7616 §3.4, §3.4.4, §3.9.2)", () => {
  it("userhash is used when offered: H(username:realm) on the wire, never the name", async () => {
    const s = server({ algorithms: ["SHA-512-256"] });
    const res = await client(s)(`${ORIGIN}/api/me`);
    const p = await principal(res);
    expect(p).toMatchObject({ username: "alice", userhash: true });
    const auth = authorizationOf(s.calls[1]);
    expect(param(auth, "username")).toBe(refH("SHA-512-256", `alice:${REALM}`));
    expect(param(auth, "userhash")).toBe("true");
    expect(auth).not.toContain("alice");
  });

  it("userhash: false opts out", async () => {
    const s = server();
    const res = await client(s, { userhash: false })(`${ORIGIN}/api/me`);
    expect(await principal(res)).toMatchObject({ username: "alice", userhash: false });
    const auth = authorizationOf(s.calls[1]);
    expect(param(auth, "username")).toBe("alice");
    expect(param(auth, "userhash")).toBeUndefined();
  });

  it("a server that does not offer userhash gets the plain name", async () => {
    const s = server({ userhash: false });
    const res = await client(s)(`${ORIGIN}/api/me`);
    expect((await principal(res)).userhash).toBe(false);
    expect(param(authorizationOf(s.calls[1]), "username")).toBe("alice");
  });

  it("a non-ASCII username goes as username* (RFC 8187) when userhash is not used", async () => {
    const s = server({ userhash: false, algorithms: ["SHA-512-256"] });
    const fetchDigest = client(s, { username: JASON, password: "Secret, or not?" });
    const p = await principal(await fetchDigest(`${ORIGIN}/api/me`));
    expect(p).toMatchObject({ username: JASON, userhash: false });
    const auth = authorizationOf(s.calls[1]);
    expect(auth).toContain("username*=UTF-8''J%C3%A4s%C3%B8n%20Doe");
    expect(auth).not.toMatch(/(^|[\s,])username=/);
  });

  it("a username outside Latin-1 facing a charset-less challenge: username*, not a TypeError", async () => {
    // RFC 7616 §3.4: username* is for names a quoted-string cannot carry; a header value
    // cannot carry U+0410 at all, so sending it raw makes Headers throw.
    const app = new Hono();
    const seen: string[] = [];
    app.get("/api/me", (c) => {
      const authorization = c.req.header("authorization");
      if (!authorization) {
        return c.text("", 401, {
          "WWW-Authenticate": `Digest realm="${REALM}", qop="auth", algorithm=SHA-256, nonce="abc"`,
        });
      }
      seen.push(authorization);
      return c.text("ok");
    });
    const fetchDigest = createDigestFetch({
      username: "\u0410\u043b\u0438\u0441\u0430",
      password: "pw",
      fetch: (r) => app.fetch(r),
    });
    const res = await fetchDigest(`${ORIGIN}/api/me`);
    expect(res.status).toBe(200);
    expect(seen[0]).toContain("username*=UTF-8''%D0%90%D0%BB%D0%B8%D1%81%D0%B0");
  });

  it("a non-ASCII username with userhash offered sends the userhash", async () => {
    const s = server({ algorithms: ["SHA-512-256"] });
    const fetchDigest = client(s, { username: JASON, password: "Secret, or not?" });
    const p = await principal(await fetchDigest(`${ORIGIN}/api/me`));
    expect(p).toMatchObject({ username: JASON, userhash: true });
    expect(param(authorizationOf(s.calls[1]), "username")).toBe(
      refH("SHA-512-256", `${JASON}:${REALM}`),
    );
  });
});

describe("[DIGEST-CLIENT][DIGEST-AUTHINFO] the client authenticates the server (rspauth, RFC 7615)", () => {
  it("a correct rspauth is accepted, and required when asked", async () => {
    const s = server();
    const res = await client(s, { requireRspauth: true })(`${ORIGIN}/api/me`);
    expect(res.status).toBe(200);
  });

  it("a wrong rspauth -> DigestError ERR_DIGEST_SERVER_UNAUTHENTICATED", async () => {
    const s = server();
    const fetchDigest = createDigestFetch({
      username: "alice",
      password: "alice-pw",
      fetch: tamperingTransport(s, (info) =>
        info.replace(/rspauth="([0-9a-f])/, (_m, c: string) => `rspauth="${c === "0" ? "1" : "0"}`),
      ),
    });
    const err = await fetchDigest(`${ORIGIN}/api/me`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DigestError);
    expect((err as DigestError).code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
    expect((err as DigestError).status).toBe(502);
  });

  it("an rspauth with the wrong echoed cnonce or nc -> ERR_DIGEST_SERVER_UNAUTHENTICATED", async () => {
    for (const rewrite of [
      (info: string) => info.replace(/cnonce="[^"]*"/, 'cnonce="someone-else"'),
      (info: string) => info.replace(/nc=[0-9a-f]{8}/, "nc=00000009"),
    ]) {
      const s = server();
      const fetchDigest = createDigestFetch({
        username: "alice",
        password: "alice-pw",
        fetch: tamperingTransport(s, rewrite),
      });
      await expect(fetchDigest(`${ORIGIN}/api/me`)).rejects.toMatchObject({
        code: "ERR_DIGEST_SERVER_UNAUTHENTICATED",
      });
    }
  });

  it("an rspauth computed for another response body (auth-int) is refused", async () => {
    const s = server({ qop: ["auth-int"] });
    const transport = async (request: Request) => {
      const res = await s.fetch(request);
      return new Response("a different body", { status: res.status, headers: res.headers });
    };
    const fetchDigest = createDigestFetch({
      username: "alice",
      password: "alice-pw",
      fetch: transport,
    });
    await expect(fetchDigest(`${ORIGIN}/api/me`)).rejects.toMatchObject({
      code: "ERR_DIGEST_SERVER_UNAUTHENTICATED",
    });
  });

  it("no Authentication-Info: fine by default, an error with requireRspauth", async () => {
    const s = server();
    const lax = createDigestFetch({
      username: "alice",
      password: "alice-pw",
      fetch: tamperingTransport(s, () => null),
    });
    expect((await lax(`${ORIGIN}/api/me`)).status).toBe(200);
    const strict = createDigestFetch({
      username: "alice",
      password: "alice-pw",
      requireRspauth: true,
      fetch: tamperingTransport(server(), () => null),
    });
    await expect(strict(`${ORIGIN}/api/me`)).rejects.toMatchObject({
      name: "DigestError",
      code: "ERR_DIGEST_SERVER_UNAUTHENTICATED",
    });
  });

  it("the preemptive path checks rspauth too", async () => {
    const s = server();
    let tamper = false;
    const fetchDigest = createDigestFetch({
      username: "alice",
      password: "alice-pw",
      fetch: tamperingTransport(s, (info) =>
        tamper ? info.replace(/rspauth="[0-9a-f]+"/, `rspauth="${"0".repeat(64)}"`) : info,
      ),
    });
    expect((await fetchDigest(`${ORIGIN}/api/me`)).status).toBe(200);
    tamper = true;
    await expect(fetchDigest(`${ORIGIN}/api/me`)).rejects.toMatchObject({
      code: "ERR_DIGEST_SERVER_UNAUTHENTICATED",
    });
  });

  it("refuses to be built without string credentials", () => {
    expect(() =>
      createDigestFetch({ username: undefined as unknown as string, password: "x" }),
    ).toThrow(TypeError);
  });
});
