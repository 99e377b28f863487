/**
 * RFC 9110 §11 (challenge / credentials grammar) with RFC 7616 §3.3-§3.5 field
 * rules. Parsing is lenient where real clients differ (quoted `algorithm` and
 * `qop` from Python requests, empty list elements, any case in scheme and
 * parameter names, unquoted values with `/`), strict where ambiguity would be
 * dangerous (duplicate parameters, unterminated quotes, control characters).
 * Emitting is strict: exactly the quoting §3.3/§3.4/§3.5 prescribe.
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

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const MAX_HEADER_LENGTH = 16 * 1024;
const MAX_PARAMS = 64;

function isTchar(ch: string | undefined): boolean {
  return ch !== undefined && TCHAR.test(ch);
}

function isWhitespace(ch: string | undefined): boolean {
  return ch === " " || ch === "\t";
}

/** Characters a header value can never legitimately contain (CTLs other than HTAB, and DEL). */
function isControl(code: number): boolean {
  return (code < 0x20 && code !== 0x09) || code === 0x7f;
}

class Cursor {
  pos = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string | undefined {
    return this.text[this.pos];
  }

  skipWhitespace(): void {
    while (isWhitespace(this.peek())) this.pos++;
  }

  /** Skips whitespace and empty list elements (RFC 9110 §5.6.1 lets recipients ignore them). */
  skipSeparators(): void {
    while (isWhitespace(this.peek()) || this.peek() === ",") this.pos++;
  }

  readToken(): string {
    const start = this.pos;
    while (isTchar(this.peek())) this.pos++;
    return this.text.slice(start, this.pos);
  }

  readQuoted(): string {
    // Caller has checked the opening quote.
    this.pos++;
    let out = "";
    while (!this.done) {
      const ch = this.text[this.pos] as string;
      if (ch === '"') {
        this.pos++;
        return out;
      }
      if (ch === "\\") {
        const next = this.text[this.pos + 1];
        if (next === undefined) break;
        out += next;
        this.pos += 2;
        continue;
      }
      out += ch;
      this.pos++;
    }
    throw new DigestParseError("unterminated quoted-string");
  }

  /** Unquoted value: a token in the grammar, but clients send `uri=/a/b` unquoted, so take up to `,` or space. */
  readBareValue(): string {
    const start = this.pos;
    while (!this.done) {
      const ch = this.text[this.pos] as string;
      if (ch === "," || isWhitespace(ch) || ch === '"') break;
      this.pos++;
    }
    return this.text.slice(start, this.pos);
  }
}

/** True when the text holds a character no header value may carry. */
export function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (isControl(text.charCodeAt(i))) return true;
  return false;
}

function checkInput(header: string): void {
  if (header.length > MAX_HEADER_LENGTH) throw new DigestParseError("header too long");
  if (hasControlCharacter(header)) throw new DigestParseError("control character in header");
}

/**
 * Reads parameters after a scheme until the end or until the next challenge
 * starts (a token not followed by "=").
 */
function readParams(cursor: Cursor, element: AuthElement, allowNextChallenge: boolean): void {
  while (true) {
    const resume = cursor.pos;
    cursor.skipSeparators();
    if (cursor.done) return;
    const name = cursor.readToken();
    if (name === "") throw new DigestParseError("expected a parameter name");
    cursor.skipWhitespace();
    if (cursor.peek() !== "=") {
      if (allowNextChallenge && element.params.size + (element.token68 ? 1 : 0) > 0) {
        cursor.pos = resume;
        return;
      }
      throw new DigestParseError("expected '=' after parameter name");
    }
    cursor.pos++;
    cursor.skipWhitespace();
    const key = name.toLowerCase();
    const value = cursor.peek() === '"' ? cursor.readQuoted() : cursor.readBareValue();
    if (element.params.has(key)) throw new DigestParseError(`duplicate parameter ${key}`);
    if (element.params.size >= MAX_PARAMS) throw new DigestParseError("too many parameters");
    element.params.set(key, value);
    cursor.skipWhitespace();
    if (!cursor.done && cursor.peek() !== ",") throw new DigestParseError("expected ','");
  }
}

function readElement(cursor: Cursor, allowNextChallenge: boolean): AuthElement {
  const scheme = cursor.readToken();
  if (scheme === "") throw new DigestParseError("expected an auth-scheme");
  const element: AuthElement = { scheme, params: new Map() };
  if (cursor.done) return element;
  if (!isWhitespace(cursor.peek())) {
    if (cursor.peek() === ",") return element;
    throw new DigestParseError("expected a space after the auth-scheme");
  }
  cursor.skipWhitespace();
  // token68: e.g. `Basic QWxh==` — letters, digits, -._~+/ then optional '='.
  const token68 = /^[A-Za-z0-9\-._~+/]+=*\s*(?:,|$)/.exec(cursor.text.slice(cursor.pos));
  if (
    token68 &&
    !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+\s*=\s*[^=,\s]/.test(cursor.text.slice(cursor.pos))
  ) {
    element.token68 = token68[0].replace(/[\s,]+$/, "");
    cursor.pos += element.token68.length;
    if (!allowNextChallenge) {
      cursor.skipWhitespace();
      if (!cursor.done) throw new DigestParseError("trailing data after token68");
    }
    return element;
  }
  readParams(cursor, element, allowNextChallenge);
  return element;
}

/** Parses an Authorization header value (one credentials element). */
export function parseCredentials(header: string): AuthElement {
  checkInput(header);
  const cursor = new Cursor(header.trim());
  const element = readElement(cursor, false);
  if (!cursor.done) throw new DigestParseError("trailing data");
  return element;
}

/**
 * Parses a WWW-Authenticate value that may hold several challenges, as Headers.get()
 * joins repeated fields with ", ".
 */
export function parseChallenges(header: string): AuthElement[] {
  checkInput(header);
  const cursor = new Cursor(header);
  const out: AuthElement[] = [];
  while (true) {
    cursor.skipSeparators();
    if (cursor.done) return out;
    out.push(readElement(cursor, true));
  }
}

/** RFC 9110 §5.6.4 quoted-string: only `"` and `\` need escaping. */
export function quote(value: string): string {
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
