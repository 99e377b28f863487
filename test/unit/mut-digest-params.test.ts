/**
 * Issue #9, checks the suite could not see (Stryker survivors in src/digest/params.ts): the
 * header grammar of RFC 9110 §11 at the places no test had looked: a tab as the separator
 * after the scheme, a quoted-pair escaping white space, a challenge list where a token68 is
 * followed by spaces before the comma, a scheme followed at once by a comma, a bare token
 * where parameters were expected, a value that is no token68 at all; splitChallenges' exact
 * output (what is sent as separate WWW-Authenticate lines); RFC 8187 ext-values anchored at
 * their start; and the parse error being recognisable by name.
 */
import { describe, expect, it } from "vitest";
import {
  DigestParseError,
  decodeExtValue,
  parseChallenges,
  parseCredentials,
  splitChallenges,
} from "../../src/digest/params.ts";
import { thrown } from "../thrown.ts";

describe("[DIGEST-PARSE] separators and escapes", () => {
  it("[DIGEST-PARSE] a tab after the scheme and between parameters is white space", () => {
    const element = parseCredentials('Digest\tusername="a",\trealm="r"');
    expect(element.scheme).toBe("Digest");
    expect(Object.fromEntries(element.params)).toEqual({ username: "a", realm: "r" });
  });

  it('[DIGEST-PARSE] a quoted-pair escaping a space or a tab yields that character ("a\\ b" is "a b")', () => {
    const element = parseCredentials('Digest username="a\\ b\\\tc\\"d"');
    expect(element.params.get("username")).toBe('a b\tc"d');
  });

  it("[DIGEST-PARSE] a parse error is a DigestParseError by class and by name", () => {
    const err = thrown(() => parseCredentials('Digest realm="unterminated'));
    expect(err).toBeInstanceOf(DigestParseError);
    expect((err as Error).name).toBe("DigestParseError");
  });

  it("[DIGEST-PARSE] a value that is neither parameters nor a token68 is a DigestParseError, never a TypeError", () => {
    // The leading comma puts a comma at the start of the text, where a failed token68 match would look.
    for (const header of ['Digest "x"', "Digest =", 'Digest ="x"', ',Digest "x"']) {
      expect(
        thrown(() => parseCredentials(header)),
        header,
      ).toBeInstanceOf(DigestParseError);
      expect(
        thrown(() => parseChallenges(header)),
        header,
      ).toBeInstanceOf(DigestParseError);
    }
  });
});

describe("[DIGEST-PARSE] challenge lists (WWW-Authenticate joined with commas)", () => {
  it("[DIGEST-PARSE] a token68 followed by spaces and then a comma ends its challenge", () => {
    const elements = parseChallenges('Negotiate abc==   , Digest realm="r", nonce="n"');
    expect(elements.map((e) => e.scheme)).toEqual(["Negotiate", "Digest"]);
    expect(elements[0]?.token68).toBe("abc==");
    expect(elements[1]?.params.get("nonce")).toBe("n");
  });

  it("[DIGEST-PARSE] a scheme followed at once by a comma is a challenge without parameters", () => {
    const elements = parseChallenges('Negotiate, Digest realm="r"');
    expect(elements.map((e) => [e.scheme, e.params.size, e.token68])).toEqual([
      ["Negotiate", 0, undefined],
      ["Digest", 1, undefined],
    ]);
  });

  it("[DIGEST-PARSE] a bare token where the first parameter was expected is malformed, not a new challenge", () => {
    expect(thrown(() => parseChallenges("Digest foo bar"))).toBeInstanceOf(DigestParseError);
    expect(thrown(() => parseChallenges('Digest foo bar, Basic realm="x"'))).toBeInstanceOf(
      DigestParseError,
    );
    // After at least one parameter, a token not followed by "=" starts the next challenge.
    expect(parseChallenges('Digest realm="r", Basic realm="x"').map((e) => e.scheme)).toEqual([
      "Digest",
      "Basic",
    ]);
  });

  it("[DIGEST-PARSE] credentials are one element: another scheme after the parameters is malformed", () => {
    expect(thrown(() => parseCredentials('Digest realm="r", Basic realm="x"'))).toBeInstanceOf(
      DigestParseError,
    );
  });
});

describe("[DIGEST-PARSE] splitChallenges: one string per challenge, exactly as written", () => {
  it("[DIGEST-PARSE] trailing commas and white space are trimmed from each challenge, nothing else", () => {
    expect(
      splitChallenges('Digest realm="a, b", nonce="1" , \t,Basic realm="b",  Negotiate abc== ,'),
    ).toEqual(['Digest realm="a, b", nonce="1"', 'Basic realm="b"', "Negotiate abc=="]);
  });

  it("[DIGEST-PARSE] an unparseable value is passed on whole rather than dropped", () => {
    expect(splitChallenges('Digest realm="unterminated')).toEqual(['Digest realm="unterminated']);
  });
});

describe("[DIGEST-PARSE][DIGEST-USERHASH] RFC 8187 ext-values (username*)", () => {
  it("[DIGEST-PARSE] UTF-8 in any case, with or without a language tag", () => {
    expect(decodeExtValue("UTF-8''J%C3%A4s%C3%B8n")).toBe("J\u00e4s\u00f8n");
    expect(decodeExtValue("utf-8'en'a%20b")).toBe("a b");
  });

  it("[DIGEST-PARSE] the charset must start the value: a leading quote or junk before it is refused", () => {
    for (const value of [
      "'UTF-8''abc",
      "x'UTF-8''abc",
      "ISO-8859-1''abc",
      "UTF-8'abc",
      "UTF-8''%E0%A4%A",
    ]) {
      expect(
        thrown(() => decodeExtValue(value)),
        value,
      ).toBeInstanceOf(DigestParseError);
    }
  });
});
