/**
 * Replay, freshness and tampering through the Hono middleware with a controlled clock
 * (RFC 7616 §3.3 nonce/stale, §3.4 nc, §3.4.6 uri, §5.5 replay; RFC 7615 Authentication-Info
 * with rspauth and nextnonce; auth-int per §3.4.3), the stateless nonce format, and the replay
 * ledger on its own: advanceWindow's sliding window (gaps, the 32 edge, a shift of exactly 32,
 * duplicates; checked against a naive model with fast-check) and MemoryReplayLedger's memory
 * (expired entries swept, nothing stored for unanswered or failed challenges).
 */
import fc from "fast-check";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import {
  advanceWindow,
  type DigestEnv,
  type DigestServerOptions,
  digestAuth,
  MemoryReplayLedger,
  staticCredentials,
} from "../../src/digest/index.ts";
import {
  type AnswerOptions,
  answerChallenge,
  challengeParam,
  refDigest,
} from "../vectors/reference-digest.ts";

const SECRET = "replay-test-secret-0123456789abcdef";
const REALM = "replay@example.org";
const T0 = Date.UTC(2025, 2, 3, 4, 5, 6);
const LIFETIME_S = 60;
const USERS = { alice: "alice-password", bob: "bob-password" };

interface Harness {
  app: Hono<DigestEnv>;
  clock: { now: number };
  ledger: MemoryReplayLedger;
}

function harness(overrides: Partial<DigestServerOptions> = {}): Harness {
  const clock = { now: T0 };
  const ledger = new MemoryReplayLedger({ now: () => clock.now, sweepIntervalMs: 1_000 });
  const app = new Hono<DigestEnv>();
  app.use(
    "/p/*",
    digestAuth({
      realm: REALM,
      secret: SECRET,
      lookup: staticCredentials(USERS),
      algorithms: ["SHA-256"],
      nonceLifetimeSeconds: LIFETIME_S,
      now: () => clock.now,
      ledger,
      ...overrides,
    }),
  );
  app.get("/p/x", (c) => c.text(`hello ${c.var.digest.username}`));
  app.post("/p/echo", async (c) => c.text(`echo:${await c.req.text()}`));
  return { app, clock, ledger };
}

/** WWW-Authenticate as fetch joins it, split back into one string per challenge. */
function challengesOf(res: Response): string[] {
  const header = res.headers.get("www-authenticate");
  return header ? header.split(/,\s*(?=Digest\s)/) : [];
}

async function challenge(h: Harness, path = "/p/x"): Promise<string> {
  const res = await h.app.request(path);
  expect(res.status).toBe(401);
  return challengesOf(res)[0] as string;
}

function answer(c: string, options: Partial<AnswerOptions> = {}) {
  return answerChallenge(c, {
    username: "alice",
    password: USERS.alice,
    uri: "/p/x",
    ...options,
  });
}

const send = (h: Harness, authorization: string, path = "/p/x", init: RequestInit = {}) =>
  h.app.request(path, { ...init, headers: { authorization } });

async function expectRefused(res: Response, status: 400 | 401, code: string, stale = false) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  expect(((await res.json()) as { code: string }).code).toBe(code);
  const challenges = challengesOf(res);
  if (status === 401) {
    expect(challenges.length).toBeGreaterThan(0);
    for (const c of challenges) expect(challengeParam(c, "stale")).toBe(stale ? "true" : undefined);
  } else {
    expect(challenges).toEqual([]);
  }
}

/** Flips the 6-bit value of one base64url character by 32, so the decoded bytes always change. */
function forge(nonce: string, index: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const value = alphabet.indexOf(nonce[index] as string);
  return nonce.slice(0, index) + alphabet[value ^ 32] + nonce.slice(index + 1);
}

const nc = (n: number) => n.toString(16).padStart(8, "0");

describe("[DIGEST-REPLAY] replayed and reused answers are refused (RFC 7616 §5.5)", () => {
  it("an identical header replayed -> 401", async () => {
    const h = harness();
    const a = answer(await challenge(h));
    const first = await send(h, a.header);
    expect(first.status).toBe(200);
    expect(await first.text()).toBe("hello alice");
    await expectRefused(await send(h, a.header), 401, "ERR_DIGEST_UNAUTHORIZED");
    await expectRefused(await send(h, a.header), 401, "ERR_DIGEST_UNAUTHORIZED");
  });

  it("nc reused with a new cnonce -> 401", async () => {
    const h = harness();
    const c = await challenge(h);
    expect((await send(h, answer(c, { nc: nc(1) }).header)).status).toBe(200);
    await expectRefused(
      await send(h, answer(c, { nc: nc(1), cnonce: "a-brand-new-cnonce" }).header),
      401,
      "ERR_DIGEST_UNAUTHORIZED",
    );
  });

  it("increasing nc with gaps is accepted; an unused nc inside the window is accepted once", async () => {
    const h = harness();
    const c = await challenge(h);
    for (const n of [1, 2, 5, 9])
      expect((await send(h, answer(c, { nc: nc(n) }).header)).status).toBe(200);
    expect((await send(h, answer(c, { nc: nc(3) }).header)).status).toBe(200);
    expect((await send(h, answer(c, { nc: nc(3) }).header)).status).toBe(401);
    expect((await send(h, answer(c, { nc: nc(5) }).header)).status).toBe(401);
    expect((await send(h, answer(c, { nc: nc(9) }).header)).status).toBe(401);
  });

  it("nc going backwards: within the 32-value window unused -> 200, beyond it -> 401", async () => {
    const h = harness();
    const c = await challenge(h);
    expect((await send(h, answer(c, { nc: nc(1) }).header)).status).toBe(200);
    expect((await send(h, answer(c, { nc: nc(40) }).header)).status).toBe(200);
    // 40 - 8 - 1 = 31: the oldest slot of the window.
    expect((await send(h, answer(c, { nc: nc(8) }).header)).status).toBe(200);
    // 40 - 7 - 1 = 32: just outside.
    await expectRefused(
      await send(h, answer(c, { nc: nc(7) }).header),
      401,
      "ERR_DIGEST_UNAUTHORIZED",
    );
    // 1 was used, and is outside the window anyway.
    expect((await send(h, answer(c, { nc: nc(1) }).header)).status).toBe(401);
  });

  it("reordering inside the window (parallel connections): all accepted once", async () => {
    const h = harness();
    const c = await challenge(h);
    for (const n of [3, 1, 2])
      expect((await send(h, answer(c, { nc: nc(n) }).header)).status).toBe(200);
    const order = [10, 4, 8, 5, 9, 6, 7];
    const results = await Promise.all(order.map((n) => send(h, answer(c, { nc: nc(n) }).header)));
    expect(results.map((r) => r.status)).toEqual(order.map(() => 200));
    const again = await Promise.all(order.map((n) => send(h, answer(c, { nc: nc(n) }).header)));
    expect(again.map((r) => r.status)).toEqual(order.map(() => 401));
  });

  it("the same nc on two different nonces is fine (the window is per nonce)", async () => {
    const h = harness();
    const c1 = await challenge(h);
    const c2 = await challenge(h);
    expect(challengeParam(c1, "nonce")).not.toBe(challengeParam(c2, "nonce"));
    expect((await send(h, answer(c1).header)).status).toBe(200);
    expect((await send(h, answer(c2).header)).status).toBe(200);
  });

  it("a replay is refused at every instant of the nonce's life, including the last millisecond", async () => {
    // Bug hunt at the boundary: the verifier treats a nonce as fresh while now - issuedAt <=
    // lifetime, so the ledger must still remember it at now === issuedAt + lifetime.
    for (const offset of [0, 1, LIFETIME_S * 1000 - 1, LIFETIME_S * 1000]) {
      const h = harness();
      const a = answer(await challenge(h));
      expect((await send(h, a.header)).status).toBe(200);
      h.clock.now = T0 + offset;
      const replay = await send(h, a.header);
      expect(replay.status, `replay at issuedAt + ${offset} ms`).toBe(401);
    }
  });

  it("property: a replay is never accepted, whatever the delay", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 * LIFETIME_S * 1000 }), async (delay) => {
        const h = harness();
        const a = answer(await challenge(h));
        expect((await send(h, a.header)).status).toBe(200);
        h.clock.now = T0 + delay;
        expect((await send(h, a.header)).status).not.toBe(200);
      }),
      { numRuns: 60, examples: [[LIFETIME_S * 1000]] },
    );
  });
});

describe("[DIGEST-NONCE] nonce integrity, realm binding and freshness (RFC 7616 §3.3, §5.4)", () => {
  it("nonces are 43 base64url characters, fresh per 401, shared by the challenges of one 401", async () => {
    const h = harness({ algorithms: ["SHA-256", "SHA-512-256", "MD5"] });
    const res = await h.app.request("/p/x");
    const challenges = challengesOf(res);
    expect(challenges.map((c) => challengeParam(c, "algorithm"))).toEqual([
      "SHA-256",
      "SHA-512-256",
      "MD5",
    ]);
    const nonces = new Set(challenges.map((c) => challengeParam(c, "nonce")));
    expect(nonces.size).toBe(1);
    const [nonce] = [...nonces] as string[];
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(challengeParam(await challenge(h), "nonce")).not.toBe(nonce);
  });

  it("a forged nonce (any one character changed) -> 401 without stale, even with a correct response", async () => {
    const h = harness();
    const c = await challenge(h);
    const nonce = challengeParam(c, "nonce") as string;
    for (let i = 0; i < nonce.length; i++) {
      const forged = c.replace(nonce, forge(nonce, i));
      const res = await send(h, answer(forged).header);
      expect(res.status, `position ${i}`).toBe(401);
      expect(res.headers.get("www-authenticate")).not.toContain("stale");
    }
    expect((await send(h, answer(c).header)).status).toBe(200);
  });

  it("a nonce from another realm (same secret) -> 401", async () => {
    const h = harness();
    const other = harness({ realm: "other@example.org" });
    const otherChallenge = await challenge(other);
    // Sanity: it is a good nonce for its own realm.
    expect((await send(other, answer(otherChallenge).header)).status).toBe(200);
    const mine = await challenge(h);
    const transplanted = mine.replace(
      challengeParam(mine, "nonce") as string,
      challengeParam(otherChallenge, "nonce") as string,
    );
    await expectRefused(await send(h, answer(transplanted).header), 401, "ERR_DIGEST_UNAUTHORIZED");
  });

  it("a nonce made with another secret -> 401", async () => {
    const h = harness();
    const other = harness({ secret: "a-different-secret-0123456789abcdef" });
    const mine = await challenge(h);
    const theirs = await challenge(other);
    const transplanted = mine.replace(
      challengeParam(mine, "nonce") as string,
      challengeParam(theirs, "nonce") as string,
    );
    await expectRefused(await send(h, answer(transplanted).header), 401, "ERR_DIGEST_UNAUTHORIZED");
  });

  it("expired nonce with a correct response -> 401 with stale=true in every challenge", async () => {
    const h = harness({ algorithms: ["SHA-256", "SHA-512-256", "MD5"] });
    const c = await challenge(h);
    h.clock.now = T0 + LIFETIME_S * 1000 + 1;
    const res = await send(h, answer(c).header);
    await expectRefused(res, 401, "ERR_DIGEST_UNAUTHORIZED", true);
    expect(challengesOf(res)).toHaveLength(3);
  });

  it("expired nonce with a wrong response, or for an unknown user -> 401 without stale", async () => {
    const h = harness({ algorithms: ["SHA-256", "MD5"] });
    const c = await challenge(h);
    h.clock.now = T0 + LIFETIME_S * 1000 + 1;
    await expectRefused(
      await send(h, answer(c, { password: "wrong" }).header),
      401,
      "ERR_DIGEST_UNAUTHORIZED",
    );
    await expectRefused(
      await send(h, answer(c, { username: "mallory" }).header),
      401,
      "ERR_DIGEST_UNAUTHORIZED",
    );
  });

  it("after stale=true the fresh challenge works", async () => {
    const h = harness();
    const c = await challenge(h);
    h.clock.now = T0 + LIFETIME_S * 1000 + 1;
    const stale = await send(h, answer(c).header);
    expect(stale.status).toBe(401);
    const fresh = challengesOf(stale)[0] as string;
    expect((await send(h, answer(fresh).header)).status).toBe(200);
  });

  it("a nonce from the future (beyond clock skew) -> 401; small skew is tolerated", async () => {
    const h = harness();
    h.clock.now = T0 + 60_000;
    const far = await challenge(h);
    h.clock.now = T0 + 3_000;
    const near = await challenge(h);
    h.clock.now = T0;
    await expectRefused(await send(h, answer(far).header), 401, "ERR_DIGEST_UNAUTHORIZED");
    expect((await send(h, answer(near).header)).status).toBe(200);
  });

  it("the opaque value is constant per realm and secret and must be echoed unchanged", async () => {
    const h = harness();
    const c1 = await challenge(h);
    const c2 = await challenge(h);
    const opaque = challengeParam(c1, "opaque") as string;
    expect(challengeParam(c2, "opaque")).toBe(opaque);
    expect(challengeParam(await challenge(harness({ realm: "other" })), "opaque")).not.toBe(opaque);
    await expectRefused(
      await send(h, answer(c1, { override: { opaque: forge(opaque, 0) } }).header),
      401,
      "ERR_DIGEST_UNAUTHORIZED",
    );
  });
});

describe("[DIGEST-REPLAY][DIGEST-AUTHINT] binding to the request: uri, method, body, user (RFC 7616 §3.4.3, §3.4.6)", () => {
  it("uri mismatch -> 400 ERR_DIGEST_URI_MISMATCH", async () => {
    const h = harness();
    const c = await challenge(h);
    await expectRefused(
      await send(h, answer(c, { uri: "/p/other" }).header),
      400,
      "ERR_DIGEST_URI_MISMATCH",
    );
    // The answer for /p/other replayed against /p/x: same verdict.
    await expectRefused(
      await send(h, answer(c, { uri: "/p/x?admin=1" }).header),
      400,
      "ERR_DIGEST_URI_MISMATCH",
    );
  });

  it("absolute-form uri naming the request target is accepted", async () => {
    const h = harness();
    const c = await challenge(h);
    expect((await send(h, answer(c, { uri: "http://localhost/p/x" }).header)).status).toBe(200);
  });

  // RFC 7616 §3.4.6 (RFC 2617 §3.2.2.5): the server MUST assure that the resource designated by
  // "uri" is the resource of the request, else SHOULD answer 400. Another authority is another
  // resource.
  it.each([
    ["absolute-form naming another host", "http://evil.example/p/x"],
    ["network-path reference (neither origin- nor absolute-form)", "//evil.example/p/x"],
  ])("uri as %s -> 400 ERR_DIGEST_URI_MISMATCH", async (_name, uri) => {
    const h = harness();
    const c = await challenge(h);
    await expectRefused(await send(h, answer(c, { uri }).header), 400, "ERR_DIGEST_URI_MISMATCH");
  });

  it("the method is covered by the response: a GET answer used for a POST -> 401", async () => {
    const h = harness();
    const c = await challenge(h);
    const res = await send(h, answer(c, { uri: "/p/echo" }).header, "/p/echo", {
      method: "POST",
      body: "x",
    });
    await expectRefused(res, 401, "ERR_DIGEST_UNAUTHORIZED");
  });

  it("auth-int: correct body -> 200 with rspauth over the response body; body changed -> 401", async () => {
    const h = harness({ qop: ["auth-int"] });
    const c = await challenge(h, "/p/echo");
    expect(challengeParam(c, "qop")).toBe("auth-int");
    const a = answer(c, { uri: "/p/echo", method: "POST", qop: "auth-int", body: "hello" });
    const ok = await send(h, a.header, "/p/echo", { method: "POST", body: "hello" });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("echo:hello");
    const info = ok.headers.get("authentication-info") as string;
    const expected = refDigest({
      algorithm: "SHA-256",
      username: "alice",
      realm: REALM,
      password: USERS.alice,
      method: "POST",
      uri: "/p/echo",
      nonce: a.nonce,
      nc: a.nc,
      cnonce: a.cnonce,
      qop: "auth-int",
      body: "hello",
      responseBody: "echo:hello",
    });
    expect(info).toContain(`rspauth="${expected.rspauth}"`);
    expect(info).toContain("qop=auth-int");

    const b = answer(c, {
      uri: "/p/echo",
      method: "POST",
      qop: "auth-int",
      body: "hello",
      nc: nc(2),
    });
    const tampered = await send(h, b.header, "/p/echo", { method: "POST", body: "hellO" });
    await expectRefused(tampered, 401, "ERR_DIGEST_UNAUTHORIZED");
  });

  it("unknown user and wrong password get byte-identical 401s (but for the fresh nonce)", async () => {
    const h = harness();
    const c = await challenge(h);
    const unknown = await send(h, answer(c, { username: "mallory" }).header);
    const wrong = await send(h, answer(c, { password: "not-it" }).header);
    expect(unknown.status).toBe(401);
    expect(wrong.status).toBe(401);
    expect(await unknown.text()).toBe(await wrong.text());
    const shape = (res: Response) => {
      const header = res.headers.get("www-authenticate") as string;
      return header.replace(challengeParam(header, "nonce") as string, "NONCE");
    };
    expect(shape(unknown)).toBe(shape(wrong));
    expect([...unknown.headers.keys()].sort()).toEqual([...wrong.headers.keys()].sort());
  });
});

describe("[DIGEST-AUTHINFO] Authentication-Info on success (RFC 7615, RFC 7616 §3.5)", () => {
  it("carries qop, rspauth, the echoed cnonce and nc", async () => {
    const h = harness();
    const a = answer(await challenge(h), { nc: nc(7) });
    const res = await send(h, a.header);
    expect(res.status).toBe(200);
    const info = res.headers.get("authentication-info") as string;
    expect(challengeParam(`Digest ${info}`, "rspauth")).toBe(a.expected.rspauth);
    expect(challengeParam(`Digest ${info}`, "cnonce")).toBe(a.cnonce);
    expect(challengeParam(`Digest ${info}`, "nc")).toBe(nc(7));
    expect(challengeParam(`Digest ${info}`, "qop")).toBe("auth");
    expect(info).not.toContain("nextnonce");
  });

  it("nextnonce is sent near the end of the nonce's life and is usable", async () => {
    const h = harness();
    const c = await challenge(h);
    h.clock.now = T0 + (LIFETIME_S - 5) * 1000; // default: within the last fifth
    const res = await send(h, answer(c).header);
    expect(res.status).toBe(200);
    const next = challengeParam(`Digest ${res.headers.get("authentication-info")}`, "nextnonce");
    expect(next).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(next).not.toBe(challengeParam(c, "nonce"));
    h.clock.now = T0 + (LIFETIME_S + 10) * 1000; // the old nonce is now expired
    const nextChallenge = c.replace(challengeParam(c, "nonce") as string, next as string);
    expect((await send(h, answer(nextChallenge).header)).status).toBe(200);
  });

  it("nextnonceBeforeSeconds = lifetime sends nextnonce once any time has passed", async () => {
    // "less than this is left": at the very millisecond of issue exactly the lifetime is left.
    const h = harness({ nextnonceBeforeSeconds: LIFETIME_S });
    const c = await challenge(h);
    h.clock.now = T0 + 1;
    const res = await send(h, answer(c).header);
    expect(res.headers.get("authentication-info")).toMatch(/nextnonce="[A-Za-z0-9_-]{43}"/);
  });
});

describe("[DIGEST-REPLAY] the ledger stores only verified nonces", () => {
  it("unanswered challenges and failed attempts leave the ledger empty; a success adds one entry", async () => {
    const h = harness();
    const challenges: string[] = [];
    for (let i = 0; i < 50; i++) challenges.push(await challenge(h));
    expect(h.ledger.size).toBe(0);
    const c = challenges[0] as string;
    await send(h, answer(c, { password: "wrong" }).header);
    await send(h, answer(c, { username: "nobody" }).header);
    await send(h, answer(c, { uri: "/p/other" }).header);
    await send(h, answer(c.replace(challengeParam(c, "nonce") as string, "x".repeat(43))).header);
    await send(h, "Digest garbage");
    expect(h.ledger.size).toBe(0);
    expect((await send(h, answer(c).header)).status).toBe(200);
    expect(h.ledger.size).toBe(1);
    expect((await send(h, answer(c, { nc: nc(2) }).header)).status).toBe(200);
    expect(h.ledger.size).toBe(1);
    h.clock.now = T0 + LIFETIME_S * 1000 + 1;
    await send(h, answer(c, { nc: nc(3) }).header); // stale: not recorded
    expect(h.ledger.size).toBeLessThanOrEqual(1);
  });
});

describe("[DIGEST-REPLAY] advanceWindow: the sliding nc window", () => {
  const W = 32;
  it("first use starts the window", () => {
    expect(advanceWindow(undefined, 1)).toEqual({ highest: 1, seen: 0 });
    expect(advanceWindow(undefined, 0xffffffff)).toEqual({ highest: 0xffffffff, seen: 0 });
  });

  it("duplicates: the highest again, and a marked value again", () => {
    expect(advanceWindow({ highest: 5, seen: 0 }, 5)).toBeUndefined();
    const s = advanceWindow({ highest: 5, seen: 0 }, 3);
    expect(s).toEqual({ highest: 5, seen: 0b10 });
    expect(advanceWindow(s, 3)).toBeUndefined();
  });

  it("gaps: the old highest is marked, the skipped values stay free", () => {
    const s = advanceWindow({ highest: 1, seen: 0 }, 5);
    expect(s).toEqual({ highest: 5, seen: 0b1000 }); // bit 3 = nc 1
    expect(advanceWindow(s, 1)).toBeUndefined();
    expect(advanceWindow(s, 2)).toEqual({ highest: 5, seen: 0b1100 });
    expect(advanceWindow(s, 4)).toEqual({ highest: 5, seen: 0b1001 });
  });

  it("window edge at 32: offset 31 is inside, offset 32 is outside", () => {
    const s = { highest: 40, seen: 0 };
    expect(advanceWindow(s, 8, W)).toEqual({ highest: 40, seen: 0x80000000 });
    expect(advanceWindow(s, 7, W)).toBeUndefined();
    expect(advanceWindow({ highest: 40, seen: 0x80000000 }, 8, W)).toBeUndefined();
  });

  it("a shift of exactly 32 keeps the old highest at bit 31 (no `<< 32` wrap-around)", () => {
    const s = advanceWindow({ highest: 1, seen: 0xffffffff }, 33, W);
    expect(s).toEqual({ highest: 33, seen: 0x80000000 });
    expect(advanceWindow(s, 1, W)).toBeUndefined(); // still remembered
    expect(advanceWindow(s, 2, W)).toEqual({ highest: 33, seen: 0xc0000000 });
  });

  it("a shift of 33 forgets everything, and the old values are outside the window", () => {
    const s = advanceWindow({ highest: 1, seen: 0xffffffff }, 34, W);
    expect(s).toEqual({ highest: 34, seen: 0 });
    expect(advanceWindow(s, 1, W)).toBeUndefined();
    expect(advanceWindow(s, 2, W)).toEqual({ highest: 34, seen: 0x80000000 });
  });

  it("a shift of 31 with a full bitmap keeps only the bits still in range", () => {
    expect(advanceWindow({ highest: 100, seen: 0xffffffff }, 131, W)).toEqual({
      highest: 131,
      seen: 0xc0000000,
    });
  });

  it("a smaller window masks the bitmap", () => {
    const s = advanceWindow({ highest: 10, seen: 0b1111 }, 12, 4);
    expect(s).toEqual({ highest: 12, seen: 0b1110 });
    expect(advanceWindow(s, 7, 4)).toBeUndefined(); // offset 4: outside
    expect(advanceWindow(s, 8, 4)).toBeUndefined(); // offset 3: inside, already seen
    expect(advanceWindow(s, 11, 4)).toEqual({ highest: 12, seen: 0b1111 });
  });

  it("state stays an unsigned 32-bit integer", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 60 }), (ncs) => {
        let state: { highest: number; seen: number } | undefined;
        for (const n of ncs) {
          state = advanceWindow(state, n) ?? state;
          if (state) {
            expect(Number.isInteger(state.seen)).toBe(true);
            expect(state.seen).toBeGreaterThanOrEqual(0);
            expect(state.seen).toBeLessThanOrEqual(0xffffffff);
          }
        }
      }),
    );
  });

  it("agrees with a naive set-based model for every window size (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 32 }),
        fc.array(fc.integer({ min: 0, max: 120 }), { maxLength: 80 }),
        (window, ncs) => {
          let state: { highest: number; seen: number } | undefined;
          let highest: number | undefined;
          const used = new Set<number>();
          for (const n of ncs) {
            const modelAccepts =
              highest === undefined ||
              n > highest ||
              (!used.has(n) && n !== highest && highest - n - 1 < window);
            const next = advanceWindow(state, n, window);
            expect(next !== undefined, `nc ${n} after ${[...used]} (window ${window})`).toBe(
              modelAccepts,
            );
            if (next) {
              state = next;
              used.add(n);
              highest = Math.max(highest ?? n, n);
            }
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe("[DIGEST-REPLAY] MemoryReplayLedger", () => {
  it("accepts each nc once per nonce", async () => {
    const ledger = new MemoryReplayLedger({ now: () => T0 });
    expect(await ledger.accept("n1", 1, T0 + 1000)).toBe(true);
    expect(await ledger.accept("n1", 1, T0 + 1000)).toBe(false);
    expect(await ledger.accept("n2", 1, T0 + 1000)).toBe(true);
    expect(await ledger.accept("n1", 2, T0 + 1000)).toBe(true);
    expect(ledger.size).toBe(2);
  });

  it("forgets expired entries: size drops after the sweep", async () => {
    let now = T0;
    const ledger = new MemoryReplayLedger({ now: () => now, sweepIntervalMs: 100 });
    for (let i = 0; i < 10; i++) await ledger.accept(`old-${i}`, 1, T0 + 1000);
    await ledger.accept("long-lived", 1, T0 + 60_000);
    expect(ledger.size).toBe(11);
    now = T0 + 1000; // expiresAtMs reached
    await ledger.accept("new", 1, now + 1000);
    expect(ledger.size).toBe(2);
  });

  it("does not sweep more often than the interval, but an expired entry is never live", async () => {
    let now = T0;
    const ledger = new MemoryReplayLedger({ now: () => now, sweepIntervalMs: 1_000_000 });
    await ledger.accept("a", 1, T0 + 10); // the first accept sweeps and schedules the next
    now = T0 + 20;
    await ledger.accept("b", 1, T0 + 100);
    expect(ledger.size).toBe(2); // "a" is expired but not swept yet
    // ...yet "a" is not treated as live: a new life starts.
    expect(await ledger.accept("a", 1, T0 + 100)).toBe(true);
  });

  it("refuses a window outside 1..32", () => {
    for (const window of [0, 33, 1.5, -1, Number.NaN]) {
      expect(() => new MemoryReplayLedger({ window })).toThrow(RangeError);
    }
    expect(() => new MemoryReplayLedger({ window: 1 })).not.toThrow();
    expect(() => new MemoryReplayLedger({ window: 32 })).not.toThrow();
  });

  it("honours a custom window", async () => {
    const ledger = new MemoryReplayLedger({ window: 2, now: () => T0 });
    await ledger.accept("n", 10, T0 + 1000);
    expect(await ledger.accept("n", 8, T0 + 1000)).toBe(true); // offset 1
    expect(await ledger.accept("n", 7, T0 + 1000)).toBe(false); // offset 2
  });
});
