/**
 * Issue #9, mutation testing: the Digest verifier's option checks
 * (src/digest/server.ts validateOptions) had no test, so every one of them
 * could be removed unseen (Stryker, docs/mutation.md). A verifier that starts
 * with an empty realm, a realm that could inject header text, a nonce secret
 * too short to resist forgery, no algorithm, an unknown qop or a nonce that
 * never expires would break the promises of DIGEST-NONCE and DIGEST-ALGORITHMS
 * at run time; it must refuse to start instead. Each case changes one option
 * of a valid configuration, and the boundaries are checked from both sides.
 */
import { describe, expect, it } from "vitest";
import { createDigestVerifier, type DigestServerOptions } from "../../src/digest/index.ts";

const VALID: DigestServerOptions<unknown> = {
  realm: "options-test",
  secret: "0123456789abcdef",
  lookup: () => undefined,
};

function build(change: Record<string, unknown>) {
  return () => createDigestVerifier({ ...VALID, ...change } as DigestServerOptions<unknown>);
}

describe("[DIGEST-NONCE][DIGEST-ALGORITHMS][DIGEST-HOSTILE] the verifier refuses a configuration it cannot keep its promises with", () => {
  it("[DIGEST-NONCE] the valid baseline, and the boundaries that are still valid, build", () => {
    expect(build({})().realm).toBe("options-test");
    expect(build({ secret: new Uint8Array(16) })).not.toThrow();
    expect(build({ nonceLifetimeSeconds: 1 })).not.toThrow();
    expect(build({ algorithms: ["MD5"] })).not.toThrow();
    expect(build({ qop: ["auth-int"] })).not.toThrow();
  });

  it.each<[string, Record<string, unknown>]>([
    ["no realm", { realm: undefined }],
    ["a realm that is not a string", { realm: 42 }],
    ["an empty realm", { realm: "" }],
    ["a realm with a line break (header injection)", { realm: "a\r\nSet-Cookie: x=1" }],
    ["a realm with a NUL", { realm: "a\u0000b" }],
  ])("[DIGEST-HOSTILE] %s: TypeError naming the realm", (_label, change) => {
    expect(build(change)).toThrow(
      new TypeError("digest: realm must be a non-empty string without control characters"),
    );
  });

  it.each<[string, Record<string, unknown>]>([
    ["a 15-character secret", { secret: "0123456789abcde" }],
    ["a 15-byte secret", { secret: new Uint8Array(15) }],
    ["no secret", { secret: undefined }],
    ["a secret that is neither string nor bytes", { secret: [1, 2, 3] }],
  ])("[DIGEST-NONCE] %s: TypeError naming the secret", (_label, change) => {
    expect(build(change)).toThrow(new TypeError("digest: secret must be at least 16 bytes"));
  });

  it("[DIGEST-NONCE] a lookup that is not a function: TypeError", () => {
    expect(build({ lookup: "nope" })).toThrow(new TypeError("digest: lookup must be a function"));
  });

  it.each<[string, Record<string, unknown>]>([
    ["no algorithm", { algorithms: [] }],
    ["an unknown algorithm", { algorithms: ["SHA-256", "SHA-1"] }],
  ])("[DIGEST-ALGORITHMS] %s: TypeError", (_label, change) => {
    expect(build(change)).toThrow(
      new TypeError("digest: algorithms must be a non-empty list of RFC 7616 algorithm names"),
    );
  });

  it.each<[string, Record<string, unknown>]>([
    ["no qop", { qop: [] }],
    ["an unknown qop", { qop: ["auth", "auth-conf"] }],
  ])("[DIGEST-ALGORITHMS] %s: TypeError", (_label, change) => {
    expect(build(change)).toThrow(
      new TypeError("digest: qop must be a non-empty list of 'auth' and 'auth-int'"),
    );
  });

  it.each<[string, number]>([
    ["zero", 0],
    ["negative", -5],
    ["infinite", Number.POSITIVE_INFINITY],
    ["NaN", Number.NaN],
  ])("[DIGEST-NONCE] a nonce lifetime that is %s: TypeError", (_label, nonceLifetimeSeconds) => {
    expect(build({ nonceLifetimeSeconds })).toThrow(
      new TypeError("digest: nonceLifetimeSeconds must be positive"),
    );
  });
});
