/**
 * Runs the HTTP Digest vectors in test/vectors/ (RFC 2617 §3.5, RFC 7616 §3.9.1 with erratum
 * 4495, RFC 7616 §3.9.2 with erratum 4897, and derived -sess / auth-int vectors) through:
 *  - the reference implementation on node:crypto (so the data itself is checked twice),
 *  - the engine's compute functions (RFC 7616 §3.4.1-§3.4.4, rspauth per §3.5),
 *  - a full verifier round trip and Authentication-Info (RFC 7615) with an injected clock,
 *  - a client <-> Hono middleware round trip,
 * each under every hash backend (@noble/hashes and Node's OpenSSL, src/crypto/hash.ts), the last
 * two once with globalThis.crypto and once with @peculiar/webcrypto.
 */
import { createHash } from "node:crypto";
import { Crypto } from "@peculiar/webcrypto";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toHex, utf8 } from "../../src/crypto/bytes.ts";
import {
  activeHashBackend,
  type HashBackend,
  hashBytes,
  installHashBackend,
  nobleHashes,
} from "../../src/crypto/hash.ts";
import type { CryptoProvider } from "../../src/crypto/provider.ts";
import {
  ALGORITHMS,
  computeHa1,
  computeHa2,
  computeResponse,
  computeUserhash,
  createDigestFetch,
  createDigestVerifier,
  type DigestEnv,
  digestAuth,
  parseChallenges,
  parseCredentials,
  sessionHa1,
  staticCredentials,
} from "../../src/digest/index.ts";
import { decodeExtValue, encodeExtValue } from "../../src/digest/params.ts";
import { nodeHashes } from "../../src/runtime/node-hashes.ts";
import { DERIVED_VECTORS } from "../vectors/derived-sess-auth-int.ts";
import type { DigestVector } from "../vectors/digest-vector.ts";
import { answerChallenge, challengeParam, refDigest, refH } from "../vectors/reference-digest.ts";
import { RFC2617_SECTION_3_5 } from "../vectors/rfc2617-section-3.5.ts";
import {
  RFC7616_SECTION_3_9_1,
  RFC7616_SECTION_3_9_1_WRONG_PASSWORD,
} from "../vectors/rfc7616-section-3.9.1.ts";
import { RFC7616_SECTION_3_9_2 } from "../vectors/rfc7616-section-3.9.2.ts";

const RFC_VECTORS: readonly DigestVector[] = [
  RFC2617_SECTION_3_5,
  ...RFC7616_SECTION_3_9_1,
  RFC7616_SECTION_3_9_2,
];
const ALL_VECTORS: readonly DigestVector[] = [...RFC_VECTORS, ...DERIVED_VECTORS];

const PROVIDERS: ReadonlyArray<readonly [string, CryptoProvider]> = [
  ["globalThis.crypto", globalThis.crypto],
  ["@peculiar/webcrypto", new Crypto()],
];

const BACKENDS: ReadonlyArray<readonly [string, HashBackend]> = [
  [nobleHashes.name, nobleHashes],
  [nodeHashes.name, nodeHashes],
];

/** Runs the enclosing describe with `backend` installed, restoring the previous one after. */
function useBackend(backend: HashBackend): void {
  let previous: HashBackend;
  beforeAll(() => {
    previous = activeHashBackend();
    installHashBackend(backend);
  });
  afterAll(() => installHashBackend(previous));
}

const SECRET = "unit-test-secret-0123456789abcdef";
const T0 = Date.UTC(2025, 0, 1);

const label = (v: DigestVector) => `${v.source} ${v.algorithm} qop=${v.qop}`;

function engineBodyHash(v: DigestVector, body: string | undefined): string | undefined {
  if (v.qop !== "auth-int") return undefined;
  return toHex(hashBytes(ALGORITHMS[v.algorithm].hash, utf8(body ?? "")));
}

describe("[DIGEST-VECTORS] the vector data agrees with an independent implementation (node:crypto)", () => {
  it.each(ALL_VECTORS.map((v) => [label(v), v] as const))("%s", (_name, v) => {
    const ref = refDigest(v);
    expect(ref.ha1).toBe(v.expected.ha1);
    expect(ref.ha2).toBe(v.expected.ha2);
    expect(ref.response).toBe(v.expected.response);
    expect(ref.rspauth).toBe(v.expected.rspauth);
    expect(ref.sessionHa1).toBe(v.expected.sessionHa1 ?? v.expected.ha1);
    if (v.expected.userhash) expect(ref.userhash).toBe(v.expected.userhash);
  });
});

describe.each(BACKENDS)(
  "[DIGEST-VECTORS] RFC 2617 §3.5, RFC 7616 §3.9.1/§3.9.2 and derived vectors: compute functions (hashes: %s)",
  (_backend, backend) => {
    useBackend(backend);

    it.each(ALL_VECTORS.map((v) => [label(v), v] as const))("%s", (_name, v) => {
      const alg = ALGORITHMS[v.algorithm];
      const ha1 = computeHa1(alg, v.username, v.realm, v.password);
      expect(ha1).toBe(v.expected.ha1);
      const sess = sessionHa1(alg, ha1, v.nonce, v.cnonce);
      expect(sess).toBe(v.expected.sessionHa1 ?? v.expected.ha1);
      const ha2 = computeHa2(alg, v.method, v.uri, engineBodyHash(v, v.body));
      expect(ha2).toBe(v.expected.ha2);
      const inputs = { ha1: sess, nonce: v.nonce, nc: v.nc, cnonce: v.cnonce, qop: v.qop };
      expect(computeResponse(alg, { ...inputs, ha2 })).toBe(v.expected.response);
      // rspauth: A2 = ":" uri [":" H(response-body)] (RFC 7616 §3.5).
      const rspHa2 = computeHa2(alg, "", v.uri, engineBodyHash(v, v.responseBody));
      expect(computeResponse(alg, { ...inputs, ha2: rspHa2 })).toBe(v.expected.rspauth);
      if (v.expected.userhash) {
        expect(computeUserhash(alg, v.username, v.realm)).toBe(v.expected.userhash);
      }
    });

    it('RFC 7616 §3.9.1: the RFC 2617 spelling "Circle Of Life" does not give the printed responses (erratum 4495)', () => {
      for (const v of RFC7616_SECTION_3_9_1) {
        const alg = ALGORITHMS[v.algorithm];
        const ha1 = computeHa1(alg, v.username, v.realm, RFC7616_SECTION_3_9_1_WRONG_PASSWORD);
        const response = computeResponse(alg, {
          ha1,
          nonce: v.nonce,
          nc: v.nc,
          cnonce: v.cnonce,
          qop: v.qop,
          ha2: computeHa2(alg, v.method, v.uri),
        });
        expect(response).not.toBe(v.expected.response);
      }
    });

    it("hex output is lower case and of the hash's length", () => {
      for (const v of ALL_VECTORS) {
        const alg = ALGORITHMS[v.algorithm];
        const ha1 = computeHa1(alg, v.username, v.realm, v.password);
        expect(ha1).toMatch(/^[0-9a-f]+$/);
        expect(ha1).toHaveLength(alg.hexLength);
      }
    });
  },
);

describe.each(BACKENDS)(
  "[DIGEST-VECTORS][DIGEST-USERHASH] RFC 7616 §3.9.2 SHA-512-256, charset and userhash (erratum 4897; hashes: %s)",
  (_backend, backend) => {
    useBackend(backend);
    const v = RFC7616_SECTION_3_9_2;
    const alg = ALGORITHMS["SHA-512-256"];

    it("userhash and response are the erratum's values, not the printed ones", () => {
      const userhash = computeUserhash(alg, v.username, v.realm);
      expect(userhash).toBe(v.expected.userhash);
      expect(userhash).not.toBe(v.printedInRfc?.userhash);
      const ha1 = computeHa1(alg, v.username, v.realm, v.password);
      const response = computeResponse(alg, {
        ha1,
        nonce: v.nonce,
        nc: v.nc,
        cnonce: v.cnonce,
        qop: v.qop,
        ha2: computeHa2(alg, v.method, v.uri),
      });
      expect(response).toBe(v.expected.response);
      expect(response).not.toBe(v.printedInRfc?.response);
    });

    it("the printed values are what SHA-512 truncated to 256 bits gives (why the erratum exists)", () => {
      const truncated = (text: string) =>
        createHash("sha512").update(text, "utf8").digest("hex").slice(0, 64);
      expect(truncated(`${v.username}:${v.realm}`)).toBe(v.printedInRfc?.userhash);
      const ha1 = truncated(`${v.username}:${v.realm}:${v.password}`);
      const ha2 = truncated(`${v.method}:${v.uri}`);
      expect(truncated(`${ha1}:${v.nonce}:${v.nc}:${v.cnonce}:${v.qop}:${ha2}`)).toBe(
        v.printedInRfc?.response,
      );
      // ...and SHA-512/256 proper (FIPS 180-4 §5.3.6) is something else.
      expect(refH("SHA-512-256", "abc")).toBe(
        "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23",
      );
      expect(toHex(hashBytes("SHA-512-256", utf8("abc")))).toBe(refH("SHA-512-256", "abc"));
    });

    it("the username is UTF-8 encoded before hashing (octets 4A C3A4 73 C3B8 6E 20 44 6F 65)", () => {
      expect(toHex(utf8(v.username))).toBe("4ac3a473c3b86e20446f65");
    });

    it("username* ext-value encodes and decodes as the RFC shows", () => {
      expect(encodeExtValue(v.username)).toBe(v.expected.usernameStar);
      expect(decodeExtValue(v.expected.usernameStar as string)).toBe(v.username);
    });

    it("staticCredentials finds the user from the userhash", async () => {
      const lookup = staticCredentials({ [v.username]: v.password, other: "x" });
      const found = await lookup({
        username: v.expected.userhash as string,
        userhash: true,
        realm: v.realm,
        algorithm: "SHA-512-256",
        hash: "SHA-512-256",
      });
      expect(found).toEqual({ username: v.username, password: v.password });
    });
  },
);

describe("[DIGEST-VECTORS][DIGEST-PARSE] the RFCs' literal headers parse to the vector inputs", () => {
  it("RFC 7616 §3.9.1 challenge and SHA-256 Authorization", () => {
    const v = RFC7616_SECTION_3_9_1[1] as DigestVector;
    const [challenge, ...rest] = parseChallenges(
      'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, ' +
        `nonce="${v.nonce}", opaque="${v.opaque}"`,
    );
    expect(rest).toEqual([]);
    expect(challenge?.params.get("qop")).toBe("auth, auth-int");
    expect(challenge?.params.get("algorithm")).toBe("SHA-256");
    const auth = parseCredentials(
      'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", ' +
        `algorithm=SHA-256, nonce="${v.nonce}", nc=00000001, cnonce="${v.cnonce}", qop=auth, ` +
        `response="${v.expected.response}", opaque="${v.opaque}"`,
    );
    expect(Object.fromEntries(auth.params)).toEqual({
      username: "Mufasa",
      realm: v.realm,
      uri: v.uri,
      algorithm: "SHA-256",
      nonce: v.nonce,
      nc: v.nc,
      cnonce: v.cnonce,
      qop: "auth",
      response: v.expected.response,
      opaque: v.opaque,
    });
  });

  it("RFC 7616 §3.9.2 username* form", () => {
    const v = RFC7616_SECTION_3_9_2;
    const auth = parseCredentials(
      `Digest username*=${v.expected.usernameStar}, realm="api@example.org", uri="/doe.json", ` +
        `algorithm=SHA-512-256, nonce="${v.nonce}", nc=00000001, cnonce="${v.cnonce}", ` +
        `qop=auth, response="${v.expected.response}", opaque="${v.opaque}", userhash=false`,
    );
    expect(auth.params.get("username*")).toBe(v.expected.usernameStar);
    expect(decodeExtValue(auth.params.get("username*") as string)).toBe(v.username);
    expect(auth.params.get("userhash")).toBe("false");
  });

  it("RFC 2617 §3.5 Authorization (with the RFC's folded whitespace removed)", () => {
    const v = RFC2617_SECTION_3_5;
    const auth = parseCredentials(
      'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ' +
        'uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", ' +
        'response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    );
    expect(auth.params.get("response")).toBe(v.expected.response);
    expect(auth.params.get("nonce")).toBe(v.nonce);
  });
});

const MATRIX = PROVIDERS.flatMap(([providerName, crypto]) =>
  BACKENDS.map(([backendName, backend]) => [providerName, backendName, crypto, backend] as const),
);

describe.each(MATRIX)(
  "[DIGEST-VECTORS][CRYPTO-PROVIDERS][DIGEST-AUTHINFO] verifier round trip with the vectors' inputs (%s, hashes: %s)",
  (_provider, _backend, crypto, backend) => {
    useBackend(backend);

    function verifierFor(
      v: DigestVector,
      lookup = staticCredentials({ [v.username]: v.password }),
    ) {
      return createDigestVerifier({
        realm: v.realm,
        secret: SECRET,
        lookup,
        algorithms: [v.algorithm],
        qop: [v.qop],
        crypto,
        now: () => T0,
      });
    }

    it.each(ALL_VECTORS.map((v) => [label(v), v] as const))("%s", async (_name, v) => {
      const verifier = verifierFor(v);
      const challenges = verifier.challenges();
      expect(challenges).toHaveLength(1);
      const challenge = challenges[0] as string;
      expect(challengeParam(challenge, "algorithm")).toBe(v.algorithm);
      expect(challengeParam(challenge, "realm")).toBe(v.realm);
      expect(challengeParam(challenge, "qop")).toBe(v.qop);
      const answer = answerChallenge(challenge, {
        username: v.username,
        password: v.password,
        method: v.method,
        uri: v.uri,
        nc: v.nc,
        cnonce: v.cnonce,
        qop: v.qop,
        body: v.body,
        userhash: v.userhash,
      });
      const outcome = await verifier.verify({
        method: v.method,
        url: `http://www.example.org${v.uri}`,
        authorization: answer.header,
        body: async () => utf8(v.body ?? ""),
      });
      if (!outcome.ok) throw new Error(`refused: ${outcome.status} ${outcome.code}`);
      expect(outcome.principal).toMatchObject({
        username: v.username,
        realm: v.realm,
        algorithm: v.algorithm,
        qop: v.qop,
        userhash: v.userhash ?? false,
      });
      expect(outcome.needsResponseBody).toBe(v.qop === "auth-int");
      const info = outcome.authenticationInfo(
        v.responseBody === undefined ? undefined : utf8(v.responseBody),
      );
      const expected = refDigest({
        ...v,
        nonce: answer.nonce,
        responseBody: v.responseBody,
      });
      const parsed = parseChallenges(`Digest ${info}`)[0]?.params;
      expect(parsed?.get("rspauth")).toBe(expected.rspauth);
      expect(parsed?.get("qop")).toBe(v.qop);
      expect(parsed?.get("nc")).toBe(v.nc);
      expect(parsed?.get("cnonce")).toBe(v.cnonce);
    });

    it.each(RFC_VECTORS.map((v) => [label(v), v] as const))(
      "%s with a stored HA1 instead of the password",
      async (_name, v) => {
        const verifier = verifierFor(v, () => ({ username: v.username, ha1: v.expected.ha1 }));
        const challenge = verifier.challenges()[0] as string;
        const answer = answerChallenge(challenge, { ...v, userhash: v.userhash });
        const outcome = await verifier.verify({
          method: v.method,
          url: `http://www.example.org${v.uri}`,
          authorization: answer.header,
        });
        expect(outcome.ok).toBe(true);
      },
    );

    it("RFC 7616 §3.9.2 answered with username* instead of the userhash", async () => {
      const v = RFC7616_SECTION_3_9_2;
      const verifier = verifierFor(v);
      const challenge = verifier.challenges()[0] as string;
      expect(challengeParam(challenge, "userhash")).toBe("true");
      expect(challengeParam(challenge, "charset")).toBe("UTF-8");
      const answer = answerChallenge(challenge, { ...v, userhash: false, usernameStar: true });
      expect(answer.header).toContain(`username*=${v.expected.usernameStar}`);
      const outcome = await verifier.verify({
        method: "GET",
        url: "http://api.example.org/doe.json",
        authorization: answer.header,
      });
      expect(outcome.ok && outcome.principal).toMatchObject({
        username: v.username,
        userhash: false,
      });
    });

    it.each([
      "MD5",
      "SHA-256",
      "SHA-512-256",
      "MD5-sess",
      "SHA-256-sess",
      "SHA-512-256-sess",
    ] as const)(
      "client <-> Hono middleware round trip with %s and rspauth required",
      async (algorithm) => {
        const app = new Hono<DigestEnv>();
        app.use(
          "*",
          digestAuth({
            realm: "http-auth@example.org",
            secret: SECRET,
            lookup: staticCredentials({ Mufasa: "Circle of Life" }),
            algorithms: [algorithm],
            crypto,
          }),
        );
        app.get("/dir/index.html", (c) => c.text(`hello ${c.var.digest.username}`));
        const client = createDigestFetch({
          username: "Mufasa",
          password: "Circle of Life",
          fetch: (r) => app.fetch(r),
          requireRspauth: true,
          crypto,
        });
        const res = await client("http://www.example.org/dir/index.html");
        expect(res.status).toBe(200);
        expect(await res.text()).toBe("hello Mufasa");
        const info = res.headers.get("authentication-info") as string;
        expect(info).toMatch(/rspauth="[0-9a-f]+"/);
      },
    );
  },
);
