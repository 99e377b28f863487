/**
 * Client-side HTTP Digest (RFC 7616 §3.4, §3.5; RFC 7615) as a `fetch` wrapper.
 * It answers the strongest algorithm offered, keeps nonce and nonce-count per
 * origin and realm so later requests authenticate without a round trip, follows
 * `stale=true` and `nextnonce` without asking again, supports auth-int and
 * userhash, and verifies `rspauth`: a server that cannot produce it does not
 * know the shared secret. With `requireRspauth` its absence is an error too,
 * which is how the CPNS agents authenticate the server (seed 5.x.2 FFS); a
 * refusal (4xx, 5xx) without it is handed back unproven, so a 429 reads as a
 * 429 (issue #13 item 1). With `proxy: true` it authenticates to a proxy or gateway instead (RFC 7235
 * §4.3-4.4, RFC 7616 §3.1/§3.4, RFC 7615 §4): 407 and Proxy-Authenticate in,
 * Proxy-Authorization out, rspauth from Proxy-Authentication-Info. The two
 * compose: a proxy-mode wrapper as the `fetch` of an ordinary one.
 *
 * Implements: FFS-SERVER-AUTH, DIGEST-AUTHINT, DIGEST-AUTHINFO, DIGEST-CLIENT, DIGEST-PROXY,
 * Implements: DIGEST-INTEROP-APACHE, DIGEST-MINIMUM, DIGEST-RSPAUTH-UNCHALLENGED, FIRSTRUN-REFUSALS
 * Implements: DIGEST-CLIENT-PLAIN-TEMPLATE
 */
import { toHex } from "../crypto/bytes.ts";
import { timingSafeEqualString } from "../crypto/compare.ts";
import { hashBytes } from "../crypto/hash.ts";
import { type CryptoProvider, defaultCrypto, randomBytes } from "../crypto/provider.ts";
import {
  ALGORITHMS,
  type AlgorithmSpec,
  CLIENT_PREFERENCE,
  type DigestAlgorithm,
  parseAlgorithm,
} from "./algorithms.ts";
import { computeHa1, computeHa2, computeResponse, computeUserhash, sessionHa1 } from "./compute.ts";
import { DigestError } from "./errors.ts";
import { encodeExtValue, formatParams, type ParamValue, parseChallenges } from "./params.ts";
import type { Qop } from "./server.ts";

export type FetchLike = (request: Request) => Response | Promise<Response>;

/** What the client used to authenticate a response: the values both sides now share. */
export interface DigestExchange {
  realm: string;
  algorithm: DigestAlgorithm;
  nonce: string;
  cnonce: string;
  nc: string;
  username: string;
}

// One map per layer: when the wrappers are stacked, both record on the same
// Response object (the outer one returns what the inner one returned).
const exchanges = new WeakMap<Response, DigestExchange>();
const proxyExchanges = new WeakMap<Response, DigestExchange>();

/**
 * The Digest exchange behind a response returned by a digest fetch, if it was
 * authenticated (and, when the server sent rspauth, the server proved itself).
 * Applications bind key derivations to it (CPNS EUKey transport). Always the
 * end-to-end exchange, never a proxy's: see `proxyExchangeOf`.
 */
export function digestExchangeOf(response: Response): DigestExchange | undefined {
  return exchanges.get(response);
}

/**
 * The proxy-layer exchange behind a response returned by a digest fetch in proxy
 * mode, if the proxy authenticated the request (and proved itself when it sent
 * rspauth in Proxy-Authentication-Info).
 */
export function proxyExchangeOf(response: Response): DigestExchange | undefined {
  return proxyExchanges.get(response);
}

export interface DigestFetchOptions {
  username: string;
  password: string;
  /** The transport; default the global fetch. Tests pass `app.fetch`. */
  fetch?: FetchLike;
  /**
   * Refuse every response in which the server has not proved the shared secret:
   * no valid rspauth, or an answer given without a Digest exchange. Default false.
   * In proxy mode the proxy must prove it, in Proxy-Authentication-Info.
   * Refusals (4xx, 5xx) without Authentication-Info are returned as they are,
   * unproven (`digestExchangeOf` is undefined for them): a caller reports them,
   * never acts on their content. A wrong rspauth is an error on any status.
   */
  requireRspauth?: boolean;
  /**
   * Authenticate to the proxy or gateway that `fetch` reaches, not to the origin
   * server (default false): answer 407 + Proxy-Authenticate with
   * Proxy-Authorization and check Proxy-Authentication-Info. The request's own
   * Authorization is passed on untouched, and 401s are the origin's business,
   * so an ordinary wrapper over this one handles the end-to-end exchange. One
   * protection space is kept for every origin: each request meets the same proxy.
   */
  proxy?: boolean;
  /**
   * A challenge received out of band (a WWW-Authenticate or Proxy-Authenticate
   * value), answered from the very first request without a round trip; `origin`
   * is needed outside proxy mode. Why: fetch() turns every 407 into a network
   * error (Fetch standard, HTTP-network-or-cache fetch), so a proxy-mode client
   * running over fetch never sees the proxy's challenge and must be given it.
   */
  primeWith?: { challenge: string; origin?: string };
  /** Preferred qop when the server offers both. Default "auth". */
  qop?: Qop;
  /**
   * The weakest qop this client will answer (issue #9 item 1). Challenges are
   * not authenticated, so anyone on the path can strip auth-int from them: a
   * client that settled for what was offered would let that someone alter the
   * bodies unseen. Default: the `qop` asked for, or "auth" when none was asked.
   * When no challenge offers it (or an algorithm of `algorithms`), the request
   * fails with ERR_DIGEST_DOWNGRADE instead of returning the 401.
   */
  minimumQop?: Qop;
  /** Send H(username:realm) when the server allows it. Default true. */
  userhash?: boolean;
  /**
   * Acceptable algorithms, most preferred first: an allow-list, anything else
   * offered is never answered. Default strongest first, MD5 included.
   */
  algorithms?: readonly DigestAlgorithm[];
  crypto?: CryptoProvider;
}

interface ProtectionSpace {
  realm: string;
  nonce: string;
  opaque: string | undefined;
  algorithm: AlgorithmSpec;
  qop: Qop;
  userhash: boolean;
  nc: number;
  ha1: string;
}

interface SentAuthorization {
  space: ProtectionSpace;
  /** The nonce this request used: nextnonce may replace the space's nonce before the answer arrives. */
  nonce: string;
  nc: string;
  cnonce: string;
  uri: string;
  sessHa1: string;
}

/** Fetch standard: statuses whose responses have a null body. */
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

/** Weakest first: a qop is acceptable when its rank is at least the minimum's. */
const QOP_STRENGTH: readonly Qop[] = ["auth", "auth-int"];

/** The preferred qop if offered, else any offered one at least as strong as `minimum`. */
function pickQop(offered: string | undefined, preferred: Qop, minimum: Qop): Qop | undefined {
  if (offered === undefined) return undefined;
  const list = offered.split(",").map((token) => token.trim().toLowerCase());
  const acceptable = QOP_STRENGTH.slice(QOP_STRENGTH.indexOf(minimum));
  if (acceptable.includes(preferred) && list.includes(preferred)) return preferred;
  return acceptable.find((qop) => list.includes(qop));
}

/**
 * A refusal: a 4xx or 5xx. Under requireRspauth it is returned without proof
 * (and unrecorded, so digestExchangeOf tells it apart), never believed as data.
 */
function isRefusal(res: Response): boolean {
  return res.status >= 400;
}

/** What a digest fetch sends, read once: the body may be sent twice and auth-int hashes it. */
interface RequestTemplate {
  url: URL;
  method: string;
  headers: Headers;
  body: Uint8Array | undefined;
  redirect: RequestRedirect | undefined;
  signal: AbortSignal | undefined;
}

/** Any input: through the Request constructor, which checks and normalises it. */
async function requestTemplate(
  input: RequestInfo | URL,
  init: RequestInit | undefined,
): Promise<RequestTemplate> {
  const request = new Request(input, init);
  return {
    url: new URL(request.url),
    method: request.method,
    headers: request.headers,
    body: request.body === null ? undefined : new Uint8Array(await request.arrayBuffer()),
    redirect: request.redirect,
    signal: request.signal,
  };
}

/** Methods the Request constructor leaves as they are (already upper-case, not forbidden). */
const PLAIN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]);
const PLAIN_INIT_KEYS = new Set(["method", "headers", "body", "redirect", "signal"]);

/**
 * The common call, a URL with a string, byte or no body and nothing else, read
 * without building a Request (issue #12 "Speed": each one costs a stream and an
 * abort signal, and the request is built again to be sent anyway). Anything
 * else returns undefined and goes through the Request constructor, so what is
 * refused or normalised stays exactly what fetch() does (a URL with
 * credentials is refused by the Request built to send it).
 */
function plainTemplate(
  input: RequestInfo | URL,
  init: RequestInit | undefined,
): RequestTemplate | undefined {
  if (typeof input !== "string" && !(input instanceof URL)) return undefined;
  if (init !== undefined && Object.keys(init).some((key) => !PLAIN_INIT_KEYS.has(key))) {
    return undefined;
  }
  const method = init?.method ?? "GET";
  const raw = init?.body;
  const text = typeof raw === "string";
  if (!PLAIN_METHODS.has(method)) return undefined;
  if (raw !== undefined && raw !== null && !text && !(raw instanceof Uint8Array)) return undefined;
  const hasBody = raw !== undefined && raw !== null;
  if (hasBody && (method === "GET" || method === "HEAD")) return undefined;
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return undefined;
  }
  const headers = new Headers(init?.headers);
  // As the Request constructor does for a string body without a type.
  if (text && !headers.has("content-type")) headers.set("content-type", "text/plain;charset=UTF-8");
  return {
    url,
    method,
    headers,
    body: !hasBody ? undefined : text ? new TextEncoder().encode(raw) : new Uint8Array(raw),
    redirect: init?.redirect,
    signal: init?.signal ?? undefined,
  };
}

export function createDigestFetch(
  options: DigestFetchOptions,
): (input: RequestInfo | URL, init?: RequestInit) => Promise<Response> {
  if (typeof options.username !== "string" || typeof options.password !== "string") {
    throw new TypeError("digest client: username and password are required strings");
  }
  const transport: FetchLike = options.fetch ?? ((request) => fetch(request));
  const crypto = options.crypto ?? defaultCrypto();
  const preference = options.algorithms ?? CLIENT_PREFERENCE;
  const preferredQop = options.qop ?? "auth";
  const minimumQop = options.minimumQop ?? options.qop ?? "auth";
  if (!QOP_STRENGTH.includes(preferredQop) || !QOP_STRENGTH.includes(minimumQop)) {
    throw new TypeError("digest client: qop and minimumQop must be 'auth' or 'auth-int'");
  }
  const useUserhash = options.userhash ?? true;
  const proxy = options.proxy ?? false;
  // RFC 7235 §3.1 / §3.2 and §4: the origin layer and the proxy layer differ only in names.
  const layer = proxy
    ? {
        challengeStatus: 407,
        challenge: "proxy-authenticate",
        credentials: "proxy-authorization",
        info: "proxy-authentication-info",
        recorded: proxyExchanges,
      }
    : {
        challengeStatus: 401,
        challenge: "www-authenticate",
        credentials: "authorization",
        info: "authentication-info",
        recorded: exchanges,
      };
  /** Protection spaces are per origin, or the proxy's own in proxy mode. */
  const scopeOf = (url: URL) => (proxy ? "proxy" : url.origin);
  /** Keyed by origin + realm; `lastRealm` says which space to use before any challenge. */
  const spaces = new Map<string, ProtectionSpace>();
  const lastRealm = new Map<string, string>();
  if (options.primeWith) {
    const scope = proxy ? "proxy" : options.primeWith.origin;
    const { space, weaker } = readChallenges(options.primeWith.challenge);
    if (weaker) {
      throw new DigestError(
        "ERR_DIGEST_DOWNGRADE",
        "the primed challenge offers only weaker protection than required",
      );
    }
    if (scope === undefined || !space) {
      throw new TypeError("digest client: primeWith needs a Digest challenge (and an origin)");
    }
    spaces.set(`${scope} ${space.realm}`, space);
    lastRealm.set(scope, space.realm);
  }

  /**
   * The best acceptable challenge; `weaker` when there were Digest challenges
   * but each offered only a qop below the minimum or an algorithm outside the
   * allow-list (what a downgrading man in the middle leaves).
   */
  function readChallenges(header: string | null): {
    space: ProtectionSpace | undefined;
    weaker: boolean;
  } {
    // Stryker disable next-line ObjectLiteral: equivalent: `{}` reads as no space, not weaker
    if (!header) return { space: undefined, weaker: false };
    let elements: ReturnType<typeof parseChallenges>;
    try {
      elements = parseChallenges(header);
    } catch {
      // Stryker disable next-line ObjectLiteral: equivalent: `{}` reads as no space, not weaker
      return { space: undefined, weaker: false };
    }
    let weaker = false;
    let best: { rank: number; space: ProtectionSpace } | undefined;
    for (const element of elements) {
      if (element.scheme.toLowerCase() !== "digest") continue;
      const p = element.params;
      const name = parseAlgorithm(p.get("algorithm"));
      const realm = p.get("realm");
      const nonce = p.get("nonce");
      const qop = pickQop(p.get("qop"), preferredQop, minimumQop);
      const rank = name ? preference.indexOf(name) : -1;
      if (realm !== undefined && nonce && (rank < 0 || !qop)) {
        // No qop at all (RFC 2069 mode, no replay protection) is as weak as a weak qop.
        weaker = true;
        continue;
      }
      if (!name || realm === undefined || !nonce || !qop) continue;
      if (best && best.rank <= rank) continue;
      const algorithm = ALGORITHMS[name];
      best = {
        rank,
        space: {
          realm,
          nonce,
          opaque: p.get("opaque"),
          algorithm,
          qop,
          userhash: useUserhash && p.get("userhash")?.toLowerCase() === "true",
          nc: 0,
          ha1: computeHa1(algorithm, options.username, realm, options.password),
        },
      };
    }
    return { space: best?.space, weaker: weaker && !best };
  }

  function authorize(
    space: ProtectionSpace,
    method: string,
    uri: string,
    body: Uint8Array | undefined,
  ): { header: string; sent: SentAuthorization } {
    space.nc += 1;
    const nc = space.nc.toString(16).padStart(8, "0");
    const cnonce = toHex(randomBytes(16, crypto));
    const { algorithm, qop } = space;
    const sessHa1 = sessionHa1(algorithm, space.ha1, space.nonce, cnonce);
    const bodyHash =
      qop === "auth-int" ? toHex(hashBytes(algorithm.hash, body ?? new Uint8Array(0))) : undefined;
    const response = computeResponse(algorithm, {
      ha1: sessHa1,
      nonce: space.nonce,
      nc,
      cnonce,
      qop,
      ha2: computeHa2(algorithm, method, uri, bodyHash),
    });
    const params: Array<[string, ParamValue]> = [];
    if (space.userhash) {
      params.push([
        "username",
        { value: computeUserhash(algorithm, options.username, space.realm), quoted: true },
      ]);
    } else if (/^[\x20-\x7e]*$/.test(options.username)) {
      params.push(["username", { value: options.username, quoted: true }]);
    } else {
      // Not printable ASCII: RFC 7616 §3.4's username* is the only faithful form
      // (a raw header cannot carry it), whether or not the server said charset.
      params.push(["username*", { value: encodeExtValue(options.username), quoted: false }]);
    }
    params.push(
      ["realm", { value: space.realm, quoted: true }],
      ["uri", { value: uri, quoted: true }],
      ["algorithm", { value: algorithm.name, quoted: false }],
      ["nonce", { value: space.nonce, quoted: true }],
      ["nc", { value: nc, quoted: false }],
      ["cnonce", { value: cnonce, quoted: true }],
      ["qop", { value: qop, quoted: false }],
      ["response", { value: response, quoted: true }],
    );
    if (space.opaque !== undefined) params.push(["opaque", { value: space.opaque, quoted: true }]);
    if (space.userhash) params.push(["userhash", { value: "true", quoted: false }]);
    return {
      header: `Digest ${formatParams(params)}`,
      sent: { space, nonce: space.nonce, nc, cnonce, uri, sessHa1 },
    };
  }

  /** RFC 7615 / RFC 7616 §3.5: check rspauth, take nextnonce. Throws if the server is not who it claims. */
  async function acceptAuthenticationInfo(res: Response, sent: SentAuthorization): Promise<void> {
    const header = res.headers.get(layer.info);
    let params: Map<string, string> | undefined;
    if (header) {
      try {
        // Authentication-Info is a bare parameter list; give it a scheme to reuse the parser.
        // Stryker disable next-line OptionalChaining: equivalent: "Digest <anything>" parses to one element or throws
        params = parseChallenges(`Digest ${header}`)[0]?.params;
      } catch {
        params = undefined;
      }
    }
    const rspauth = params?.get("rspauth");
    if (rspauth !== undefined) {
      const { space } = sent;
      // A null-body status (204, 304...) has no body to read: some Response
      // implementations even throw when asked to clone one with a body.
      // Only auth-int covers the body: reading it means teeing the stream (issue #12 "Speed").
      const bytes =
        space.qop !== "auth-int" || NULL_BODY_STATUS.has(res.status)
          ? new Uint8Array(0)
          : new Uint8Array(await res.clone().arrayBuffer());
      const bodyHash =
        space.qop === "auth-int" ? toHex(hashBytes(space.algorithm.hash, bytes)) : undefined;
      const expected = computeResponse(space.algorithm, {
        ha1: sent.sessHa1,
        nonce: sent.nonce,
        nc: sent.nc,
        cnonce: sent.cnonce,
        qop: space.qop,
        ha2: computeHa2(space.algorithm, "", sent.uri, bodyHash),
      });
      // Stryker disable next-line OptionalChaining: equivalent: params is defined whenever rspauth is
      const cnonceEchoed = params?.get("cnonce");
      // Stryker disable next-line OptionalChaining: equivalent: params is defined whenever rspauth is
      const ncEchoed = params?.get("nc");
      if (
        !timingSafeEqualString(expected, rspauth.toLowerCase()) ||
        (cnonceEchoed !== undefined && cnonceEchoed !== sent.cnonce) ||
        (ncEchoed !== undefined && ncEchoed.toLowerCase() !== sent.nc)
      ) {
        await res.body?.cancel();
        throw new DigestError(
          "ERR_DIGEST_SERVER_UNAUTHENTICATED",
          proxy ? "the proxy's rspauth does not match" : "rspauth does not match",
        );
      }
    } else if (options.requireRspauth) {
      // A refusal (4xx, 5xx) proves nothing and is returned as what it is, unrecorded
      // (digestExchangeOf answers undefined): a 429 must read as a 429, not as an
      // impostor. Anything that could carry data the caller acts on must be proven.
      if (isRefusal(res)) return;
      await res.body?.cancel();
      throw new DigestError(
        "ERR_DIGEST_SERVER_UNAUTHENTICATED",
        proxy ? "no rspauth from the proxy" : "no rspauth in the response",
      );
    }
    layer.recorded.set(res, {
      realm: sent.space.realm,
      algorithm: sent.space.algorithm.name,
      nonce: sent.nonce,
      cnonce: sent.cnonce,
      nc: sent.nc,
      username: options.username,
    });
    const nextnonce = params?.get("nextnonce");
    if (nextnonce && sent.space.nonce === sent.nonce) {
      sent.space.nonce = nextnonce;
      sent.space.nc = 0;
    }
  }

  return async function digestFetch(input, init) {
    const template = plainTemplate(input, init) ?? (await requestTemplate(input, init));
    const { body, url } = template;
    const uri = url.pathname + url.search;
    const send = (authorization?: string) => {
      const headers = new Headers(template.headers);
      // Only this layer's header: in proxy mode the request's Authorization is
      // the end-to-end credential and goes through as it came.
      if (authorization) headers.set(layer.credentials, authorization);
      return transport(
        new Request(url, {
          method: template.method,
          headers,
          body: body as BodyInit | undefined,
          redirect: template.redirect,
          signal: template.signal,
        }),
      );
    };

    const scope = scopeOf(url);
    // A 407 comes from a proxy on the way that refused the request: the origin never
    // saw it, so the end-to-end layer neither checks it nor retries (its own
    // proxy-mode wrapper, if any, has already answered the challenge once).
    const refusedByProxy = (response: Response) => !proxy && response.status === 407;

    const realm = lastRealm.get(scope);
    const cached = realm === undefined ? undefined : spaces.get(`${scope} ${realm}`);
    let res: Response;
    if (cached) {
      const { header, sent } = authorize(cached, template.method, uri, body);
      res = await send(header);
      if (refusedByProxy(res)) return res;
      if (res.status !== layer.challengeStatus) {
        await acceptAuthenticationInfo(res, sent);
        return res;
      }
    } else {
      res = await send();
      if (refusedByProxy(res)) return res;
      if (res.status !== layer.challengeStatus) {
        // Answered without asking for credentials, so without proving anything:
        // under requireRspauth that is no answer at all, unless it is a refusal.
        if (options.requireRspauth && !isRefusal(res)) {
          await res.body?.cancel();
          throw new DigestError(
            "ERR_DIGEST_SERVER_UNAUTHENTICATED",
            proxy ? "the proxy did not authenticate" : "the server did not authenticate",
          );
        }
        return res;
      }
    }

    // A fresh challenge: first contact, stale=true, or a nonce the server dropped.
    const { space, weaker } = readChallenges(res.headers.get(layer.challenge));
    if (!space) {
      if (weaker) {
        await res.body?.cancel();
        throw new DigestError(
          "ERR_DIGEST_DOWNGRADE",
          `${proxy ? "the proxy's" : "the server's"} challenge offers only weaker protection than required (qop ${minimumQop}, algorithms ${preference.join(", ")})`,
        );
      }
      return res;
    }
    await res.body?.cancel();
    spaces.set(`${scope} ${space.realm}`, space);
    lastRealm.set(scope, space.realm);
    const { header, sent } = authorize(space, template.method, uri, body);
    res = await send(header);
    if (refusedByProxy(res)) return res;
    if (res.status === layer.challengeStatus) {
      // Wrong credentials: forget the space so the next call starts clean.
      spaces.delete(`${scope} ${space.realm}`);
      return res;
    }
    await acceptAuthenticationInfo(res, sent);
    return res;
  };
}
