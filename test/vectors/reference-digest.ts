/**
 * Test support, not a vector: a second, independent implementation of the HTTP Digest
 * arithmetic (RFC 7616 §3.4.1-§3.4.4, §3.5; RFC 2617 §3.2.2) on node:crypto (OpenSSL), which the
 * engine (hashing with @noble/hashes) is cross-checked against, plus a small Authorization
 * builder (RFC 9110 §11.4 quoting, RFC 8187 ext-value for `username*`) that answers a
 * challenge the way a client would, with every parameter overridable so tests can tamper.
 * Nothing here imports src/: a bug shared by the engine and this oracle would need to be
 * written twice.
 */
import { createHash, randomBytes } from "node:crypto";

const NODE_HASH = { MD5: "md5", "SHA-256": "sha256", "SHA-512-256": "sha512-256" } as const;
type RefHash = keyof typeof NODE_HASH;

function refHashOf(algorithm: string): RefHash {
  const base = algorithm.replace(/-sess$/i, "").toUpperCase();
  if (base === "MD5" || base === "SHA-256" || base === "SHA-512-256") return base;
  throw new Error(`no reference hash for ${algorithm}`);
}

/** Lower-case hex H(data) for the hash behind a Digest algorithm name; strings are UTF-8. */
export function refH(algorithm: string, data: string | Uint8Array): string {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  return createHash(NODE_HASH[refHashOf(algorithm)]).update(bytes).digest("hex");
}

export interface RefInputs {
  algorithm: string;
  username: string;
  realm: string;
  password: string;
  method: string;
  uri: string;
  nonce: string;
  nc: string;
  cnonce: string;
  qop: string;
  body?: string | Uint8Array;
  responseBody?: string | Uint8Array;
}

export interface RefOutputs {
  ha1: string;
  sessionHa1: string;
  ha2: string;
  response: string;
  rspauth: string;
  userhash: string;
}

export function refDigest(input: RefInputs): RefOutputs {
  const { algorithm: alg, username, realm, password, method, uri, nonce, nc, cnonce, qop } = input;
  const ha1 = refH(alg, `${username}:${realm}:${password}`);
  const sessionHa1 = /-sess$/i.test(alg) ? refH(alg, `${ha1}:${nonce}:${cnonce}`) : ha1;
  const a2 = (m: string, body: string | Uint8Array | undefined) =>
    qop === "auth-int" ? `${m}:${uri}:${refH(alg, body ?? "")}` : `${m}:${uri}`;
  const ha2 = refH(alg, a2(method, input.body));
  const kd = (h2: string) => refH(alg, `${sessionHa1}:${nonce}:${nc}:${cnonce}:${qop}:${h2}`);
  return {
    ha1,
    sessionHa1,
    ha2,
    response: kd(ha2),
    rspauth: kd(refH(alg, a2("", input.responseBody))),
    userhash: refH(alg, `${username}:${realm}`),
  };
}

/** RFC 9110 §5.6.4 quoted-string. */
export function refQuote(value: string): string {
  return `"${value.replace(/[\\"]/g, (ch) => `\\${ch}`)}"`;
}

/** RFC 8187 §3.2 ext-value with UTF-8: everything but attr-char is percent-encoded. */
export function refExtValue(value: string): string {
  let out = "";
  for (const byte of Buffer.from(value, "utf8")) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9!#$&+\-.^_`|~]/.test(ch)
      ? ch
      : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return `UTF-8''${out}`;
}

/** One auth-param: [name, value, quoted]. */
export type HeaderParam = readonly [string, string, boolean];

export function digestHeader(params: ReadonlyArray<HeaderParam>, scheme = "Digest"): string {
  const list = params.map(([name, value, quoted]) => `${name}=${quoted ? refQuote(value) : value}`);
  return `${scheme} ${list.join(", ")}`;
}

/**
 * A parameter of a challenge string (quoted or token), found with a regex rather than the
 * engine's parser so that a parser bug cannot hide here.
 */
export function challengeParam(challenge: string, name: string): string | undefined {
  const re = new RegExp(`(?:^Digest\\s+|,\\s*)${name}=(?:"((?:[^"\\\\]|\\\\.)*)"|([^,\\s]*))`, "i");
  const match = re.exec(challenge);
  if (!match) return undefined;
  return match[1] !== undefined ? match[1].replace(/\\(.)/g, "$1") : match[2];
}

export interface AnswerOptions {
  username: string;
  password: string;
  method?: string;
  uri: string;
  nc?: string;
  cnonce?: string;
  qop?: string;
  /** Default: the challenge's algorithm. */
  algorithm?: string;
  body?: string | Uint8Array;
  /** Send H(username:realm) and userhash=true (RFC 7616 §3.4.4). */
  userhash?: boolean;
  /** Send the username as `username*` (RFC 7616 §3.4, RFC 8187). */
  usernameStar?: boolean;
  /** Replace parameters by name (value [, quoted]); `null` removes the parameter. */
  override?: Record<string, string | readonly [string, boolean] | null>;
  /** Appended verbatim after the computed parameters. */
  extra?: ReadonlyArray<HeaderParam>;
}

export interface Answer {
  header: string;
  expected: RefOutputs;
  nonce: string;
  cnonce: string;
  nc: string;
}

/** Answers one `WWW-Authenticate: Digest ...` challenge with the reference implementation. */
export function answerChallenge(challenge: string, options: AnswerOptions): Answer {
  const realm = challengeParam(challenge, "realm") ?? "";
  const nonce = challengeParam(challenge, "nonce") ?? "";
  const opaque = challengeParam(challenge, "opaque");
  const algorithm = options.algorithm ?? challengeParam(challenge, "algorithm") ?? "MD5";
  const nc = options.nc ?? "00000001";
  const cnonce = options.cnonce ?? randomBytes(12).toString("base64url");
  const qop = options.qop ?? "auth";
  const method = options.method ?? "GET";
  const expected = refDigest({
    algorithm,
    username: options.username,
    realm,
    password: options.password,
    method,
    uri: options.uri,
    nonce,
    nc,
    cnonce,
    qop,
    body: options.body,
  });
  const params: HeaderParam[] = [];
  if (options.userhash) params.push(["username", expected.userhash, true]);
  else if (options.usernameStar) params.push(["username*", refExtValue(options.username), false]);
  else params.push(["username", options.username, true]);
  params.push(
    ["realm", realm, true],
    ["uri", options.uri, true],
    ["algorithm", algorithm, false],
    ["nonce", nonce, true],
    ["nc", nc, false],
    ["cnonce", cnonce, true],
    ["qop", qop, false],
    ["response", expected.response, true],
  );
  if (opaque !== undefined) params.push(["opaque", opaque, true]);
  if (options.userhash) params.push(["userhash", "true", false]);
  let final: HeaderParam[] = params;
  for (const [name, replacement] of Object.entries(options.override ?? {})) {
    const index = final.findIndex(([n]) => n === name);
    if (replacement === null) {
      final = final.filter(([n]) => n !== name);
      continue;
    }
    const entry: HeaderParam =
      typeof replacement === "string"
        ? [name, replacement, index >= 0 ? (final[index] as HeaderParam)[2] : true]
        : [name, replacement[0], replacement[1]];
    if (index >= 0) final[index] = entry;
    else final.push(entry);
  }
  return {
    header: digestHeader([...final, ...(options.extra ?? [])]),
    expected,
    nonce,
    cnonce,
    nc,
  };
}
