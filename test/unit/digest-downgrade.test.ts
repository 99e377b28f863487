/**
 * Issue #9 items 1 and 2 at the Digest engine, and three checks mutation
 * testing showed no test could see:
 * - item 1: a client asked for a qop (and given an algorithm allow-list) never
 *   answers a weaker challenge (ERR_DIGEST_DOWNGRADE); a verifier asked for a
 *   minimum qop per request refuses weaker answers and offers only that qop;
 * - item 2: nonces carry the replay ledger's epoch, so another ledger (a
 *   restart, a second process) never accepts them; our client recovers alone;
 * - an unchallenged 2xx under requireRspauth, answers computed for another
 *   realm, and non-canonical aliases of a genuine nonce are refused.
 * Each test is written from the attacker's side and fails without its check.
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import {
  createDigestFetch,
  createDigestVerifier,
  type DigestEnv,
  DigestError,
  type DigestServerOptions,
  digestAuth,
  MemoryReplayLedger,
  STRONG_ALGORITHMS,
  staticCredentials,
} from "../../src/digest/index.ts";
import { answerChallenge, challengeParam } from "../vectors/reference-digest.ts";

const SECRET = "downgrade-test-secret-0123456789abcdef";
const REALM = "downgrade@example.org";
const T0 = Date.UTC(2025, 6, 7);
const ORIGIN = "http://api.example.org";
const USERS = { alice: "alice-pw" };
const URI = "/api/echo";

function options(overrides: Partial<DigestServerOptions> = {}): DigestServerOptions {
  return {
    realm: REALM,
    secret: SECRET,
    lookup: staticCredentials(USERS),
    now: () => T0,
    ...overrides,
  };
}

/** A Hono app behind digestAuth; counts what reached the handler. */
function serverApp(overrides: Partial<DigestServerOptions> = {}, requireAuthInt = false) {
  const reached: string[] = [];
  const app = new Hono<DigestEnv>();
  app.use(
    "/api/*",
    digestAuth({
      ...options(overrides),
      requiredQop: requireAuthInt ? () => "auth-int" : undefined,
    }),
  );
  app.post("/api/echo", async (c) => {
    const body = await c.req.text();
    reached.push(body);
    return c.json({ body, qop: c.var.digest.qop, algorithm: c.var.digest.algorithm });
  });
  return { app, reached };
}

/** A path attacker between client and server, rewriting every challenge it relays. */
function rewritingChallenges(app: Hono<DigestEnv>, rewrite: (challenges: string[]) => string[]) {
  const sent: Request[] = [];
  const transport = async (request: Request) => {
    sent.push(request.clone());
    const res = await app.fetch(request);
    const challenges: string[] = [];
    res.headers.forEach((value, name) => {
      if (name === "www-authenticate") challenges.push(value);
    });
    if (challenges.length === 0) return res;
    const headers = new Headers(res.headers);
    headers.delete("www-authenticate");
    for (const value of rewrite(challenges.flatMap(splitChallenges))) {
      headers.append("www-authenticate", value);
    }
    return new Response(res.body, { status: res.status, headers });
  };
  return { transport, sent };
}

/** Headers.forEach joins repeated values with ", ": split back at each "Digest ". */
function splitChallenges(joined: string): string[] {
  return joined.split(/,\s*(?=Digest\s)/i);
}

const post = (body = '{"entityId":"watch"}') => ({ method: "POST", body });

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return err instanceof DigestError ? err.code : undefined;
}

describe("[DIGEST-MINIMUM] the client never answers a weaker challenge than it was asked for", () => {
  it("[DIGEST-MINIMUM] a man in the middle strips auth-int from the challenges: ERR_DIGEST_DOWNGRADE, no answer is ever sent", async () => {
    const { app, reached } = serverApp();
    const mitm = rewritingChallenges(app, (list) =>
      list.map((c) => c.replace(/qop="[^"]*"/, 'qop="auth"')),
    );
    const digestFetch = createDigestFetch({
      username: "alice",
      password: "alice-pw",
      qop: "auth-int",
      fetch: mitm.transport,
    });
    expect(await codeOf(digestFetch(`${ORIGIN}${URI}`, post()))).toBe("ERR_DIGEST_DOWNGRADE");
    expect(mitm.sent).toHaveLength(1);
    expect(mitm.sent.every((r) => !r.headers.has("authorization"))).toBe(true);
    expect(reached).toEqual([]);
  });

  it("[DIGEST-MINIMUM] a server that offers only auth is refused the same way (the minimum defaults to the qop asked)", async () => {
    const { app, reached } = serverApp({ qop: ["auth"] });
    const digestFetch = createDigestFetch({
      username: "alice",
      password: "alice-pw",
      qop: "auth-int",
      fetch: (r) => app.fetch(r),
    });
    expect(await codeOf(digestFetch(`${ORIGIN}${URI}`, post()))).toBe("ERR_DIGEST_DOWNGRADE");
    expect(reached).toEqual([]);
  });

  it("[DIGEST-MINIMUM] the minimum is configurable: minimumQop auth accepts an auth-only challenge", async () => {
    const { app } = serverApp({ qop: ["auth"] });
    const digestFetch = createDigestFetch({
      username: "alice",
      password: "alice-pw",
      qop: "auth-int",
      minimumQop: "auth",
      fetch: (r) => app.fetch(r),
    });
    const res = await digestFetch(`${ORIGIN}${URI}`, post());
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ qop: "auth" });
  });

  it("[DIGEST-MINIMUM] a man in the middle strips the SHA-256 / SHA-512-256 challenges, leaving MD5: refused under the SHA-2 allow-list", async () => {
    const { app, reached } = serverApp({ algorithms: ["SHA-256", "SHA-512-256", "MD5"] });
    const mitm = rewritingChallenges(app, (list) => list.filter((c) => /algorithm=MD5/i.test(c)));
    const digestFetch = createDigestFetch({
      username: "alice",
      password: "alice-pw",
      qop: "auth-int",
      algorithms: STRONG_ALGORITHMS,
      fetch: mitm.transport,
    });
    expect(await codeOf(digestFetch(`${ORIGIN}${URI}`, post()))).toBe("ERR_DIGEST_DOWNGRADE");
    expect(mitm.sent.every((r) => !r.headers.has("authorization"))).toBe(true);
    expect(reached).toEqual([]);
  });

  it("[DIGEST-MINIMUM] a primed challenge (out of band) that is too weak is refused at once", () => {
    const verifier = createDigestVerifier(options({ qop: ["auth"] }));
    expect(() =>
      createDigestFetch({
        username: "alice",
        password: "alice-pw",
        qop: "auth-int",
        proxy: true,
        primeWith: { challenge: verifier.challenges()[0] as string },
      }),
    ).toThrow(expect.objectContaining({ code: "ERR_DIGEST_DOWNGRADE" }));
  });
});

describe("[DIGEST-QOP-REQUIRED] the verifier demands a minimum qop per request", () => {
  it("[DIGEST-QOP-REQUIRED] a correct qop=auth answer to an auth-int request is refused with challenges offering only auth-int", async () => {
    const verifier = createDigestVerifier(options());
    const challenge = verifier.challenges()[0] as string;
    expect(challengeParam(challenge, "qop")).toBe("auth, auth-int");
    const answer = (nc: string) =>
      answerChallenge(challenge, {
        username: "alice",
        password: "alice-pw",
        method: "POST",
        uri: URI,
        nc,
        qop: "auth",
      }).header;
    const request = { method: "POST", url: `${ORIGIN}${URI}` };
    const refused = await verifier.verify({
      ...request,
      authorization: answer("00000001"),
      minimumQop: "auth-int",
    });
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.status).toBe(401);
    expect(refused.challenges.length).toBeGreaterThan(0);
    for (const c of refused.challenges) expect(challengeParam(c, "qop")).toBe("auth-int");
    // The same answer is fine where auth is enough: the refusal is the minimum's doing.
    expect((await verifier.verify({ ...request, authorization: answer("00000002") })).ok).toBe(
      true,
    );
  });

  it("[DIGEST-QOP-REQUIRED] behind digestAuth({ requiredQop }): a third-party qop=auth answer never reaches the handler; auth-int does", async () => {
    const { app, reached } = serverApp({}, true);
    const first = await app.fetch(new Request(`${ORIGIN}${URI}`, post()));
    expect(first.status).toBe(401);
    const challenge = first.headers.get("www-authenticate")?.split(/,\s*(?=Digest\s)/)[0] ?? "";
    expect(challengeParam(challenge, "qop")).toBe("auth-int");
    const body = '{"entityId":"watch"}';
    for (const qop of ["auth", "auth-int"] as const) {
      const { header } = answerChallenge(challenge, {
        username: "alice",
        password: "alice-pw",
        method: "POST",
        uri: URI,
        nc: qop === "auth" ? "00000001" : "00000002",
        qop,
        body,
      });
      const res = await app.fetch(
        new Request(`${ORIGIN}${URI}`, { ...post(body), headers: { authorization: header } }),
      );
      expect(res.status, qop).toBe(qop === "auth" ? 401 : 200);
    }
    expect(reached).toEqual([body]);
  });
});

describe("[DIGEST-EPOCH] a restart or a second instance never reopens a replay window", () => {
  const answered = (challenge: string) =>
    answerChallenge(challenge, { username: "alice", password: "alice-pw", uri: URI }).header;
  const at = (header: string) => ({ method: "GET", url: `${ORIGIN}${URI}`, authorization: header });

  it("[DIGEST-EPOCH] an answer accepted by one instance is refused by a second one and by a restarted one (same secret, realm and users)", async () => {
    const first = createDigestVerifier(options());
    const header = answered(first.challenges()[0] as string);
    expect((await first.verify(at(header))).ok).toBe(true);
    expect((await first.verify(at(header))).ok).toBe(false);
    const second = createDigestVerifier(options());
    expect((await second.verify(at(header))).ok).toBe(false);
    const restarted = createDigestVerifier(options());
    const outcome = await restarted.verify(at(header));
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.status).toBe(401);
  });

  it("[DIGEST-EPOCH] instances that share one ledger share its epoch: a fresh nc is accepted at either, a replay at neither", async () => {
    const ledger = new MemoryReplayLedger({ now: () => T0 });
    const a = createDigestVerifier(options({ ledger }));
    const b = createDigestVerifier(options({ ledger }));
    const challenge = a.challenges()[0] as string;
    const header = answered(challenge);
    expect((await a.verify(at(header))).ok).toBe(true);
    expect((await b.verify(at(header))).ok).toBe(false);
    const next = answerChallenge(challenge, {
      username: "alice",
      password: "alice-pw",
      uri: URI,
      nc: "00000002",
    }).header;
    expect((await b.verify(at(next))).ok).toBe(true);
  });

  it("[DIGEST-EPOCH] our client crosses a server restart without any error: the refused preemptive answer's 401 carries the fresh challenge", async () => {
    let current = serverApp();
    const sent: Request[] = [];
    const digestFetch = createDigestFetch({
      username: "alice",
      password: "alice-pw",
      qop: "auth-int",
      requireRspauth: true,
      fetch: (r) => {
        sent.push(r);
        return current.app.fetch(r);
      },
    });
    expect((await digestFetch(`${ORIGIN}${URI}`, post("one"))).status).toBe(200);
    expect((await digestFetch(`${ORIGIN}${URI}`, post("two"))).status).toBe(200);
    expect(sent).toHaveLength(3);
    current = serverApp();
    const res = await digestFetch(`${ORIGIN}${URI}`, post("three"));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ body: "three", qop: "auth-int" });
    expect(sent).toHaveLength(5);
    expect(current.reached).toEqual(["three"]);
  });
});

describe("[DIGEST-RSPAUTH-UNCHALLENGED] requireRspauth refuses an answer given without any Digest exchange", () => {
  it("[DIGEST-RSPAUTH-UNCHALLENGED] an impostor answering 200 to the first, credential-less request is refused", async () => {
    const impostor = new Hono();
    impostor.post("/api/echo", (c) => c.json({ entityId: "someone-else" }));
    const strict = createDigestFetch({
      username: "alice",
      password: "alice-pw",
      requireRspauth: true,
      fetch: (r) => impostor.fetch(r),
    });
    expect(await codeOf(strict(`${ORIGIN}${URI}`, post()))).toBe(
      "ERR_DIGEST_SERVER_UNAUTHENTICATED",
    );
    // Without requireRspauth the same answer is handed over (and proves nothing).
    const lax = createDigestFetch({
      username: "alice",
      password: "alice-pw",
      fetch: (r) => impostor.fetch(r),
    });
    expect((await lax(`${ORIGIN}${URI}`, post())).status).toBe(200);
  });
});

describe("[DIGEST-REALM-BOUND] an answer computed for another realm sharing the secret is refused", () => {
  // One ledger (so one epoch) for both: only the realm tells A's nonces from B's.
  const ledger = new MemoryReplayLedger({ now: () => T0 });
  const a = createDigestVerifier(options({ realm: "realm-A", ledger }));
  const b = createDigestVerifier(options({ realm: "realm-B", ledger }));
  const challengeA = a.challenges({})[0] as string;
  const challengeB = b.challenges({})[0] as string;
  const nonceA = challengeParam(challengeA, "nonce") as string;
  const nonceB = challengeParam(challengeB, "nonce") as string;
  const opaqueB = challengeParam(challengeB, "opaque") as string;
  let nc = 0;
  const answer = (challenge: string, override?: Record<string, string>) =>
    answerChallenge(challenge, {
      username: "alice",
      password: "alice-pw",
      uri: URI,
      nc: (++nc).toString(16).padStart(8, "0"),
      override,
    }).header;
  const atA = async (header: string) =>
    (await a.verify({ method: "GET", url: `${ORIGIN}${URI}`, authorization: header })).ok;

  it("[DIGEST-REALM-BOUND] the fixture: A's own answer is accepted", async () => {
    expect(await atA(answer(challengeA))).toBe(true);
  });

  it("[DIGEST-REALM-BOUND] B's challenge answered entirely for B (realm, nonce, opaque, HA1), sent to A: refused", async () => {
    expect(await atA(answer(challengeB))).toBe(false);
  });

  it("[DIGEST-REALM-BOUND] B's nonce inside an answer otherwise right for A: refused by the realm inside the nonce MAC", async () => {
    expect(await atA(answer(challengeA.replace(nonceA, nonceB)))).toBe(false);
  });

  it('[DIGEST-REALM-BOUND] realm="realm-B" on an answer computed for A: refused by the realm check', async () => {
    expect(await atA(answer(challengeA, { realm: "realm-B" }))).toBe(false);
  });

  it("[DIGEST-REALM-BOUND] HA1 of realm B on A's nonce and realm: refused by the response check (A hashes its own realm)", async () => {
    const forB = challengeA.replace('realm="realm-A"', 'realm="realm-B"');
    expect(await atA(answer(forB, { realm: "realm-A" }))).toBe(false);
  });

  it("[DIGEST-REALM-BOUND] B's opaque on an answer otherwise right for A: refused by the opaque check", async () => {
    expect(await atA(answer(challengeA, { opaque: opaqueB }))).toBe(false);
  });
});

describe("[DIGEST-NONCE-CANONICAL] a non-canonical alias of a genuine nonce opens no fresh replay window", () => {
  it("[DIGEST-NONCE-CANONICAL] nonce N answered at nc=1, then the same answer under an alias of N (unused low bits of the last character): refused", async () => {
    const verifier = createDigestVerifier(options());
    const challenge = verifier.challenges()[0] as string;
    const nonce = challengeParam(challenge, "nonce") as string;
    const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = ALPHABET.indexOf(nonce.at(-1) as string);
    // 32 bytes in 43 characters: the last one carries 4 bits and 2 unused ones.
    const alias = nonce.slice(0, -1) + ALPHABET[last ^ 1];
    expect(alias).not.toBe(nonce);
    const cnonce = "fixed-cnonce-0001";
    const answer = (c: string) =>
      answerChallenge(c, { username: "alice", password: "alice-pw", uri: URI, cnonce }).header;
    const at = (header: string) => ({
      method: "GET",
      url: `${ORIGIN}${URI}`,
      authorization: header,
    });
    expect((await verifier.verify(at(answer(challenge)))).ok).toBe(true);
    expect((await verifier.verify(at(answer(challenge)))).ok).toBe(false);
    expect((await verifier.verify(at(answer(challenge.replace(nonce, alias))))).ok).toBe(false);
  });
});
