/**
 * Issue #9, checks the suite could not see (Stryker survivors in src/digest/server.ts): the
 * challenge's exact quoting (RFC 7616 §3.3), stale and an empty challenge list when no
 * configured qop is strong enough, the request-target rules of §3.4.6 from the attacker's
 * side (a prefix of the path, a network-path reference, a relative reference, an upper-case
 * scheme in absolute form), the default ledger running on the verifier's clock (else a replay
 * is accepted once real time has passed the fake one), a string secret and its UTF-8 bytes
 * being one key, the caller's crypto provider being used, a lookup answering without a
 * username or with its own canonical one, and nextnonce at its exact edge.
 */
import { describe, expect, it } from "vitest";
import {
  computeHa1,
  createDigestVerifier,
  type DigestServerOptions,
  MemoryReplayLedger,
  staticCredentials,
} from "../../src/digest/index.ts";
import { answerChallenge, challengeParam } from "../vectors/reference-digest.ts";

const SECRET = "mut-server-secret-0123456789abcdef";
const REALM = "mut@example.org";
/** Years before the real clock: a ledger on real time would see every entry as long expired. */
const T0 = Date.UTC(2020, 0, 1);
const USERS = { alice: "alice-pw" };

function verifier(overrides: Partial<DigestServerOptions> = {}, clock = { now: T0 }) {
  return createDigestVerifier({
    realm: REALM,
    secret: SECRET,
    lookup: staticCredentials(USERS),
    algorithms: ["SHA-256"],
    nonceLifetimeSeconds: 60,
    now: () => clock.now,
    ...overrides,
  });
}

function answerFor(
  v: ReturnType<typeof verifier>,
  uri: string,
  extra: Partial<Parameters<typeof answerChallenge>[1]> = {},
) {
  return answerChallenge(v.challenges()[0] as string, {
    username: "alice",
    password: USERS.alice,
    uri,
    ...extra,
  });
}

describe("[DIGEST-PARSE][DIGEST-USERHASH] the challenge, exactly as RFC 7616 §3.3 quotes it", () => {
  it("[DIGEST-PARSE][DIGEST-USERHASH] realm, qop, nonce, opaque quoted; algorithm, charset, userhash bare tokens; in this order", () => {
    const [challenge] = verifier().challenges();
    expect(challenge).toMatch(
      /^Digest realm="mut@example\.org", qop="auth, auth-int", algorithm=SHA-256, nonce="[A-Za-z0-9_-]{43}", opaque="[A-Za-z0-9_-]{16}", charset=UTF-8, userhash=true$/,
    );
  });

  it("[DIGEST-NONCE] stale=true is appended only when asked", () => {
    const v = verifier();
    expect(v.challenges({ stale: true })[0]).toMatch(/, userhash=true, stale=true$/);
    expect(v.challenges()[0]).not.toContain("stale");
  });

  it("[DIGEST-QOP-REQUIRED] no configured qop at least as strong as required: no challenge at all", () => {
    const v = verifier({ qop: ["auth"] });
    expect(v.challenges({ minimumQop: "auth-int" })).toEqual([]);
    expect(v.challenges({ minimumQop: "auth" })).toHaveLength(1);
  });

  it("[DIGEST-QOP-REQUIRED] a minimum qop that is not a qop is a programming error (TypeError), never a pass", async () => {
    await expect(
      verifier().verify({
        method: "GET",
        url: "http://h/x",
        authorization: null,
        minimumQop: "none" as never,
      }),
    ).rejects.toThrow(TypeError);
  });

  it("[DIGEST-PARSE] a 400 carries no challenge; a 401 carries one", async () => {
    const v = verifier();
    const bad = await v.verify({ method: "GET", url: "http://h/x", authorization: "Digest =" });
    expect(bad).toMatchObject({ ok: false, status: 400, challenges: [] });
    const none = await v.verify({ method: "GET", url: "http://h/x", authorization: undefined });
    expect(none).toMatchObject({ ok: false, status: 401 });
    expect((none as { challenges: string[] }).challenges).toHaveLength(1);
  });
});

describe("[DIGEST-HOSTILE] the uri parameter must name this request (RFC 7616 §3.4.6)", () => {
  async function verifyUri(url: string, uri: string) {
    const v = verifier();
    return v.verify({ method: "GET", url, authorization: answerFor(v, uri).header });
  }

  it("[DIGEST-HOSTILE] the exact target, with query, and a request URL with a fragment or no path: accepted", async () => {
    expect((await verifyUri("http://h/a/b?x=1", "/a/b?x=1")).ok).toBe(true);
    expect((await verifyUri("http://h/a#frag", "/a")).ok).toBe(true);
    expect((await verifyUri("http://h", "/")).ok).toBe(true);
  });

  it("[DIGEST-HOSTILE] absolute form with an upper-case scheme names the same target (schemes are case-insensitive)", async () => {
    expect((await verifyUri("http://h/a", "HTTP://h/a")).ok).toBe(true);
    expect(await verifyUri("http://h/a", "http://other/a")).toMatchObject({
      ok: false,
      code: "ERR_DIGEST_URI_MISMATCH",
    });
  });

  it.each([
    ["a prefix of the path", "http://h/ab", "/a"],
    ["the root for a deeper path", "http://h/a", "/"],
    ["a network-path reference to the same host", "http://h/a", "//h/a"],
    ["a relative reference", "http://h/a", "a"],
    ["a relative reference that contains http://", "http://h/p/http://h/x", "p/http://h/x"],
  ])("[DIGEST-HOSTILE] %s is refused (400 ERR_DIGEST_URI_MISMATCH)", async (_label, url, uri) => {
    expect(await verifyUri(url, uri)).toMatchObject({ ok: false, code: "ERR_DIGEST_URI_MISMATCH" });
  });
});

describe("[DIGEST-REPLAY][DIGEST-EPOCH] what the verifier builds for itself", () => {
  it("[DIGEST-REPLAY] the default ledger runs on the verifier's clock: a replay is refused even when that clock is years behind real time", async () => {
    const v = verifier();
    const { header } = answerFor(v, "/x");
    const request = { method: "GET", url: "http://h/x", authorization: header };
    expect((await v.verify(request)).ok).toBe(true);
    expect(await v.verify(request)).toMatchObject({ ok: false, status: 401, stale: false });
  });

  it("[DIGEST-NONCE] a secret given as a string and as its UTF-8 bytes is the same key (instances of one service agree)", async () => {
    const ledger = new MemoryReplayLedger({ now: () => T0 });
    const asString = verifier({ ledger });
    const asBytes = verifier({ ledger, secret: new TextEncoder().encode(SECRET) });
    const { header } = answerFor(asString, "/x");
    expect(
      (await asBytes.verify({ method: "GET", url: "http://h/x", authorization: header })).ok,
    ).toBe(true);
  });

  it("[DIGEST-NONCE] nonces and the unknown-user HA1 come from the crypto provider given", async () => {
    let draws = 0;
    const crypto = {
      getRandomValues<T extends ArrayBufferView | null>(array: T): T {
        draws++;
        return globalThis.crypto.getRandomValues(array as never) as T;
      },
    } as unknown as Crypto;
    const v = verifier({ crypto });
    v.challenges();
    expect(draws).toBe(1);
    const { header } = answerFor(v, "/x", { username: "mallory" });
    expect((await v.verify({ method: "GET", url: "http://h/x", authorization: header })).ok).toBe(
      false,
    );
    expect(draws).toBeGreaterThanOrEqual(2);
  });
});

describe("[DIGEST-VECTORS][DIGEST-NO-ENUMERATION] what the lookup may answer", () => {
  it("[DIGEST-VECTORS] a lookup answering only a password: the principal is the name as sent", async () => {
    const v = verifier({
      lookup: ({ username }) => (username === "alice" ? { password: USERS.alice } : undefined),
    });
    const outcome = await v.verify({
      method: "GET",
      url: "http://h/x",
      authorization: answerFor(v, "/x").header,
    });
    expect(outcome.ok && outcome.principal.username).toBe("alice");
  });

  it("[DIGEST-VECTORS] a lookup answering its canonical name with a precomputed HA1 (any case): the principal is the canonical name", async () => {
    const ha1 = computeHa1(
      { name: "SHA-256", hash: "SHA-256", session: false, hexLength: 64 },
      "alice",
      REALM,
      USERS.alice,
    ).toUpperCase();
    const v = verifier({ lookup: () => ({ username: "user-0001", ha1, data: { id: 1 } }) });
    const outcome = await v.verify({
      method: "GET",
      url: "http://h/x",
      authorization: answerFor(v, "/x").header,
    });
    expect(outcome.ok && outcome.principal).toMatchObject({
      username: "user-0001",
      data: { id: 1 },
    });
  });

  it("[DIGEST-NO-ENUMERATION] a lookup answering neither password nor HA1 never authenticates", async () => {
    const v = verifier({ lookup: () => ({ username: "alice" }) });
    const outcome = await v.verify({
      method: "GET",
      url: "http://h/x",
      authorization: answerFor(v, "/x").header,
    });
    expect(outcome).toMatchObject({ ok: false, status: 401 });
  });
});

describe("[DIGEST-AUTHINFO] nextnonce at its exact edge", () => {
  it("[DIGEST-AUTHINFO] sent once less than nextnonceBeforeSeconds is left, not when exactly that much is left", async () => {
    const clock = { now: T0 };
    // Lifetime 60 s, nextnonce in the last 12 s (the default lifetime/5).
    const v = verifier({}, clock);
    const challenge = v.challenges()[0] as string;
    const info = async (nc: string, at: number) => {
      clock.now = at;
      const { header } = answerChallenge(challenge, {
        username: "alice",
        password: USERS.alice,
        uri: "/x",
        nc,
      });
      const outcome = await v.verify({ method: "GET", url: "http://h/x", authorization: header });
      if (!outcome.ok) throw new Error(`refused: ${outcome.code}`);
      return outcome.authenticationInfo();
    };
    expect(challengeParam(`Digest ${await info("00000001", T0 + 48_000)}`, "nextnonce")).toBe(
      undefined,
    );
    expect(challengeParam(`Digest ${await info("00000002", T0 + 48_001)}`, "nextnonce")).toMatch(
      /^[A-Za-z0-9_-]{43}$/,
    );
  });
});
