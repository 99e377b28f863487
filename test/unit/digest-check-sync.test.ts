/**
 * Issue #12 (Speed): verifier.check() is verify() without the promise when
 * nothing asynchronous was involved, so digestAuth() makes no promise per
 * request for the verification. What must not change: the outcome (the same
 * as verify() for every kind of request, the replays included), the order of
 * onAttempt before the lookup, and the atomicity of the in-memory ledger now
 * that it answers synchronously (a burst of the same answer: one accepted).
 */
import { describe, expect, it } from "vitest";
import { hashHex } from "../../src/crypto/hash.ts";
import {
  ALGORITHMS,
  computeHa1,
  computeHa2,
  computeResponse,
  createDigestVerifier,
  type DigestOutcome,
  type DigestRequest,
  MemoryReplayLedger,
  parseChallenges,
  type ReplayLedger,
} from "../../src/digest/index.ts";

const algorithm = ALGORITHMS["SHA-256"];
const HA1 = computeHa1(algorithm, "alice", "sync", "pw-sync");

function setup(
  options: { asyncLookup?: boolean; ledger?: ReplayLedger; qop?: ("auth" | "auth-int")[] } = {},
) {
  const events: string[] = [];
  const verifier = createDigestVerifier({
    realm: "sync",
    secret: "sync-secret-0123456789abcdef",
    algorithms: ["SHA-256"],
    qop: options.qop ?? ["auth"],
    ledger: options.ledger ?? new MemoryReplayLedger(),
    lookup: ({ username }) => {
      events.push(`lookup ${username}`);
      const found = username === "alice" ? { ha1: HA1 } : undefined;
      return options.asyncLookup ? Promise.resolve(found) : found;
    },
  });
  const challenge = parseChallenges(verifier.challenges()[0] as string)[0];
  const nonce = challenge?.params.get("nonce") as string;
  const opaque = challenge?.params.get("opaque") as string;
  const header = (
    nc: string,
    change: { user?: string; ha1?: string; uri?: string; qop?: string; body?: string } = {},
  ) => {
    const qop = change.qop ?? "auth";
    const response = computeResponse(algorithm, {
      ha1: change.ha1 ?? HA1,
      nonce,
      nc,
      cnonce: "c0ffee",
      qop,
      ha2: computeHa2(algorithm, "GET", change.uri ?? "/r"),
    });
    return `Digest username="${change.user ?? "alice"}", realm="sync", uri="${change.uri ?? "/r"}", algorithm=SHA-256, nonce="${nonce}", nc=${nc}, cnonce="c0ffee", qop=${qop}, response="${response}", opaque="${opaque}"`;
  };
  const request = (authorization: string | undefined, async = false): DigestRequest => ({
    method: "GET",
    url: "http://h/r",
    authorization,
    onAttempt: (claimed) => {
      events.push(`attempt ${claimed.username}`);
      return async ? Promise.resolve() : undefined;
    },
  });
  return { verifier, header, request, events };
}

const isPromise = (value: unknown) => typeof (value as { then?: unknown })?.then === "function";
/** What two outcomes share that a caller can see (challenges carry fresh nonces). */
const shape = (outcome: DigestOutcome) =>
  outcome.ok
    ? { ok: true, principal: { ...outcome.principal, nonce: "(each verifier's own)" } }
    : {
        ok: false,
        status: outcome.status,
        code: outcome.code,
        stale: outcome.stale,
        challenges: outcome.challenges.length,
      };

describe("[DIGEST-SYNC-CHECK] check(): verify() without a promise when nothing waited", () => {
  it("[DIGEST-SYNC-CHECK][DIGEST-REPLAY] a synchronous lookup, onAttempt and ledger: a plain outcome, accepted once, the replay refused", () => {
    const { verifier, header, request, events } = setup();
    const first = verifier.check(request(header("00000001")));
    expect(isPromise(first)).toBe(false);
    expect((first as DigestOutcome).ok).toBe(true);
    const replay = verifier.check(request(header("00000001")));
    expect(isPromise(replay)).toBe(false);
    expect(replay).toMatchObject({ ok: false, status: 401, code: "ERR_DIGEST_UNAUTHORIZED" });
    // onAttempt still comes before the lookup.
    expect(events.slice(0, 2)).toEqual(["attempt alice", "lookup alice"]);
  });

  it("[DIGEST-SYNC-CHECK] refusals before any hook are plain outcomes too", () => {
    const { verifier, request } = setup();
    for (const authorization of [undefined, "Basic YTpi", "Digest ,,,=", 'Digest username="x"']) {
      const outcome = verifier.check(request(authorization));
      expect(isPromise(outcome), String(authorization)).toBe(false);
      expect((outcome as DigestOutcome).ok).toBe(false);
    }
  });

  it("[DIGEST-SYNC-CHECK] an asynchronous lookup, onAttempt or ledger, or an auth-int body: a promise with the same outcome", async () => {
    const asyncLedger = new MemoryReplayLedger();
    const wrapped: ReplayLedger = {
      epoch: asyncLedger.epoch,
      accept: (nonce, nc, expires) => Promise.resolve(asyncLedger.accept(nonce, nc, expires)),
    };
    const cases = [
      setup({ asyncLookup: true }),
      setup({ ledger: wrapped }),
      { ...setup(), asyncAttempt: true },
    ];
    for (const [index, kase] of cases.entries()) {
      const asyncAttempt = "asyncAttempt" in kase;
      const pending = kase.verifier.check(kase.request(kase.header("00000001"), asyncAttempt));
      expect(isPromise(pending), `case ${index}`).toBe(true);
      expect((await pending).ok, `case ${index}`).toBe(true);
      const replay = await kase.verifier.check(kase.request(kase.header("00000001"), asyncAttempt));
      expect(replay.ok, `case ${index}`).toBe(false);
    }
    // auth-int reads the body, which is always a promise.
    const authInt = setup({ qop: ["auth-int"] });
    const body = new TextEncoder().encode("{}");
    const bodyHash = hashHex("SHA-256", "{}");
    const challenge = parseChallenges(authInt.verifier.challenges()[0] as string)[0];
    const nonce = challenge?.params.get("nonce") as string;
    const response = computeResponse(algorithm, {
      ha1: HA1,
      nonce,
      nc: "00000001",
      cnonce: "c0ffee",
      qop: "auth-int",
      ha2: computeHa2(algorithm, "POST", "/r", bodyHash),
    });
    const pending = authInt.verifier.check({
      method: "POST",
      url: "http://h/r",
      authorization: `Digest username="alice", realm="sync", uri="/r", algorithm=SHA-256, nonce="${nonce}", nc=00000001, cnonce="c0ffee", qop=auth-int, response="${response}", opaque="${challenge?.params.get("opaque")}"`,
      body: async () => body,
    });
    expect(isPromise(pending)).toBe(true);
    expect((await pending).ok).toBe(true);
  });

  it("[DIGEST-SYNC-CHECK] check() and verify() agree on every kind of request", async () => {
    const a = setup();
    const b = setup();
    // Two verifiers with their own nonces: build each one's headers the same way.
    const kinds: Array<[string, (h: typeof a.header) => string | undefined]> = [
      ["valid", (h) => h("00000001")],
      ["replay", (h) => h("00000001")],
      ["next nc", (h) => h("00000002")],
      [
        "wrong password",
        (h) => h("00000003", { ha1: computeHa1(algorithm, "alice", "sync", "x") }),
      ],
      ["unknown user", (h) => h("00000004", { user: "mallory" })],
      ["other uri", (h) => h("00000005", { uri: "/other" })],
      ["qop auth-int without a body hash", (h) => h("00000006", { qop: "auth-int" })],
      ["no header", () => undefined],
      ["another scheme", () => "Bearer abc"],
      ["malformed", () => "Digest username"],
    ];
    for (const [label, make] of kinds) {
      const viaCheck = await a.verifier.check(a.request(make(a.header)));
      const viaVerify = await b.verifier.verify(b.request(make(b.header)));
      expect(shape(viaCheck), label).toEqual(shape(viaVerify));
    }
  });

  it("[DIGEST-SYNC-CHECK] a minimumQop that is not a qop throws from check() and rejects from verify()", async () => {
    const { verifier, header, request } = setup();
    const bad = { ...request(header("00000001")), minimumQop: "none" as "auth" };
    expect(() => verifier.check(bad)).toThrow(TypeError);
    await expect(verifier.verify(bad)).rejects.toThrow(TypeError);
  });

  it("[DIGEST-SYNC-CHECK][DIGEST-REPLAY] the in-memory ledger stays atomic: 200 checks of one answer at once, one accepted", async () => {
    const { verifier, header, request } = setup();
    const authorization = header("00000001");
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, () =>
        Promise.resolve().then(() => verifier.check(request(authorization))),
      ),
    );
    expect(outcomes.filter((outcome) => outcome.ok)).toHaveLength(1);
  });
});
