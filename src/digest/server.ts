/**
 * Server-side HTTP Digest (RFC 7616 §3.3-§3.5, RFC 2617 compatible, RFC 7615
 * Authentication-Info), usable without any framework: `challenges()` builds the
 * WWW-Authenticate values, `verify()` checks an Authorization header against a
 * request. The Hono middleware in middleware.ts is a thin shell around this.
 *
 * Implements: SEED-5.x.2-1, DIGEST-ALGORITHMS, DIGEST-REPLAY, DIGEST-NO-ENUMERATION, DIGEST-USERHASH, DIGEST-AUTHINFO, DIGEST-QOP-REQUIRED, DIGEST-REALM-BOUND, FFS-SERVER-AUTH, DIGEST-SPEED-OUTCOME, DIGEST-SYNC-CHECK
 */
import { toHex, utf8 } from "../crypto/bytes.ts";
import { timingSafeEqualString } from "../crypto/compare.ts";
import { hashBytes } from "../crypto/hash.ts";
import { type CryptoProvider, defaultCrypto, randomBytes } from "../crypto/provider.ts";
import {
  ALGORITHMS,
  type AlgorithmSpec,
  DEFAULT_ALGORITHMS,
  type DigestAlgorithm,
  parseAlgorithm,
} from "./algorithms.ts";
import { computeHa1, computeHa2, computeResponse, computeUserhash, sessionHa1 } from "./compute.ts";
import type { DigestErrorCode } from "./errors.ts";
import { MemoryReplayLedger, type ReplayLedger } from "./ledger.ts";
import { freshness, NonceFactory } from "./nonce.ts";
import {
  type AuthElement,
  DigestParseError,
  decodeExtValue,
  formatParams,
  hasControlCharacter,
  type ParamValue,
  parseCredentials,
  quote,
} from "./params.ts";

export type Qop = "auth" | "auth-int";

/** What the lookup hook is asked: who, in which realm, with which hash. */
export interface CredentialRequest {
  /** The username as sent, or H(username:realm) in hex when `userhash` is true. */
  username: string;
  userhash: boolean;
  realm: string;
  algorithm: DigestAlgorithm;
  hash: AlgorithmSpec["hash"];
}

/**
 * What the lookup hook answers: the password (or other shared secret), or the
 * precomputed HA1 = H(username:realm:password) for this realm and hash, which
 * is what a server should store. `data` rides along to the principal.
 */
export interface Credential<D = unknown> {
  /** The real username; required when the request used userhash. */
  username?: string;
  password?: string;
  ha1?: string;
  data?: D;
}

export type CredentialLookup<D = unknown> = (
  request: CredentialRequest,
) => Credential<D> | undefined | Promise<Credential<D> | undefined>;

export interface DigestServerOptions<D = unknown> {
  realm: string;
  /** Key for the nonce MAC: at least 16 bytes; share it between instances of one service. */
  secret: Uint8Array | string;
  lookup: CredentialLookup<D>;
  /** Offered in this order, one challenge each (RFC 7616 §3.7). Default SHA-256, SHA-512-256, MD5. */
  algorithms?: readonly DigestAlgorithm[];
  /** Default both, `auth` first. */
  qop?: readonly Qop[];
  /** Default 300 s. */
  nonceLifetimeSeconds?: number;
  /** Send `nextnonce` when less than this is left of the nonce's life. Default lifetime/5. */
  nextnonceBeforeSeconds?: number;
  /** Advertise `userhash=true` (RFC 7616 §3.4.4). Default true. */
  userhash?: boolean;
  ledger?: ReplayLedger;
  crypto?: CryptoProvider;
  /** Clock in ms since the epoch; tests drive it. */
  now?: () => number;
}

export interface DigestRequest {
  method: string;
  /** The absolute request URL; its path and query are the request target. */
  url: string;
  authorization: string | null | undefined;
  /** Needed only for qop=auth-int. */
  body?: () => Promise<Uint8Array | ArrayBuffer>;
  /**
   * The weakest qop this request may be answered with (issue #9 item 1), e.g.
   * "auth-int" for a route with a body or key material. A weaker answer gets a
   * 401 whose challenges offer only the qops at least this strong. Default: any
   * configured qop.
   */
  minimumQop?: Qop;
  /**
   * Called once the credentials name an identity, before any lookup or hash
   * (issue #12): e.g. to reserve a failure budget before the verification.
   */
  onAttempt?: (claimed: ClaimedIdentity) => void | Promise<void>;
}

/** The identity a request's credentials claim, as parsed (nothing about it is proven). */
export interface ClaimedIdentity {
  /** The username as sent (username* decoded), or the userhash as sent when `userhash`. */
  username: string;
  userhash: boolean;
  /** The algorithm named, when it is one this engine knows (a userhash is per hash). */
  algorithm: DigestAlgorithm | undefined;
}

export interface DigestPrincipal<D = unknown> {
  username: string;
  realm: string;
  algorithm: DigestAlgorithm;
  qop: Qop;
  userhash: boolean;
  /**
   * The exchange's nonce and cnonce: fresh values both sides know, which an
   * application may bind a key derivation to (CPNS EUKey transport does).
   */
  nonce: string;
  cnonce: string;
  data: D | undefined;
}

export type DigestOutcome<D = unknown> =
  | {
      ok: true;
      principal: DigestPrincipal<D>;
      /** True for auth-int: rspauth then covers the response body (RFC 7616 §3.5). */
      needsResponseBody: boolean;
      authenticationInfo(responseBody?: Uint8Array): string;
    }
  | {
      ok: false;
      status: 400 | 401;
      code: DigestErrorCode;
      /** True when the answer was right but its nonce had expired (RFC 7616 §3.3). */
      stale: boolean;
      /** WWW-Authenticate values, one per algorithm; empty for 400. */
      challenges: string[];
      /** The identity the credentials claimed, when they named one. */
      claimed?: ClaimedIdentity;
      /**
       * Set when the answer proved the secret of this identity (the lookup's real
       * username and data) and was refused only for its nonce: expired (`stale`),
       * or a nonce-count the ledger had already seen or left behind (a replay, or a
       * request overtaken by more than the ledger's window on parallel
       * connections). Nothing was guessed: a caller that budgets failures need not
       * charge it, nor look the identity up again.
       */
      proven?: { username: string; data: D | undefined };
    };

const NC_FORMAT = /^[0-9a-fA-F]{8}$/;
const HEX = /^[0-9a-fA-F]+$/;

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === "function";
}
const QOPS: readonly Qop[] = ["auth", "auth-int"];
const HA2_CACHE = 1024;
const GENUINE_NONCE_CACHE = 4096;

export interface DigestVerifier<D = unknown> {
  readonly realm: string;
  /** `minimumQop`: offer only the configured qops at least this strong. */
  challenges(options?: { stale?: boolean; minimumQop?: Qop }): string[];
  verify(request: DigestRequest): Promise<DigestOutcome<D>>;
  /**
   * verify() without the promise when nothing asynchronous was involved (a
   * synchronous lookup, onAttempt and ledger, and qop=auth): the same outcome,
   * a microtask turn sooner. A promise otherwise. May throw synchronously
   * where verify() would reject.
   */
  check(request: DigestRequest): DigestOutcome<D> | Promise<DigestOutcome<D>>;
}

function validateOptions(options: DigestServerOptions<unknown>): void {
  if (
    typeof options.realm !== "string" ||
    options.realm === "" ||
    hasControlCharacter(options.realm)
  ) {
    throw new TypeError("digest: realm must be a non-empty string without control characters");
  }
  const secret = typeof options.secret === "string" ? utf8(options.secret) : options.secret;
  if (!(secret instanceof Uint8Array) || secret.length < 16) {
    throw new TypeError("digest: secret must be at least 16 bytes");
  }
  if (typeof options.lookup !== "function")
    throw new TypeError("digest: lookup must be a function");
  const algorithms = options.algorithms ?? DEFAULT_ALGORITHMS;
  if (algorithms.length === 0 || algorithms.some((name) => !(name in ALGORITHMS))) {
    throw new TypeError("digest: algorithms must be a non-empty list of RFC 7616 algorithm names");
  }
  const qop = options.qop ?? QOPS;
  if (qop.length === 0 || qop.some((name) => !QOPS.includes(name))) {
    throw new TypeError("digest: qop must be a non-empty list of 'auth' and 'auth-int'");
  }
  const lifetime = options.nonceLifetimeSeconds ?? 300;
  if (!(lifetime > 0 && Number.isFinite(lifetime))) {
    throw new TypeError("digest: nonceLifetimeSeconds must be positive");
  }
}

/**
 * Path and query of an absolute URL, without parsing it: this runs on every
 * request and the exact-match fast path needs no URL object.
 */
function requestTarget(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const hash = url.indexOf("#", start);
  return hash < 0 ? url.slice(start) : url.slice(start, hash);
}

/** RFC 7616 §3.4.6: the `uri` must name the request target; absolute form is allowed. */
function uriMatches(digestUri: string, target: string, requestUrl: string): boolean {
  if (digestUri === target) return true;
  // Otherwise compare normalised forms: absolute-form (same host), or
  // percent-encoding differences between what the client signed and what the
  // runtime rebuilt. Network-path references ("//host/...") are neither form.
  const absolute = /^https?:\/\//i.test(digestUri);
  if (!absolute && !(digestUri.startsWith("/") && !digestUri.startsWith("//"))) return false;
  try {
    const base = new URL(requestUrl);
    const resolved = new URL(digestUri, base);
    if (absolute && resolved.host !== base.host) return false;
    return resolved.pathname + resolved.search === base.pathname + base.search;
  } catch {
    return false;
  }
}

function hashBody(algorithm: AlgorithmSpec, body: Uint8Array | ArrayBuffer): string {
  return toHex(hashBytes(algorithm.hash, body instanceof Uint8Array ? body : new Uint8Array(body)));
}

/**
 * One verification's state between its stages (see check() below): what the
 * header said, and what the stages found. Never returned: the session HA1 in
 * it stays inside the verifier (Verified keeps its own private copy).
 */
class Attempt<D> {
  credential: Credential<D> | undefined;
  realUsername: string | undefined;
  known = false;
  ha1 = "";
  sessHa1 = "";
  constructor(
    readonly request: DigestRequest,
    readonly minimumQop: Qop,
    readonly claimed: ClaimedIdentity | undefined,
    readonly username: string,
    readonly userhash: boolean,
    readonly algorithm: AlgorithmSpec,
    readonly nonce: string,
    readonly uri: string,
    readonly response: string,
    readonly qopToken: string,
    readonly qop: Qop,
    readonly ncToken: string,
    readonly cnonce: string,
    readonly issuedAtMs: number,
    readonly expired: boolean,
    readonly nowMs: number,
  ) {}
}

export function createDigestVerifier<D = unknown>(
  options: DigestServerOptions<D>,
): DigestVerifier<D> {
  validateOptions(options as DigestServerOptions<unknown>);
  const realm = options.realm;
  const crypto = options.crypto ?? defaultCrypto();
  const now = options.now ?? Date.now;
  const lifetimeMs = (options.nonceLifetimeSeconds ?? 300) * 1000;
  const nextnonceBeforeMs = (options.nextnonceBeforeSeconds ?? lifetimeMs / 5000) * 1000;
  const offered = (options.algorithms ?? DEFAULT_ALGORITHMS).map((name) => ALGORITHMS[name]);
  const offeredNames = new Set(offered.map((spec) => spec.name));
  const qops = options.qop ?? QOPS;
  const advertiseUserhash = options.userhash ?? true;
  const ledger = options.ledger ?? new MemoryReplayLedger({ now });
  const secret = typeof options.secret === "string" ? utf8(options.secret) : options.secret;
  // The ledger's epoch is in every nonce: see ledger.ts (issue #9 item 2).
  const nonces = new NonceFactory(secret, realm, crypto, ledger.epoch);
  const opaque = nonces.opaque();
  const genuineNonces = new Map<string, number>();
  // HA2 for qop=auth depends only on public inputs (method, uri), and the same
  // few routes come back on every request: hash each once. Nested maps (hash,
  // method, uri), not one map under a joined key: joining made a new string to
  // flatten and hash on every call, twice a request (issue #12).
  const ha2Cache = new Map<string, Map<string, Map<string, string>>>();
  let ha2Entries = 0;
  function ha2For(spec: AlgorithmSpec, method: string, uri: string, bodyHash?: string): string {
    if (bodyHash !== undefined) return computeHa2(spec, method, uri, bodyHash);
    let byMethod = ha2Cache.get(spec.hash);
    if (byMethod === undefined) {
      byMethod = new Map();
      ha2Cache.set(spec.hash, byMethod);
    }
    let byUri = byMethod.get(method);
    if (byUri === undefined) {
      byUri = new Map();
      byMethod.set(method, byUri);
    }
    let value = byUri.get(uri);
    if (value === undefined) {
      value = computeHa2(spec, method, uri);
      // Bounded: a client may name any number of uris (each must still match the request).
      // Stryker disable next-line EqualityOperator: equivalent: clearing the cache one entry later, or on every miss, changes no answer
      if (ha2Entries >= HA2_CACHE) {
        ha2Cache.clear();
        ha2Entries = 0;
      } else {
        byUri.set(uri, value);
        ha2Entries++;
      }
    }
    return value;
  }

  // Everything but the nonce and stale is fixed per algorithm and qop set:
  // format it once for each minimum qop (this runs on every refused request).
  const NONCE_SLOT = "\u0000";
  const templatesFor = (qopSet: readonly Qop[]) =>
    offered.map((spec) => {
      const params: Array<[string, ParamValue]> = [
        ["realm", { value: realm, quoted: true }],
        ["qop", { value: qopSet.join(", "), quoted: true }],
        ["algorithm", { value: spec.name, quoted: false }],
        ["nonce", { value: NONCE_SLOT, quoted: true }],
        ["opaque", { value: opaque, quoted: true }],
        ["charset", { value: "UTF-8", quoted: false }],
      ];
      if (advertiseUserhash) params.push(["userhash", { value: "true", quoted: false }]);
      const [before, after] = `Digest ${formatParams(params)}`.split(NONCE_SLOT) as [
        string,
        string,
      ];
      return { before, after };
    });
  /** Keyed by minimum qop: the configured qops at least that strong (possibly none). */
  const acceptedQops: Readonly<Record<Qop, readonly Qop[]>> = {
    auth: qops,
    "auth-int": qops.filter((qop) => qop === "auth-int"),
  };
  const challengeTemplates = {
    auth: templatesFor(acceptedQops.auth),
    "auth-int": templatesFor(acceptedQops["auth-int"]),
  } as const;

  /**
   * A refusal. Made once per verifier, not as a closure in each verify() call: tsx
   * (esbuild keepNames) re-names every function created per call, and a
   * verification should allocate nothing it does not return.
   */
  function refusal(
    minimumQop: Qop,
    claimed: ClaimedIdentity | undefined,
    status: 400 | 401,
    code: DigestErrorCode,
    stale = false,
    proven?: { username: string; data: D | undefined },
  ): DigestOutcome<D> {
    return {
      ok: false,
      status,
      code,
      stale,
      challenges: status === 401 ? challenges({ stale, minimumQop }) : [],
      ...(claimed ? { claimed } : {}),
      ...(proven ? { proven } : {}),
    };
  }

  function challenges(opts: { stale?: boolean; minimumQop?: Qop } = {}): string[] {
    const nonce = nonces.issue(now());
    const stale = opts.stale ? ", stale=true" : "";
    const templates = challengeTemplates[opts.minimumQop ?? "auth"];
    if (acceptedQops[opts.minimumQop ?? "auth"].length === 0) return [];
    return templates.map(({ before, after }) => before + nonce + after + stale);
  }

  /**
   * MAC, then freshness ([issuedAt, issuedAt + lifetime), see nonce.ts). A
   * keep-alive client presents the same nonce many times, and the MAC (decode,
   * HMAC, re-encode) is the largest single cost of a verification, so genuine
   * nonces are remembered: bounded, oldest out first, forged ones never.
   */
  function checkNonce(nonce: string, nowMs: number) {
    let issuedAtMs = genuineNonces.get(nonce);
    if (issuedAtMs === undefined) {
      const result = nonces.check(nonce);
      if (!result.valid) return undefined;
      issuedAtMs = result.issuedAtMs;
      // Stryker disable next-line EqualityOperator: equivalent: evicting one entry later, or on every insert, changes no answer
      if (genuineNonces.size >= GENUINE_NONCE_CACHE) {
        genuineNonces.delete(genuineNonces.keys().next().value as string);
      }
      genuineNonces.set(nonce, issuedAtMs);
    }
    const state = freshness(issuedAtMs, nowMs, lifetimeMs);
    return state === "future" ? undefined : { issuedAtMs, expired: state === "expired" };
  }

  /**
   * A verified request. A class rather than an object literal with a closure:
   * the rspauth inputs are private fields (the session HA1 is a password
   * equivalent: never an enumerable property a log could print) and
   * authenticationInfo() is one prototype method, not a function made per
   * request. Call it as a method.
   */
  class Verified {
    readonly ok = true as const;
    readonly needsResponseBody: boolean;
    // Copies, not reads of `principal`: the application holds that object and may change it.
    readonly #algorithm: AlgorithmSpec;
    readonly #sessHa1: string;
    readonly #nonce: string;
    readonly #nc: string;
    readonly #cnonce: string;
    readonly #qop: Qop;
    readonly #qopToken: string;
    readonly #uri: string;
    readonly #nearEnd: boolean;
    constructor(
      readonly principal: DigestPrincipal<D>,
      algorithm: AlgorithmSpec,
      sessHa1: string,
      nc: string,
      qopToken: string,
      uri: string,
      nearEnd: boolean,
    ) {
      this.needsResponseBody = principal.qop === "auth-int";
      this.#algorithm = algorithm;
      this.#sessHa1 = sessHa1;
      this.#nonce = principal.nonce;
      this.#nc = nc;
      this.#cnonce = principal.cnonce;
      this.#qop = principal.qop;
      this.#qopToken = qopToken;
      this.#uri = uri;
      this.#nearEnd = nearEnd;
    }

    authenticationInfo(responseBody?: Uint8Array): string {
      const algorithm = this.#algorithm;
      const qop = this.#qop;
      const cnonce = this.#cnonce;
      const bodyHash =
        qop === "auth-int"
          ? toHex(hashBytes(algorithm.hash, responseBody ?? new Uint8Array(0)))
          : undefined;
      const rspauth = computeResponse(algorithm, {
        ha1: this.#sessHa1,
        nonce: this.#nonce,
        nc: this.#nc,
        cnonce,
        qop: this.#qopToken,
        ha2: ha2For(algorithm, "", this.#uri, bodyHash),
      });
      // rspauth is hex: nothing in it to escape.
      let info = `qop=${qop}, rspauth="${rspauth}", cnonce=${quote(cnonce)}, nc=${this.#nc}`;
      if (this.#nearEnd) info += `, nextnonce=${quote(nonces.issue(now()))}`;
      return info;
    }
  }

  /**
   * verify(), split where it may wait (the onAttempt hook, the lookup, an
   * auth-int body, the ledger) and synchronous between: each stage continues
   * at once when what it waited for is a plain value, so with synchronous hooks
   * and ledger and qop=auth a verification makes no promise at all (issue #12:
   * each await was a microtask turn and a promise per request on the hot path).
   * The stages are made once per verifier; a request's state rides in one
   * Attempt object.
   */
  function check(request: DigestRequest): DigestOutcome<D> | Promise<DigestOutcome<D>> {
    const minimumQop = request.minimumQop ?? "auth";
    if (acceptedQops[minimumQop] === undefined) {
      throw new TypeError("digest: minimumQop must be a qop");
    }
    const header = request.authorization;
    if (!header) return refusal(minimumQop, undefined, 401, "ERR_DIGEST_UNAUTHORIZED");

    let element: AuthElement;
    try {
      element = parseCredentials(header);
    } catch (err) {
      if (err instanceof DigestParseError)
        return refusal(minimumQop, undefined, 400, "ERR_DIGEST_MALFORMED");
      throw err;
    }
    // Another scheme (Basic, Bearer) is not malformed, just not ours: challenge.
    const { scheme } = element;
    if (scheme !== "Digest" && scheme.toLowerCase() !== "digest")
      return refusal(minimumQop, undefined, 401, "ERR_DIGEST_UNAUTHORIZED");
    const p = element.params;

    const userhashToken = p.get("userhash");
    const userhash = userhashToken !== undefined && userhashToken.toLowerCase() === "true";
    let username = p.get("username");
    const extUsername = p.get("username*");
    if (extUsername !== undefined) {
      // §3.4: username and username* are mutually exclusive; username* never with userhash.
      if (username !== undefined || userhash)
        return refusal(minimumQop, undefined, 400, "ERR_DIGEST_MALFORMED");
      try {
        username = decodeExtValue(extUsername);
      } catch {
        return refusal(minimumQop, undefined, 400, "ERR_DIGEST_MALFORMED");
      }
    }
    const algorithmToken = p.get("algorithm");
    const algorithmName = parseAlgorithm(algorithmToken);
    let claimed: ClaimedIdentity | undefined;
    if (username !== undefined) {
      claimed = {
        username: userhash ? username.toLowerCase() : username,
        userhash,
        algorithm: algorithmName,
      };
      const attempt = request.onAttempt?.(claimed);
      // Waited for only when it is a promise (see above).
      if (attempt !== undefined && isPromise(attempt)) {
        const known = claimed;
        return attempt.then(() =>
          afterAttempt(request, minimumQop, p, known, username, userhash, algorithmName),
        );
      }
    }
    return afterAttempt(request, minimumQop, p, claimed, username, userhash, algorithmName);
  }

  /** The fields, the nonce and the uri, then the lookup. */
  function afterAttempt(
    request: DigestRequest,
    minimumQop: Qop,
    p: Map<string, string>,
    claimed: ClaimedIdentity | undefined,
    username: string | undefined,
    userhash: boolean,
    algorithmName: DigestAlgorithm | undefined,
  ): DigestOutcome<D> | Promise<DigestOutcome<D>> {
    const sentRealm = p.get("realm");
    const nonce = p.get("nonce");
    const uri = p.get("uri");
    const response = p.get("response");
    const qopToken = p.get("qop");
    const ncToken = p.get("nc");
    const cnonce = p.get("cnonce");
    if (
      username === undefined ||
      sentRealm === undefined ||
      nonce === undefined ||
      uri === undefined ||
      response === undefined
    ) {
      return refusal(minimumQop, claimed, 400, "ERR_DIGEST_MALFORMED");
    }
    // We always send qop, so RFC 2069-style answers without nc are refused: they
    // cannot be protected against replay.
    if (qopToken === undefined || ncToken === undefined || cnonce === undefined || cnonce === "") {
      return refusal(
        minimumQop,
        claimed,
        qopToken === undefined ? 401 : 400,
        qopToken === undefined ? "ERR_DIGEST_UNAUTHORIZED" : "ERR_DIGEST_MALFORMED",
      );
    }
    if (!NC_FORMAT.test(ncToken) || !HEX.test(response)) {
      return refusal(minimumQop, claimed, 400, "ERR_DIGEST_MALFORMED");
    }
    if (algorithmName === undefined || !offeredNames.has(algorithmName)) {
      return refusal(minimumQop, claimed, 401, "ERR_DIGEST_UNAUTHORIZED");
    }
    const algorithm = ALGORITHMS[algorithmName];
    // Lower-cased only when it needs to be (every client sends it so).
    const qop = (
      qopToken === "auth" || qopToken === "auth-int" ? qopToken : qopToken.toLowerCase()
    ) as Qop;
    // A qop weaker than this request requires is a downgrade: refused before any hashing.
    if (!acceptedQops[minimumQop].includes(qop))
      return refusal(minimumQop, claimed, 401, "ERR_DIGEST_UNAUTHORIZED");
    if (response.length !== algorithm.hexLength)
      return refusal(minimumQop, claimed, 401, "ERR_DIGEST_UNAUTHORIZED");
    if (sentRealm !== realm) return refusal(minimumQop, claimed, 401, "ERR_DIGEST_UNAUTHORIZED");
    const sentOpaque = p.get("opaque");
    if (sentOpaque !== undefined && sentOpaque !== opaque) {
      return refusal(minimumQop, claimed, 401, "ERR_DIGEST_UNAUTHORIZED");
    }

    if (!uriMatches(uri, requestTarget(request.url), request.url)) {
      return refusal(minimumQop, claimed, 400, "ERR_DIGEST_URI_MISMATCH");
    }

    const nowMs = now();
    const nonceCheck = checkNonce(nonce, nowMs);
    if (!nonceCheck) return refusal(minimumQop, claimed, 401, "ERR_DIGEST_UNAUTHORIZED");

    const attempt = new Attempt<D>(
      request,
      minimumQop,
      claimed,
      username,
      userhash,
      algorithm,
      nonce,
      uri,
      response,
      qopToken,
      qop,
      ncToken,
      cnonce,
      nonceCheck.issuedAtMs,
      nonceCheck.expired,
      nowMs,
    );
    const found = options.lookup({
      username,
      userhash,
      realm,
      algorithm: algorithm.name,
      hash: algorithm.hash,
    });
    return isPromise(found)
      ? found.then((credential) => withCredential(attempt, credential))
      : withCredential(attempt, found);
  }

  /** HA1 from the credential (or a random one), then the body for auth-int. */
  function withCredential(
    a: Attempt<D>,
    credential: Credential<D> | undefined,
  ): DigestOutcome<D> | Promise<DigestOutcome<D>> {
    const { algorithm, username, userhash } = a;
    let realUsername = userhash ? credential?.username : (credential?.username ?? username);
    let ha1: string | undefined;
    if (credential && realUsername !== undefined) {
      if (
        userhash &&
        !timingSafeEqualString(
          computeUserhash(algorithm, realUsername, realm),
          username.toLowerCase(),
        )
      ) {
        realUsername = undefined;
      } else if (credential.ha1 !== undefined) {
        ha1 = credential.ha1.toLowerCase();
      } else if (credential.password !== undefined) {
        ha1 = computeHa1(algorithm, realUsername, realm, credential.password);
      }
    }
    a.credential = credential;
    a.realUsername = realUsername;
    // Unknown user and wrong password must look alike, in answer and in time:
    // compute against a random HA1 and fail the comparison either way.
    // Stryker disable next-line LogicalOperator: equivalent: ha1 is only set when realUsername is defined, and without ha1 the random HA1 below never matches
    a.known = ha1 !== undefined && realUsername !== undefined;
    // Stryker disable next-line ArithmeticOperator: equivalent: a longer random HA1 fails the comparison just the same
    a.ha1 = ha1 ?? toHex(randomBytes(algorithm.hexLength / 2, crypto));

    if (a.qop !== "auth-int") return withBodyHash(a, undefined);
    const { request } = a;
    if (!request.body) return withBodyHash(a, hashBody(algorithm, new Uint8Array(0)));
    return request.body().then((body) => withBodyHash(a, hashBody(algorithm, body)));
  }

  /** The comparison, the nonce's age, then the ledger. */
  function withBodyHash(
    a: Attempt<D>,
    requestBodyHash: string | undefined,
  ): DigestOutcome<D> | Promise<DigestOutcome<D>> {
    const { algorithm, nonce, cnonce, minimumQop, claimed } = a;
    a.sessHa1 = sessionHa1(algorithm, a.ha1, nonce, cnonce);
    const expected = computeResponse(algorithm, {
      ha1: a.sessHa1,
      nonce,
      nc: a.ncToken,
      cnonce,
      // The token as sent: the client hashed what it wrote, whatever its case.
      qop: a.qopToken,
      ha2: ha2For(algorithm, a.request.method, a.uri, requestBodyHash),
    });
    if (!timingSafeEqualString(expected, a.response.toLowerCase()) || !a.known) {
      return refusal(minimumQop, claimed, 401, "ERR_DIGEST_UNAUTHORIZED");
    }
    // A genuine answer to an old nonce: tell the client to retry without asking the user.
    if (a.expired) {
      return refusal(minimumQop, claimed, 401, "ERR_DIGEST_UNAUTHORIZED", true, {
        username: a.realUsername as string,
        data: a.credential?.data,
      });
    }
    const expiresAtMs = a.issuedAtMs + lifetimeMs;
    const accepted = ledger.accept(nonce, Number.parseInt(a.ncToken, 16), expiresAtMs);
    return isPromise(accepted)
      ? accepted.then((fresh) => afterLedger(a, fresh, expiresAtMs))
      : afterLedger(a, accepted, expiresAtMs);
  }

  function afterLedger(a: Attempt<D>, fresh: boolean, expiresAtMs: number): DigestOutcome<D> {
    if (!fresh) {
      // Proven, so the caller can tell it from a guess (issue #9 item 4, LIMIT-PROVEN).
      return refusal(a.minimumQop, a.claimed, 401, "ERR_DIGEST_UNAUTHORIZED", false, {
        username: a.realUsername as string,
        // Stryker disable next-line OptionalChaining: equivalent: a proven answer means the credential was found
        data: a.credential?.data,
      });
    }
    const principal: DigestPrincipal<D> = {
      username: a.realUsername as string,
      realm,
      algorithm: a.algorithm.name,
      qop: a.qop,
      userhash: a.userhash,
      nonce: a.nonce,
      cnonce: a.cnonce,
      // Stryker disable next-line OptionalChaining: equivalent: a principal is only built when the credential was found
      data: a.credential?.data,
    };
    const nearEnd = expiresAtMs - a.nowMs < nextnonceBeforeMs;
    return new Verified(principal, a.algorithm, a.sessHa1, a.ncToken, a.qopToken, a.uri, nearEnd);
  }

  async function verify(request: DigestRequest): Promise<DigestOutcome<D>> {
    return check(request);
  }

  return { realm, challenges, verify, check };
}
