/**
 * Issue #9 "Reliability figures": how the fuzzer damages a genuine request.
 * Header mutations start from a genuine Authorization / Proxy-Authorization
 * the project's own client computed (and that is never sent as such), request
 * mutations change what that header was computed for, and generators make
 * credentials and JSON bodies from nothing. A seeded PRNG makes a run
 * repeatable (the seed is printed with the figures).
 *
 * Implements: SOAK-FUZZ
 */
import { readCredentials } from "./oracle.ts";

export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 0x9e3779b9;
  }
  /** xorshift32 in [0, 1). */
  next(): number {
    let x = this.#s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.#s = x;
    return x / 0x100000000;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const NASTY_STRINGS = [
  "",
  " ",
  '"',
  "\\",
  ",",
  "=",
  "\u0000",
  "\r\n",
  "\r\nX-Injected: 1",
  "\t",
  "\u007f",
  "é",
  "\u202e",
  "\ud83d\ude00",
  "\ufeff",
  "\ud800",
  "%00",
  "../../etc/passwd",
  "00000000",
  "ffffffff",
  "100000000",
  "-1",
  "0x1",
  "1e309",
  "true",
  "null",
  "MD5",
  "SHA-256-sess",
  "auth,auth-int",
  "auth-conf",
];

const ALGORITHM_VARIANTS = [
  "MD5",
  "MD5-sess",
  "SHA-256",
  "SHA-256-sess",
  "SHA-512-256",
  "SHA-512-256-sess",
  "SHA-512",
  "sha-256",
  '"SHA-256"',
  "SHA256",
  "",
];

export interface MutableRequest {
  method: string;
  /** Path and query. */
  target: string;
  headers: Array<[string, string]>;
  body: Uint8Array | undefined;
}

function randomText(rng: Rng, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) {
    const roll = rng.int(10);
    if (roll < 6) out += String.fromCharCode(0x21 + rng.int(94));
    else if (roll < 7) out += String.fromCharCode(rng.int(0x20));
    else if (roll < 8) out += String.fromCharCode(0x80 + rng.int(0x80));
    else out += String.fromCodePoint(0x100 + rng.int(0x10ff00 - 0x100 - 0x800));
  }
  return out;
}

function hex(rng: Rng, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += "0123456789abcdef"[rng.int(16)];
  return out;
}

function formatParams(
  scheme: string,
  params: Array<[string, string, boolean]>,
  sep = ", ",
): string {
  return `${scheme} ${params
    .map(([n, v, q]) => (q ? `${n}="${v.replace(/(["\\])/g, "\\$1")}"` : `${n}=${v}`))
    .join(sep)}`;
}

type HeaderMutation = (header: string, rng: Rng) => string;

/** Each works on the text of one credentials header. */
const HEADER_MUTATIONS: Record<string, HeaderMutation> = {
  bitFlip(header, rng) {
    const i = rng.int(header.length);
    return (
      header.slice(0, i) +
      String.fromCharCode(header.charCodeAt(i) ^ (1 << rng.int(7))) +
      header.slice(i + 1)
    );
  },
  byteReplace(header, rng) {
    const i = rng.int(header.length);
    return header.slice(0, i) + String.fromCharCode(rng.int(256)) + header.slice(i + 1);
  },
  truncate(header, rng) {
    return header.slice(0, rng.int(header.length));
  },
  insertNasty(header, rng) {
    const i = rng.int(header.length + 1);
    return header.slice(0, i) + rng.pick(NASTY_STRINGS) + header.slice(i);
  },
  insertUnicode(header, rng) {
    const i = rng.int(header.length + 1);
    return header.slice(0, i) + randomText(rng, 1 + rng.int(8)) + header.slice(i);
  },
  huge(header, rng) {
    const size = rng.pick([1_000, 8_000, 20_000, 100_000]);
    return edit(header, rng, (params) => {
      const p = rng.pick(params);
      p[1] = rng.chance(0.5) ? "a".repeat(size) : hex(rng, size);
    });
  },
  duplicateParam(header, rng) {
    return edit(header, rng, (params) => {
      const p = rng.pick(params);
      const copy: [string, string, boolean] = [p[0], rng.chance(0.5) ? p[1] : hex(rng, 32), p[2]];
      params.splice(rng.int(params.length + 1), 0, copy);
    });
  },
  dropParam(header, rng) {
    return edit(header, rng, (params) => {
      params.splice(rng.int(params.length), 1);
    });
  },
  swapValues(header, rng) {
    return edit(header, rng, (params) => {
      const a = rng.pick(params);
      const b = rng.pick(params);
      [a[1], b[1]] = [b[1], a[1]];
    });
  },
  replaceValue(header, rng) {
    return edit(header, rng, (params) => {
      const p = rng.pick(params);
      p[1] = rng.pick([
        hex(rng, p[1].length || 8),
        rng.pick(NASTY_STRINGS),
        randomText(rng, 12),
        p[1].toUpperCase(),
      ]);
    });
  },
  changeNc(header, rng) {
    return setParam(
      header,
      "nc",
      rng.pick([
        "00000001",
        "00000000",
        "ffffffff",
        "1",
        "000000001",
        hex(rng, 8),
        "-0000001",
        "0000000g",
      ]),
      false,
    );
  },
  changeCnonce(header, rng) {
    return setParam(header, "cnonce", rng.pick([hex(rng, 16), "", "x".repeat(300)]), true);
  },
  changeNonce(header, rng) {
    return edit(header, rng, (params) => {
      const p = params.find((x) => x[0] === "nonce");
      if (!p) return;
      const i = rng.int(Math.max(1, p[1].length));
      const c = p[1][i] === "A" ? "B" : "A";
      p[1] = rng.chance(0.7)
        ? p[1].slice(0, i) + c + p[1].slice(i + 1)
        : rng.pick(["", p[1] + p[1], p[1].slice(1)]);
    });
  },
  changeRealm(header, rng) {
    return setParam(
      header,
      "realm",
      rng.pick(["cpns ", "CPNS", "cpns-gw:other", "", "cpns\u0000"]),
      true,
    );
  },
  changeUri(header, rng) {
    const current = readCredentials(header)?.params.find((p) => p.name === "uri")?.value ?? "/";
    return setParam(
      header,
      "uri",
      rng.pick([
        `${current}?x=1`,
        `${current}/`,
        current.toUpperCase(),
        "/cpns/v1/entities",
        `http://evil.example${current}`,
        "*",
        current.replace(/\//g, "%2F"),
        `${current}#frag`,
      ]),
      true,
    );
  },
  changeResponse(header, rng) {
    return edit(header, rng, (params) => {
      const p = params.find((x) => x[0] === "response");
      if (!p) return;
      p[1] = rng.pick([
        hex(rng, p[1].length),
        p[1].toUpperCase(),
        p[1].slice(0, -1),
        `${p[1]}0`,
        "0".repeat(p[1].length),
      ]);
    });
  },
  changeAlgorithm(header, rng) {
    return setParam(header, "algorithm", rng.pick(ALGORITHM_VARIANTS), false);
  },
  changeQop(header, rng) {
    return setParam(
      header,
      "qop",
      rng.pick(["auth", "auth-int", "AUTH", "auth-conf", "", "auth,auth-int"]),
      false,
    );
  },
  toggleUserhash(header, rng) {
    const now = readCredentials(header)?.params.find((p) => p.name === "userhash")?.value;
    return setParam(
      header,
      "userhash",
      rng.pick([now === "true" ? "false" : "true", "TRUE", "1", ""]),
      false,
    );
  },
  changeUsername(header, rng) {
    return setParam(
      header,
      "username",
      rng.pick(["admin", "", hex(rng, 64), randomText(rng, 10), "alice\u0000"]),
      true,
    );
  },
  addUsernameStar(header, rng) {
    return edit(header, rng, (params) => {
      params.push(["username*", rng.pick(["UTF-8''admin", "UTF-8''%C3%A9", "bogus"]), false]);
    });
  },
  changeScheme(header, rng) {
    const rest = header.replace(/^\S+/, "");
    return rng.pick(["Basic", "Bearer", "DigestX", "Digest\u0000", "Negotiate", ""]) + rest;
  },
  // Semantically identical variants: the oracle must count an acceptance as equivalent.
  reformat(header, rng) {
    return edit(
      header,
      rng,
      (params) => {
        for (let i = params.length - 1; i > 0; i--) {
          const j = rng.int(i + 1);
          [params[i], params[j]] = [
            params[j] as [string, string, boolean],
            params[i] as [string, string, boolean],
          ];
        }
        for (const p of params) if (rng.chance(0.3)) p[0] = p[0].toUpperCase();
      },
      rng.pick([",", " ,  ", ",\t"]),
    );
  },
  schemeCase(header, rng) {
    return header.replace(/^\S+/, rng.pick(["digest", "DIGEST", "dIgEsT"]));
  },
};

/** Re-emits the header after `change` edited its parameters (name, value, quoted). */
function edit(
  header: string,
  rng: Rng,
  change: (params: Array<[string, string, boolean]>) => void,
  sep?: string,
): string {
  const read = readCredentials(header);
  if (!read || read.params.length === 0) return HEADER_MUTATIONS.bitFlip?.(header, rng) ?? header;
  const params = read.params.map((p): [string, string, boolean] => [p.name, p.value, p.quoted]);
  change(params);
  const scheme = header.trim().split(/[ \t]/)[0] ?? "Digest";
  return formatParams(scheme, params, sep);
}

function setParam(header: string, name: string, value: string, quoted: boolean): string {
  const read = readCredentials(header);
  if (!read) return header;
  const params = read.params.map((p): [string, string, boolean] => [p.name, p.value, p.quoted]);
  const found = params.find((p) => p[0] === name);
  if (found) {
    found[1] = value;
    found[2] = quoted;
  } else params.push([name, value, quoted]);
  return formatParams(header.trim().split(/[ \t]/)[0] ?? "Digest", params);
}

export const HEADER_MUTATION_NAMES = Object.keys(HEADER_MUTATIONS);

/** Mutates the request in place (header text, header set, or what the header covers); returns the mutation's name. */
export function mutateRequest(request: MutableRequest, headerName: string, rng: Rng): string {
  const index = request.headers.findIndex(([n]) => n.toLowerCase() === headerName);
  const roll = rng.int(100);
  if (index >= 0 && roll < 80) {
    const name = rng.pick(HEADER_MUTATION_NAMES);
    const entry = request.headers[index] as [string, string];
    let value = entry[1];
    const times = rng.chance(0.2) ? 2 + rng.int(3) : 1;
    for (let i = 0; i < times; i++) value = (HEADER_MUTATIONS[name] as HeaderMutation)(value, rng);
    entry[1] = value;
    return name;
  }
  if (index >= 0 && roll < 84) {
    const [, value] = request.headers[index] as [string, string];
    request.headers.push([
      headerName,
      rng.chance(0.5) ? value : (HEADER_MUTATIONS.bitFlip?.(value, rng) ?? value),
    ]);
    return "duplicateHeader";
  }
  if (index >= 0 && roll < 86) {
    const other = headerName === "authorization" ? "proxy-authorization" : "authorization";
    (request.headers[index] as [string, string])[0] = other;
    return "moveHeader";
  }
  if (roll < 90) {
    request.method = rng.pick(["GET", "POST", "PUT", "DELETE", "PATCH", "get"]);
    return "changeMethod";
  }
  if (roll < 94) {
    request.target = rng.pick([
      `${request.target}?a=1`,
      `${request.target}/`,
      request.target.replace(/[a-z]/, (c) => c.toUpperCase()),
      "/cpns/v1/entities",
      "/cpns/v1/whoami",
      `${request.target}%00`,
    ]);
    return "changeTarget";
  }
  if (roll < 98) {
    request.body = new TextEncoder().encode(generateJsonText(rng));
    return "changeBody";
  }
  const ct = request.headers.findIndex(([n]) => n.toLowerCase() === "content-type");
  const type = rng.pick([
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/json; charset=utf-16",
    "multipart/form-data; boundary=x",
    "",
  ]);
  if (ct >= 0) (request.headers[ct] as [string, string])[1] = type;
  else request.headers.push(["content-type", type]);
  return "changeContentType";
}

/** Credentials made from nothing: random schemes, parameter sets and values. */
export function generateCredentials(rng: Rng, nonces: readonly string[]): string {
  if (rng.chance(0.1)) return randomText(rng, rng.int(200));
  const names = [
    "username",
    "realm",
    "nonce",
    "uri",
    "response",
    "qop",
    "nc",
    "cnonce",
    "algorithm",
    "userhash",
    "opaque",
    "username*",
    "charset",
    rng.pick(["x", "a-b", "Ω"]),
  ];
  const params: Array<[string, string, boolean]> = [];
  const count = rng.int(14);
  for (let i = 0; i < count; i++) {
    const name = rng.pick(names);
    const value =
      name === "nonce" && nonces.length > 0 && rng.chance(0.6)
        ? rng.pick(nonces)
        : rng.pick([
            hex(rng, 64),
            hex(rng, 32),
            hex(rng, 8),
            rng.pick(NASTY_STRINGS),
            randomText(rng, 20),
            "cpns",
            "/cpns/v1/whoami",
            "auth",
          ]);
    params.push([name, value, rng.chance(0.6)]);
  }
  return formatParams(
    rng.pick(["Digest", "Digest", "Digest", "digest", "Basic", "Bearer", "X"]),
    params,
  );
}

function generateJsonValue(rng: Rng, depth: number): unknown {
  const roll = rng.int(depth > 4 ? 6 : 9);
  switch (roll) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1.5, 2 ** 53 + 1, -(2 ** 63), 1e308, Number.MIN_VALUE, 7]);
    case 3:
      return rng.pick(NASTY_STRINGS);
    case 4:
      return randomText(rng, rng.int(40));
    case 5:
      return rng.pick(["PNE", "PNGW", "pne-1", "gw-1", hex(rng, 22), "x".repeat(5000)]);
    case 6:
      return Array.from({ length: rng.int(5) }, () => generateJsonValue(rng, depth + 1));
    default: {
      const out: Record<string, unknown> = {};
      const keys = [
        "entityId",
        "type",
        "peerId",
        "otkId",
        "expiresAt",
        "sealedOtk",
        "endpoint",
        "userId",
        "password",
        "message",
        "__proto__",
        "constructor",
        randomText(rng, 5),
      ];
      for (let i = rng.int(6); i > 0; i--) out[rng.pick(keys)] = generateJsonValue(rng, depth + 1);
      return out;
    }
  }
}

/** A JSON (or almost-JSON) body: random shapes, deep nesting, huge numbers, bad syntax. */
export function generateJsonText(rng: Rng): string {
  const roll = rng.int(20);
  if (roll === 0) return `${"[".repeat(20_000)}${"]".repeat(20_000)}`;
  if (roll === 1) return `{"entityId":${"9".repeat(5000)},"type":"PNE"}`;
  if (roll === 2) return JSON.stringify({ entityId: "x".repeat(200_000), type: "PNE" });
  if (roll === 3) return '{"entityId":"a","entityId":"b","type":"PNE"}';
  if (roll === 4) return JSON.stringify(generateJsonValue(rng, 0)).slice(0, rng.int(40));
  if (roll === 5) return randomText(rng, rng.int(300));
  if (roll === 6) return "";
  return JSON.stringify(generateJsonValue(rng, 0)) ?? "null";
}
