/**
 * Issue #12 (Speed): the single-pass Authorization / WWW-Authenticate parser of
 * src/digest/params.ts against the regular-expression parser it replaced
 * (kept as the oracle in digest-params-oracle.ts). On generated headers built
 * from the grammar's awkward pieces, and on mutations of real Digest headers
 * (characters inserted, deleted and replaced, control characters and
 * Unicode white space included), both give the same element, or refuse with
 * the same message, for parseCredentials, parseChallenges and splitChallenges.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DigestParseError,
  parseChallenges,
  parseCredentials,
  splitChallenges,
} from "../../src/digest/params.ts";
import * as oracle from "./digest-params-oracle.ts";

/**
 * Cases per property: 5,000 in CI; fewer under Stryker (STRYKER_TESTS is set
 * by stryker.config.mjs), where these run once per mutant of params.ts;
 * PARSE_EQUIVALENCE_RUNS=100000 for a long run by hand.
 */
const RUNS = Number(
  process.env.PARSE_EQUIVALENCE_RUNS ?? (process.env.STRYKER_TESTS === undefined ? 5_000 : 500),
);

type Outcome = { error: string } | { value: unknown };

function outcome(run: () => unknown, errorClass: new (...args: never[]) => Error): Outcome {
  try {
    return { value: run() };
  } catch (err) {
    if (!(err instanceof errorClass)) throw err;
    return { error: err.message };
  }
}

function flatten(element: {
  scheme: string;
  params: Map<string, string>;
  token68?: string;
}): unknown {
  return { scheme: element.scheme, params: [...element.params], token68: element.token68 };
}

function sameEverywhere(header: string): void {
  expect(
    outcome(() => flatten(parseCredentials(header)), DigestParseError),
    `credentials ${JSON.stringify(header)}`,
  ).toEqual(outcome(() => flatten(oracle.parseCredentials(header)), oracle.OracleParseError));
  expect(
    outcome(() => parseChallenges(header).map(flatten), DigestParseError),
    `challenges ${JSON.stringify(header)}`,
  ).toEqual(outcome(() => oracle.parseChallenges(header).map(flatten), oracle.OracleParseError));
  expect(splitChallenges(header), `split ${JSON.stringify(header)}`).toEqual(
    oracle.splitChallenges(header),
  );
}

/** The pieces the grammar turns on, and the characters it must refuse or must not mistake for space. */
const PIECES = [
  "Digest",
  "Basic",
  "Negotiate",
  "username",
  "realm",
  "nonce",
  "a",
  "Z9",
  "abc==",
  "=",
  "==",
  '"',
  '""',
  "\\",
  '\\"',
  ",",
  ", ",
  " ",
  "  ",
  "\t",
  "/",
  "+",
  "-",
  ".",
  "~",
  "!",
  "#",
  ";",
  ":",
  "(",
  "é",
  "😀",
  "\u0000",
  "\u0001",
  "\n",
  "\r",
  "\u000b",
  "\u000c",
  "\u007f",
  "\u00a0",
  "\u1680",
  "\u2003",
  "\u2028",
  "\u2029",
  "\u202f",
  "\u3000",
  "\ufeff",
];

const pieces = fc
  .array(fc.constantFrom(...PIECES), { maxLength: 24 })
  .map((parts) => parts.join(""));

/** Well-formed headers of every shape the clients send, to mutate. */
const REAL = [
  'Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
  'Digest username*=UTF-8\'\'J%C3%A4s%C3%B8n%20Doe, realm="api@example.org", uri="/doe.json", algorithm="SHA-512-256", nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", nc=00000001, cnonce="NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v", qop="auth", response="ae66e67d6b427bd3f120414a82e4acff38e8ecd9101d6c861229025f607a79dd", opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", userhash=false',
  'Digest realm="r", qop="auth, auth-int", algorithm=SHA-256, nonce="abc", opaque="o", charset=UTF-8, userhash=true, Digest realm="r", algorithm=MD5, nonce="n2", stale=true',
  'Basic realm="x", Negotiate abc==, Digest realm="a\\"b", nonce=n',
  'Digest username="a\\\\b", realm="r", nonce="n", uri="/p?q=1,2", response=abc, nc=00000001, cnonce="c", qop=auth',
];

type Mutation =
  | { kind: "insert" | "replace"; at: number; text: string }
  | { kind: "delete"; at: number; length: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    text: fc.constantFrom(...PIECES),
  }),
  fc.record({
    kind: fc.constant("delete" as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 8 }),
  }),
  fc.record({
    kind: fc.constant("replace" as const),
    at: fc.nat(),
    text: fc.constantFrom(...PIECES),
  }),
);

function mutate(header: string, steps: ReadonlyArray<Mutation>): string {
  let out = header;
  for (const step of steps) {
    const at = out.length === 0 ? 0 : step.at % (out.length + 1);
    if (step.kind === "insert") out = out.slice(0, at) + step.text + out.slice(at);
    else if (step.kind === "delete") out = out.slice(0, at) + out.slice(at + step.length);
    else out = out.slice(0, at) + step.text + out.slice(at + 1);
  }
  return out;
}

describe("[DIGEST-PARSE-SINGLE-PASS] the single-pass parser answers as the regular-expression parser did", () => {
  it("[DIGEST-PARSE-SINGLE-PASS] on headers built from the grammar's pieces (scheme, token68, quotes, escapes, commas, controls, Unicode spaces)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("", "Digest ", "Digest\t", " Digest ", "Basic "),
        pieces,
        (prefix, rest) => sameEverywhere(prefix + rest),
      ),
      { numRuns: RUNS },
    );
  }, 120_000);

  it("[DIGEST-PARSE-SINGLE-PASS] on real Digest headers with characters inserted, deleted and replaced", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...REAL),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (header, steps) => sameEverywhere(mutate(header, steps)),
      ),
      { numRuns: RUNS },
    );
  }, 120_000);

  it("[DIGEST-PARSE-SINGLE-PASS] on name=value lists of arbitrary strings, quoted and bare", () => {
    const value = fc.string({ unit: "binary", maxLength: 12 });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("a", "b", "nonce", "A", "x-y"), value, fc.boolean()), {
          maxLength: 6,
        }),
        fc.constantFrom(", ", ",", " ,, ", "\t,"),
        (params, separator) =>
          sameEverywhere(
            `Digest ${params
              .map(
                ([name, v, quoted]) => `${name}=${quoted ? `"${v.replace(/[\\"]/g, "\\$&")}"` : v}`,
              )
              .join(separator)}`,
          ),
      ),
      { numRuns: RUNS },
    );
  }, 120_000);

  it("[DIGEST-PARSE-SINGLE-PASS] at the limits: 64 and 65 parameters, 16 KiB and one more character, a control character after a trailing space", () => {
    const list = (n: number) => Array.from({ length: n }, (_, i) => `p${i}=${i}`).join(", ");
    for (const header of [
      `Digest ${list(64)}`,
      `Digest ${list(65)}`,
      `Digest a="${"x".repeat(16 * 1024 - 12)}"`,
      `Digest a="${"x".repeat(16 * 1024 - 11)}"`,
      "Digest a=1 \n",
      "\r\nDigest a=1",
      "Digest a=1,\u0000",
      'Digest a="\\',
      'Digest a="x\\\u0001"',
      "Digest a=1, B \u0001",
    ]) {
      sameEverywhere(header);
    }
  }, 60_000);

  it("[DIGEST-PARSE-SINGLE-PASS] a long run of empty list elements between parameters and at the end", () => {
    const run = ",".repeat(8 * 1024);
    sameEverywhere(`Digest a=1${run} b=2`);
    sameEverywhere(`Digest a=1, b=2${run}`);
    sameEverywhere(`Digest a=1${run} Basic ${run}`);
    expect(Object.fromEntries(parseCredentials(`Digest a=1${run} b=2`).params)).toEqual({
      a: "1",
      b: "2",
    });
  }, 60_000);
});
