/**
 * Issue #9 (mutation testing of src/agent): the device key store's error
 * (src/agent/keystore.ts). The first run (main at 8e7d0c4) left its name
 * uncovered (:26): an uncaught key store problem (a damaged key file, loose
 * permissions) must say what it is in a log line or a stack trace, and its
 * message is only what it was given (never key material).
 */
import { describe, expect, it } from "vitest";
import { KeyStoreError } from "../../src/agent/keystore.ts";

describe("[AGENT-LIFECYCLE] a key store problem", () => {
  // Answers: keystore.ts:26 StringLiteral `""` (no coverage).
  it("[AGENT-LIFECYCLE] names itself KeyStoreError with its stable code, in its string form too", () => {
    const err = new KeyStoreError("ERR_KEYSTORE_CORRUPT", "key file pne-1.json is damaged");
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe("KeyStoreError");
    expect(err.code).toBe("ERR_KEYSTORE_CORRUPT");
    expect(String(err)).toBe("KeyStoreError: key file pne-1.json is damaged");
  });
});
