/**
 * Issue #9, mutation testing: the src/digest/middleware.ts survivors of the 17:17 whole-scope
 * run on main (114, 116: the qop=auth path that sets Authentication-Info on the handler's own
 * response), which docs/mutation.md had called equivalent to the rebuild path. They are not:
 * the rebuild reads the whole body first, so a streamed answer (server-sent events, a long
 * relayed body) would reach the client only once it ended. Under qop=auth the first bytes
 * arrive while the handler is still producing, with Authentication-Info already on them.
 * (A stream that waits for the client to read its first chunk deadlocks if buffered; under
 * Stryker that is a timeout, which counts as detected.)
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { type DigestEnv, digestAuth, staticCredentials } from "../../src/digest/index.ts";
import { answerChallenge } from "../vectors/reference-digest.ts";

const SECRET = "mut-middleware-stream-secret-0123";
const REALM = "stream@example.org";

describe("[DIGEST-AUTHINFO] a streamed answer under qop=auth is not buffered", () => {
  it("[DIGEST-AUTHINFO] the first chunk reaches the client, with Authentication-Info, before the handler ends the stream", async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const encoder = new TextEncoder();
    const app = new Hono<DigestEnv>();
    app.use(
      "*",
      digestAuth({ realm: REALM, secret: SECRET, lookup: staticCredentials({ alice: "pw" }) }),
    );
    app.get("/events", () => {
      const stream = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(encoder.encode("event: first\n\n"));
          // The rest only once the client has seen the first event.
          await released;
          controller.enqueue(encoder.encode("event: last\n\n"));
          controller.close();
        },
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream" } });
    });

    const challenge = (await app.request("http://h/events")).headers.get("www-authenticate");
    const { header } = answerChallenge(challenge as string, {
      username: "alice",
      password: "pw",
      uri: "/events",
    });
    const res = await app.request("http://h/events", { headers: { authorization: header } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    expect(res.headers.get("authentication-info")).toMatch(/rspauth="[0-9a-f]{64}"/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const first = await reader.read();
    expect(decoder.decode(first.value)).toBe("event: first\n\n");
    release();
    let rest = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      rest += decoder.decode(chunk.value);
    }
    expect(rest).toBe("event: last\n\n");
  });
});
