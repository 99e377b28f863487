/**
 * Issue #9, mutation testing: the survivors of the 2026-12-05 whole-scope
 * re-run of src/digest in profiles.ts and middleware.ts (docs/mutation.md),
 * from the side of an operator and of an application. A CPNS_DIGEST_ALGORITHMS
 * list naming one algorithm that does not exist among real ones is refused
 * with a message that lists the choices; and a lookup that fails (a store
 * outage) reaches the application's own error handler through digestAuth(),
 * instead of being answered as a Digest problem without a code.
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import {
  createDigestFetch,
  digestAuth,
  parseDigestAlgorithmSetting,
} from "../../src/digest/index.ts";

describe("[DIGEST-CLIENTS-PROFILES] an algorithm list naming one unknown algorithm", () => {
  // Report: profiles.ts:65 MethodExpression (`some` -> `every`), :67 StringLiteral (`join(", ")` -> `join("")`).
  it("[DIGEST-CLIENTS-PROFILES] is refused even beside known ones, and the message lists the profiles and every algorithm, comma-separated", () => {
    let message = "";
    try {
      parseDigestAlgorithmSetting("SHA-256, SHA-1");
    } catch (err) {
      expect(err).toBeInstanceOf(RangeError);
      message = (err as Error).message;
    }
    expect(message).toContain("must be a profile (strong, legacy-first, md5-only)");
    expect(message).toContain(
      "or a comma list of SHA-256, SHA-256-sess, SHA-512-256, SHA-512-256-sess, MD5, MD5-sess",
    );
  });
});

describe("[DIGEST-WALLS] a failing lookup inside digestAuth()", () => {
  // Report: middleware.ts:139 ConditionalExpression (`err instanceof DigestError` -> `true`).
  it("[DIGEST-WALLS] reaches the application's own error handler (the store's error, not a Digest problem)", async () => {
    const app = new Hono();
    app.use(
      "*",
      digestAuth({
        realm: "lib",
        secret: "mut-digest-middleware-secret-0123456789",
        lookup: async () => {
          throw new Error("store unreachable");
        },
      }),
    );
    app.get("/p", (c) => c.text("never"));
    const seen: string[] = [];
    app.onError((err) => {
      seen.push(err.message);
      return new Response("the application's answer", { status: 599 });
    });
    const client = createDigestFetch({
      username: "alice",
      password: "any-password",
      fetch: async (request) => app.fetch(request),
    });
    const res = await client("http://lib.test/p");
    expect(res.status).toBe(599);
    expect(await res.text()).toBe("the application's answer");
    expect(seen).toEqual(["store unreachable"]);
  });
});
