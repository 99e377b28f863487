/**
 * Issue #9, mutation testing of the single-pass parser of issue #12 (src/digest/params.ts,
 * commit cf5c512): the survivors the older tests could not see. A bare (unquoted) value ends
 * at every character JavaScript's `\s` matches above ASCII, exactly as the regex parser's
 * `[^\s,"]` did, so such a character inside a value makes the header malformed instead of
 * silently becoming part of a username or nonce; and `username*` (RFC 8187 ext-value,
 * RFC 7616 §3.4) must be an ext-value to its very end: a line separator inside a quoted
 * `username*` does not cut the value short into another user's name, and each refusal says
 * which rule was broken; and splitChallenges, which gives the challenges sent as separate
 * WWW-Authenticate lines, leaves no trailing white space after a last, empty, unquoted value.
 * The other survivors of that run are equivalent mutants (see the
 * report of this run).
 */
import { describe, expect, it } from "vitest";
import {
  createDigestVerifier,
  DigestParseError,
  parseChallenges,
  parseCredentials,
  splitChallenges,
  staticCredentials,
} from "../../src/digest/index.ts";
import { decodeExtValue } from "../../src/digest/params.ts";
import { thrown } from "../thrown.ts";

/** Every character above ASCII that JavaScript's `\s` matches (ECMA-262 WhiteSpace and LineTerminator). */
const WIDE_SPACES = [
  0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009,
  0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff,
];

const hex = (code: number) => `U+${code.toString(16).toUpperCase().padStart(4, "0")}`;

describe("[DIGEST-PARSE-SINGLE-PASS] a bare value ends at wide white space, as the regex parser's did", () => {
  // Report: params.ts:83 ConditionalExpression (0x1680 -> false), params.ts:84 ConditionalExpression
  // (range -> false), params.ts:84 EqualityOperator (`code > 0x2000`), params.ts:84 EqualityOperator
  // (`code < 0x200a`), params.ts:86 / :88 / :89 / :90 ConditionalExpression (0x2029, 0x205f,
  // 0x3000, 0xfeff -> false).
  it.each(WIDE_SPACES.map((code) => [hex(code), code] as const))(
    "[DIGEST-PARSE-SINGLE-PASS] [DIGEST-HOSTILE] %s inside an unquoted value makes the credentials malformed",
    (_name, code) => {
      const ch = String.fromCharCode(code);
      // Sanity: the character is one the regex grammar treated as white space.
      expect(/\s/.test(ch)).toBe(true);
      const header = `Digest username=alice${ch}admin, realm=r`;
      const err = thrown(() => parseCredentials(header));
      expect(err).toBeInstanceOf(DigestParseError);
      expect((err as Error).message).toBe("malformed auth-param");
      // The same character in a quoted value is just content.
      expect(
        parseCredentials(`Digest username="alice${ch}admin", realm=r`).params.get("username"),
      ).toBe(`alice${ch}admin`);
    },
  );

  // Report: the same mutants as above, seen from the client side (parseChallenges).
  it.each(WIDE_SPACES.map((code) => [hex(code), code] as const))(
    "[DIGEST-PARSE-SINGLE-PASS] [DIGEST-CLIENT] %s inside an unquoted challenge value makes the challenge malformed",
    (_name, code) => {
      const ch = String.fromCharCode(code);
      const err = thrown(() => parseChallenges(`Digest realm="r", nonce=abc${ch}def, qop=auth`));
      expect(err).toBeInstanceOf(DigestParseError);
      expect((err as Error).message).toBe("malformed auth-param");
      // A plain ASCII value in that place parses.
      expect(
        parseChallenges('Digest realm="r", nonce=abcdef, qop=auth')[0]?.params.get("nonce"),
      ).toBe("abcdef");
    },
  );
});

describe("[DIGEST-PARSE] splitChallenges gives each challenge exactly as written, without trailing white space", () => {
  // Report: params.ts:260 EqualityOperator (`at < end` -> `at <= end`: the bare-value loop steps one
  // past the end, so the challenge's end lands beyond the trailing white space it should trim).
  it("[DIGEST-PARSE] [DIGEST-CLIENT] a last parameter with an empty unquoted value before trailing white space is split without that white space", () => {
    for (const tail of [" ", "\t", " \t "]) {
      expect(splitChallenges(`Digest realm="r", qop=auth, opaque=${tail}`)).toEqual([
        'Digest realm="r", qop=auth, opaque=',
      ]);
      expect(splitChallenges(`Basic realm="b", Digest realm="r", opaque=${tail}`)).toEqual([
        'Basic realm="b"',
        'Digest realm="r", opaque=',
      ]);
    }
    // The parse itself: the empty value is a value.
    expect(parseChallenges('Digest realm="r", opaque=\t')[0]?.params.get("opaque")).toBe("");
    // A non-empty last value is trimmed the same way.
    expect(splitChallenges('Digest realm="r", opaque=x\t')).toEqual(['Digest realm="r", opaque=x']);
  });
});

describe("[DIGEST-USERHASH] username* is an RFC 8187 ext-value to its end", () => {
  const REALM = "single-pass@example.org";
  const verifier = () =>
    createDigestVerifier({
      realm: REALM,
      secret: "mut-single-pass-secret-0123456789",
      lookup: staticCredentials({ alice: "alice-pw" }),
      algorithms: ["SHA-256"],
      nonceLifetimeSeconds: 60,
      now: () => Date.UTC(2020, 0, 1),
    });

  // Report: params.ts:407 Regex (the `$` anchor dropped: `.` stops at a line terminator).
  it("[DIGEST-USERHASH] [DIGEST-HOSTILE] a username* cut short by U+2028 is refused, not read as the name before it", async () => {
    for (const sep of ["\u2028", "\u2029", "\n", "\r"]) {
      const err = thrown(() => decodeExtValue(`UTF-8''alice${sep}mallory`));
      expect(err).toBeInstanceOf(DigestParseError);
      expect((err as Error).message).toBe("username* must be an RFC 8187 UTF-8 ext-value");
    }
    // U+2028 is no control character: the header parses, and the verifier must refuse it as malformed.
    const header = `Digest username*="UTF-8''alice\u2028mallory", realm="${REALM}", nonce="n", uri="/x", response="00", qop=auth, nc=00000001, cnonce="c"`;
    expect(parseCredentials(header).params.get("username*")).toBe("UTF-8''alice\u2028mallory");
    expect(
      await verifier().verify({ method: "GET", url: "http://h/x", authorization: header }),
    ).toMatchObject({
      ok: false,
      status: 400,
      code: "ERR_DIGEST_MALFORMED",
    });
    // The same header with a well-formed username* is no parse error (it is just a wrong answer).
    const good = header.replace("alice\u2028mallory", "alice");
    expect(
      await verifier().verify({ method: "GET", url: "http://h/x", authorization: good }),
    ).not.toMatchObject({
      code: "ERR_DIGEST_MALFORMED",
    });
  });

  // Report: params.ts:409 StringLiteral (message -> "") and params.ts:414 StringLiteral (message -> "").
  it("[DIGEST-USERHASH] a refused username* says which rule it broke: not UTF-8 ext-value, or bad percent-encoding", () => {
    for (const value of ["ISO-8859-1''alice", "alice", "UTF-8'alice"]) {
      const err = thrown(() => decodeExtValue(value));
      expect(err).toBeInstanceOf(DigestParseError);
      expect((err as Error).message).toBe("username* must be an RFC 8187 UTF-8 ext-value");
    }
    for (const value of ["UTF-8''%E0%A4%A", "UTF-8''%FF", "UTF-8''a%"]) {
      const err = thrown(() => decodeExtValue(value));
      expect(err).toBeInstanceOf(DigestParseError);
      expect((err as Error).message).toBe("username* has invalid percent-encoding");
    }
  });
});
