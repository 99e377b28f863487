/**
 * RFC 9110 §11 (challenge / credentials grammar) with RFC 7616 §3.3-§3.5 field
 * rules. Parsing is lenient where real clients differ (quoted `algorithm` and
 * `qop` from Python requests, empty list elements, any case in scheme and
 * parameter names, unquoted values with `/`), strict where ambiguity would be
 * dangerous (duplicate parameters, unterminated quotes, control characters).
 * Emitting is strict: exactly the quoting §3.3/§3.4/§3.5 prescribe.
 *
 * Implements: DIGEST-PARSE, DIGEST-USERHASH, DIGEST-HOSTILE, DIGEST-PARSE-SINGLE-PASS
 */

export class DigestParseError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "DigestParseError";
  }
}

/** One challenge (WWW-Authenticate) or credentials (Authorization) element. */
export interface AuthElement {
  /** Scheme as sent; compare case-insensitively. */
  scheme: string;
  /** Parameter names lower-cased; values unquoted and unescaped. */
  params: Map<string, string>;
  /** A token68 (RFC 9110 §11.2) when the element carries one instead of parameters. */
  token68?: string;
}

const MAX_HEADER_LENGTH = 16 * 1024;
const MAX_PARAMS = 64;

/*
 * One pass over the header, one table lookup per character, no regular
 * expression and no intermediate array (issue #12: parsing was half of the
 * verifier's own work). The grammar is the one the regular expressions of the
 * earlier version encoded, error messages included;
 * test/unit/digest-parse-equivalence.test.ts holds the two to each other.
 *
 * Control characters are refused before any other mistake is reported (a
 * header with both says "control character"): the loops that may meet one
 * (quoted strings, bare values) refuse it on sight, the others stop at it and
 * then fail, and every failure first looks for one in the whole header.
 */
const TCHAR = 1;
const TOKEN68 = 2;
const CONTROL = 4;
/** Ends a bare value: comma, `"` and ASCII white space (JS `\s` below 128). */
const BARE_STOP = 8;
const CLASS = new Uint8Array(128);
function mark(codes: Iterable<number>, cls: number): void {
  for (const code of codes) CLASS[code] = (CLASS[code] as number) | cls;
}
const codesOf = (chars: string) => Array.from(chars, (ch) => ch.charCodeAt(0));
const ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
mark(codesOf(`!#$%&'*+-.^_\`|~${ALNUM}`), TCHAR);
mark(codesOf(`${ALNUM}-._~+/`), TOKEN68);
mark(
  [...Array.from({ length: 32 }, (_, code) => code).filter((code) => code !== 0x09), 0x7f],
  CONTROL,
);
mark([0x2c, 0x22, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20], BARE_STOP);

const SPACE = 0x20;
const TAB = 0x09;
const COMMA = 0x2c;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const EQUALS = 0x3d;

/** `code` is NaN past the end, and NaN < 128 is false: every class test is false there. */
function is(code: number, cls: number): boolean {
  return code < 128 && ((CLASS[code] as number) & cls) !== 0;
}

function isWhitespace(code: number): boolean {
  return code === SPACE || code === TAB;
}

/** JavaScript's `\s` (WhiteSpace and LineTerminator) above ASCII: what a bare value may not hold. */
function isWideSpace(code: number): boolean {
  return (
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const CONTROL_RE = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** True when the text holds a character no header value may carry (CTLs but HTAB, and DEL). */
export function hasControlCharacter(text: string): boolean {
  return CONTROL_RE.test(text);
}

/** Every refusal goes through here, so a control character anywhere wins over the mistake found. */
function refuse(header: string, reason: string): never {
  if (hasControlCharacter(header)) throw new DigestParseError("control character in header");
  throw new DigestParseError(reason);
}

class Scanner {
  pos = 0;
  readonly end: number;
  /** `header` is what the caller passed (refusals scan it all); `text` the part parsed. */
  constructor(
    readonly header: string,
    readonly text: string,
  ) {
    this.end = text.length;
  }

  code(at: number): number {
    return this.text.charCodeAt(at);
  }

  skipWhitespace(): void {
    while (isWhitespace(this.text.charCodeAt(this.pos))) this.pos++;
  }

  /** Skips whitespace and empty list elements (RFC 9110 §5.6.1 lets recipients ignore them). */
  skipSeparators(): void {
    for (let code = this.code(this.pos); isWhitespace(code) || code === COMMA; ) {
      code = this.code(++this.pos);
    }
  }

  /** End of the tchar run starting at `from`. */
  tokenEnd(from: number): number {
    let at = from;
    while (is(this.text.charCodeAt(at), TCHAR)) at++;
    return at;
  }
}

/**
 * token68 (RFC 9110 §11.2), e.g. `Negotiate abc==`: recognised only when what
 * follows is the end or a comma, so `name=value` is never mistaken for one.
 */
function readToken68(s: Scanner, element: AuthElement, allowNextChallenge: boolean): boolean {
  const start = s.pos;
  let at = start;
  while (is(s.code(at), TOKEN68)) at++;
  if (at === start) return false;
  while (s.code(at) === EQUALS) at++;
  const tokenEnd = at;
  while (isWhitespace(s.code(at))) at++;
  if (at < s.end && s.code(at) !== COMMA) return false;
  element.token68 = s.text.slice(start, tokenEnd);
  s.pos = tokenEnd;
  if (!allowNextChallenge) {
    s.skipWhitespace();
    if (s.pos < s.end) refuse(s.header, "trailing data after token68");
  }
  return true;
}

/** The quoted-string's content from `from` (just after the opening quote) to its closing quote, unescaped. */
function unquote(text: string, from: number, to: number): string {
  let out = "";
  let run = from;
  for (let at = from; at < to; at++) {
    if (text.charCodeAt(at) === BACKSLASH) {
      out += text.slice(run, at);
      run = ++at;
    }
  }
  return out + text.slice(run, to);
}

/**
 * The parameter names of RFC 7616 and RFC 7615, by length: a name sent in
 * lower case (as every client does) becomes this constant string instead of a
 * new one, so the Map hashes no new key and nothing is lower-cased.
 */
const KNOWN_NAMES: ReadonlyArray<readonly string[]> = (() => {
  const byLength: string[][] = [];
  for (const name of [
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
    "charset",
    "stale",
    "domain",
    "nextnonce",
    "rspauth",
  ]) {
    const bucket = byLength[name.length] ?? [];
    bucket.push(name);
    byLength[name.length] = bucket;
  }
  return byLength;
})();

function knownName(text: string, start: number, end: number): string | undefined {
  const candidates = KNOWN_NAMES[end - start];
  if (candidates === undefined) return undefined;
  for (const name of candidates) if (text.startsWith(name, start)) return name;
  return undefined;
}

/**
 * One `name = value` at `s.pos` followed by optional white space and a comma or
 * the end. Returns false (and moves nothing) when the text there is not one.
 * Written with locals and direct charCodeAt calls: this loop is most of the
 * parse, and V8 keeps it tight only while nothing in it is a call.
 */
function readParam(s: Scanner, element: AuthElement): boolean {
  const { text, end } = s;
  const nameStart = s.pos;
  let at = nameStart;
  let code = text.charCodeAt(at);
  while (code < 128 && ((CLASS[code] as number) & TCHAR) !== 0) code = text.charCodeAt(++at);
  const nameEnd = at;
  if (nameEnd === nameStart) return false;
  while (code === SPACE || code === TAB) code = text.charCodeAt(++at);
  if (code !== EQUALS) return false;
  code = text.charCodeAt(++at);
  while (code === SPACE || code === TAB) code = text.charCodeAt(++at);
  let value: string;
  if (code === QUOTE) {
    const valueStart = ++at;
    let escaped = false;
    for (;;) {
      if (at >= end) return false; // unterminated
      code = text.charCodeAt(at);
      if (code === QUOTE) break;
      if (code < 128 && ((CLASS[code] as number) & CONTROL) !== 0) {
        refuse(s.header, "control character in header");
      }
      if (code === BACKSLASH) {
        escaped = true;
        if (++at >= end) return false;
        code = text.charCodeAt(at);
        if (code < 128 && ((CLASS[code] as number) & CONTROL) !== 0) {
          refuse(s.header, "control character in header");
        }
      }
      at++;
    }
    value = escaped ? unquote(text, valueStart, at) : text.slice(valueStart, at);
    code = text.charCodeAt(++at);
  } else {
    const valueStart = at;
    for (; at < end; code = text.charCodeAt(++at)) {
      if (code < 128) {
        const cls = CLASS[code] as number;
        if ((cls & BARE_STOP) !== 0) break;
        if ((cls & CONTROL) !== 0) refuse(s.header, "control character in header");
      } else if (isWideSpace(code)) break;
    }
    value = text.slice(valueStart, at);
  }
  while (code === SPACE || code === TAB) code = text.charCodeAt(++at);
  if (at < end && code !== COMMA) return false;
  const key = knownName(text, nameStart, nameEnd) ?? text.slice(nameStart, nameEnd).toLowerCase();
  const { params } = element;
  if (params.has(key)) refuse(s.header, `duplicate parameter ${key}`);
  if (params.size >= MAX_PARAMS) refuse(s.header, "too many parameters");
  params.set(key, value);
  s.pos = at;
  return true;
}

/**
 * Reads parameters after a scheme until the end or until the next challenge
 * starts (a token followed by white space, a comma or the end, not by "=").
 */
function readParams(s: Scanner, element: AuthElement, allowNextChallenge: boolean): void {
  while (true) {
    s.skipSeparators();
    if (s.pos >= s.end) return;
    if (readParam(s, element)) continue;
    if (allowNextChallenge && element.params.size > 0) {
      const tokenEnd = s.tokenEnd(s.pos);
      const after = s.code(tokenEnd);
      if (tokenEnd > s.pos && (tokenEnd === s.end || isWhitespace(after) || after === COMMA)) {
        return;
      }
    }
    refuse(s.header, "malformed auth-param");
  }
}

function readElement(s: Scanner, allowNextChallenge: boolean): AuthElement {
  const start = s.pos;
  s.pos = s.tokenEnd(start);
  if (s.pos === start) refuse(s.header, "expected an auth-scheme");
  const element: AuthElement = { scheme: s.text.slice(start, s.pos), params: new Map() };
  if (s.pos >= s.end) return element;
  const next = s.code(s.pos);
  if (!isWhitespace(next)) {
    if (next === COMMA) return element;
    refuse(s.header, "expected a space after the auth-scheme");
  }
  s.skipWhitespace();
  if (readToken68(s, element, allowNextChallenge)) return element;
  readParams(s, element, allowNextChallenge);
  return element;
}

function checkLength(header: string): void {
  if (header.length > MAX_HEADER_LENGTH) throw new DigestParseError("header too long");
}

/** Parses an Authorization header value (one credentials element). */
export function parseCredentials(header: string): AuthElement {
  checkLength(header);
  const text = header.trim();
  // What trim() took off was never scanned: a line break there is still a control character.
  if (text.length !== header.length && hasControlCharacter(header)) {
    throw new DigestParseError("control character in header");
  }
  const s = new Scanner(header, text);
  const element = readElement(s, false);
  if (s.pos < s.end) refuse(header, "trailing data");
  return element;
}

/**
 * Parses a WWW-Authenticate value that may hold several challenges, as Headers.get()
 * joins repeated fields with ", ".
 */
export function parseChallenges(header: string): AuthElement[] {
  const out: AuthElement[] = [];
  readChallenges(header, (element) => out.push(element));
  return out;
}

function readChallenges(
  header: string,
  each: (element: AuthElement, start: number, end: number) => void,
): void {
  checkLength(header);
  const s = new Scanner(header, header);
  while (true) {
    s.skipSeparators();
    if (s.pos >= s.end) return;
    const start = s.pos;
    each(readElement(s, true), start, s.pos);
  }
}

/** White space (JavaScript's `\s`) or a comma: what ends a challenge's source text. */
function isSeparatorOrSpace(code: number): boolean {
  if (code >= 128) return isWideSpace(code);
  return code === COMMA || (code !== QUOTE && ((CLASS[code] as number) & BARE_STOP) !== 0);
}

/**
 * Splits a joined WWW-Authenticate value back into one string per challenge,
 * exactly as written. Fetch `Headers` joins repeated fields with ", ", but
 * clients such as curl only read the first challenge of a line, so a server
 * that can emit separate header lines should (RFC 9110 §11.6.1 allows both).
 */
export function splitChallenges(header: string): string[] {
  const out: string[] = [];
  try {
    readChallenges(header, (_element, start, end) => {
      let last = end;
      while (last > start && isSeparatorOrSpace(header.charCodeAt(last - 1))) last--;
      out.push(header.slice(start, last));
    });
  } catch {
    return [header];
  }
  return out;
}

/** RFC 9110 §5.6.4 quoted-string: only `"` and `\` need escaping. */
export function quote(value: string): string {
  // Most values (hex, base64url nonces) need no escape: skip the replace for them.
  if (value.indexOf('"') < 0 && value.indexOf("\\") < 0) return `"${value}"`;
  return `"${value.replace(/[\\"]/g, "\\$&")}"`;
}

export type ParamValue = { value: string; quoted: boolean };

/** Serialises parameters in the order given, quoting exactly those marked. */
export function formatParams(params: ReadonlyArray<readonly [string, ParamValue]>): string {
  return params
    .map(([name, { value, quoted }]) => `${name}=${quoted ? quote(value) : value}`)
    .join(", ");
}

/** RFC 8187 ext-value for `username*` (RFC 7616 §3.4): UTF-8''percent-encoded. */
export function encodeExtValue(value: string): string {
  return `UTF-8''${encodeURIComponent(value).replace(/['()*!]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

export function decodeExtValue(value: string): string {
  const match = /^([A-Za-z0-9!#$%&+\-^_`{}~]+)'[A-Za-z0-9-]*'(.*)$/.exec(value);
  if (!match || (match[1] as string).toUpperCase() !== "UTF-8") {
    throw new DigestParseError("username* must be an RFC 8187 UTF-8 ext-value");
  }
  try {
    return decodeURIComponent(match[2] as string);
  } catch {
    throw new DigestParseError("username* has invalid percent-encoding");
  }
}
