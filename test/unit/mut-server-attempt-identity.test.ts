/**
 * Issue #9 (mutation testing of src/server): the keys a Digest attempt is
 * charged to (src/server/attempt-identity.ts). Each test tells apart a mutant
 * the first measurement left undetected: the 128-character bound on a name
 * key (a long name is charged under its SHA-256, never unbounded, and two long
 * names never share a budget), the plain-name key, the userhash flag the log
 * and the budgets read, and the key of a userhash sent with an unknown algorithm.
 */
import { describe, expect, it } from "vitest";
import { hashHex } from "../../src/crypto/hash.ts";
import { attemptedIdentity, identityKeysOfName } from "../../src/server/attempt-identity.ts";

describe("identityKeysOfName", () => {
  it("[LIMIT-SPELLING] a plain name is charged under n:<name> and its userhash for each of the three hashes", () => {
    expect(identityKeysOfName("alice", "cpns")).toEqual([
      "n:alice",
      `h:MD5:${hashHex("MD5", "alice:cpns")}`,
      `h:SHA-256:${hashHex("SHA-256", "alice:cpns")}`,
      `h:SHA-512-256:${hashHex("SHA-512-256", "alice:cpns")}`,
    ]);
  });

  it("[ORACLE-LIMIT] a name of exactly 128 characters is its own key; one of 129 is charged under its SHA-256", () => {
    const at = "a".repeat(128);
    const over = "a".repeat(129);
    expect(identityKeysOfName(at, "cpns")[0]).toBe(`n:${at}`);
    expect(identityKeysOfName(over, "cpns")[0]).toBe(`n:#${hashHex("SHA-256", over)}`);
  });

  it("[ORACLE-LIMIT] a 15 KB name costs a bounded key, and two long names differing in one character keep apart budgets", () => {
    const one = identityKeysOfName(`${"x".repeat(15_000)}1`, "cpns")[0];
    const two = identityKeysOfName(`${"x".repeat(15_000)}2`, "cpns")[0];
    expect(one?.length).toBeLessThanOrEqual(2 + 1 + 64);
    expect(one).not.toBe(two);
  });
});

describe("attemptedIdentity", () => {
  it("[LIMIT-SPELLING] a plain name is logged as sent, flagged userhash false, with the name's keys", () => {
    expect(
      attemptedIdentity({ username: "Alice", userhash: false, algorithm: "SHA-256" }, "cpns"),
    ).toEqual({ sent: "Alice", userhash: false, keys: identityKeysOfName("Alice", "cpns") });
  });

  it("[LIMIT-SPELLING] a userhash is flagged userhash true and charged under itself in lower case, per hash", () => {
    const sent = "AB".repeat(32);
    expect(
      attemptedIdentity({ username: sent, userhash: true, algorithm: "SHA-256-sess" }, "cpns"),
    ).toEqual({
      sent: sent.toLowerCase(),
      userhash: true,
      keys: [`h:SHA-256:${sent.toLowerCase()}`],
    });
  });

  it("[ORACLE-LIMIT] a userhash sent with an algorithm the engine does not know is charged under h:?:, and a long one is bounded", () => {
    const long = "f".repeat(500);
    expect(
      attemptedIdentity({ username: long, userhash: true, algorithm: undefined }, "cpns"),
    ).toEqual({
      sent: long,
      userhash: true,
      keys: [`h:?:#${hashHex("SHA-256", long)}`],
    });
  });
});
