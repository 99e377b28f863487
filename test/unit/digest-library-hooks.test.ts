/**
 * The Digest engine's library surface (issue #12 "Walls"): its own error type
 * and problem namespace, an application's own rendering of them, the
 * `onAttempt` hook (the claimed identity, before any lookup), and a failure
 * that says what was claimed (and, for a stale but right answer, whose secret
 * it proved), so an application never parses the header a second time. Then
 * the CPNS Server's side: it renders the engine's failures under its own
 * problem type with the same code.
 */
import { Hono } from "hono";
import { createStorage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { describe, expect, it } from "vitest";
import {
  ALGORITHMS,
  type ClaimedIdentity,
  computeUserhash,
  createDigestFetch,
  createDigestVerifier,
  DigestError,
  type DigestFailure,
  digestAuth,
  staticCredentials,
} from "../../src/digest/index.ts";
import { errorToResponse } from "../../src/errors.ts";
import { createServerApp } from "../../src/server/app.ts";

const SECRET = "library-hooks-secret-0123456789";

function appWith(options: Partial<Parameters<typeof digestAuth>[0]> = {}) {
  const hono = new Hono();
  hono.use(
    "/p/*",
    digestAuth({
      realm: "lib",
      secret: SECRET,
      lookup: staticCredentials({ alice: "right-password" }),
      ...options,
    }),
  );
  hono.get("/p/hello", (c) => c.text("hello"));
  return hono;
}

/** A verifier of realm "lib" that knows alice (password "right-password") as a user. */
function aliceVerifier(now?: () => number) {
  return createDigestVerifier({
    realm: "lib",
    secret: SECRET,
    lookup: async (request) => ({
      ...(await staticCredentials({ alice: "right-password" })(request)),
      data: { kind: "user" },
    }),
    ...(now ? { now } : {}),
  });
}

describe("[DIGEST-WALLS] the engine's own failures and hooks", () => {
  it("[DIGEST-WALLS] failures are problem+json under the engine's own type; an app may render them its own way", async () => {
    const plain = await appWith().request("/p/hello");
    expect(plain.status).toBe(401);
    expect(plain.headers.get("www-authenticate")).toMatch(/^Digest /);
    expect(await plain.json()).toMatchObject({
      type: "urn:http-digest:problem:ERR_DIGEST_UNAUTHORIZED",
      code: "ERR_DIGEST_UNAUTHORIZED",
      status: 401,
    });
    const rendered: string[] = [];
    const own = await appWith({
      problem: (code, headers) => {
        rendered.push(code);
        return new Response(`mine:${code}`, { status: 499, headers });
      },
    }).request("/p/hello", { headers: { authorization: "Digest username=" } });
    expect(rendered).toEqual(["ERR_DIGEST_MALFORMED"]);
    expect(own.status).toBe(499);
    expect(await own.text()).toBe("mine:ERR_DIGEST_MALFORMED");
  });

  it("[DIGEST-WALLS] onAttempt sees the claimed identity once, before the lookup, and is awaited", async () => {
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const app = appWith({
      lookup: (request) => {
        events.push(`lookup:${request.username}`);
        return staticCredentials({ alice: "right-password" })(request);
      },
      onAttempt: async (_c, claimed: ClaimedIdentity) => {
        events.push(`attempt:${claimed.username}:${claimed.userhash}:${claimed.algorithm}`);
        await gate;
      },
    });
    const client = createDigestFetch({
      username: "alice",
      password: "right-password",
      userhash: false,
      fetch: (request) => app.fetch(request),
    });
    const answer = client("http://lib.test/p/hello");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events).toEqual(["attempt:alice:false:SHA-512-256"]); // held: no lookup yet
    release();
    expect((await answer).status).toBe(200);
    expect(events).toEqual(["attempt:alice:false:SHA-512-256", "lookup:alice"]);
    // No credentials, another scheme, or no username: nothing is claimed, no hook.
    events.length = 0;
    await app.request("/p/hello");
    await app.request("/p/hello", { headers: { authorization: "Basic YWxpY2U6eA==" } });
    await app.request("/p/hello", { headers: { authorization: 'Digest realm="lib"' } });
    expect(events).toEqual([]);
  });

  it("[DIGEST-WALLS][DIGEST-USERHASH] a failure names the claim (a userhash as sent, lower case); only a right answer refused for its nonce (here: stale) says whose secret it proved", async () => {
    const clock = { now: 1_000_000 };
    const verifier = aliceVerifier(() => clock.now);
    const failures: DigestFailure[] = [];
    const attempt = async (password: string, userhash: boolean) => {
      const client = createDigestFetch({
        username: "alice",
        password,
        userhash,
        fetch: async (request) => {
          const outcome = await verifier.verify({
            method: request.method,
            url: request.url,
            authorization: request.headers.get("authorization"),
          });
          if (outcome.ok) return new Response("ok");
          failures.push(outcome);
          // The challenge is issued now; the answer below comes after the nonce's lifetime.
          const res = new Response(null, { status: 401 });
          for (const challenge of outcome.challenges)
            res.headers.append("www-authenticate", challenge);
          clock.now += 301_000;
          return res;
        },
      });
      return client("http://lib.test/p/hello");
    };
    await attempt("wrong-password", false);
    const wrong = failures.at(-1) as DigestFailure;
    expect(wrong.claimed).toEqual({ username: "alice", userhash: false, algorithm: "SHA-512-256" });
    expect(wrong.stale).toBe(false);
    expect(wrong.proven).toBeUndefined();
    failures.length = 0;
    await attempt("right-password", true);
    const stale = failures.at(-1) as DigestFailure;
    expect(stale.stale).toBe(true);
    expect(stale.claimed?.userhash).toBe(true);
    expect(stale.claimed?.username).toBe(
      computeUserhash(ALGORITHMS["SHA-512-256"], "alice", "lib"),
    );
    expect(stale.proven).toEqual({ username: "alice", data: { kind: "user" } });
  });

  it("[LIMIT-PROVEN][DIGEST-REPLAY] a right answer sent again (its nonce-count seen) is refused, not stale, and says whose secret it proved; a wrong answer on that nonce-count proves nothing", async () => {
    const verifier = aliceVerifier();
    const sent: string[] = [];
    const client = createDigestFetch({
      username: "alice",
      password: "right-password",
      fetch: async (request) => {
        const authorization = request.headers.get("authorization");
        const outcome = await verifier.verify({
          method: request.method,
          url: request.url,
          authorization,
        });
        if (outcome.ok) {
          sent.push(authorization as string);
          return new Response("ok");
        }
        const res = new Response(null, { status: 401 });
        for (const challenge of outcome.challenges)
          res.headers.append("www-authenticate", challenge);
        return res;
      },
    });
    expect((await client("http://lib.test/p/hello")).status).toBe(200);
    const again = await verifier.verify({
      method: "GET",
      url: "http://lib.test/p/hello",
      authorization: sent[0] as string,
    });
    expect(again.ok).toBe(false);
    const replay = again as DigestFailure;
    expect(replay.status).toBe(401);
    expect(replay.stale).toBe(false);
    expect(replay.proven).toEqual({ username: "alice", data: { kind: "user" } });
    const forged = (sent[0] as string).replace(
      /response="([0-9a-f])/,
      (_, c: string) => `response="${c === "0" ? "1" : "0"}`,
    );
    const wrong = (await verifier.verify({
      method: "GET",
      url: "http://lib.test/p/hello",
      authorization: forged,
    })) as DigestFailure;
    expect(wrong.status).toBe(401);
    expect(wrong.proven).toBeUndefined();
  });

  it("[DIGEST-WALLS] the CPNS Server answers the engine's failures under its own problem type, same code; a thrown DigestError too", async () => {
    const app = createServerApp({
      realm: "cpns-walls",
      storage: createStorage({ driver: memoryDriver() }),
      masterKey: new Uint8Array(32).fill(1),
      adminToken: "walls-admin-token-0123456789",
      digestSecret: SECRET,
    });
    const res = await app.request("/cpns/v1/entities");
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({
      type: "urn:cpns:problem:ERR_DIGEST_UNAUTHORIZED",
      code: "ERR_DIGEST_UNAUTHORIZED",
    });
    const thrown = errorToResponse(new DigestError("ERR_DIGEST_DOWNGRADE", "a fixed detail"));
    expect(thrown.status).toBe(502);
    expect(await thrown.json()).toMatchObject({
      type: "urn:cpns:problem:ERR_DIGEST_DOWNGRADE",
      code: "ERR_DIGEST_DOWNGRADE",
    });
  });
});
