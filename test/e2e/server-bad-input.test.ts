/**
 * Hostile and malformed input to the CPNS Server over real HTTP (issue #3,
 * "bad input"): every body-taking route is fed a table of broken bodies
 * (malformed JSON, unknown fields, bad ids, wrong types, oversize bodies with
 * and without Content-Length, wrong media types, empty bodies, arrays, null,
 * giant numbers, invalid UTF-8). Each must get a 4xx problem+json with a
 * stable code, never a 500, never an echo of a secret, and must leave the
 * store exactly as it was. A fast-check property then throws arbitrary JSON at
 * the enrollment route and requires that nothing ever answers 5xx.
 */
import { connect } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FetchLike } from "../../src/digest/index.ts";
import { DEFAULT_BODY_LIMIT } from "../../src/protocol/body.ts";
import {
  ADMIN_TOKEN,
  expectProblem,
  rawChunkedTransport,
  startTestServer,
  type TestServer,
  transportFrom,
} from "./server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-bad-input-password" };
const BOB = { userId: "bob", password: "bob-bad-input-password-2" };

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  await server.createUser(ALICE.userId, ALICE.password);
  await server.createUser(BOB.userId, BOB.password);
});

afterAll(async () => {
  await server.close();
});

/** Every stored key and value: "nothing stored" means this does not change. */
async function storeSnapshot(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of (await server.storage.getKeys()).sort()) {
    out[key] = await server.storage.getItem(key);
  }
  return out;
}

/** Re-sends a request with its body as a chunked stream through fetch (no Content-Length). */
const fetchChunked: FetchLike = async (request) => {
  if (!request.body) return fetch(request);
  const bytes = new Uint8Array(await request.arrayBuffer());
  const headers = new Headers(request.headers);
  headers.delete("content-length");
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 1000) controller.enqueue(bytes.slice(i, i + 1000));
      controller.close();
    },
  });
  return fetch(request.url, {
    method: request.method,
    headers,
    body: stream,
    duplex: "half",
  } as RequestInit);
};

type Via = "fresh" | "fetch-chunked" | "socket-chunked";

const TRANSPORTS: Record<Via, FetchLike> = {
  fresh: transportFrom("127.0.0.1"),
  "fetch-chunked": fetchChunked,
  "socket-chunked": rawChunkedTransport,
};

type Code =
  | "ERR_BODY_MALFORMED"
  | "ERR_BODY_INVALID"
  | "ERR_BODY_TOO_LARGE"
  | "ERR_UNSUPPORTED_MEDIA_TYPE";

interface BadCase {
  name: string;
  body: string | Uint8Array;
  /** Content-Type; undefined means application/json, null means none at all. */
  contentType?: string | null;
  /**
   * How to send it: default fetch (keep-alive, Content-Length); "fresh": Content-Length on a
   * new connection of its own (an oversize body is answered unread, and the server then drops
   * that connection: see the keep-alive test below); "fetch-chunked": chunked through fetch;
   * "socket-chunked": chunked on a raw socket (large bodies, answered before they are through).
   */
  via?: Via;
  status: number;
  code: Code;
}

const STATUS: Record<Code, number> = {
  ERR_BODY_MALFORMED: 400,
  ERR_BODY_INVALID: 400,
  ERR_BODY_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
};

const bad = (
  name: string,
  body: string | Uint8Array,
  code: Code,
  extra: Partial<BadCase> = {},
): BadCase => ({ name, body, code, status: STATUS[code], ...extra });

const HOSTILE_IDS: Array<[string, unknown]> = [
  ["65 characters", "a".repeat(65)],
  ["1000 characters", "a".repeat(1000)],
  ["empty", ""],
  ["a space", "a b"],
  ["a leading space", " ab"],
  ["a trailing space", "ab "],
  ["NUL", "a\u0000b"],
  ["LF", "a\nb"],
  ["CR", "a\rb"],
  ["TAB", "a\tb"],
  ["DEL", "a\u007fb"],
  ["a C1 control", "a\u0085b"],
  ["a slash", "a/b"],
  ["a leading slash", "/ab"],
  ["a backslash", "a\\b"],
  ["..", ".."],
  ["../x", "../x"],
  ["a/../b", "a/../b"],
  ["a leading dot", ".hidden"],
  ["percent-encoded dots", "%2e%2e"],
  ["a colon", "entity:abc"],
  ["non-ASCII", "montré"],
  ["a zero-width space", "a\u200bb"],
  ["fullwidth letters", "ａｂｃ"],
  ["an emoji", "dev🔑"],
  ["a number", 42],
  ["null", null],
  ["an array", ["ab"]],
  ["an object", { id: "ab" }],
  ["a boolean", true],
];

const HOSTILE_TYPES: Array<[string, unknown]> = [
  ["lower case", "pne"],
  ["PN GW with a space", "PN GW"],
  ["GW", "GW"],
  ["empty", ""],
  ["null", null],
  ["a number", 1],
  ["an array", ["PNE"]],
  ["an object", { PNE: true }],
];

function enrollmentCases(): BadCase[] {
  const valid = { entityId: "good-id", type: "PNE" };
  const over = DEFAULT_BODY_LIMIT + 1;
  const padded = (size: number) => {
    const base = JSON.stringify(valid);
    return base.slice(0, -1) + " ".repeat(size - base.length) + base.slice(-1);
  };
  return [
    bad("malformed JSON (truncated)", '{"entityId":"a","type":', "ERR_BODY_MALFORMED"),
    bad("malformed JSON (single quotes)", "{'entityId':'a','type':'PNE'}", "ERR_BODY_MALFORMED"),
    bad("malformed JSON (trailing comma)", '{"entityId":"a","type":"PNE",}', "ERR_BODY_MALFORMED"),
    bad(
      "two JSON values",
      `${JSON.stringify(valid)}${JSON.stringify(valid)}`,
      "ERR_BODY_MALFORMED",
    ),
    bad(
      "invalid UTF-8",
      new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
      "ERR_BODY_MALFORMED",
    ),
    bad("empty body", "", "ERR_BODY_MALFORMED"),
    bad("whitespace only", "   \n ", "ERR_BODY_MALFORMED"),
    bad("an unknown field", JSON.stringify({ ...valid, extra: 1 }), "ERR_BODY_INVALID"),
    bad(
      "a __proto__ field",
      '{"entityId":"good-id","type":"PNE","__proto__":{"x":1}}',
      "ERR_BODY_INVALID",
    ),
    bad("a constructor field", JSON.stringify({ ...valid, constructor: "x" }), "ERR_BODY_INVALID"),
    bad(
      "a userId field (ownership from the body)",
      JSON.stringify({ ...valid, userId: "bob" }),
      "ERR_BODY_INVALID",
    ),
    bad("missing type", JSON.stringify({ entityId: "good-id" }), "ERR_BODY_INVALID"),
    bad("missing entityId", JSON.stringify({ type: "PNE" }), "ERR_BODY_INVALID"),
    bad("an empty object", "{}", "ERR_BODY_INVALID"),
    bad("an array", JSON.stringify([valid]), "ERR_BODY_INVALID"),
    bad("an empty array", "[]", "ERR_BODY_INVALID"),
    bad("null", "null", "ERR_BODY_INVALID"),
    bad("a string", '"PNE"', "ERR_BODY_INVALID"),
    bad("a number", "42", "ERR_BODY_INVALID"),
    bad("true", "true", "ERR_BODY_INVALID"),
    bad("a giant number as entityId", '{"entityId":1e400,"type":"PNE"}', "ERR_BODY_INVALID"),
    bad(
      "a 10000-digit number",
      `{"entityId":1${"0".repeat(10_000)},"type":"PNE"}`,
      "ERR_BODY_INVALID",
    ),
    bad(
      "a giant number as type",
      '{"entityId":"good-id","type":123456789012345678901234567890}',
      "ERR_BODY_INVALID",
    ),
    bad(
      "a giant number as an extra field",
      '{"entityId":"good-id","type":"PNE","keyVersion":1e308}',
      "ERR_BODY_INVALID",
    ),
    bad("deep nesting", `${"[".repeat(5000)}${"]".repeat(5000)}`, "ERR_BODY_INVALID"),
    ...HOSTILE_IDS.map(([label, entityId]) =>
      bad(`entityId: ${label}`, JSON.stringify({ entityId, type: "PNE" }), "ERR_BODY_INVALID"),
    ),
    ...HOSTILE_TYPES.map(([label, type]) =>
      bad(`type: ${label}`, JSON.stringify({ entityId: "good-id", type }), "ERR_BODY_INVALID"),
    ),
    bad(`${over} bytes with Content-Length`, padded(over), "ERR_BODY_TOO_LARGE", {
      via: "fresh",
    }),
    bad(`${over} bytes chunked`, padded(over), "ERR_BODY_TOO_LARGE", { via: "fetch-chunked" }),
    bad(`${over} bytes chunked on a raw socket`, padded(over), "ERR_BODY_TOO_LARGE", {
      via: "socket-chunked",
    }),
    bad("1 MiB with Content-Length", padded(1024 * 1024), "ERR_BODY_TOO_LARGE", {
      via: "fresh",
    }),
    bad("1 MiB chunked on a raw socket", padded(1024 * 1024), "ERR_BODY_TOO_LARGE", {
      via: "socket-chunked",
    }),
    bad("invalid JSON over the limit", "{".repeat(over), "ERR_BODY_TOO_LARGE", { via: "fresh" }),
    bad("text/plain", JSON.stringify(valid), "ERR_UNSUPPORTED_MEDIA_TYPE", {
      contentType: "text/plain",
    }),
    bad(
      "no Content-Type",
      new TextEncoder().encode(JSON.stringify(valid)),
      "ERR_UNSUPPORTED_MEDIA_TYPE",
      { contentType: null },
    ),
    bad("application/jsonx", JSON.stringify(valid), "ERR_UNSUPPORTED_MEDIA_TYPE", {
      contentType: "application/jsonx",
    }),
    bad("application/json-patch+json", JSON.stringify(valid), "ERR_UNSUPPORTED_MEDIA_TYPE", {
      contentType: "application/json-patch+json",
    }),
    bad("form-urlencoded", "entityId=good-id&type=PNE", "ERR_UNSUPPORTED_MEDIA_TYPE", {
      contentType: "application/x-www-form-urlencoded",
    }),
    bad("multipart", JSON.stringify(valid), "ERR_UNSUPPORTED_MEDIA_TYPE", {
      contentType: "multipart/form-data; boundary=x",
    }),
    bad("text/plain, empty", "", "ERR_UNSUPPORTED_MEDIA_TYPE", { contentType: "text/plain" }),
  ];
}

function userCases(): BadCase[] {
  const password = "Secret-Password-Never-Echoed";
  const ha1 = { "SHA-256": "a".repeat(64), "SHA-512-256": "b".repeat(64), MD5: "c".repeat(32) };
  const sealed = {
    alg: "X25519-HKDF-SHA256-A256GCM",
    kid: "k".repeat(43),
    epk: "e".repeat(43),
    ct: "c".repeat(80),
  };
  return [
    bad("malformed JSON", `{"userId":"dave","password":"${password}"`, "ERR_BODY_MALFORMED"),
    bad("empty body", "", "ERR_BODY_MALFORMED"),
    bad(
      "an unknown field",
      JSON.stringify({ userId: "dave", password, admin: true }),
      "ERR_BODY_INVALID",
    ),
    bad(
      "both password and ha1",
      JSON.stringify({ userId: "dave", password, ha1 }),
      "ERR_BODY_INVALID",
    ),
    bad("neither password nor ha1", JSON.stringify({ userId: "dave" }), "ERR_BODY_INVALID"),
    bad("an empty password", JSON.stringify({ userId: "dave", password: "" }), "ERR_BODY_INVALID"),
    bad(
      "a 1025-character password",
      JSON.stringify({ userId: "dave", password: `${password}${"x".repeat(1025)}` }),
      "ERR_BODY_INVALID",
    ),
    bad(
      "a numeric password",
      JSON.stringify({ userId: "dave", password: 123456789 }),
      "ERR_BODY_INVALID",
    ),
    bad(
      "upper-case HA1 hex",
      JSON.stringify({ userId: "dave", ha1: { ...ha1, MD5: "C".repeat(32) } }),
      "ERR_BODY_INVALID",
    ),
    bad(
      "a short HA1",
      JSON.stringify({ userId: "dave", ha1: { ...ha1, "SHA-256": "a".repeat(63) } }),
      "ERR_BODY_INVALID",
    ),
    bad(
      "HA1 missing an algorithm",
      JSON.stringify({ userId: "dave", ha1: { "SHA-256": ha1["SHA-256"], MD5: ha1.MD5 } }),
      "ERR_BODY_INVALID",
    ),
    bad(
      "HA1 with an extra algorithm",
      JSON.stringify({ userId: "dave", ha1: { ...ha1, SHA1: "d".repeat(40) } }),
      "ERR_BODY_INVALID",
    ),
    bad(
      "sealed with an unknown algorithm",
      JSON.stringify({ userId: "dave", sealed: { ...sealed, alg: "RSA-OAEP" } }),
      "ERR_BODY_INVALID",
    ),
    bad(
      "sealed with a ciphertext that is not base64url",
      JSON.stringify({ userId: "dave", sealed: { ...sealed, ct: `${password}+/=` } }),
      "ERR_BODY_INVALID",
    ),
    bad(
      "sealed with an extra field",
      JSON.stringify({ userId: "dave", sealed: { ...sealed, password } }),
      "ERR_BODY_INVALID",
    ),
    bad(
      "both sealed and password",
      JSON.stringify({ userId: "dave", sealed, password }),
      "ERR_BODY_INVALID",
    ),
    bad("an array", JSON.stringify([{ userId: "dave", password }]), "ERR_BODY_INVALID"),
    bad("null", "null", "ERR_BODY_INVALID"),
    ...HOSTILE_IDS.map(([label, userId]) =>
      bad(`userId: ${label}`, JSON.stringify({ userId, password }), "ERR_BODY_INVALID"),
    ),
    bad(
      "over the limit with Content-Length",
      JSON.stringify({ userId: "dave", password: "x".repeat(DEFAULT_BODY_LIMIT) }),
      "ERR_BODY_TOO_LARGE",
      { via: "fresh" },
    ),
    bad(
      "over the limit chunked",
      JSON.stringify({ userId: "dave", password: "x".repeat(DEFAULT_BODY_LIMIT) }),
      "ERR_BODY_TOO_LARGE",
      { via: "fetch-chunked" },
    ),
    bad(
      "1 MiB chunked on a raw socket",
      JSON.stringify({ userId: "dave", password: "x".repeat(1024 * 1024) }),
      "ERR_BODY_TOO_LARGE",
      { via: "socket-chunked" },
    ),
    bad("text/plain", JSON.stringify({ userId: "dave", password }), "ERR_UNSUPPORTED_MEDIA_TYPE", {
      contentType: "text/plain",
    }),
    bad(
      "no Content-Type",
      new TextEncoder().encode(JSON.stringify({ userId: "dave", password })),
      "ERR_UNSUPPORTED_MEDIA_TYPE",
      { contentType: null },
    ),
  ];
}

function initFor(c: BadCase): RequestInit {
  const headers = new Headers();
  if (c.contentType !== null) headers.set("content-type", c.contentType ?? "application/json");
  return { method: "POST", headers, body: c.body as BodyInit };
}

async function expectRefused(res: Response, c: BadCase, secrets: string[] = []) {
  const problem = await expectProblem(res, c.status, c.code);
  const text = JSON.stringify(problem);
  for (const secret of secrets) expect(text).not.toContain(secret);
}

describe("[SERVER-BAD-INPUT][SERVER-API] POST /cpns/v1/enrollments refuses bad bodies with a stable code and stores nothing", () => {
  const plain = () => server.asUser(ALICE.userId, ALICE.password);
  for (const c of enrollmentCases()) {
    it(`[SERVER-BAD-INPUT] ${c.name} → ${c.status} ${c.code}`, async () => {
      const before = await storeSnapshot();
      const asAlice = server.asUser(ALICE.userId, ALICE.password, c.via && TRANSPORTS[c.via]);
      const res = await asAlice("/cpns/v1/enrollments", initFor(c));
      await expectRefused(res, c, [ALICE.password]);
      expect(await storeSnapshot()).toEqual(before);
    });
  }

  it("[SERVER-BAD-INPUT] afterwards alice owns no entity at all", async () => {
    const res = await plain()("/cpns/v1/entities");
    expect(await res.json()).toEqual({ entities: [] });
    expect(await server.storage.getKeys("entity")).toEqual([]);
  });

  it("[SERVER-BAD-INPUT] the limit is exact: a body of exactly the limit is read, one byte more is 413", async () => {
    const base = JSON.stringify({ entityId: "limit-ok", type: "PNE" });
    const exact = base.slice(0, -1) + " ".repeat(DEFAULT_BODY_LIMIT - base.length) + base.slice(-1);
    expect(exact.length).toBe(DEFAULT_BODY_LIMIT);
    const asBob = server.asUser(BOB.userId, BOB.password);
    const init = (body: string): RequestInit => ({
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    const over = `${exact} `;
    await expectProblem(await asBob("/cpns/v1/enrollments", init(over)), 413, "ERR_BODY_TOO_LARGE");
    const ok = await asBob("/cpns/v1/enrollments", init(exact));
    expect(ok.status).toBe(201);
    await ok.arrayBuffer();
    // A charset parameter and any case of the media type are fine.
    const withCharset = await asBob("/cpns/v1/enrollments", {
      method: "POST",
      headers: { "content-type": "Application/JSON; charset=utf-8" },
      body: JSON.stringify({ entityId: "charset-ok", type: "PNGW" }),
    });
    expect(withCharset.status).toBe(201);
    await withCharset.arrayBuffer();
  });

  it("[SERVER-BAD-INPUT] a 64-character id is accepted (the bound is 64, not less)", async () => {
    const asBob = server.asUser(BOB.userId, BOB.password);
    const entityId = `b${"0".repeat(63)}`;
    const res = await asBob("/cpns/v1/enrollments", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ entityId, type: "PNE" }),
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ entityId });
  });
});

describe("[SERVER-BAD-INPUT][SERVER-ADMIN-API] POST /cpns/v1/admin/users refuses bad bodies and never echoes the password", () => {
  for (const c of userCases()) {
    it(`[SERVER-BAD-INPUT] ${c.name} → ${c.status} ${c.code}`, async () => {
      const before = await storeSnapshot();
      const init = initFor(c);
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${ADMIN_TOKEN}`);
      const res = await (c.via ? TRANSPORTS[c.via] : (r: Request) => fetch(r))(
        new Request(`${server.url}/cpns/v1/admin/users`, { ...init, headers }),
      );
      await expectRefused(res, c, ["Secret-Password-Never-Echoed", "aaaaaaaaaaaaaaaa"]);
      expect(await storeSnapshot()).toEqual(before);
    });
  }

  it("[SERVER-BAD-INPUT] afterwards only the users created on purpose exist", async () => {
    const res = await server.admin("/cpns/v1/admin/users");
    expect(await res.json()).toEqual({ users: ["alice", "bob"] });
  });
});

/**
 * Two requests on one raw keep-alive connection, the second sent once the first answer's head has
 * arrived (as a keep-alive client does). Resolves with everything the server sent before it
 * closed the connection or went quiet for `quietMs`.
 */
async function twoRequestsOnOneConnection(
  url: string,
  first: { head: string; body: string },
  second: { head: string; body: string },
  quietMs = 1500,
): Promise<string> {
  const target = new URL(url);
  return await new Promise<string>((resolve) => {
    const socket = connect(Number(target.port), target.hostname);
    let received = "";
    let sentSecond = false;
    let timer = setTimeout(() => socket.destroy(), quietMs);
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
      clearTimeout(timer);
      timer = setTimeout(() => socket.destroy(), quietMs);
      if (!sentSecond && received.includes("\r\n\r\n")) {
        sentSecond = true;
        socket.write(second.head + second.body);
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.write(first.head + first.body);
  });
}

describe("[SERVER-BAD-INPUT] an oversize body and the connection it came on", () => {
  it("[SERVER-BAD-INPUT] after a 413 for an unread 1 MiB body, the connection is either closed by the answer (Connection: close) or still serves the next request", async () => {
    const head = (length: number) =>
      [
        "POST /cpns/v1/admin/users HTTP/1.1",
        `host: ${new URL(server.url).host}`,
        `authorization: Bearer ${ADMIN_TOKEN}`,
        "content-type: application/json",
        `content-length: ${length}`,
        "",
        "",
      ].join("\r\n");
    const big = JSON.stringify({ userId: "dave", password: "x".repeat(1024 * 1024) });
    const answers = await twoRequestsOnOneConnection(
      server.url,
      { head: head(big.length), body: big },
      { head: head(2), body: "{}" },
    );
    const statuses = [...answers.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));
    expect(statuses[0]).toBe(413);
    const firstHead = answers.slice(0, answers.indexOf("\r\n\r\n")).toLowerCase();
    if (/\r\nconnection: *close/.test(firstHead)) return;
    // The 413 said keep-alive, so the next request on the connection must be answered.
    expect(statuses, `the 413 said keep-alive, then:\n${answers.slice(0, 400)}`).toEqual([
      413, 400,
    ]);
  });
});

describe("[SERVER-BAD-INPUT] hostile paths and headers", () => {
  const paths = [
    "/cpns/v1/entities/..%2F..%2Fadmin%2Fusers",
    "/cpns/v1/entities/%2E%2E%2Fadmin",
    "/cpns/v1/entities/a%00b",
    "/cpns/v1/entities/a%0D%0Ab",
    `/cpns/v1/entities/${"x".repeat(4000)}`,
    "/cpns/v1/entities/%ZZ",
    "/cpns/v1/entities/%C0%AE",
  ];
  for (const path of paths) {
    it(`[SERVER-BAD-INPUT] GET and DELETE ${path.slice(0, 60)} → 404, never 500, nothing changes`, async () => {
      const before = await storeSnapshot();
      const asAlice = server.asUser(ALICE.userId, ALICE.password);
      for (const method of ["GET", "DELETE"]) {
        const res = await asAlice(path, { method });
        const text = await res.text();
        expect(res.status, text).toBeLessThan(500);
        expect([400, 404], text).toContain(res.status);
        expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      }
      expect(await storeSnapshot()).toEqual(before);
    });
  }

  const headers: Array<[string, string, number, string]> = [
    ["garbage Digest", "Digest ,,,=,", 400, "ERR_DIGEST_MALFORMED"],
    ["Digest without fields", "Digest", 400, "ERR_DIGEST_MALFORMED"],
    ["Basic", `Basic ${btoa("alice:alice-bad-input-password")}`, 401, "ERR_DIGEST_UNAUTHORIZED"],
    // fetch trims the value to "Bearer", which is no Bearer credential: a Digest challenge.
    ["an empty Bearer", "Bearer ", 401, "ERR_DIGEST_UNAUTHORIZED"],
    ["a Bearer of spaces", "Bearer    x", 401, "ERR_ADMIN_UNAUTHORIZED"],
    ["a very long Bearer", `Bearer ${"x".repeat(6000)}`, 401, "ERR_ADMIN_UNAUTHORIZED"],
  ];
  for (const [label, header, status, code] of headers) {
    it(`[SERVER-BAD-INPUT] Authorization: ${label} → ${status} ${code}`, async () => {
      const res = await server.fetch("/cpns/v1/entities", { headers: { authorization: header } });
      await expectProblem(res, status, code);
    });
  }
});

describe("[SERVER-BAD-INPUT] property: no body ever makes the server answer 5xx", () => {
  it("[SERVER-BAD-INPUT] arbitrary JSON, arbitrary objects and arbitrary bytes to POST /cpns/v1/enrollments", async () => {
    const asBob = server.asUser(BOB.userId, BOB.password);
    const send = async (body: string | Uint8Array) => {
      const res = await asBob("/cpns/v1/enrollments", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: body as BodyInit,
      });
      const text = await res.text();
      if (res.status >= 400) {
        expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
        expect(JSON.parse(text).code).toMatch(/^ERR_/);
      }
      return res.status;
    };
    const ids = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,70}$/),
      fc.jsonValue(),
    );
    const bodies = fc.oneof(
      fc.json(),
      fc.jsonValue().map((value) => JSON.stringify(value)),
      fc
        .record(
          {
            entityId: ids,
            type: fc.oneof(fc.constantFrom("PNE", "PNGW", "pne", ""), fc.jsonValue()),
            extra: fc.jsonValue(),
          },
          { requiredKeys: [] },
        )
        .map((value) => JSON.stringify(value)),
      fc.uint8Array({ maxLength: 256 }),
      fc.string({ maxLength: 200 }),
    );
    await fc.assert(
      fc.asyncProperty(bodies, async (body) => {
        const status = await send(body);
        expect(status).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
  }, 30_000);
});
