/**
 * Issue #9, mutation testing: the src/digest/client.ts survivors left by the issue #12 rewrite
 * (commits 602ca1a and 72085f9), answered from the side of a caller. A plain call (a string or
 * URL, a string, byte or no body, only method/headers/body/redirect/signal) is read without
 * building a Request first: the client has nothing to await before it hands the request to the
 * transport, so the transport is reached in the very turn of the call. Every other call goes
 * through the Request constructor and is normalised or refused as fetch() does: a lower-case
 * method, a form or Blob body, an init member the constructor refuses, a relative URL, a body on
 * GET or HEAD (refused before it spends a nonce count). The caller's abort signal reaches the
 * transport.
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

const REALM = "plain@example.org";
const ORIGIN = "http://plain.example.org";

/** A Digest-protected app that echoes what it received, behind a transport that records the requests. */
function server() {
  const hono = new Hono<DigestEnv>();
  hono.use(
    "*",
    digestAuth({
      realm: REALM,
      secret: "mut-client-plain-secret-0123456789",
      lookup: staticCredentials({ alice: "alice-pw" }),
      algorithms: ["SHA-256"],
    }),
  );
  hono.all("*", async (c) =>
    c.json({
      method: c.req.method,
      type: c.req.header("content-type") ?? null,
      body: await c.req.text(),
    }),
  );
  const seen: Request[] = [];
  const fetch = (request: Request) => {
    seen.push(request);
    return hono.fetch(request);
  };
  const digestFetch = createDigestFetch({ username: "alice", password: "alice-pw", fetch });
  return { seen, digestFetch };
}

/** Whether the call reached the transport before the caller's turn ended, and its answer. */
async function call(input: RequestInfo | URL, init?: RequestInit) {
  const { seen, digestFetch } = server();
  const pending = digestFetch(input, init);
  const atOnce = seen.length === 1;
  const res = await pending;
  return { atOnce, res };
}

async function expectPlain(input: RequestInfo | URL, init?: RequestInit) {
  const { atOnce, res } = await call(input, init);
  expect(res.status).toBe(200);
  expect(digestExchangeOf(res)).toBeDefined();
  expect(atOnce).toBe(true);
}

describe("[DIGEST-CLIENT-PLAIN-TEMPLATE] a plain call reaches the transport without building a Request first", () => {
  // Report: client.ts:208 BlockStatement, client.ts:209 ConditionalExpression (true), client.ts:209 LogicalOperator,
  // client.ts:209:7-32 ConditionalExpression (true), client.ts:209 EqualityOperator, client.ts:209 StringLiteral,
  // client.ts:213 StringLiteral, client.ts:216 BooleanLiteral, client.ts:216 ConditionalExpression (true),
  // client.ts:217 ConditionalExpression (true), client.ts:217 LogicalOperator (|| !(raw instanceof Uint8Array)),
  // client.ts:217:7-49 ConditionalExpression (true) and LogicalOperator, client.ts:217:7-40 ConditionalExpression (true)
  // and LogicalOperator, client.ts:217:7-24 ConditionalExpression (true) and EqualityOperator,
  // client.ts:218 ConditionalExpression (true) x2 and LogicalOperator, client.ts:219 ConditionalExpression (true)
  // and LogicalOperator (hasBody || ...)
  it("[DIGEST-CLIENT-PLAIN-TEMPLATE] a GET of a string URL without init", async () => {
    await expectPlain(`${ORIGIN}/a?b=c`);
  });

  // Report: client.ts:209 BooleanLiteral (input instanceof URL)
  it("[DIGEST-CLIENT-PLAIN-TEMPLATE] a GET of a URL object", async () => {
    await expectPlain(new URL(`${ORIGIN}/u`));
  });

  // Report: client.ts:210 ConditionalExpression (true), client.ts:210 MethodExpression (every)
  it("[DIGEST-CLIENT-PLAIN-TEMPLATE] an empty init", async () => {
    await expectPlain(`${ORIGIN}/e`, {});
  });

  // Report: client.ts:210 BooleanLiteral (PLAIN_INIT_KEYS.has(key))
  it("[DIGEST-CLIENT-PLAIN-TEMPLATE] an init with only a method", async () => {
    await expectPlain(`${ORIGIN}/m`, { method: "GET" });
  });

  // Report: client.ts:215 ConditionalExpression (false), client.ts:215 StringLiteral, client.ts:217 BooleanLiteral (text),
  // client.ts:219:19-56 ConditionalExpression (true), client.ts:219 EqualityOperator (method !== "GET"),
  // client.ts:219 EqualityOperator (method !== "HEAD")
  it("[DIGEST-CLIENT-PLAIN-TEMPLATE] a POST of a string body", async () => {
    await expectPlain(`${ORIGIN}/s`, { method: "POST", body: "héllo" });
  });

  // Report: client.ts:217 BooleanLiteral (raw instanceof Uint8Array)
  it("[DIGEST-CLIENT-PLAIN-TEMPLATE] a PUT of a byte body", async () => {
    await expectPlain(`${ORIGIN}/b`, { method: "PUT", body: new Uint8Array([0, 1, 255]) });
  });

  // Report: client.ts:217:28-40 ConditionalExpression (true) and EqualityOperator (raw === null),
  // client.ts:218:40-52 ConditionalExpression (true)
  it("[DIGEST-CLIENT-PLAIN-TEMPLATE] a GET with a null body", async () => {
    await expectPlain(`${ORIGIN}/n`, { method: "GET", body: null });
  });
});

describe("[DIGEST-CLIENT-PLAIN-TEMPLATE] any other call is normalised or refused as fetch() does", () => {
  // Report: client.ts:216 ConditionalExpression (false)
  it("[DIGEST-CLIENT-PLAIN-TEMPLATE] [DIGEST-CLIENT] a lower-case method is upper-cased before it is hashed", async () => {
    const { res } = await call(`${ORIGIN}/l`, { method: "post", body: "x" });
    expect(res.status).toBe(200);
    expect(digestExchangeOf(res)).toBeDefined();
    expect(await res.json()).toEqual({
      method: "POST",
      type: "text/plain;charset=UTF-8",
      body: "x",
    });
  });

  // Report: client.ts:217 ConditionalExpression (false)
  it("[DIGEST-CLIENT-PLAIN-TEMPLATE] a form body and a Blob body are sent as the Request constructor reads them", async () => {
    const form = await call(`${ORIGIN}/f`, {
      method: "POST",
      body: new URLSearchParams({ a: "1", b: "2" }),
    });
    expect(form.res.status).toBe(200);
    expect(await form.res.json()).toEqual({
      method: "POST",
      type: "application/x-www-form-urlencoded;charset=UTF-8",
      body: "a=1&b=2",
    });
    const blob = await call(`${ORIGIN}/blob`, {
      method: "PUT",
      body: new Blob(["blob body"], { type: "text/x-blob" }),
    });
    expect(blob.res.status).toBe(200);
    expect(await blob.res.json()).toEqual({
      method: "PUT",
      type: "text/x-blob",
      body: "blob body",
    });
  });

  // Report: client.ts:210 ConditionalExpression (false), client.ts:210 MethodExpression (every),
  // client.ts:210 ArrowFunction, client.ts:210 BlockStatement
  it("[DIGEST-CLIENT-PLAIN-TEMPLATE] an init member the Request constructor refuses is refused, nothing sent", async () => {
    const { seen, digestFetch } = server();
    const init = { method: "GET", mode: "navigate" } as unknown as RequestInit;
    await expect(digestFetch(`${ORIGIN}/nav`, init)).rejects.toBeInstanceOf(TypeError);
    await expect(
      digestFetch(`${ORIGIN}/nav`, { mode: "navigate" } as unknown as RequestInit),
    ).rejects.toBeInstanceOf(TypeError);
    expect(seen).toHaveLength(0);
  });

  // Report: client.ts:223 BlockStatement
  it("[DIGEST-CLIENT-PLAIN-TEMPLATE] a relative URL is refused with fetch()'s own error", async () => {
    let expected = "";
    try {
      new Request("/relative");
    } catch (err) {
      expected = (err as Error).message;
    }
    expect(expected).not.toBe("");
    const { seen, digestFetch } = server();
    const err = await digestFetch("/relative").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toBe(expected);
    expect(seen).toHaveLength(0);
  });

  // Report: client.ts:219 ConditionalExpression (false), client.ts:219 LogicalOperator (GET && HEAD),
  // client.ts:219:19-35 ConditionalExpression (false), client.ts:219:30-35 StringLiteral,
  // client.ts:219:39-56 ConditionalExpression (false), client.ts:219:50-56 StringLiteral
  it("[DIGEST-CLIENT-PLAIN-TEMPLATE] [DIGEST-CLIENT] a body on GET or HEAD is refused before it spends a nonce count", async () => {
    const { seen, digestFetch } = server();
    const first = await digestFetch(`${ORIGIN}/1`);
    expect(digestExchangeOf(first)?.nc).toBe("00000001");
    await expect(digestFetch(`${ORIGIN}/g`, { method: "GET", body: "no" })).rejects.toBeInstanceOf(
      TypeError,
    );
    await expect(digestFetch(`${ORIGIN}/h`, { method: "HEAD", body: "no" })).rejects.toBeInstanceOf(
      TypeError,
    );
    const next = await digestFetch(`${ORIGIN}/2`);
    expect(next.status).toBe(200);
    expect(digestExchangeOf(next)?.nc).toBe("00000002");
    // The challenge round trip, the first answer and the next one: nothing for the refused calls.
    expect(seen).toHaveLength(3);
  });

  // Report: client.ts:235 LogicalOperator (init?.signal && undefined)
  it("[DIGEST-CLIENT-PLAIN-TEMPLATE] [DIGEST-CLIENT] the caller's abort signal reaches the transport", async () => {
    const { seen, digestFetch } = server();
    const controller = new AbortController();
    const res = await digestFetch(`${ORIGIN}/sig`, { signal: controller.signal });
    expect(res.status).toBe(200);
    expect(seen.map((r) => r.signal.aborted)).toEqual([false, false]);
    controller.abort();
    expect(seen.map((r) => r.signal.aborted)).toEqual([true, true]);
  });
});
