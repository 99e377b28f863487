/**
 * Issue #12 (Speed): the Digest client reads a plain call (a URL, a string,
 * byte or no body, method/headers/redirect/signal) without building a Request
 * first, and reads a response body only when auth-int covers it. What goes on
 * the wire must be exactly what the Request-constructor path sends, and every
 * call that path would refuse or normalise must still be refused or normalised
 * the same way (DIGEST-CLIENT-PLAIN-TEMPLATE).
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import {
  createDigestFetch,
  type DigestEnv,
  digestAuth,
  digestExchangeOf,
  staticCredentials,
} from "../../src/digest/index.ts";

const REALM = "template@example.org";
const ORIGIN = "http://template.example.org";

interface Sent {
  url: string;
  method: string;
  headers: [string, string][];
  body: number[];
  redirect: string;
}

/** The app behind a recorder: every request the client sends, as it went out. */
function recordedServer(qop?: "auth" | "auth-int") {
  const hono = new Hono<DigestEnv>();
  hono.use(
    "*",
    digestAuth({
      realm: REALM,
      secret: "template-secret-0123456789abcdef",
      lookup: staticCredentials({ alice: "alice-pw" }),
      algorithms: ["SHA-256"],
      ...(qop ? { qop: [qop] } : {}),
    }),
  );
  hono.all("*", async (c) => c.json({ method: c.req.method, body: await c.req.text() }));
  const sent: Sent[] = [];
  const fetch = async (request: Request) => {
    const copy = request.clone();
    sent.push({
      url: copy.url,
      method: copy.method,
      // Authorization differs by its cnonce from one run to the other: compared apart.
      headers: [...copy.headers].filter(([name]) => name !== "authorization"),
      body: [...new Uint8Array(await copy.arrayBuffer())],
      redirect: copy.redirect,
    });
    return hono.fetch(request);
  };
  return { sent, fetch };
}

async function sentBy(
  input: RequestInfo | URL,
  init: RequestInit | undefined,
  viaRequest: boolean,
) {
  const server = recordedServer();
  const digestFetch = createDigestFetch({
    username: "alice",
    password: "alice-pw",
    fetch: server.fetch,
  });
  // A Request as input never takes the plain path: the reference.
  const res = await digestFetch(
    viaRequest ? new Request(input, init) : input,
    viaRequest ? undefined : init,
  );
  return { status: res.status, answer: await res.text(), sent: server.sent };
}

const CASES: Array<[string, RequestInfo | URL, RequestInit | undefined]> = [
  ["a GET of a string URL", `${ORIGIN}/a?b=c`, undefined],
  ["a URL object with a fragment", new URL(`${ORIGIN}/frag?x=1#part`), { method: "GET" }],
  ["a string body without a type", `${ORIGIN}/t`, { method: "POST", body: "héllo wörld" }],
  [
    "a JSON body with its type",
    `${ORIGIN}/j`,
    { method: "POST", headers: { "content-type": "application/json" }, body: '{"a":1}' },
  ],
  ["a byte body", `${ORIGIN}/b`, { method: "PUT", body: new Uint8Array([0, 1, 2, 255]) }],
  ["an empty string body", `${ORIGIN}/e`, { method: "POST", body: "" }],
  ["a DELETE with headers as pairs", `${ORIGIN}/d`, { method: "DELETE", headers: [["x-a", "1"]] }],
  [
    "a PATCH with a Headers object",
    `${ORIGIN}/p`,
    { method: "PATCH", headers: new Headers({ "x-b": "2" }), body: "p" },
  ],
  ["redirect manual", `${ORIGIN}/r`, { method: "GET", redirect: "manual" }],
  ["a null body", `${ORIGIN}/n`, { method: "POST", body: null }],
];

describe("[DIGEST-CLIENT-PLAIN-TEMPLATE] a plain call sends what the Request path sends", () => {
  for (const [name, input, init] of CASES) {
    it(`[DIGEST-CLIENT-PLAIN-TEMPLATE] ${name}`, async () => {
      const plain = await sentBy(input, init, false);
      const reference = await sentBy(input, init, true);
      expect(plain.status).toBe(200);
      expect(plain).toEqual(reference);
      // Both the challenge round trip and the authenticated request.
      expect(plain.sent).toHaveLength(2);
    });
  }

  it("[DIGEST-CLIENT-PLAIN-TEMPLATE] calls the Request constructor normalises or refuses go through it", async () => {
    // A lower-case standard method is upper-cased, as fetch() does.
    const lower = await sentBy(`${ORIGIN}/l`, { method: "post", body: "x" }, false);
    expect(lower.sent.map((s) => s.method)).toEqual(["POST", "POST"]);
    // Extra init members (mode) take the constructor path too, and the answer is the same.
    const mode = await sentBy(`${ORIGIN}/m`, { method: "GET", mode: "cors" }, false);
    expect(mode.status).toBe(200);
    const digestFetch = createDigestFetch({
      username: "alice",
      password: "alice-pw",
      fetch: recordedServer().fetch,
    });
    // Refused exactly as fetch() refuses them: a body on GET, credentials in the URL, a relative URL,
    // a forbidden method.
    for (const [input, init] of [
      [`${ORIGIN}/g`, { method: "GET", body: "no" }],
      [`${ORIGIN}/h`, { method: "HEAD", body: "no" }],
      ["http://user:pw@template.example.org/c", undefined],
      ["/relative", undefined],
      [`${ORIGIN}/x`, { method: "CONNECT" }],
    ] as const) {
      await expect(digestFetch(input, init)).rejects.toBeInstanceOf(TypeError);
    }
  });

  it("[DIGEST-CLIENT-PLAIN-TEMPLATE] auth-int hashes the bytes the plain path sends (a UTF-8 string body)", async () => {
    const server = recordedServer("auth-int");
    const digestFetch = createDigestFetch({
      username: "alice",
      password: "alice-pw",
      qop: "auth-int",
      requireRspauth: true,
      fetch: server.fetch,
    });
    const res = await digestFetch(`${ORIGIN}/int`, { method: "POST", body: "ünïcödé ✓" });
    expect(res.status).toBe(200);
    expect(digestExchangeOf(res)).toBeDefined();
    expect(await res.json()).toEqual({ method: "POST", body: "ünïcödé ✓" });
  });

  it("[DIGEST-CLIENT-PLAIN-TEMPLATE] under qop=auth the answer's body is not read to check rspauth (it is not covered)", async () => {
    const server = recordedServer("auth");
    let pulls = 0;
    // The real answer's headers (rspauth included) over a body that counts every read.
    const watching = async (request: Request) => {
      const answer = await server.fetch(request);
      if (answer.status !== 200) return answer;
      const text = await answer.text();
      // highWaterMark 0: nothing is pulled until someone reads.
      const body = new ReadableStream<Uint8Array>(
        {
          pull(controller) {
            pulls++;
            controller.enqueue(new TextEncoder().encode(text));
            controller.close();
          },
        },
        { highWaterMark: 0 },
      );
      return new Response(body, { status: 200, headers: answer.headers });
    };
    const digestFetch = createDigestFetch({
      username: "alice",
      password: "alice-pw",
      qop: "auth",
      requireRspauth: true,
      fetch: watching,
    });
    const res = await digestFetch(`${ORIGIN}/auth`);
    expect(digestExchangeOf(res)).toBeDefined();
    expect(pulls).toBe(0);
    expect(await res.json()).toEqual({ method: "GET", body: "" });
    expect(pulls).toBe(1);
  });
});
