/**
 * The regular-expression parser of src/digest/params.ts as it was before issue #12's single-pass
 * rewrite (main at c6755cd), kept only as the oracle of test/unit/digest-parse-equivalence.test.ts:
 * the new parser must give the same element, or the same error message, for every header.
 * Not used by any source file.
 */
/** The old parser's errors: the equivalence test compares their messages. */
export class OracleParseError extends Error {}

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

/** RFC 9110 §5.6.2 tchar, as a lookup table: this runs per character on every request. */
const TCHAR = new Uint8Array(128);
for (const ch of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
  TCHAR[ch.charCodeAt(0)] = 1;
}
const SPACE = 0x20;
const TAB = 0x09;
const COMMA = 0x2c;

function isTchar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

function isWhitespace(code: number): boolean {
  return code === SPACE || code === TAB;
}

class Cursor {
  pos = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  /** Code of the current character, NaN at the end. */
  peek(): number {
    return this.text.charCodeAt(this.pos);
  }

  skipWhitespace(): void {
    while (isWhitespace(this.peek())) this.pos++;
  }

  /** Skips whitespace and empty list elements (RFC 9110 §5.6.1 lets recipients ignore them). */
  skipSeparators(): void {
    for (let code = this.peek(); isWhitespace(code) || code === COMMA; code = this.peek()) {
      this.pos++;
    }
  }

  readToken(): string {
    const start = this.pos;
    while (isTchar(this.peek())) this.pos++;
    return this.text.slice(start, this.pos);
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** True when the text holds a character no header value may carry (CTLs but HTAB, and DEL). */
export function hasControlCharacter(text: string): boolean {
  return CONTROL.test(text);
}

function checkInput(header: string): void {
  if (header.length > MAX_HEADER_LENGTH) throw new OracleParseError("header too long");
  if (hasControlCharacter(header)) throw new OracleParseError("control character in header");
}

/**
 * One parameter with the separators before it: `name = "quoted"` (group 2) or
 * `name = bare` (group 3), followed by a comma or the end. A sticky regular
 * expression, because this runs on every request and the regex engine scans
 * far faster than a character loop in JavaScript.
 */
const PARAM =
  /[ \t,]*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)[ \t]*=[ \t]*(?:"([^"\\]*(?:\\[\s\S][^"\\]*)*)"|([^,\s"]*))[ \t]*(?=,|$)/y;
const NEXT_SCHEME = /[ \t,]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t,]|$)/y;
const QUOTED_PAIR = /\\([\s\S])/g;

/**
 * Reads parameters after a scheme until the end or until the next challenge
 * starts (a token not followed by "=").
 */
function readParams(cursor: Cursor, element: AuthElement, allowNextChallenge: boolean): void {
  const { text } = cursor;
  while (true) {
    cursor.skipSeparators();
    if (cursor.done) return;
    PARAM.lastIndex = cursor.pos;
    const match = PARAM.exec(text);
    if (!match) {
      NEXT_SCHEME.lastIndex = cursor.pos;
      if (allowNextChallenge && element.params.size > 0 && NEXT_SCHEME.test(text)) return;
      throw new OracleParseError("malformed auth-param");
    }
    const key = (match[1] as string).toLowerCase();
    const quoted = match[2];
    const value =
      quoted === undefined
        ? (match[3] as string)
        : // Stryker disable next-line StringLiteral: equivalent: includes("") is always true, and the quoted-pair replace changes nothing without a backslash
          quoted.includes("\\")
          ? quoted.replace(QUOTED_PAIR, "$1")
          : quoted;
    if (element.params.has(key)) throw new OracleParseError(`duplicate parameter ${key}`);
    if (element.params.size >= MAX_PARAMS) throw new OracleParseError("too many parameters");
    element.params.set(key, value);
    cursor.pos = PARAM.lastIndex;
  }
}

const TOKEN68 = /[A-Za-z0-9\-._~+/]+=*/y;

/**
 * token68 (RFC 9110 §11.2), e.g. `Negotiate abc==`: recognised only when what
 * follows is the end or a comma, so `name=value` is never mistaken for one.
 */
function readToken68(cursor: Cursor, element: AuthElement, allowNextChallenge: boolean): boolean {
  TOKEN68.lastIndex = cursor.pos;
  const match = TOKEN68.exec(cursor.text);
  if (!match) return false;
  let end = TOKEN68.lastIndex;
  while (isWhitespace(cursor.text.charCodeAt(end))) end++;
  if (end < cursor.text.length && cursor.text.charCodeAt(end) !== COMMA) return false;
  element.token68 = match[0];
  cursor.pos = TOKEN68.lastIndex;
  if (!allowNextChallenge) {
    cursor.skipWhitespace();
    if (!cursor.done) throw new OracleParseError("trailing data after token68");
  }
  return true;
}

function readElement(cursor: Cursor, allowNextChallenge: boolean): AuthElement {
  const scheme = cursor.readToken();
  if (scheme === "") throw new OracleParseError("expected an auth-scheme");
  const element: AuthElement = { scheme, params: new Map() };
  if (cursor.done) return element;
  if (!isWhitespace(cursor.peek())) {
    if (cursor.peek() === COMMA) return element;
    throw new OracleParseError("expected a space after the auth-scheme");
  }
  cursor.skipWhitespace();
  if (readToken68(cursor, element, allowNextChallenge)) return element;
  readParams(cursor, element, allowNextChallenge);
  return element;
}

/** Parses an Authorization header value (one credentials element). */
export function parseCredentials(header: string): AuthElement {
  checkInput(header);
  const cursor = new Cursor(header.trim());
  const element = readElement(cursor, false);
  if (!cursor.done) throw new OracleParseError("trailing data");
  return element;
}

/**
 * Parses a WWW-Authenticate value that may hold several challenges, as Headers.get()
 * joins repeated fields with ", ".
 */
export function parseChallenges(header: string): AuthElement[] {
  return readChallenges(header).map(({ element }) => element);
}

function readChallenges(header: string): Array<{ element: AuthElement; source: string }> {
  checkInput(header);
  const cursor = new Cursor(header);
  const out: Array<{ element: AuthElement; source: string }> = [];
  while (true) {
    cursor.skipSeparators();
    if (cursor.done) return out;
    const start = cursor.pos;
    const element = readElement(cursor, true);
    out.push({ element, source: header.slice(start, cursor.pos).replace(/[\s,]+$/, "") });
  }
}

/**
 * Splits a joined WWW-Authenticate value back into one string per challenge,
 * exactly as written. Fetch `Headers` joins repeated fields with ", ", but
 * clients such as curl only read the first challenge of a line, so a server
 * that can emit separate header lines should (RFC 9110 §11.6.1 allows both).
 */
export function splitChallenges(header: string): string[] {
  try {
    return readChallenges(header).map(({ source }) => source);
  } catch {
    return [header];
  }
}
