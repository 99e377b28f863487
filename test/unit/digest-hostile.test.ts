/**
 * Hostile Authorization headers (RFC 9110 §11.4 grammar, RFC 7616 §3.4 required fields,
 * §3.4.6 uri check, RFC 8187 username*): a table of [name, header, status] rows, each run
 * through `verify()` (must resolve, never throw, ok=false with exactly the status given) and
 * through the Hono middleware (must answer that status as problem+json with a stable `code`,
 * never 200 or 500). Then the same promise as properties (fast-check): arbitrary strings and
 * arbitrary parameter lists only ever give 400 or 401.
 */
import { Crypto } from "@peculiar/webcrypto";
import fc from "fast-check";
import { Hono } from "hono";
import { beforeAll, describe, expect, it } from "vitest";
import {
  createDigestVerifier,
  type DigestEnv,
  type DigestVerifier,
  digestAuth,
  MemoryReplayLedger,
  staticCredentials,
} from "../../src/digest/index.ts";
import type { ErrorCode } from "../../src/errors.ts";
import {
  type AnswerOptions,
  answerChallenge,
  challengeParam,
  digestHeader,
  type HeaderParam,
  refQuote,
} from "../vectors/reference-digest.ts";

const SECRET = "hostile-test-secret-0123456789abcdef";
const REALM = "hostile@example.org";
const T0 = Date.UTC(2025, 5, 1);
const URL_PATH = "/private/resource?x=1";
const USERS = { alice: "correct horse", "J\u00e4s\u00f8n Doe": "Secret, or not?" };

const options = {
  realm: REALM,
  secret: SECRET,
  // One ledger behind every verifier here: its epoch is in the nonces (issue #9
  // item 2), so instances share nonces only when they share the ledger.
  ledger: new MemoryReplayLedger({ now: () => T0 }),
  lookup: staticCredentials(USERS),
  algorithms: ["SHA-256", "MD5"] as const,
  qop: ["auth"] as const,
  now: () => T0,
};

let verifier: DigestVerifier;
let app: Hono<DigestEnv>;
let challenge: string;
let nonce: string;
let opaque: string;

beforeAll(async () => {
  verifier = createDigestVerifier({
    ...options,
    algorithms: [...options.algorithms],
    qop: ["auth"],
  });
  app = new Hono<DigestEnv>();
  // A second verifier instance behind the middleware: same secret and realm, so the stateless
  // nonces of one are valid for the other.
  app.use(
    "/private/*",
    digestAuth({ ...options, algorithms: [...options.algorithms], qop: ["auth"] }),
  );
  app.get("/private/*", (c) => c.text("secret"));
  challenge = verifier.challenges()[0] as string;
  nonce = challengeParam(challenge, "nonce") as string;
  opaque = challengeParam(challenge, "opaque") as string;
});

/** A correct answer for alice, with overrides to break one thing at a time. */
function alice(extra: Partial<AnswerOptions> = {}): string {
  return answerChallenge(challenge, {
    username: "alice",
    password: "correct horse",
    uri: URL_PATH,
    ...extra,
  }).header;
}

const wrongLength = (hex: string) => hex.slice(0, -1);
const flip = (text: string, index: number) => {
  const chars = [...text];
  const ch = chars[index] as string;
  chars[index] = ch === "A" ? "B" : "A";
  return chars.join("");
};

type Row = readonly [name: string, header: () => string, status: 400 | 401, code?: ErrorCode];

const MALFORMED = "ERR_DIGEST_MALFORMED";
const UNAUTHORIZED = "ERR_DIGEST_UNAUTHORIZED";

const ROWS: readonly Row[] = [
  // --- framing -------------------------------------------------------------------------
  ["empty header", () => "", 401],
  ["only the scheme", () => "Digest", 400],
  ["scheme in lower case, nothing else", () => "digest", 400],
  ["scheme and trailing spaces", () => "Digest    ", 400],
  ["no scheme, parameters only", () => 'username="alice", realm="x"', 400],
  ["scheme glued to a parameter", () => 'Digestusername="alice"', 400],
  ["comma right after the scheme", () => `Digest,${alice().slice(6)}`, 400],
  ["token68 instead of parameters", () => "Digest QWxhZGRpbjpvcGVuIHNlc2FtZQ==", 400],
  ["two schemes in one header", () => `${alice()}, Basic QWxhZGRpbjpvcGVu`, 400],
  ["Basic scheme", () => "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", 401, UNAUTHORIZED],
  ["Bearer scheme", () => "Bearer eyJhbGciOiJub25lIn0.e30.", 401, UNAUTHORIZED],
  ["unknown scheme with Digest-like parameters", () => alice().replace(/^Digest/, "Digets"), 401],
  // --- quoting -------------------------------------------------------------------------
  ["unterminated quote", () => 'Digest username="alice, realm="x"', 400],
  ["unterminated quote at the end", () => `${alice()}, foo="bar`, 400],
  ["backslash escaping the closing quote", () => 'Digest username="alice\\"', 400],
  ["quote inside a bare value", () => 'Digest username=al"ice"', 400],
  ["missing '=' after a parameter name", () => `${alice()}, dangling`, 400],
  ["parameter without a name", () => `${alice()}, ="x"`, 400],
  ["missing comma between parameters", () => 'Digest username="alice" realm="x"', 400],
  ["escaped quote inside the username", () => alice({ override: { username: 'al"ice' } }), 401],
  // --- weird commas --------------------------------------------------------------------
  ["only commas", () => "Digest ,,,,", 400],
  ["comma soup between names", () => "Digest ,=,=,=", 400],
  ["trailing commas without the required fields", () => 'Digest username="alice",,,,', 400],
  ["empty bare values", () => "Digest username=, realm=, nonce=, uri=, response=", 400],
  // --- duplicates and volume -----------------------------------------------------------
  ["duplicate realm", () => `${alice()}, realm=${refQuote(REALM)}`, 400],
  ["duplicate response differing in case", () => `${alice()}, RESPONSE="00"`, 400],
  ["duplicate username", () => `${alice()}, username="alice"`, 400],
  ["20k-long header", () => `${alice()}, pad="${"a".repeat(20_000)}"`, 400],
  ["20k-long single token", () => "A".repeat(20_000), 400],
  [
    "100 parameters",
    () => `${alice()}, ${Array.from({ length: 100 }, (_, i) => `p${i}=${i}`).join(", ")}`,
    400,
  ],
  ["prototype-ish parameter names only", () => 'Digest __proto__="x", constructor="y"', 400],
  // --- characters ----------------------------------------------------------------------
  ["NUL in a quoted value", () => alice({ override: { username: "ali\u0000ce" } }), 400],
  ["SOH control character", () => alice({ override: { username: "ali\u0001ce" } }), 400],
  ["ESC control character", () => `${alice()}, x="\u001b[31m"`, 400],
  ["DEL character", () => alice({ override: { cnonce: "abc\u007f" } }), 400],
  ["CR LF header injection", () => `${alice()}\r\nX-Injected: 1`, 400],
  ["bare LF", () => `${alice()}\nx`, 400],
  ["unicode in the scheme", () => alice().replace(/^Digest/, "D\u00efgest"), 400],
  ["unicode parameter name", () => `${alice()}, \u00fcser="x"`, 400],
  ["emoji username, unknown user", () => alice({ override: { username: "\u{1f600}" } }), 401],
  [
    "non-Latin-1 username, unknown user",
    () => alice({ override: { username: "\u0410\u043b\u0438\u0441\u0430" } }),
    401,
  ],
  ["lone surrogate in a value", () => alice({ override: { username: "a\ud800b" } }), 401],
  // --- username / username* / userhash -------------------------------------------------
  [
    "username and username* together",
    () => alice({ extra: [["username*", "UTF-8''alice", false]] }),
    400,
  ],
  [
    "username* with userhash=true",
    () => alice({ usernameStar: true, extra: [["userhash", "true", false]] }),
    400,
  ],
  [
    "username* with bad percent-encoding",
    () => alice({ usernameStar: true, override: { "username*": "UTF-8''%ZZ" } }),
    400,
  ],
  [
    "username* truncated UTF-8",
    () => alice({ usernameStar: true, override: { "username*": "UTF-8''%C3" } }),
    400,
  ],
  [
    "username* in ISO-8859-1",
    () => alice({ usernameStar: true, override: { "username*": "ISO-8859-1''alice" } }),
    400,
  ],
  [
    "username* without charset",
    () => alice({ usernameStar: true, override: { "username*": "alice" } }),
    400,
  ],
  [
    "userhash=true with a plain username",
    () => alice({ extra: [["userhash", "true", false]] }),
    401,
  ],
  ["userhash of an unknown user", () => alice({ userhash: true, username: "mallory" }), 401],
  // --- required fields -----------------------------------------------------------------
  ["missing username", () => alice({ override: { username: null } }), 400, MALFORMED],
  ["missing realm", () => alice({ override: { realm: null } }), 400, MALFORMED],
  ["missing nonce", () => alice({ override: { nonce: null } }), 400, MALFORMED],
  ["missing uri", () => alice({ override: { uri: null } }), 400, MALFORMED],
  ["missing response", () => alice({ override: { response: null } }), 400, MALFORMED],
  ["missing nc", () => alice({ override: { nc: null } }), 400, MALFORMED],
  ["missing cnonce", () => alice({ override: { cnonce: null } }), 400, MALFORMED],
  ["empty cnonce", () => alice({ override: { cnonce: "" } }), 400, MALFORMED],
  // RFC 2069 style (no qop): answered with a fresh challenge rather than a 400.
  ["missing qop (RFC 2069 style)", () => alice({ override: { qop: null } }), 401, UNAUTHORIZED],
  // --- field formats -------------------------------------------------------------------
  ["nc of 1 digit", () => alice({ override: { nc: "1" } }), 400, MALFORMED],
  ["nc of 9 digits", () => alice({ override: { nc: "000000001" } }), 400, MALFORMED],
  ["nc not hex", () => alice({ override: { nc: "0000000g" } }), 400, MALFORMED],
  ["nc negative", () => alice({ override: { nc: "-0000001" } }), 400, MALFORMED],
  ["response not hex", () => alice({ override: { response: "z".repeat(64) } }), 400, MALFORMED],
  ["response empty", () => alice({ override: { response: "" } }), 400, MALFORMED],
  [
    "response of the wrong length",
    () => alice({ override: { response: wrongLength("a".repeat(64)) } }),
    401,
    UNAUTHORIZED,
  ],
  ["MD5-length response for SHA-256", () => alice({ override: { response: "a".repeat(32) } }), 401],
  [
    "wrong response of the right length",
    () => alice({ override: { response: "0".repeat(64) } }),
    401,
  ],
  // --- negotiation ---------------------------------------------------------------------
  ["unknown algorithm", () => alice({ override: { algorithm: "SHA-1" } }), 401, UNAUTHORIZED],
  ["empty algorithm", () => alice({ override: { algorithm: "" } }), 401],
  ["algorithm not offered (SHA-512-256)", () => alice({ algorithm: "SHA-512-256" }), 401],
  ["qop not offered (auth-int)", () => alice({ qop: "auth-int" }), 401, UNAUTHORIZED],
  ["unknown qop", () => alice({ qop: "auth-conf" }), 401],
  // --- binding to this server and request ----------------------------------------------
  ["realm mismatch", () => alice({ override: { realm: "other@example.org" } }), 401, UNAUTHORIZED],
  ["realm differing in case", () => alice({ override: { realm: REALM.toUpperCase() } }), 401],
  ["opaque mismatch", () => alice({ override: { opaque: flip(opaque, 3) } }), 401, UNAUTHORIZED],
  ["nonce not base64url", () => alice({ override: { nonce: "!!!" } }), 401, UNAUTHORIZED],
  ["nonce empty", () => alice({ override: { nonce: "" } }), 401],
  ["nonce truncated", () => alice({ override: { nonce: nonce.slice(0, -4) } }), 401],
  [
    "RFC 7616 example nonce",
    () => alice({ override: { nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v" } }),
    401,
  ],
  [
    "uri of another resource",
    () => alice({ uri: "/private/other" }),
    400,
    "ERR_DIGEST_URI_MISMATCH",
  ],
  [
    "uri without the query",
    () => alice({ uri: "/private/resource" }),
    400,
    "ERR_DIGEST_URI_MISMATCH",
  ],
  [
    "uri relative (no leading slash)",
    () => alice({ uri: "private/resource?x=1" }),
    400,
    "ERR_DIGEST_URI_MISMATCH",
  ],
  [
    "uri with a non-http scheme",
    () => alice({ uri: "ftp://localhost/private/resource?x=1" }),
    400,
    "ERR_DIGEST_URI_MISMATCH",
  ],
  // --- credentials ---------------------------------------------------------------------
  ["unknown user", () => alice({ username: "mallory" }), 401, UNAUTHORIZED],
  ["wrong password", () => alice({ password: "Correct horse" }), 401, UNAUTHORIZED],
  ["empty username", () => alice({ username: "" }), 401, UNAUTHORIZED],
];

function expectedCode(row: Row): ErrorCode {
  return row[3] ?? (row[2] === 400 ? MALFORMED : UNAUTHORIZED);
}

/**
 * What a header looks like once it has crossed the wire: fetch's Headers only carries
 * ByteStrings, so anything above U+00FF arrives as its UTF-8 bytes read as Latin-1.
 * NUL, CR and LF cannot be carried at all (Headers throws), so those rows stop at verify().
 */
function onTheWire(header: string): string | undefined {
  if (/[\0\r\n]/.test(header)) return undefined;
  return /[^\t\x20-\xff]/.test(header) ? Buffer.from(header, "utf8").toString("latin1") : header;
}

describe("[DIGEST-HOSTILE][DIGEST-PARSE] hostile Authorization headers: verify()", () => {
  it("the fixture's unmodified answer is accepted (so every row fails for its own reason)", async () => {
    const fresh = createDigestVerifier({ ...options, algorithms: ["SHA-256"], qop: ["auth"] });
    const outcome = await fresh.verify({
      method: "GET",
      url: `http://localhost${URL_PATH}`,
      authorization: alice(),
    });
    expect(outcome.ok).toBe(true);
  });

  it.each(ROWS.map((row) => [row[0], row] as const))("%s", async (_name, row) => {
    const [, header, status] = row;
    const outcome = await verifier.verify({
      method: "GET",
      url: `http://localhost${URL_PATH}`,
      authorization: header(),
    });
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.status).toBe(status);
    expect(outcome.code).toBe(expectedCode(row));
    if (status === 401) {
      expect(outcome.challenges).toHaveLength(2);
      for (const c of outcome.challenges) expect(c).toMatch(/^Digest realm="hostile@example\.org"/);
      expect(outcome.challenges.join()).not.toContain("stale");
    } else {
      expect(outcome.challenges).toEqual([]);
    }
  });

  it("an absent header (null/undefined) asks for credentials", async () => {
    for (const authorization of [null, undefined]) {
      const outcome = await verifier.verify({
        method: "GET",
        url: `http://localhost${URL_PATH}`,
        authorization,
      });
      expect(outcome.ok === false && outcome.status).toBe(401);
    }
  });

  it("whitespace-only header is malformed for verify() (fetch would trim it to empty: 401)", async () => {
    const outcome = await verifier.verify({
      method: "GET",
      url: `http://localhost${URL_PATH}`,
      authorization: "   ",
    });
    expect(outcome.ok === false && outcome.status).toBe(400);
  });

  it("a request URL that cannot be parsed is a 400, not a throw", async () => {
    const outcome = await verifier.verify({
      method: "GET",
      url: "not a url",
      authorization: alice(),
    });
    expect(outcome.ok === false && outcome.status).toBe(400);
  });
});

describe("[DIGEST-HOSTILE] hostile Authorization headers: Hono middleware answers problem+json", () => {
  it.each(ROWS.map((row) => [row[0], row] as const))("%s", async (_name, row) => {
    const [, header, status] = row;
    const wire = onTheWire(header());
    if (wire === undefined) {
      expect(() => new Headers({ authorization: header() })).toThrow(TypeError);
      return;
    }
    const res = await app.request(URL_PATH, { headers: { authorization: wire } });
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const body = (await res.json()) as { code: string; status: number; type: string };
    // An empty header on the wire is the same as none at all.
    const code = expectedCode(row);
    expect(body).toMatchObject({ code, status, type: `urn:http-digest:problem:${code}` });
    if (status === 401) expect(res.headers.get("www-authenticate")).toMatch(/^Digest /);
    else expect(res.headers.get("www-authenticate")).toBeNull();
  });
});

const REAL_NAMES = [
  "username",
  "username*",
  "realm",
  "nonce",
  "uri",
  "response",
  "algorithm",
  "cnonce",
  "opaque",
  "qop",
  "nc",
  "userhash",
] as const;

describe("[DIGEST-HOSTILE] properties: arbitrary input never authenticates and never throws", () => {
  const request = (authorization: string) =>
    verifier.verify({ method: "GET", url: `http://localhost${URL_PATH}`, authorization });

  const expectRefusal = async (authorization: string) => {
    const outcome = await request(authorization);
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect([400, 401]).toContain(outcome.status);
  };

  it("arbitrary strings (any code unit)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "binary", maxLength: 300 }), expectRefusal),
      { numRuns: 300 },
    );
  });

  it("arbitrary strings after 'Digest '", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "grapheme-ascii", maxLength: 300 }), (s) =>
        expectRefusal(`Digest ${s}`),
      ),
      { numRuns: 300 },
    );
  });

  // Parameter lists mixing the real names and plausible values (this server's nonce, opaque and
  // realm, a valid nc) with junk; the one thing never offered is a correct response.
  const paramList = () => {
    const name = fc.oneof(
      fc.constantFrom(...REAL_NAMES),
      fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 10 }),
    );
    const value = fc.oneof(
      fc.constantFrom(
        "alice",
        REALM,
        nonce,
        opaque,
        URL_PATH,
        "SHA-256",
        "MD5",
        "auth",
        "auth-int",
        "00000001",
        "true",
        "0".repeat(64),
        "UTF-8''alice",
      ),
      fc.string({ unit: "binary", maxLength: 40 }),
    );
    const param = fc.tuple(name, value, fc.boolean()) as fc.Arbitrary<HeaderParam>;
    return fc.array(param, { maxLength: 14 });
  };

  it("arbitrary parameter lists", async () => {
    await fc.assert(
      fc.asyncProperty(paramList(), (params) => expectRefusal(digestHeader(params))),
      { numRuns: 400 },
    );
  });

  it("arbitrary parameter lists through the Hono middleware: only 400/401 problem+json", async () => {
    await fc.assert(
      fc.asyncProperty(paramList(), async (params) => {
        const wire = onTheWire(digestHeader(params));
        if (wire === undefined) return;
        const res = await app.request(URL_PATH, { headers: { authorization: wire } });
        expect([400, 401]).toContain(res.status);
        expect(res.headers.get("content-type")).toBe("application/problem+json");
        const body = (await res.json()) as { code: string };
        expect([MALFORMED, UNAUTHORIZED, "ERR_DIGEST_URI_MISMATCH"]).toContain(body.code);
      }),
      { numRuns: 150 },
    );
  });

  it("one-parameter mutations of a correct answer never pass (other than the untouched one)", async () => {
    const fresh = createDigestVerifier({
      ...options,
      algorithms: ["SHA-256"],
      qop: ["auth"],
      crypto: new Crypto(),
    });
    const c = fresh.challenges()[0] as string;
    const base = answerChallenge(c, {
      username: "alice",
      password: "correct horse",
      uri: URL_PATH,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("username", "realm", "uri", "nonce", "cnonce", "response", "opaque"),
        fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 20 }),
        async (name, junk) => {
          const mutated = answerChallenge(c, {
            username: "alice",
            password: "correct horse",
            uri: URL_PATH,
            cnonce: base.cnonce,
            override: { [name]: `${junk}x` },
          });
          const outcome = await fresh.verify({
            method: "GET",
            url: `http://localhost${URL_PATH}`,
            authorization: mutated.header,
          });
          expect(outcome.ok).toBe(false);
        },
      ),
      { numRuns: 200 },
    );
  });
});
