/**
 * Issue #9 "Reliability figures", the forgery oracle of the fuzzer. It is
 * independent of src/digest/params.ts on purpose (the server's parser is what
 * is under test): a small lenient reader of `scheme name=value, ...` that
 * keeps every occurrence of every parameter.
 *
 * A request whose credentials were mutated is a FORGERY when the server
 * accepted it (see `accepted`) and none of the credential headers it carried
 * is semantically the genuine one, or the request itself (method, target,
 * and the body when qop=auth-int covers it) is not the one the genuine header
 * was computed for. "Semantically the genuine one": the same scheme (any
 * case) and, for every parameter that enters the response hash or names the
 * principal (username, username*, realm, nonce, uri, response, qop, nc,
 * cnonce, algorithm), the same single value after unquoting; the tokens
 * algorithm and qop and the hex values response, nc and a userhash username
 * compare without case, and an absent algorithm is MD5 (RFC 7616 §3.3).
 * The userhash flag itself is left out: no hash covers it, and the response
 * still has to match the HA1 of whichever principal the username resolves to
 * (a verifier without userhash support may ignore the flag). Whitespace,
 * parameter order, quoting, parameter-name case, and unknown extra
 * parameters are not part of the meaning (RFC 7616 §3.4, RFC 9110 §11),
 * so accepting such a variant is counted as `equivalent`, not as a forgery.
 * `opaque` is not part of it either: no hash covers it.
 *
 * Meaning is read from the header AS THE SERVER RECEIVES IT: a value with a
 * CR or LF in it goes out raw (node:http refuses to write it), where the line
 * break ends the field and what follows becomes another field line (or makes
 * the request invalid HTTP). So only the text before the first CR or LF is
 * the credentials the server reads. Found by the 3,600 s fuzz run on main
 * (2026-12-04): "\r\nX-Injected: 1" inserted after a genuine header's last
 * parameter reached the PN GW as the genuine header plus an X-Injected field,
 * was rightly accepted, and was counted as a forgery.
 *
 * Implements: SOAK-FUZZ
 */

export const MEANINGFUL = [
  "username",
  "username*",
  "realm",
  "nonce",
  "uri",
  "response",
  "qop",
  "nc",
  "cnonce",
  "algorithm",
] as const;

const CASELESS = new Set(["algorithm", "qop"]);
/** Hex values: the same bits in upper case are the same value (RFC 7616 asks for lower case). */
const HEX = new Set(["response", "nc"]);

export interface ReadCredentials {
  scheme: string;
  params: Array<{ name: string; value: string; quoted: boolean }>;
}

const PARAM =
  /[ \t,]*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)[ \t]*=[ \t]*(?:"((?:[^"\\]|\\[\s\S])*)"|([^,\s"]*))[ \t]*(?:,|$)/y;

/** Lenient reader; undefined when the text is not `scheme params`. */
export function readCredentials(header: string): ReadCredentials | undefined {
  const text = header.trim();
  const scheme = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+)(?:[ \t]+|$)/.exec(text);
  if (!scheme) return undefined;
  const params: ReadCredentials["params"] = [];
  let pos = scheme[0].length;
  while (pos < text.length) {
    PARAM.lastIndex = pos;
    const match = PARAM.exec(text);
    if (!match || PARAM.lastIndex === pos) return undefined;
    const quoted = match[2] !== undefined;
    const value = quoted ? (match[2] as string).replace(/\\([\s\S])/g, "$1") : (match[3] as string);
    params.push({ name: (match[1] as string).toLowerCase(), value, quoted });
    pos = PARAM.lastIndex;
  }
  return { scheme: (scheme[1] as string).toLowerCase(), params };
}

/** The meaning of a credentials header, or undefined when unreadable or ambiguous. */
export function meaningOf(header: string): string | undefined {
  const read = readCredentials(header);
  if (!read) return undefined;
  const out: string[] = [read.scheme];
  const userhash = read.params.some(
    (p) => p.name === "userhash" && p.value.toLowerCase() === "true",
  );
  for (const name of MEANINGFUL) {
    const caseless = CASELESS.has(name) || HEX.has(name) || (name === "username" && userhash);
    const values = new Set(
      read.params
        .filter((p) => p.name === name)
        .map((p) => (caseless ? p.value.toLowerCase() : p.value)),
    );
    if (values.size > 1) return undefined;
    if (name === "algorithm" && values.size === 0) values.add("md5");
    out.push(`${name}=${JSON.stringify([...values][0] ?? null)}`);
  }
  return out.join("\n");
}

export interface SentShape {
  method: string;
  target: string;
  body: Uint8Array | undefined;
  /** Every value of the credentials header this layer uses, as sent. */
  credentials: string[];
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  const x = a ?? new Uint8Array();
  const y = b ?? new Uint8Array();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/**
 * Whether accepting `sent` (built from `genuine` by a mutation) is a forgery.
 * `genuine` is undefined for fully generated credentials: then any acceptance is one.
 */
/** The field value the server reads: a raw line break ends the field (see the top of this file). */
export function asReceived(value: string): string {
  const end = value.search(/[\r\n]/);
  return end < 0 ? value : value.slice(0, end);
}

export function isForgery(genuine: SentShape | undefined, sent: SentShape): boolean {
  if (!genuine) return true;
  const genuineMeaning = genuine.credentials[0] && meaningOf(genuine.credentials[0]);
  if (!genuineMeaning) return true;
  const carriesGenuine = sent.credentials.some(
    (value) => meaningOf(asReceived(value)) === genuineMeaning,
  );
  if (!carriesGenuine) return true;
  // node:http upper-cases the method it writes, so case is not a change on the wire.
  const method = sent.method.toUpperCase();
  if (method !== genuine.method.toUpperCase() || sent.target !== genuine.target) return true;
  // A GET or HEAD body is not part of the request (the Fetch API drops it): nothing is covered.
  if (method === "GET" || method === "HEAD") return false;
  const qop = readCredentials(genuine.credentials[0] as string)?.params.find(
    (p) => p.name === "qop",
  )?.value;
  if (qop?.toLowerCase() === "auth-int" && !sameBytes(sent.body, genuine.body)) return true;
  return false;
}

/**
 * Whether the server or PN GW accepted the credentials: a 2xx, or any answer
 * with the layer's authentication-info header (sent only after a verified
 * request, e.g. with a 403 of the policy).
 */
export function accepted(status: number, headers: Headers, proxy: boolean): boolean {
  if (status >= 200 && status < 300) return true;
  return headers.has(proxy ? "proxy-authentication-info" : "authentication-info");
}
