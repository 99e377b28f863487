/**
 * Issue #9, checks the suite could not see (Stryker survivors in src/digest/client.ts), each
 * from the side of someone between the client and the server: of two challenges for the same
 * algorithm the first is answered (RFC 7616 §3.7); userhash=TRUE is a token in any case; an
 * Authentication-Info echoing nc in upper-case hex is the same nc, while one that cannot be
 * parsed proves nothing; a 407 reaching an end-to-end client is handed back, not answered;
 * after a refused password the next call starts without credentials; a primed challenge
 * must be a Digest challenge with an origin; the caller's crypto provider makes the cnonce.
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import {
  createDigestFetch,
  type DigestEnv,
  DigestError,
  type DigestFetchOptions,
  digestAuth,
  staticCredentials,
} from "../../src/digest/index.ts";
import { challengeParam, refH } from "../vectors/reference-digest.ts";

const SECRET = "mut-client-secret-0123456789abcdef";
const REALM = "mut-client@example.org";
const ORIGIN = "http://api.example.org";

function fixture(rewrite?: (res: Response, request: Request) => Response | Promise<Response>) {
  const app = new Hono<DigestEnv>();
  app.use(
    "/api/*",
    digestAuth({
      realm: REALM,
      secret: SECRET,
      lookup: staticCredentials({ alice: "alice-pw" }),
      algorithms: ["SHA-256"],
    }),
  );
  app.get("/api/me", (c) => c.json({ user: c.var.digest.username }));
  const calls: Request[] = [];
  const transport = async (request: Request) => {
    calls.push(request.clone());
    const res = await app.fetch(request);
    return rewrite ? rewrite(res, request) : res;
  };
  const client = (options: Partial<DigestFetchOptions> = {}) =>
    createDigestFetch({ username: "alice", password: "alice-pw", fetch: transport, ...options });
  return { app, calls, client };
}

async function rejection(promise: Promise<unknown>): Promise<DigestError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DigestError);
  return err as DigestError;
}

function withHeader(res: Response, name: string, value: string | null): Response {
  const headers = new Headers(res.headers);
  if (value === null) headers.delete(name);
  else headers.set(name, value);
  return new Response(res.body, { status: res.status, headers });
}

describe("[DIGEST-CLIENT] which challenge is answered", () => {
  it("[DIGEST-CLIENT] two challenges for the same algorithm: the first is answered (RFC 7616 §3.7)", async () => {
    const seen: string[] = [];
    const client = createDigestFetch({
      username: "alice",
      password: "pw",
      fetch: (request) => {
        const authorization = request.headers.get("authorization");
        if (authorization) {
          seen.push(challengeParam(authorization, "realm") ?? "");
          return new Response("ok");
        }
        const headers = new Headers();
        headers.append(
          "www-authenticate",
          'Digest realm="first", nonce="n1", qop="auth", algorithm=SHA-256',
        );
        headers.append(
          "www-authenticate",
          'Digest realm="second", nonce="n2", qop="auth", algorithm=SHA-256',
        );
        return new Response(null, { status: 401, headers });
      },
    });
    expect((await client(`${ORIGIN}/x`)).status).toBe(200);
    expect(seen).toEqual(["first"]);
  });

  it("[DIGEST-USERHASH] userhash=TRUE (any case) is honoured: the name never goes on the wire", async () => {
    let username: string | undefined;
    const client = createDigestFetch({
      username: "alice",
      password: "pw",
      fetch: (request) => {
        const authorization = request.headers.get("authorization");
        if (authorization) {
          username = challengeParam(authorization, "username");
          return new Response("ok");
        }
        return new Response(null, {
          status: 401,
          headers: {
            "www-authenticate":
              'Digest realm="r", nonce="n", qop="auth", algorithm=SHA-256, userhash=TRUE',
          },
        });
      },
    });
    await client(`${ORIGIN}/x`);
    expect(username).toBe(refH("SHA-256", "alice:r"));
  });
});

describe("[DIGEST-AUTHINFO] what Authentication-Info proves", () => {
  it("[DIGEST-AUTHINFO] nc echoed in upper-case hex is the same nc (accepted, requireRspauth)", async () => {
    const { client } = fixture((res) => {
      const info = res.headers.get("authentication-info");
      return info
        ? withHeader(
            res,
            "authentication-info",
            info.replace(/nc=([0-9a-f]{8})/, (_m, nc: string) => `nc=${nc.toUpperCase()}`),
          )
        : res;
    });
    const digestFetch = client({ requireRspauth: true });
    // nc reaches 0000000a on the tenth request: the first with a letter in it.
    for (let i = 1; i <= 10; i++) expect((await digestFetch(`${ORIGIN}/api/me`)).status).toBe(200);
  });

  it("[DIGEST-AUTHINFO] an Authentication-Info that cannot be parsed proves nothing: refused under requireRspauth", async () => {
    const { client } = fixture((res) =>
      res.headers.has("authentication-info")
        ? withHeader(
            res,
            "authentication-info",
            `${res.headers.get("authentication-info")}, rspauth="`,
          )
        : res,
    );
    const err = await rejection(client({ requireRspauth: true })(`${ORIGIN}/api/me`));
    expect(err.code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
  });

  it("[DIGEST-AUTHINFO] another exchange's Authentication-Info (its cnonce) is refused", async () => {
    let previous: string | null = null;
    const { client } = fixture((res) => {
      const info = res.headers.get("authentication-info");
      if (!info) return res;
      const replayed = previous ?? info;
      previous = info;
      return withHeader(res, "authentication-info", replayed);
    });
    const digestFetch = client({ requireRspauth: true });
    expect((await digestFetch(`${ORIGIN}/api/me`)).status).toBe(200);
    const err = await rejection(digestFetch(`${ORIGIN}/api/me`));
    expect(err.code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
  });
});

describe("[DIGEST-CLIENT][DIGEST-PROXY] what the client does not answer", () => {
  it("[DIGEST-PROXY] a 407 reaching an end-to-end client is handed back after one call, not answered, not an error", async () => {
    let calls = 0;
    const client = createDigestFetch({
      username: "alice",
      password: "pw",
      requireRspauth: true,
      fetch: () => {
        calls++;
        return new Response(null, {
          status: 407,
          headers: { "proxy-authenticate": 'Digest realm="p", nonce="n", qop="auth"' },
        });
      },
    });
    expect((await client(`${ORIGIN}/x`)).status).toBe(407);
    expect(calls).toBe(1);
  });

  it("[DIGEST-PROXY] a 407 on the preemptive path is handed back too, and the space is kept", async () => {
    const { calls, client } = fixture();
    let refuse = false;
    const inner = client();
    const digestFetch = createDigestFetch({
      username: "alice",
      password: "alice-pw",
      fetch: async (request) => (refuse ? new Response(null, { status: 407 }) : inner(request)),
    });
    expect((await digestFetch(`${ORIGIN}/api/me`)).status).toBe(200);
    refuse = true;
    const before = calls.length;
    expect((await digestFetch(`${ORIGIN}/api/me`)).status).toBe(407);
    expect(calls.length).toBe(before);
  });

  it("[DIGEST-CLIENT] after a refused password the next call starts without credentials (the space was forgotten)", async () => {
    const { calls, client } = fixture();
    const digestFetch = client({ password: "wrong" });
    expect((await digestFetch(`${ORIGIN}/api/me`)).status).toBe(401);
    expect((await digestFetch(`${ORIGIN}/api/me`)).status).toBe(401);
    expect(calls.map((request) => request.headers.has("authorization"))).toEqual([
      false,
      true,
      false,
      true,
    ]);
  });
});

describe("[DIGEST-CLIENT] construction", () => {
  it("[DIGEST-CLIENT] primeWith needs a Digest challenge, and an origin outside proxy mode", () => {
    const challenge = 'Digest realm="r", nonce="n", qop="auth", algorithm=SHA-256';
    expect(() =>
      createDigestFetch({ username: "a", password: "b", primeWith: { challenge } }),
    ).toThrow(TypeError);
    expect(() =>
      createDigestFetch({
        username: "a",
        password: "b",
        primeWith: { challenge: 'Basic realm="r"', origin: ORIGIN },
      }),
    ).toThrow(TypeError);
    expect(() =>
      createDigestFetch({ username: "a", password: "b", primeWith: { challenge, origin: ORIGIN } }),
    ).not.toThrow();
    expect(() =>
      createDigestFetch({ username: "a", password: "b", proxy: true, primeWith: { challenge } }),
    ).not.toThrow();
  });

  it("[DIGEST-CLIENT] a primed challenge is answered on the very first request, in one call", async () => {
    const { app, calls, client } = fixture();
    const challenge = (await app.request(`${ORIGIN}/api/me`)).headers.get("www-authenticate");
    const digestFetch = client({ primeWith: { challenge: challenge as string, origin: ORIGIN } });
    expect((await digestFetch(`${ORIGIN}/api/me`)).status).toBe(200);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.headers.has("authorization")).toBe(true);
  });

  it.each([
    ["qop", { qop: "none" }],
    ["minimumQop", { minimumQop: "auth-conf" }],
  ])("[DIGEST-MINIMUM] an unknown %s is a TypeError at construction", (_label, change) => {
    expect(() =>
      createDigestFetch({ username: "a", password: "b", ...(change as object) }),
    ).toThrow(TypeError);
  });

  it("[DIGEST-CLIENT] the cnonce comes from the crypto provider given", async () => {
    let draws = 0;
    const crypto = {
      getRandomValues<T extends ArrayBufferView | null>(array: T): T {
        draws++;
        return globalThis.crypto.getRandomValues(array as never) as T;
      },
    } as unknown as Crypto;
    const { client } = fixture();
    expect((await client({ crypto })(`${ORIGIN}/api/me`)).status).toBe(200);
    expect(draws).toBe(1);
  });
});
