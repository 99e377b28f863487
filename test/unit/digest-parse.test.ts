/**
 * The challenge/credentials parser and emitter (RFC 9110 §11.2-§11.4 and §5.6: tokens,
 * quoted-string with quoted-pair, empty list elements, token68; RFC 7616 §3.3-§3.5 usage;
 * RFC 8187 ext-value for `username*`): documented leniencies, strict refusals, and
 * fast-check round trips parse(format(params)) for arbitrary values, including `"` and `\`.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createDigestVerifier,
  DigestParseError,
  parseChallenges,
  parseCredentials,
  staticCredentials,
} from "../../src/digest/index.ts";
import {
  decodeExtValue,
  encodeExtValue,
  formatParams,
  type ParamValue,
  quote,
} from "../../src/digest/params.ts";
import { digestHeader, type HeaderParam, refExtValue } from "../vectors/reference-digest.ts";

const TCHARS = [..."!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"];
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/g;

const token = (maxLength = 12) =>
  fc.string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength });

/** Any text a quoted-string can carry: everything but CTLs (HTAB is fine), with `"` and `\` common. */
const quotable = fc
  .oneof(
    fc.string({ unit: "binary", maxLength: 40 }),
    fc.string({
      unit: fc.constantFrom('"', "\\", " ", "\t", ",", "=", ";", "a", "\u00e9", "\u{1f600}"),
      maxLength: 20,
    }),
  )
  .map((s) => s.replace(CONTROL, ""));

const paramList = fc.uniqueArray(
  fc.tuple(
    token(),
    fc.oneof(
      quotable.map((value): ParamValue => ({ value, quoted: true })),
      token(20).map((value): ParamValue => ({ value, quoted: false })),
    ),
  ),
  { selector: ([name]) => name.toLowerCase(), minLength: 1, maxLength: 12 },
);

function asObject(params: Map<string, string>): Record<string, string> {
  return Object.fromEntries(params);
}

describe("[DIGEST-PARSE] credentials: RFC 9110 §11.4 grammar with RFC 7616 §3.4 fields", () => {
  it("scheme and parameter names are case-insensitive; names come back lower-cased", () => {
    const el = parseCredentials('DIGEST UserName="Mufasa", REALM="r", Nc=00000001');
    expect(el.scheme).toBe("DIGEST");
    expect(asObject(el.params)).toEqual({ username: "Mufasa", realm: "r", nc: "00000001" });
  });

  it("whitespace (SP and HTAB) around '=' and ',' is allowed", () => {
    const el = parseCredentials('Digest username = "a" ,\trealm\t=\t"b" ,qop= auth');
    expect(asObject(el.params)).toEqual({ username: "a", realm: "b", qop: "auth" });
  });

  it("quoted-pair unescapes any character; only the quotes are stripped", () => {
    const el = parseCredentials(String.raw`Digest username="a\"b\\c\d", realm=" spaced ", x=""`);
    expect(el.params.get("username")).toBe('a"b\\cd');
    expect(el.params.get("realm")).toBe(" spaced ");
    expect(el.params.get("x")).toBe("");
  });

  it("commas and unicode inside quoted strings are data", () => {
    const el = parseCredentials('Digest realm="a, b=c", username="J\u00e4s\u00f8n \u{1f600}"');
    expect(el.params.get("realm")).toBe("a, b=c");
    expect(el.params.get("username")).toBe("J\u00e4s\u00f8n \u{1f600}");
  });

  it("lenient where clients differ: empty list elements, bare uri with '/', quoted algorithm/qop", () => {
    const el = parseCredentials(
      'Digest ,username="a",, uri=/dir/index.html?x=1, algorithm="SHA-256", qop="auth",',
    );
    expect(asObject(el.params)).toEqual({
      username: "a",
      uri: "/dir/index.html?x=1",
      algorithm: "SHA-256",
      qop: "auth",
    });
  });

  it("a header with only the scheme has no parameters", () => {
    expect(parseCredentials("Digest").params.size).toBe(0);
    expect(parseCredentials("  Digest  ").params.size).toBe(0);
  });

  it("token68 credentials (Basic) are recognised, `name=value` is never taken for one", () => {
    const basic = parseCredentials("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    expect(basic.token68).toBe("QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    expect(basic.params.size).toBe(0);
    const digest = parseCredentials("Digest a=b");
    expect(digest.token68).toBeUndefined();
    expect(digest.params.get("a")).toBe("b");
  });

  it.each([
    ["empty", ""],
    ["unterminated quoted-string", 'Digest a="b'],
    ["quoted-pair at the very end", 'Digest a="b\\'],
    ["duplicate parameter", 'Digest a="1", a="2"'],
    ["duplicate parameter, other case", 'Digest a="1", A="2"'],
    ["missing '=' after a later name", 'Digest a="1", b'],
    ["missing comma", 'Digest a="1" b="2"'],
    ["junk after a quoted value", 'Digest a="1"x, b="2"'],
    ["quote in a bare value", 'Digest a=b"c"'],
    ["no space after the scheme", 'Digest,a="1"'],
    ["second scheme", 'Digest a="1", Basic xyz'],
    ["trailing data after token68", "Basic abc== def"],
    ["NUL", 'Digest a="\u0000"'],
    ["CR", 'Digest a="x"\r'],
    ["LF", 'Digest a="x\n"'],
    ["DEL", 'Digest a="\u007f"'],
    ["longer than 16 KiB", `Digest a="${"x".repeat(16 * 1024)}"`],
    [
      "more than 64 parameters",
      `Digest ${Array.from({ length: 65 }, (_, i) => `p${i}=1`).join(", ")}`,
    ],
  ])("refuses %s with a DigestParseError", (_name, header) => {
    expect(() => parseCredentials(header)).toThrow(DigestParseError);
  });

  it("accepts exactly 64 parameters and a header of exactly 16 KiB", () => {
    const many = `Digest ${Array.from({ length: 64 }, (_, i) => `p${i}=1`).join(", ")}`;
    expect(parseCredentials(many).params.size).toBe(64);
    const prefix = 'Digest a="';
    const exact = `${prefix}${"x".repeat(16 * 1024 - prefix.length - 1)}"`;
    expect(exact).toHaveLength(16 * 1024);
    expect(parseCredentials(exact).params.get("a")).toHaveLength(16 * 1024 - prefix.length - 1);
  });
});

describe("[DIGEST-PARSE] challenges: several per header value (RFC 9110 §11.6.1, RFC 7616 §3.7)", () => {
  it("splits challenges joined with ', ' including token68 and bare schemes", () => {
    const els = parseChallenges(
      'Negotiate abc==, Basic realm="x, y", Digest realm="r", qop="auth, auth-int", ' +
        'algorithm=SHA-256, nonce="n", Digest realm="r", algorithm=MD5, nonce="n"',
    );
    expect(els.map((e) => e.scheme)).toEqual(["Negotiate", "Basic", "Digest", "Digest"]);
    expect(els[0]?.token68).toBe("abc==");
    expect(els[1]?.params.get("realm")).toBe("x, y");
    expect(els[2]?.params.get("qop")).toBe("auth, auth-int");
    expect(els[3]?.params.get("algorithm")).toBe("MD5");
  });

  it("an empty value has no challenges", () => {
    expect(parseChallenges("")).toEqual([]);
    expect(parseChallenges(" , ,")).toEqual([]);
  });

  it("the verifier's own challenges, joined as fetch's Headers joins them, parse back", async () => {
    const verifier = createDigestVerifier({
      realm: 'quote " and \\ and, comma',
      secret: "parse-test-secret-0123456789",
      lookup: staticCredentials({}),
    });
    const challenges = await verifier.challenges({ stale: true });
    const headers = new Headers();
    for (const c of challenges) headers.append("WWW-Authenticate", c);
    const els = parseChallenges(headers.get("www-authenticate") as string);
    expect(els.map((e) => e.params.get("algorithm"))).toEqual(["SHA-256", "SHA-512-256", "MD5"]);
    for (const el of els) {
      expect(el.scheme).toBe("Digest");
      expect(el.params.get("realm")).toBe('quote " and \\ and, comma');
      expect(el.params.get("qop")).toBe("auth, auth-int");
      expect(el.params.get("stale")).toBe("true");
      expect(el.params.get("userhash")).toBe("true");
      expect(el.params.get("charset")).toBe("UTF-8");
      expect(el.params.get("nonce")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
    // One nonce shared by the challenges of one response.
    expect(new Set(els.map((e) => e.params.get("nonce"))).size).toBe(1);
  });
});

describe("[DIGEST-PARSE] round trips parse(format(params)) (fast-check)", () => {
  it("quote() escapes exactly '\"' and '\\'", () => {
    expect(quote('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(quote("")).toBe('""');
  });

  it("credentials: arbitrary values survive formatParams -> parseCredentials", () => {
    fc.assert(
      fc.property(paramList, (list) => {
        const parsed = parseCredentials(`Digest ${formatParams(list)}`);
        expect(parsed.scheme).toBe("Digest");
        expect(parsed.token68).toBeUndefined();
        expect(asObject(parsed.params)).toEqual(
          Object.fromEntries(list.map(([name, { value }]) => [name.toLowerCase(), value])),
        );
      }),
      { numRuns: 500 },
    );
  });

  it("the engine's formatParams writes what the reference builder writes", () => {
    fc.assert(
      fc.property(paramList, (list) => {
        const reference = digestHeader(
          list.map(([name, { value, quoted }]): HeaderParam => [name, value, quoted]),
        );
        expect(`Digest ${formatParams(list)}`).toBe(reference);
      }),
    );
  });

  it("challenges: several arbitrary challenges survive joining and parseChallenges", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(token(8), paramList), { minLength: 1, maxLength: 4 }),
        (chs) => {
          const header = chs.map(([scheme, list]) => `${scheme} ${formatParams(list)}`).join(", ");
          const parsed = parseChallenges(header);
          expect(parsed.map((e) => e.scheme)).toEqual(chs.map(([scheme]) => scheme));
          parsed.forEach((el, i) => {
            const list = (chs[i] as (typeof chs)[number])[1];
            expect(asObject(el.params)).toEqual(
              Object.fromEntries(list.map(([name, { value }]) => [name.toLowerCase(), value])),
            );
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("[DIGEST-PARSE][DIGEST-USERHASH] username* ext-value (RFC 8187, RFC 7616 §3.4)", () => {
  it("encodes to value-chars only and decodes back, for any well-formed text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 30 }), (text) => {
        const encoded = encodeExtValue(text);
        // value-chars = *( pct-encoded / attr-char ); encoding more than needed is allowed.
        expect(encoded).toMatch(/^UTF-8''(?:[A-Za-z0-9!#$&+\-.^_`|~]|%[0-9A-F]{2})*$/);
        expect(decodeExtValue(encoded)).toBe(text);
        // A minimal encoding (attr-chars left alone) from another sender decodes too.
        expect(decodeExtValue(refExtValue(text))).toBe(text);
      }),
    );
  });

  it("token68 is a valid form of credentials: 'Digest a' is one, not a parameter", () => {
    const el = parseCredentials("Digest a");
    expect(el.token68).toBe("a");
    expect(el.params.size).toBe(0);
  });

  it("the charset is case-insensitive and a language tag is allowed", () => {
    expect(decodeExtValue("utf-8''a%20b")).toBe("a b");
    expect(decodeExtValue("UTF-8'en'a")).toBe("a");
  });

  it.each([
    ["no charset", "''abc"],
    ["ISO-8859-1", "ISO-8859-1''abc"],
    ["no quotes", "abc"],
    ["one quote", "UTF-8'abc"],
    ["bad percent", "UTF-8''%ZZ"],
    ["truncated UTF-8", "UTF-8''%C3"],
    ["overlong UTF-8", "UTF-8''%C0%AF"],
  ])("refuses %s (%j)", (_name, value) => {
    expect(() => decodeExtValue(value)).toThrow(DigestParseError);
  });

  it("is carried unquoted in credentials and parses as a parameter named username*", () => {
    const el = parseCredentials("Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm=\"r\"");
    expect(el.params.get("username*")).toBe("UTF-8''J%C3%A4s%C3%B8n%20Doe");
  });
});
