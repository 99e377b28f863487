/**
 * Issue #9, mutation testing: the src/digest/client.ts survivors of the 17:17 whole-scope run
 * on main (docs/mutation.md), each answered from the side of a caller or of someone between
 * the client and the server: the platform fetch used when none is given; the qop the caller
 * prefers; a challenge without algorithm meaning MD5 (RFC 2617 §3.2.1) and one with an
 * algorithm the client does not know being a downgrade; 401s whose challenges are missing,
 * unparseable, incomplete or of another scheme handed back as they are; proxy mode's own
 * protection space for a primed challenge; bodiless answers (null body) refused with the
 * client's error, not a TypeError; an Authentication-Info without the optional cnonce/nc
 * echo; a proxy's 407 never taken as the origin's proof or nextnonce; and error messages
 * that say which layer failed.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  createDigestFetch,
  type DigestEnv,
  DigestError,
  type DigestFetchOptions,
  digestAuth,
  digestExchangeOf,
  staticCredentials,
} from "../../src/digest/index.ts";
import { challengeParam } from "../vectors/reference-digest.ts";

const SECRET = "mut-client-edges-secret-0123456789";
const REALM = "edges@example.org";
const ORIGIN = "http://api.example.org";

function app(options: { algorithms?: Parameters<typeof digestAuth>[0]["algorithms"] } = {}) {
  const hono = new Hono<DigestEnv>();
  hono.use(
    "*",
    digestAuth({
      realm: REALM,
      secret: SECRET,
      lookup: staticCredentials({ alice: "alice-pw" }),
      algorithms: options.algorithms ?? ["SHA-256"],
    }),
  );
  hono.all("*", (c) => c.json({ user: c.var.digest.username, qop: c.var.digest.qop }));
  return hono;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (err: unknown) => err,
  );
}

async function digestError(promise: Promise<unknown>): Promise<DigestError> {
  const err = await failure(promise);
  expect(err).toBeInstanceOf(DigestError);
  return err as DigestError;
}

/** A transport that answers every request with `make()` and counts the calls. */
function fixed(make: () => Response) {
  const state = { calls: 0 };
  return {
    state,
    fetch: async () => {
      state.calls++;
      return make();
    },
  };
}

function client(options: Partial<DigestFetchOptions>) {
  return createDigestFetch({ username: "alice", password: "alice-pw", ...options });
}

describe("[DIGEST-CLIENT] the transport", () => {
  const server = createServer(getRequestListener(app().fetch));
  let origin = "";
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 60_000);
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("[DIGEST-CLIENT] without a fetch option the platform's fetch is used: a real server on loopback is reached and answered", async () => {
    const digestFetch = createDigestFetch({ username: "alice", password: "alice-pw" });
    const res = await digestFetch(`${origin}/api/me`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ user: "alice", qop: "auth" });
    expect(digestExchangeOf(res)?.realm).toBe(REALM);
  }, 60_000);
});

describe("[DIGEST-CLIENT][DIGEST-AUTHINT] which challenge and which qop are answered", () => {
  it("[DIGEST-AUTHINT] a caller preferring auth-int (but accepting auth) gets auth-int when the server offers both, auth listed first", async () => {
    const server = app();
    const seen: string[] = [];
    const digestFetch = client({
      qop: "auth-int",
      minimumQop: "auth",
      fetch: async (request) => {
        const authorization = request.headers.get("authorization");
        if (authorization) seen.push(challengeParam(authorization, "qop") ?? "");
        return server.fetch(request);
      },
    });
    const res = await digestFetch(`${ORIGIN}/api/me`, { method: "POST", body: "payload" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ qop: "auth-int" });
    expect(seen).toEqual(["auth-int"]);
  });

  it("[DIGEST-CLIENT] a challenge without algorithm means MD5 (RFC 2617 §3.2.1): answered as MD5 when the caller allows MD5", async () => {
    const server = app({ algorithms: ["MD5"] });
    const sent: string[] = [];
    const digestFetch = client({
      algorithms: ["MD5"],
      fetch: async (request) => {
        const authorization = request.headers.get("authorization");
        if (authorization) sent.push(authorization);
        const res = await server.fetch(request);
        const challenge = res.headers.get("www-authenticate");
        if (!challenge) return res;
        // An RFC 2617 server: no algorithm parameter at all.
        const headers = new Headers(res.headers);
        headers.set("www-authenticate", challenge.replace(/, algorithm=MD5/, ""));
        return new Response(res.body, { status: res.status, headers });
      },
    });
    const res = await digestFetch(`${ORIGIN}/api/me`);
    expect(res.status).toBe(200);
    expect(sent).toHaveLength(1);
    expect(challengeParam(sent[0] as string, "algorithm")).toBe("MD5");
  });

  it("[DIGEST-MINIMUM] a challenge naming an algorithm the client does not know (SHA-1) is a downgrade, not answered", async () => {
    const server = fixed(
      () =>
        new Response("no", {
          status: 401,
          headers: {
            "www-authenticate": 'Digest realm="r", nonce="n", qop="auth", algorithm=SHA-1',
          },
        }),
    );
    const err = await digestError(client({ fetch: server.fetch })(`${ORIGIN}/x`));
    expect(err.code).toBe("ERR_DIGEST_DOWNGRADE");
    expect(server.state.calls).toBe(1);
  });

  it.each([
    ["no WWW-Authenticate at all", null],
    ["an unparseable WWW-Authenticate", 'Digest realm="unterminated'],
    [
      "a challenge of another scheme with Digest's parameters",
      'Newauth realm="r", nonce="n", qop="auth", algorithm=SHA-256',
    ],
    ["a Digest challenge without realm", 'Digest nonce="n", qop="auth", algorithm=SHA-256'],
    ["a Digest challenge without nonce", 'Digest realm="r", qop="auth", algorithm=SHA-256'],
    ["a weak Digest challenge without realm", 'Digest nonce="n", qop="auth", algorithm=SHA-1'],
    ["a weak Digest challenge without nonce", 'Digest realm="r", algorithm=SHA-256'],
  ])(
    "[DIGEST-CLIENT] a 401 with %s is handed back as it is: nothing answered, no downgrade alarm",
    async (_label, challenge) => {
      const sent: Array<string | null> = [];
      const digestFetch = client({
        requireRspauth: true,
        fetch: async (request) => {
          sent.push(request.headers.get("authorization"));
          return new Response("login first", {
            status: 401,
            headers: challenge === null ? {} : { "www-authenticate": challenge },
          });
        },
      });
      const res = await digestFetch(`${ORIGIN}/x`);
      expect(res.status).toBe(401);
      expect(await res.text()).toBe("login first");
      expect(sent).toEqual([null]);
    },
  );
});

describe("[DIGEST-PROXY] proxy mode keeps its own protection space", () => {
  it("[DIGEST-PROXY] a primed proxy challenge is answered on the very first request, in one call, on Proxy-Authorization", async () => {
    const gateway = new Hono<DigestEnv>();
    gateway.use(
      "*",
      digestAuth({
        realm: REALM,
        secret: SECRET,
        lookup: staticCredentials({ alice: "alice-pw" }),
        algorithms: ["SHA-256"],
        proxy: true,
      }),
    );
    gateway.all("*", (c) => c.text(`relayed for ${c.var.digest.username}`));
    const challenge = (await gateway.request(`${ORIGIN}/x`)).headers.get("proxy-authenticate");
    expect(challenge).toBeTruthy();
    const calls: Request[] = [];
    const digestFetch = client({
      proxy: true,
      primeWith: { challenge: challenge as string },
      fetch: async (request) => {
        calls.push(request);
        return gateway.fetch(request);
      },
    });
    const res = await digestFetch(`${ORIGIN}/x`);
    expect(await res.text()).toBe("relayed for alice");
    expect(calls).toHaveLength(1);
    expect(calls[0]?.headers.has("proxy-authorization")).toBe(true);
  });
});

describe("[DIGEST-AUTHINFO] bodiless answers and what Authentication-Info must echo", () => {
  /** Lets the real server authenticate, then replaces its answer (status, Authentication-Info) with a bodiless one. */
  function bodiless(status: number, info: (real: string | null) => string | null) {
    const server = app();
    return async (request: Request) => {
      const res = await server.fetch(request);
      if (res.status === 401) return res;
      const headers = new Headers();
      const value = info(res.headers.get("authentication-info"));
      if (value !== null) headers.set("authentication-info", value);
      return new Response(null, { status, headers });
    };
  }

  it("[DIGEST-AUTHINFO] a bodiless 200 with a forged rspauth: the impostor error, not a TypeError", async () => {
    const forged = (real: string | null) =>
      (real as string).replace(/rspauth="[0-9a-f]+"/, `rspauth="${"0".repeat(64)}"`);
    const err = await digestError(client({ fetch: bodiless(200, forged) })(`${ORIGIN}/api/me`));
    expect(err.code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
    expect(err.detail).toBe("rspauth does not match");
  });

  it("[DIGEST-AUTHINFO] a bodiless 200 without Authentication-Info under requireRspauth: the impostor error, not a TypeError", async () => {
    const err = await digestError(
      client({ requireRspauth: true, fetch: bodiless(200, () => null) })(`${ORIGIN}/api/me`),
    );
    expect(err.code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
    expect(err.detail).toBe("no rspauth in the response");
  });

  it("[DIGEST-AUTHINFO] a bodiless 204 answering the first request without any challenge under requireRspauth: the impostor error", async () => {
    const err = await digestError(
      client({
        requireRspauth: true,
        fetch: fixed(() => new Response(null, { status: 204 })).fetch,
      })(`${ORIGIN}/x`),
    );
    expect(err.code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
    expect(err.detail).toBe("the server did not authenticate");
  });

  it("[DIGEST-MINIMUM] a bodiless 401 offering only MD5 to a SHA-2-only client: the downgrade error, naming what was required", async () => {
    const server = fixed(
      () =>
        new Response(null, {
          status: 401,
          headers: { "www-authenticate": 'Digest realm="r", nonce="n", qop="auth", algorithm=MD5' },
        }),
    );
    const err = await digestError(
      client({ algorithms: ["SHA-256", "SHA-512-256"], fetch: server.fetch })(`${ORIGIN}/x`),
    );
    expect(err.code).toBe("ERR_DIGEST_DOWNGRADE");
    expect(err.detail).toMatch(
      /^the server's challenge offers only weaker protection than required/,
    );
    expect(err.detail).toContain("algorithms SHA-256, SHA-512-256");
  });

  it("[DIGEST-AUTHINFO] rspauth without the optional cnonce and nc echo is still proof (RFC 7616 §3.5 servers that omit them)", async () => {
    const stripped = (real: string | null) =>
      (real as string)
        .split(/,\s*/)
        .filter((part) => !/^(cnonce|nc)=/.test(part))
        .join(", ");
    const res = await client({ requireRspauth: true, fetch: bodiless(200, stripped) })(
      `${ORIGIN}/api/me`,
    );
    expect(res.status).toBe(200);
    expect(digestExchangeOf(res)?.realm).toBe(REALM);
  });
});

describe("[DIGEST-PROXY] messages say which layer failed", () => {
  function proxyChallenge(status: number, headers: Record<string, string>) {
    return fixed(() => new Response(null, { status, headers }));
  }

  it("[DIGEST-PROXY] a proxy answering without asking for credentials under requireRspauth", async () => {
    const err = await digestError(
      client({ proxy: true, requireRspauth: true, fetch: proxyChallenge(200, {}).fetch })(
        `${ORIGIN}/x`,
      ),
    );
    expect(err.code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
    expect(err.detail).toBe("the proxy did not authenticate");
  });

  it("[DIGEST-PROXY] a proxy offering only weaker protection", async () => {
    const err = await digestError(
      client({
        proxy: true,
        algorithms: ["SHA-256"],
        fetch: proxyChallenge(407, {
          "proxy-authenticate": 'Digest realm="p", nonce="n", qop="auth", algorithm=MD5',
        }).fetch,
      })(`${ORIGIN}/x`),
    );
    expect(err.code).toBe("ERR_DIGEST_DOWNGRADE");
    expect(err.detail).toMatch(/^the proxy's challenge offers only weaker protection/);
  });

  it("[DIGEST-PROXY] a proxy proving nothing, or proving it wrong, after the answer", async () => {
    const gateway = new Hono<DigestEnv>();
    gateway.use(
      "*",
      digestAuth({
        realm: REALM,
        secret: SECRET,
        lookup: staticCredentials({ alice: "alice-pw" }),
        algorithms: ["SHA-256"],
        proxy: true,
      }),
    );
    gateway.all("*", (c) => c.text("relayed"));
    const tamper = (mode: "drop" | "forge") => async (request: Request) => {
      const res = await gateway.fetch(request);
      const info = res.headers.get("proxy-authentication-info");
      if (!info) return res;
      const headers = new Headers(res.headers);
      if (mode === "drop") headers.delete("proxy-authentication-info");
      else
        headers.set(
          "proxy-authentication-info",
          info.replace(/rspauth="[0-9a-f]+"/, `rspauth="${"1".repeat(64)}"`),
        );
      return new Response(res.body, { status: res.status, headers });
    };
    const dropped = await digestError(
      client({ proxy: true, requireRspauth: true, fetch: tamper("drop") })(`${ORIGIN}/x`),
    );
    expect(dropped.detail).toBe("no rspauth from the proxy");
    const forged = await digestError(
      client({ proxy: true, fetch: tamper("forge") })(`${ORIGIN}/x`),
    );
    expect(forged.detail).toBe("the proxy's rspauth does not match");
  });
});

describe("[DIGEST-PROXY] a proxy's 407 is not the origin's answer", () => {
  it("[DIGEST-PROXY] a 407 on the preemptive path carrying Authentication-Info: not recorded as proven, its nextnonce not taken", async () => {
    const server = app();
    const origin: Request[] = [];
    let proxyRefuses = false;
    const digestFetch = client({
      fetch: async (request) => {
        if (proxyRefuses) {
          // A proxy on the way refuses, and (maliciously or by mistake) adds an Authentication-Info.
          return new Response(null, {
            status: 407,
            headers: { "authentication-info": 'nextnonce="planted-by-proxy"' },
          });
        }
        origin.push(request);
        return server.fetch(request);
      },
    });
    expect((await digestFetch(`${ORIGIN}/api/me`)).status).toBe(200);
    proxyRefuses = true;
    const refused = await digestFetch(`${ORIGIN}/api/me`);
    expect(refused.status).toBe(407);
    expect(digestExchangeOf(refused)).toBeUndefined();
    proxyRefuses = false;
    expect((await digestFetch(`${ORIGIN}/api/me`)).status).toBe(200);
    const last = origin.at(-1)?.headers.get("authorization") as string;
    expect(challengeParam(last, "nonce")).not.toBe("planted-by-proxy");
  });

  it("[DIGEST-PROXY] a 407 to the answer of a fresh challenge: handed back, not recorded as proven", async () => {
    const server = app();
    const digestFetch = client({
      fetch: async (request) => {
        if (request.headers.has("authorization")) {
          return new Response(null, {
            status: 407,
            headers: { "authentication-info": 'nextnonce="planted-by-proxy"' },
          });
        }
        return server.fetch(request);
      },
    });
    const refused = await digestFetch(`${ORIGIN}/api/me`);
    expect(refused.status).toBe(407);
    expect(digestExchangeOf(refused)).toBeUndefined();
  });

  it("[DIGEST-PROXY] a 407 to the first request under requireRspauth: handed back after one call", async () => {
    const proxyRefusal = fixed(() => new Response(null, { status: 407 }));
    const refused = await client({ requireRspauth: true, fetch: proxyRefusal.fetch })(
      `${ORIGIN}/x`,
    );
    expect(refused.status).toBe(407);
    expect(digestExchangeOf(refused)).toBeUndefined();
    expect(proxyRefusal.state.calls).toBe(1);
  });
});

describe("[DIGEST-CLIENT] construction errors say what is wrong", () => {
  it("[DIGEST-CLIENT] a password that is not a string", () => {
    expect(() =>
      createDigestFetch({ username: "alice", password: undefined as unknown as string }),
    ).toThrow(/username and password are required strings/);
  });

  it("[DIGEST-MINIMUM] an unknown qop", () => {
    expect(() => createDigestFetch({ username: "a", password: "b", qop: "none" as never })).toThrow(
      /qop and minimumQop must be 'auth' or 'auth-int'/,
    );
  });

  it("[DIGEST-MINIMUM] a primed challenge weaker than required, and a primed challenge that is not Digest", () => {
    const primed = (challenge: string) => () =>
      createDigestFetch({
        username: "a",
        password: "b",
        algorithms: ["SHA-256"],
        primeWith: { challenge, origin: ORIGIN },
      });
    expect(primed('Digest realm="r", nonce="n", qop="auth", algorithm=MD5')).toThrow(
      /primed challenge offers only weaker protection/,
    );
    expect(primed('Basic realm="r"')).toThrow(/primeWith needs a Digest challenge/);
  });
});

describe("[DIGEST-CLIENT] what goes on the wire", () => {
  it("[DIGEST-USERHASH] username* (RFC 8187) percent-encodes in upper-case hex, '*' included (RFC 3986 §2.1)", async () => {
    const sent: string[] = [];
    const digestFetch = createDigestFetch({
      username: "jö*",
      password: "pw",
      userhash: false,
      fetch: async (request) => {
        const authorization = request.headers.get("authorization");
        if (authorization) {
          sent.push(authorization);
          return new Response("ok");
        }
        return new Response(null, {
          status: 401,
          headers: {
            "www-authenticate": 'Digest realm="r", nonce="n", qop="auth", algorithm=SHA-256',
          },
        });
      },
    });
    expect((await digestFetch(`${ORIGIN}/x`)).status).toBe(200);
    expect(sent[0]).toContain("username*=UTF-8''j%C3%B6%2A,");
  });

  it("[DIGEST-REPLAY] a late answer carrying the nextnonce already in use does not reset the count: no (nonce, nc) is sent twice", async () => {
    const sent: string[] = [];
    const pending: Array<(res: Response) => void> = [];
    const digestFetch = client({
      fetch: (request) => {
        const authorization = request.headers.get("authorization");
        if (!authorization) {
          return Promise.resolve(
            new Response(null, {
              status: 401,
              headers: {
                "www-authenticate": 'Digest realm="r", nonce="N1", qop="auth", algorithm=SHA-256',
              },
            }),
          );
        }
        sent.push(
          `${challengeParam(authorization, "nonce")}/${challengeParam(authorization, "nc")}`,
        );
        return new Promise<Response>((resolve) => pending.push(resolve));
      },
    });
    // A server that hands the same nextnonce to every answer of a time window.
    const answer = (nextnonce?: string) =>
      new Response("ok", {
        headers: nextnonce ? { "authentication-info": `nextnonce="${nextnonce}"` } : {},
      });
    const settle = async (index: number, res: Response, call: Promise<Response>) => {
      await vi.waitFor(() => expect(pending.length).toBeGreaterThan(index));
      (pending[index] as (res: Response) => void)(res);
      expect((await call).status).toBe(200);
    };
    await settle(0, answer(), digestFetch(`${ORIGIN}/a`));
    const b = digestFetch(`${ORIGIN}/b`);
    const c = digestFetch(`${ORIGIN}/c`);
    await vi.waitFor(() => expect(pending.length).toBe(3));
    await settle(1, answer("N2"), b);
    await settle(3, answer(), digestFetch(`${ORIGIN}/d`));
    // The answer to c (sent with N1) arrives last, with the nextnonce the client already uses.
    await settle(2, answer("N2"), c);
    await settle(4, answer(), digestFetch(`${ORIGIN}/e`));
    expect(sent).toEqual([
      "N1/00000001",
      "N1/00000002",
      "N1/00000003",
      "N2/00000001",
      "N2/00000002",
    ]);
  });
});
