/**
 * Issue #9, mutation testing: the src/digest/params.ts survivors of the 17:17 whole-scope run on
 * main that docs/mutation.md had set aside as "message text only". parseChallenges and
 * parseCredentials are exported (src/digest/index.ts) and a caller debugging a refused header
 * reads the DigestParseError's message: each refusal must say what is wrong with the header,
 * and which of the refusals it is (trailing data after a token68 is not the same mistake as a
 * missing space after the scheme, nor as a second challenge inside one credential).
 */
import { describe, expect, it } from "vitest";
import { DigestParseError, parseChallenges, parseCredentials } from "../../src/digest/index.ts";

function parseError(parse: () => unknown): DigestParseError {
  let caught: unknown;
  try {
    parse();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(DigestParseError);
  return caught as DigestParseError;
}

const manyParams = Array.from({ length: 65 }, (_, i) => `p${i}=${i}`).join(", ");

describe("[DIGEST-PARSE] a refused header says why", () => {
  it.each([
    ["a header over 16 KiB", `Digest a="${"x".repeat(16 * 1024)}"`, "header too long"],
    ["a control character", 'Digest a="x\u0001y"', "control character in header"],
    ["an unterminated quoted string", 'Digest realm="unterminated', "malformed auth-param"],
    ["a parameter given twice", "Digest nonce=1, NONCE=2", "duplicate parameter nonce"],
    ["more than 64 parameters", `Digest ${manyParams}`, "too many parameters"],
    ["no scheme at all", '="x"', "expected an auth-scheme"],
    ["a scheme glued to a quoted string", 'Digest"x"', "expected a space after the auth-scheme"],
    ["a second element after a comma", "Digest, Basic", "trailing data"],
    ["data after a token68", "Negotiate abc==, more", "trailing data after token68"],
    ["a second challenge inside one credential", 'Digest a=1, Basic b="2"', "malformed auth-param"],
  ])("[DIGEST-PARSE] credentials with %s", (_label, header, message) => {
    expect(parseError(() => parseCredentials(header)).message).toBe(message);
  });

  it.each([
    ["an unterminated quoted string", 'Digest realm="r", nonce="n', "malformed auth-param"],
    ["a parameter given twice", 'Digest realm="a", realm="b"', "duplicate parameter realm"],
    ["a scheme glued to a quoted string", 'Digest"x"', "expected a space after the auth-scheme"],
  ])("[DIGEST-PARSE] challenges with %s", (_label, header, message) => {
    expect(parseError(() => parseChallenges(header)).message).toBe(message);
  });
});
