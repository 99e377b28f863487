/**
 * Digest in proxy mode (RFC 7616 §3.1/§3.4, RFC 7235 §4.3-4.4, RFC 7615 §4): the middleware
 * reads Proxy-Authorization, challenges with 407 + Proxy-Authenticate and answers with
 * Proxy-Authentication-Info, leaving the end-to-end headers alone; the client answers 407s and
 * checks the proxy's rspauth. The CPNS shape is a PN GW relaying a PNE's requests: the PNE
 * authenticates to the gateway with Proxy-Authorization while its own Authorization goes through
 * to the server, so the two layers are also run stacked, end to end. Everything goes through
 * Hono's `app.fetch`: no network.
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import {
  createDigestFetch,
  type DigestEnv,
  DigestError,
  digestAuth,
  digestExchangeOf,
  type FetchLike,
  proxyExchangeOf,
  staticCredentials,
} from "../../src/digest/index.ts";
import { answerChallenge, challengeParam, refDigest } from "../vectors/reference-digest.ts";

const ORIGIN = "http://server.example.org";
const SERVER_REALM = "server@example.org";
const GATEWAY_REALM = "gateway@example.org";
const SERVER_SECRET = "proxy-test-server-secret-0123456789";
const GATEWAY_SECRET = "proxy-test-gateway-secret-0123456789";

/** The end server: normal mode, user u1/p1; it records what reached it. */
function endServer() {
  const seen: Request[] = [];
  const app = new Hono<DigestEnv>();
  app.use("*", async (c, next) => {
    seen.push(c.req.raw.clone());
    await next();
  });
  app.use(
    "/api/*",
    digestAuth({
      realm: SERVER_REALM,
      secret: SERVER_SECRET,
      lookup: staticCredentials({ u1: "p1" }),
    }),
  );
  app.get("/api/me", (c) => c.json({ username: c.var.digest.username, realm: c.var.digest.realm }));
  return { app, seen, fetch: (request: Request) => app.fetch(request) };
}

/**
 * The gateway: proxy mode, session user s1/p2, relaying every authenticated request to
 * `upstream` without its Proxy-Authorization (RFC 7235 §4.4: meant for this hop only).
 */
function gateway(upstream: FetchLike) {
  const app = new Hono<DigestEnv>();
  app.use(
    "*",
    digestAuth({
      proxy: true,
      realm: GATEWAY_REALM,
      secret: GATEWAY_SECRET,
      lookup: staticCredentials({ s1: "p2" }),
    }),
  );
  app.all("*", async (c) => {
    const headers = new Headers(c.req.raw.headers);
    headers.delete("proxy-authorization");
    const hasBody = c.req.method !== "GET" && c.req.method !== "HEAD";
    return upstream(
      new Request(c.req.url, {
        method: c.req.method,
        headers,
        body: hasBody ? await c.req.arrayBuffer() : undefined,
      }),
    );
  });
  const calls: Request[] = [];
  return {
    app,
    calls,
    fetch: async (request: Request) => {
      calls.push(request.clone());
      return app.fetch(request);
    },
  };
}

/** What `fetch` hands back: its headers are immutable, and setting one throws. */
function withImmutableHeaders(res: Response): Response {
  for (const method of ["set", "append", "delete"] as const) {
    Object.defineProperty(res.headers, method, {
      value: () => {
        throw new TypeError("immutable");
      },
    });
  }
  return res;
}

/** Answers the first Proxy-Authenticate challenge of `challenged` with the reference code. */
function proxyAnswer(challenged: Response, options: { password?: string; nc?: string } = {}) {
  const challenge = challenged.headers.get("proxy-authenticate") ?? "";
  return answerChallenge(challenge, {
    username: "s1",
    password: options.password ?? "p2",
    uri: "/api/me",
    nc: options.nc,
  });
}

/** Checks a Proxy-Authentication-Info rspauth independently of the engine. */
function expectValidRspauth(res: Response, answer: ReturnType<typeof proxyAnswer>) {
  const info = res.headers.get("proxy-authentication-info") ?? "";
  const rspauth = challengeParam(`Digest ${info}`, "rspauth");
  expect(rspauth).toBe(answer.expected.rspauth);
  expect(challengeParam(`Digest ${info}`, "cnonce")).toBe(answer.cnonce);
  expect(challengeParam(`Digest ${info}`, "nc")).toBe(answer.nc);
}

describe("[DIGEST-PROXY] the middleware in proxy mode", () => {
  it("[DIGEST-PROXY] challenges with 407 and Proxy-Authenticate, never WWW-Authenticate", async () => {
    const gw = gateway(endServer().fetch);
    // End-to-end credentials are not the proxy's: still 407.
    const res = await gw.app.request(`${ORIGIN}/api/me`, {
      headers: { authorization: 'Digest username="u1"' },
    });
    expect(res.status).toBe(407);
    expect(res.headers.get("www-authenticate")).toBeNull();
    const challenge = res.headers.get("proxy-authenticate") ?? "";
    expect(challenge).toMatch(/^Digest /);
    expect(challengeParam(challenge, "realm")).toBe(GATEWAY_REALM);
    expect(await res.json()).toMatchObject({ code: "ERR_PROXY_UNAUTHORIZED", status: 407 });
  });

  it("[DIGEST-PROXY] answers a malformed Proxy-Authorization with 400 and no challenge", async () => {
    const gw = gateway(endServer().fetch);
    const res = await gw.app.request(`${ORIGIN}/api/me`, {
      headers: { "proxy-authorization": 'Digest username="s1", realm=' },
    });
    expect(res.status).toBe(400);
    expect(res.headers.get("proxy-authenticate")).toBeNull();
    expect(await res.json()).toMatchObject({ code: "ERR_DIGEST_MALFORMED" });
  });

  it("[DIGEST-PROXY] sets Proxy-Authentication-Info with a valid rspauth on success", async () => {
    const app = new Hono<DigestEnv>();
    app.use(
      "*",
      digestAuth({
        proxy: true,
        realm: GATEWAY_REALM,
        secret: GATEWAY_SECRET,
        lookup: staticCredentials({ s1: "p2" }),
      }),
    );
    app.get("/api/me", (c) => c.json({ username: c.var.digest.username }));
    const challenged = await app.request(`${ORIGIN}/api/me`);
    const answer = proxyAnswer(challenged);
    const res = await app.request(`${ORIGIN}/api/me`, {
      headers: { "proxy-authorization": answer.header },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ username: "s1" });
    expectValidRspauth(res, answer);
    expect(res.headers.get("authentication-info")).toBeNull();
  });

  describe("[DIGEST-PROXY] relaying an upstream response", () => {
    const UPSTREAM_INFO = 'qop=auth, rspauth="0123abcd", cnonce="c", nc=00000001';
    const UPSTREAM_CHALLENGE = 'Digest realm="server@example.org", nonce="n", qop="auth"';

    function upstream(status: 401 | 304) {
      const app = new Hono();
      app.get("*", (c) => {
        c.header("Authentication-Info", UPSTREAM_INFO);
        c.header("WWW-Authenticate", UPSTREAM_CHALLENGE);
        c.header("X-Upstream", "yes");
        return status === 304 ? c.body(null, 304) : c.text("from upstream", 401);
      });
      return app;
    }

    for (const immutable of [false, true]) {
      it(`[DIGEST-PROXY] adds only Proxy-Authentication-Info (${immutable ? "immutable" : "mutable"} headers)`, async () => {
        const server = upstream(401);
        const gw = gateway(async (request) => {
          const res = await server.fetch(request);
          return immutable ? withImmutableHeaders(res) : res;
        });
        const challenged = await gw.app.request(`${ORIGIN}/api/me`);
        const answer = proxyAnswer(challenged);
        const res = await gw.app.request(`${ORIGIN}/api/me`, {
          headers: { "proxy-authorization": answer.header },
        });
        // The upstream's 401 and its end-to-end headers go through as they were.
        expect(res.status).toBe(401);
        expect(await res.text()).toBe("from upstream");
        expect(res.headers.get("authentication-info")).toBe(UPSTREAM_INFO);
        expect(res.headers.get("www-authenticate")).toBe(UPSTREAM_CHALLENGE);
        expect(res.headers.get("x-upstream")).toBe("yes");
        expect(res.headers.get("proxy-authenticate")).toBeNull();
        expectValidRspauth(res, answer);
      });
    }

    it("[DIGEST-PROXY] keeps a relayed 304 bodiless when it must rebuild the response", async () => {
      const server = upstream(304);
      const gw = gateway(async (request) => withImmutableHeaders(await server.fetch(request)));
      const answer = proxyAnswer(await gw.app.request(`${ORIGIN}/api/me`));
      const res = await gw.app.request(`${ORIGIN}/api/me`, {
        headers: { "proxy-authorization": answer.header },
      });
      expect(res.status).toBe(304);
      expect(res.body).toBeNull();
      expectValidRspauth(res, answer);
    });
  });

  it("[DIGEST-PROXY] refuses a replayed nonce-count in Proxy-Authorization", async () => {
    const server = endServer();
    const gw = gateway(server.fetch);
    const answer = proxyAnswer(await gw.app.request(`${ORIGIN}/api/me`));
    const first = await gw.app.request(`${ORIGIN}/api/me`, {
      headers: { "proxy-authorization": answer.header },
    });
    // The gateway let it through (the end server then asked for its own credentials).
    expect(first.status).toBe(401);
    expectValidRspauth(first, answer);
    const relayed = server.seen.length;
    const replay = await gw.app.request(`${ORIGIN}/api/me`, {
      headers: { "proxy-authorization": answer.header },
    });
    expect(replay.status).toBe(407);
    expect(replay.headers.get("proxy-authenticate")).toMatch(/^Digest /);
    expect(replay.headers.get("proxy-authentication-info")).toBeNull();
    expect(server.seen.length).toBe(relayed);
  });
});

describe("[DIGEST-PROXY] the client in proxy mode, stacked under an end-to-end client", () => {
  function stack(options: { proxyPassword?: string; transport?: (gw: FetchLike) => FetchLike }) {
    const server = endServer();
    const gw = gateway(server.fetch);
    const toGateway = options.transport ? options.transport(gw.fetch) : gw.fetch;
    const client = createDigestFetch({
      username: "u1",
      password: "p1",
      requireRspauth: true,
      fetch: createDigestFetch({
        proxy: true,
        username: "s1",
        password: options.proxyPassword ?? "p2",
        requireRspauth: true,
        fetch: toGateway,
      }),
    });
    return { server, gw, client };
  }

  it("[DIGEST-PROXY] authenticates to both, verifies both rspauths, records both exchanges", async () => {
    const { server, gw, client } = stack({});
    const res = await client(`${ORIGIN}/api/me`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ username: "u1", realm: SERVER_REALM });
    // No credentials -> 407; Proxy-Authorization -> the server's 401; both -> 200.
    expect(gw.calls.length).toBe(3);
    expect(res.headers.get("authentication-info")).toMatch(/rspauth=/);
    expect(res.headers.get("proxy-authentication-info")).toMatch(/rspauth=/);

    // The server saw the client's Authorization exactly as it left the client, and no
    // Proxy-Authorization.
    const last = gw.calls.at(-1) as Request;
    const sentAuthorization = last.headers.get("authorization");
    expect(sentAuthorization).toMatch(/^Digest /);
    expect(last.headers.get("proxy-authorization")).toMatch(/^Digest /);
    const reached = server.seen.at(-1) as Request;
    expect(reached.headers.get("authorization")).toBe(sentAuthorization);
    expect(server.seen.every((r) => !r.headers.has("proxy-authorization"))).toBe(true);

    const endToEnd = digestExchangeOf(res);
    const hop = proxyExchangeOf(res);
    expect(endToEnd).toMatchObject({ realm: SERVER_REALM, username: "u1" });
    expect(hop).toMatchObject({ realm: GATEWAY_REALM, username: "s1" });
    expect(endToEnd?.nonce).toBe(challengeParam(sentAuthorization ?? "", "nonce"));
    expect(hop?.nonce).toBe(challengeParam(last.headers.get("proxy-authorization") ?? "", "nonce"));

    // Both spaces are now known: the next request authenticates both layers at once.
    const again = await client(`${ORIGIN}/api/me`);
    expect(again.status).toBe(200);
    expect(gw.calls.length).toBe(4);
    expect(digestExchangeOf(again)?.nc).toBe("00000002");
    expect(proxyExchangeOf(again)?.nc).toBe("00000003");
  });

  it("[DIGEST-PROXY] the proxy's rspauth matches the reference computation", async () => {
    const { gw, client } = stack({});
    const res = await client(`${ORIGIN}/api/me`);
    const hop = proxyExchangeOf(res);
    const sent = gw.calls.at(-1)?.headers.get("proxy-authorization") ?? "";
    const expected = refDigest({
      algorithm: hop?.algorithm ?? "",
      username: "s1",
      realm: GATEWAY_REALM,
      password: "p2",
      method: "GET",
      uri: "/api/me",
      nonce: hop?.nonce ?? "",
      nc: hop?.nc ?? "",
      cnonce: hop?.cnonce ?? "",
      qop: challengeParam(sent, "qop") ?? "",
    });
    const info = res.headers.get("proxy-authentication-info") ?? "";
    expect(challengeParam(`Digest ${info}`, "rspauth")).toBe(expected.rspauth);
  });

  it("[DIGEST-PROXY] a wrong proxy password gets the 407 back, once, without a loop", async () => {
    const { server, gw, client } = stack({ proxyPassword: "wrong" });
    const res = await client(`${ORIGIN}/api/me`);
    expect(res.status).toBe(407);
    expect(res.headers.get("proxy-authenticate")).toMatch(/^Digest /);
    expect(gw.calls.length).toBe(2);
    expect(server.seen.length).toBe(0);
    expect(digestExchangeOf(res)).toBeUndefined();
    expect(proxyExchangeOf(res)).toBeUndefined();
  });

  it("[DIGEST-PROXY] a proxy that forges Proxy-Authentication-Info is refused", async () => {
    const { client } = stack({
      transport: (gw) => async (request) => {
        const res = await gw(request);
        const info = res.headers.get("proxy-authentication-info");
        if (info === null) return res;
        // Flip one hex digit of rspauth: what a gateway without the secret could send.
        const forged = info.replace(
          /rspauth="(.)/,
          (_, ch: string) => `rspauth="${ch === "0" ? "1" : "0"}`,
        );
        const headers = new Headers(res.headers);
        headers.set("proxy-authentication-info", forged);
        return new Response(res.body, { status: res.status, headers });
      },
    });
    const error = await client(`${ORIGIN}/api/me`).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(DigestError);
    expect((error as DigestError).code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
  });

  it("[DIGEST-PROXY] under requireRspauth, a proxy that sends no rspauth is refused", async () => {
    const { client } = stack({
      transport: (gw) => async (request) => {
        const res = await gw(request);
        const headers = new Headers(res.headers);
        headers.delete("proxy-authentication-info");
        return new Response(res.body, { status: res.status, headers });
      },
    });
    const error = await client(`${ORIGIN}/api/me`).catch((err: unknown) => err);
    expect((error as DigestError).code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
  });

  it("[DIGEST-PROXY] keeps one proxy space for every origin behind the gateway", async () => {
    const { gw, client } = stack({});
    expect((await client(`${ORIGIN}/api/me`)).status).toBe(200);
    const before = gw.calls.length;
    // Another origin through the same gateway: no new 407, only the end server's 401.
    const res = await client("http://other.example.org/api/me");
    expect(res.status).toBe(200);
    expect(gw.calls.length - before).toBe(2);
    expect(gw.calls.every((r, i) => i === 0 || r.headers.has("proxy-authorization"))).toBe(true);
  });
});
