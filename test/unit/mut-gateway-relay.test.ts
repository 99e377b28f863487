/**
 * Issue #9, checks the suite could not see (Stryker survivors in src/gateway/relay.ts): what the
 * PN GW's relay drops of its own hop and what it hands back, driven straight through
 * relayToServer with an upstream that answers what the test wants, hostile or odd answers
 * included (a HEAD answered with a body, a 204 or 304, a compressed answer's coding, a
 * Connection header naming several headers or empty names).
 */
import { describe, expect, it } from "vitest";
import type { FetchLike } from "../../src/digest/index.ts";
import { relayToServer } from "../../src/gateway/relay.ts";

const SERVER = "http://server.test";

/** An upstream that records what reached it and answers with `answer()`. */
function upstream(answer: (request: Request) => Response) {
  const seen: Request[] = [];
  const fetch: FetchLike = async (request) => {
    seen.push(request);
    return answer(request);
  };
  return { seen, fetch };
}

function request(method: string, headers: Record<string, string> = {}): Request {
  return new Request("http://gw.test/cpns/v1/whoami?x=1", { method, headers });
}

describe("relay (src/gateway/relay.ts)", () => {
  it("[GATEWAY-RELAY] drops every header a Connection header names, empty names in the list included", async () => {
    const up = upstream(
      () =>
        new Response("ok", {
          headers: { connection: "x-one, ,x-two,", "x-one": "1", "x-two": "2", "x-kept": "3" },
        }),
    );
    const answer = await relayToServer(
      request("GET", { connection: "x-a, , x-b,", "x-a": "a", "x-b": "b", "x-c": "c" }),
      undefined,
      { serverUrl: SERVER, upstream: up.fetch },
    );
    const forwarded = up.seen[0]?.headers;
    expect(forwarded?.get("x-a")).toBeNull();
    expect(forwarded?.get("x-b")).toBeNull();
    expect(forwarded?.get("x-c")).toBe("c");
    expect(answer.status).toBe(200);
    expect(answer.headers.get("x-one")).toBeNull();
    expect(answer.headers.get("x-two")).toBeNull();
    expect(answer.headers.get("x-kept")).toBe("3");
    expect(await answer.text()).toBe("ok");
  });

  it("[GATEWAY-RELAY] relays a request and an answer that carry no Connection header at all", async () => {
    const up = upstream(() => new Response("plain", { headers: { "x-kept": "1" } }));
    const answer = await relayToServer(request("GET"), undefined, {
      serverUrl: SERVER,
      upstream: up.fetch,
    });
    expect(up.seen[0]?.url).toBe(`${SERVER}/cpns/v1/whoami?x=1`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("x-kept")).toBe("1");
    expect(await answer.text()).toBe("plain");
  });

  it("[GATEWAY-RELAY] drops the answer's Content-Encoding: the bytes handed back are already decoded", async () => {
    const up = upstream(
      () =>
        new Response("decoded", {
          headers: { connection: "keep-alive", "content-encoding": "gzip", "x-kept": "1" },
        }),
    );
    const answer = await relayToServer(request("GET"), undefined, {
      serverUrl: SERVER,
      upstream: up.fetch,
    });
    expect(answer.headers.get("content-encoding")).toBeNull();
    expect(answer.headers.get("x-kept")).toBe("1");
    expect(await answer.text()).toBe("decoded");
  });

  for (const status of [204, 304]) {
    it(`[GATEWAY-RELAY] hands back a bodiless ${status} of the server as a ${status}`, async () => {
      const up = upstream(
        () => new Response(null, { status, headers: { connection: "keep-alive", etag: '"e1"' } }),
      );
      const answer = await relayToServer(request("POST"), new Uint8Array([1, 2]), {
        serverUrl: SERVER,
        upstream: up.fetch,
      });
      expect(answer.status).toBe(status);
      expect(answer.body).toBeNull();
      expect(answer.headers.get("etag")).toBe('"e1"');
    });
  }

  it("[GATEWAY-RELAY] answers a HEAD with no body, even when the upstream sent one", async () => {
    const up = upstream(
      () => new Response("a body a HEAD must not carry", { headers: { connection: "keep-alive" } }),
    );
    const answer = await relayToServer(request("HEAD"), undefined, {
      serverUrl: SERVER,
      upstream: up.fetch,
    });
    expect(up.seen[0]?.method).toBe("HEAD");
    expect(answer.status).toBe(200);
    expect(answer.body).toBeNull();
  });

  it("[GATEWAY-RELAY] hands back the body of an ordinary GET answer", async () => {
    const up = upstream(() => new Response("body", { headers: { connection: "keep-alive" } }));
    const answer = await relayToServer(request("GET"), undefined, {
      serverUrl: SERVER,
      upstream: up.fetch,
    });
    expect(await answer.text()).toBe("body");
  });
});
