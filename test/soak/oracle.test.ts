/**
 * Issue #9 "Reliability figures": the fuzzer's forgery oracle
 * (bench/soak/oracle.ts) must count exactly the true forgeries. A variant
 * that only changes spelling (whitespace, order, quoting, case of names, hex
 * or tokens) is equivalent; any change of a value the response hash covers,
 * of the request it was computed for, or an ambiguous header, is a forgery.
 */
import { describe, expect, it } from "vitest";
import { accepted, isForgery, meaningOf, type SentShape } from "../../bench/soak/oracle.ts";

const GENUINE =
  'Digest username="pne-1", realm="cpns", uri="/cpns/v1/whoami", algorithm=SHA-256, nonce="AAAB-n0nce", nc=00000001, cnonce="c0ffee", qop=auth, response="abcdef0123", opaque="op"';

const shape = (credentials: string[], over: Partial<SentShape> = {}): SentShape => ({
  method: "POST",
  target: "/cpns/v1/otks",
  body: new TextEncoder().encode("{}"),
  credentials,
  ...over,
});

describe("the forgery oracle of the fuzzer", () => {
  const genuine = shape([GENUINE]);

  it.each([
    [
      "reordered, spaced, names in upper case",
      'DIGEST NC=00000001 ,  Username="pne-1",realm=cpns,uri="/cpns/v1/whoami", algorithm="sha-256", nonce=AAAB-n0nce, cnonce="c0ffee", qop="AUTH", response="ABCDEF0123"',
    ],
    [
      "an unknown parameter added, opaque changed",
      GENUINE.replace('opaque="op"', 'opaque="other", foo="bar"'),
    ],
    [
      "quoted-pairs that unquote to the same value",
      GENUINE.replace('cnonce="c0ffee"', 'cnonce="c0\\ffee"'),
    ],
  ])("[SOAK-FUZZ] an equivalent variant is not a forgery: %s", (_label, variant) => {
    expect(meaningOf(variant)).toBe(meaningOf(GENUINE));
    expect(isForgery(genuine, shape([variant]))).toBe(false);
  });

  it.each([
    [
      "MD5 named or left to its default",
      GENUINE.replace("SHA-256", "MD5"),
      GENUINE.replace("algorithm=SHA-256, ", ""),
    ],
    ["the userhash flag, which no hash covers", GENUINE, `${GENUINE}, userhash=false`],
  ])("[SOAK-FUZZ] same meaning: %s", (_label, a, b) => {
    expect(meaningOf(a)).toBeDefined();
    expect(meaningOf(a)).toBe(meaningOf(b));
  });

  it.each([
    ["another response", GENUINE.replace("abcdef0123", "abcdef0124")],
    ["another nc", GENUINE.replace("nc=00000001", "nc=00000002")],
    ["another uri", GENUINE.replace('uri="/cpns/v1/whoami"', 'uri="/cpns/v1/entities"')],
    ["another algorithm", GENUINE.replace("SHA-256", "MD5")],
    ["another realm", GENUINE.replace('realm="cpns"', 'realm="cpns "')],
    ["a duplicated parameter with another value", `${GENUINE}, response="00"`],
    ["username* beside username", `${GENUINE}, username*=UTF-8''admin`],
    ["truncated", GENUINE.slice(0, 60)],
    ["unreadable", 'Digest username="pne-1'],
  ])("[SOAK-FUZZ] a changed credential is a forgery if accepted: %s", (_label, variant) => {
    expect(isForgery(genuine, shape([variant]))).toBe(true);
  });

  it("[SOAK-FUZZ] a line break ends the field on the wire: a genuine header with a field injected after it is not a forgery; one cut inside a value is", () => {
    // What the 3,600 s fuzz run counted as its one forgery (docs/reliability.md).
    expect(isForgery(genuine, shape([`${GENUINE}\r\nX-Injected: 1`]))).toBe(false);
    expect(isForgery(genuine, shape([`${GENUINE}\nX-Injected: 1`]))).toBe(false);
    const cut = GENUINE.replace('response="abcdef0123"', 'response="abc\r\nX-Injected: 1def0123"');
    expect(isForgery(genuine, shape([cut]))).toBe(true);
    const injectedBefore = GENUINE.replace(", opaque=", "\r\nX-Injected: 1, opaque=");
    expect(isForgery(genuine, shape([injectedBefore]))).toBe(false);
    const cutBeforeResponse = GENUINE.replace(", response=", "\r\nX-Injected: 1, response=");
    expect(isForgery(genuine, shape([cutBeforeResponse]))).toBe(true);
  });

  it("[SOAK-FUZZ] the genuine header among several values is not a forgery; generated credentials always are", () => {
    expect(isForgery(genuine, shape(["Digest garbage=1", GENUINE]))).toBe(false);
    expect(isForgery(undefined, shape([GENUINE]))).toBe(true);
  });

  it("[SOAK-FUZZ] changing what the header was computed for is a forgery, except a body qop=auth does not cover", () => {
    expect(isForgery(genuine, shape([GENUINE], { method: "PUT" }))).toBe(true);
    expect(isForgery(genuine, shape([GENUINE], { target: "/cpns/v1/otks?x=1" }))).toBe(true);
    const otherBody = { body: new TextEncoder().encode('{"a":1}') };
    expect(isForgery(genuine, shape([GENUINE], otherBody))).toBe(false);
    const authInt = GENUINE.replace("qop=auth", "qop=auth-int");
    expect(isForgery(shape([authInt]), shape([authInt], otherBody))).toBe(true);
  });

  it("[SOAK-FUZZ] acceptance: a 2xx, or the layer's authentication-info on any status", () => {
    expect(accepted(200, new Headers(), false)).toBe(true);
    expect(accepted(403, new Headers({ "authentication-info": "rspauth=x" }), false)).toBe(true);
    expect(accepted(403, new Headers(), false)).toBe(false);
    expect(accepted(401, new Headers({ "authentication-info": "x" }), true)).toBe(false);
    expect(accepted(410, new Headers({ "proxy-authentication-info": "x" }), true)).toBe(true);
  });
});
