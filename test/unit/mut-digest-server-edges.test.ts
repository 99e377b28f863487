/**
 * Issue #9, mutation testing: the src/digest/server.ts (and credentials.ts) survivors of the
 * 17:17 whole-scope run on main (docs/mutation.md), each from the side of a client or an
 * attacker: a request target whose path starts with an empty segment ("//a") is named by
 * exactly that target (with or without a fragment on the request URL); a uri the runtime
 * re-encoded (a raw `'` in the query) still names the request, while a relative reference
 * does not, even when its query holds an absolute URL, and neither do "" or a bare name for
 * a URL without a path; an answer with an algorithm that was not offered (MD5 to a SHA-256
 * verifier) or that does not exist is refused, never a crash; a lookup's record that the
 * sent userhash does not name, or that holds no secret at all, never authenticates (not even
 * with the password "undefined"); and a misused minimumQop says what is wrong.
 */
import { describe, expect, it } from "vitest";
import {
  createDigestVerifier,
  type DigestServerOptions,
  staticCredentials,
} from "../../src/digest/index.ts";
import { answerChallenge, refH } from "../vectors/reference-digest.ts";

const SECRET = "mut-server-edges-secret-0123456789";
const REALM = "edges@example.org";
/** A fixed clock: the default ledger runs on it (see mut-digest-server). */
const T0 = Date.UTC(2020, 0, 1);
const USERS = { alice: "alice-pw" };

function verifier(overrides: Partial<DigestServerOptions> = {}) {
  return createDigestVerifier({
    realm: REALM,
    secret: SECRET,
    lookup: staticCredentials(USERS),
    algorithms: ["SHA-256"],
    nonceLifetimeSeconds: 60,
    now: () => T0,
    ...overrides,
  });
}

type AnswerExtra = Partial<Parameters<typeof answerChallenge>[1]>;

async function verifyAnswer(
  url: string,
  uri: string,
  extra: AnswerExtra = {},
  overrides: Partial<DigestServerOptions> = {},
) {
  const v = verifier(overrides);
  const { header } = answerChallenge(v.challenges()[0] as string, {
    username: "alice",
    password: USERS.alice,
    uri,
    ...extra,
  });
  return v.verify({ method: "GET", url, authorization: header });
}

describe("[DIGEST-HOSTILE] the uri names the request target (RFC 7616 §3.4.6), edge forms", () => {
  it.each([
    ["a path that starts with an empty segment", "http://h//a/b", "//a/b"],
    ["the same with a query", "http://h//a/b?x=1", "//a/b?x=1"],
    ["the same with a fragment on the request URL", "http://h//a/b#frag", "//a/b"],
  ])("[DIGEST-HOSTILE] %s: the exact target is accepted", async (_label, url, uri) => {
    const outcome = await verifyAnswer(url, uri);
    expect(outcome.ok && outcome.principal.username).toBe("alice");
  });

  it("[DIGEST-HOSTILE] an exact //-target is not a network-path reference to another request: //a/b does not name http://h/a/b", async () => {
    expect(await verifyAnswer("http://h/a/b", "//a/b")).toMatchObject({
      ok: false,
      status: 400,
      code: "ERR_DIGEST_URI_MISMATCH",
    });
  });

  it("[DIGEST-HOSTILE] a query character the runtime re-encoded (' as %27) still names the request the client signed", async () => {
    const url = new Request("http://h/a/b?q=it's").url;
    expect(url).toBe("http://h/a/b?q=it%27s");
    const outcome = await verifyAnswer(url, "/a/b?q=it's");
    expect(outcome.ok && outcome.principal.username).toBe("alice");
  });

  it.each([
    [
      "a relative reference whose query holds an absolute URL",
      "http://h/a/me?next=http://x",
      "me?next=http://x",
    ],
    ["an empty uri for a URL without a path", "http://h", ""],
    ["a bare name for a URL without a path", "http://h", "h"],
  ])("[DIGEST-HOSTILE] %s is refused (400 ERR_DIGEST_URI_MISMATCH)", async (_label, url, uri) => {
    expect(await verifyAnswer(url, uri)).toMatchObject({
      ok: false,
      status: 400,
      code: "ERR_DIGEST_URI_MISMATCH",
    });
  });
});

describe("[DIGEST-ALGORITHMS] the algorithm of the answer must be one offered", () => {
  it("[DIGEST-ALGORITHMS] an answer computed with MD5 to a verifier offering only SHA-256 is refused (401), though the password is right", async () => {
    expect(await verifyAnswer("http://h/x", "/x", { algorithm: "MD5" })).toMatchObject({
      ok: false,
      status: 401,
      code: "ERR_DIGEST_UNAUTHORIZED",
    });
    // The same answer is accepted where MD5 is offered: the refusal above is the allow-list's.
    const v = verifier({ algorithms: ["SHA-256", "MD5"] });
    const { header } = answerChallenge(v.challenges()[0] as string, {
      username: "alice",
      password: USERS.alice,
      uri: "/x",
      algorithm: "MD5",
    });
    expect((await v.verify({ method: "GET", url: "http://h/x", authorization: header })).ok).toBe(
      true,
    );
  });

  it("[DIGEST-ALGORITHMS] an answer naming an algorithm that does not exist is refused (401), not a crash", async () => {
    const outcome = await verifyAnswer("http://h/x", "/x", {
      override: { algorithm: ["SHA-1", false] },
    });
    expect(outcome).toMatchObject({ ok: false, status: 401, code: "ERR_DIGEST_UNAUTHORIZED" });
  });
});

describe("[DIGEST-USERHASH][DIGEST-NO-ENUMERATION] the lookup's record must be the one named", () => {
  it("[DIGEST-USERHASH] a record the sent userhash does not name is refused, even when the answer fits that record's password", async () => {
    // A lookup that answers bob's record whatever userhash it is asked for (a stale or
    // colliding index); the attacker knows bob's password and sends alice's userhash.
    const lookup = () => ({ username: "bob", password: "bob-pw" });
    const aliceHash = refH("SHA-256", `alice:${REALM}`);
    const outcome = await verifyAnswer(
      "http://h/x",
      "/x",
      { username: "bob", password: "bob-pw", userhash: true, override: { username: aliceHash } },
      { lookup },
    );
    expect(outcome).toMatchObject({ ok: false, status: 401, code: "ERR_DIGEST_UNAUTHORIZED" });
    // The same lookup, asked with bob's own userhash, authenticates bob: only the mismatch is refused.
    const own = await verifyAnswer(
      "http://h/x",
      "/x",
      { username: "bob", password: "bob-pw", userhash: true },
      { lookup },
    );
    expect(own.ok && own.principal).toMatchObject({ username: "bob", userhash: true });
  });

  it('[DIGEST-NO-ENUMERATION] a record holding neither password nor HA1 is not a record with the password "undefined"', async () => {
    const outcome = await verifyAnswer(
      "http://h/x",
      "/x",
      { password: "undefined" },
      { lookup: () => ({ username: "alice" }) },
    );
    expect(outcome).toMatchObject({ ok: false, status: 401, code: "ERR_DIGEST_UNAUTHORIZED" });
  });

  it("[DIGEST-USERHASH] staticCredentials answers nothing for a name it does not hold (not a record without a password)", async () => {
    const lookup = staticCredentials(USERS);
    const ask = { userhash: false, realm: REALM, algorithm: "SHA-256", hash: "SHA-256" } as const;
    expect(await lookup({ ...ask, username: "mallory" })).toBeUndefined();
    expect(await lookup({ ...ask, username: "alice" })).toEqual({
      username: "alice",
      password: "alice-pw",
    });
  });
});

describe("[DIGEST-QOP-REQUIRED] a misused minimumQop says what is wrong", () => {
  it("[DIGEST-QOP-REQUIRED] a minimumQop that is not a qop: TypeError naming minimumQop", async () => {
    await expect(
      verifier().verify({
        method: "GET",
        url: "http://h/x",
        authorization: null,
        minimumQop: "none" as never,
      }),
    ).rejects.toThrow("digest: minimumQop must be a qop");
  });
});

describe("[DIGEST-PARSE] a caller's mistake is not a client's malformed header", () => {
  it("[DIGEST-PARSE] an authorization that is not a string throws (a TypeError), where a malformed header string is a 400", async () => {
    const v = verifier();
    await expect(
      v.verify({ method: "GET", url: "http://h/x", authorization: ["Digest a=1"] as never }),
    ).rejects.toThrow(TypeError);
    expect(
      await v.verify({ method: "GET", url: "http://h/x", authorization: "Digest a=" }),
    ).toMatchObject({ ok: false, status: 400, code: "ERR_DIGEST_MALFORMED" });
  });
});

// The 2026-12-05 re-run of src/digest/server.ts (after the issue #12 speed work and
// LIMIT-PROVEN) left three detectable survivors; each test below fails with its mutant.
describe("[DIGEST-PARSE] answers the fast paths must still take (2026-12-05 re-run)", () => {
  // Report: server.ts:508 ConditionalExpression (`userhashToken.toLowerCase() === "true"` -> `true`).
  it("[DIGEST-USERHASH] userhash=false (sent explicitly, any case) means the username is the plain name", async () => {
    for (const value of ["false", "FALSE"]) {
      const outcome = await verifyAnswer("http://h/p", "/p", {
        qop: "auth",
        algorithm: "SHA-256",
        extra: [["userhash", value, false]],
      });
      expect(outcome.ok, value).toBe(true);
    }
  });

  // Report: server.ts:596 ConditionalExpression (`sentOpaque !== undefined` -> `true`).
  it("[DIGEST-PARSE] an answer that leaves out opaque is judged on the rest (the nonce's MAC binds it to this verifier); a wrong opaque is refused", async () => {
    const withoutOpaque = await verifyAnswer("http://h/p", "/p", {
      qop: "auth",
      algorithm: "SHA-256",
      override: { opaque: null },
    });
    expect(withoutOpaque.ok).toBe(true);
    const wrongOpaque = await verifyAnswer("http://h/p", "/p", {
      qop: "auth",
      algorithm: "SHA-256",
      override: { opaque: "not-the-opaque" },
    });
    expect(wrongOpaque).toMatchObject({ ok: false, status: 401 });
  });

  // Report: server.ts:672 ConditionalExpression (`!request.body` -> `false`).
  it("[DIGEST-AUTHINT] a request given without a body reader is judged over the empty body under auth-int, not a crash", async () => {
    const v = verifier();
    const { header } = answerChallenge(v.challenges()[0] as string, {
      username: "alice",
      password: USERS.alice,
      uri: "/p",
      qop: "auth-int",
      algorithm: "SHA-256",
      body: "",
    });
    const outcome = await v.verify({ method: "GET", url: "http://h/p", authorization: header });
    expect(outcome.ok).toBe(true);
  });
});
