/**
 * Issue #9 (mutation testing of src/server): the server's settings from its
 * environment (src/server/settings.ts), from the side of a careless or hostile
 * operator. Each test tells apart a mutant the batch run (main at 4150e8c) left
 * undetected: the error's name and messages, values trimmed, the bounds of a
 * secret's length and of every lifetime (at their edges), the source URL
 * (http or https only, nothing around it, no spaces, quotes or angle
 * brackets), the development switch read whole, and the shared secrets named
 * when missing.
 */
import { describe, expect, it } from "vitest";
import { toBase64url } from "../../src/crypto/bytes.ts";
import {
  requireSharedSecrets,
  SettingsError,
  serverSettingsFromEnv,
} from "../../src/server/settings.ts";

/** The SettingsError reading `env` throws, or undefined. */
function refusal(env: Record<string, string>): SettingsError | undefined {
  try {
    serverSettingsFromEnv(env);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(SettingsError);
    return err as SettingsError;
  }
}

describe("settings.ts: refusals name the variable and the rule", () => {
  // Report: settings.ts:42 StringLiteral; :81, :83 StringLiteral.
  it("[FLEET-CONFIG] a master key that is no base64url, or not 32 bytes, is a SettingsError naming the variable and the rule", () => {
    for (const value of ["not*base64url", toBase64url(new Uint8Array(31))]) {
      const err = refusal({ CPNS_MASTER_KEY: value });
      expect(err?.name).toBe("SettingsError");
      expect(err?.variable).toBe("CPNS_MASTER_KEY");
      expect(err?.message).toBe("CPNS_MASTER_KEY must be 32 bytes, base64url");
    }
    expect(
      serverSettingsFromEnv({ CPNS_MASTER_KEY: toBase64url(new Uint8Array(32)) }).masterKey,
    ).toHaveLength(32);
  });

  // Report: settings.ts:89 EqualityOperator, :90 StringLiteral.
  it("[FLEET-CONFIG] an admin token of 15 characters is refused with the rule; 16 are enough", () => {
    expect(refusal({ CPNS_ADMIN_TOKEN: "t".repeat(15) })?.message).toBe(
      "CPNS_ADMIN_TOKEN must be at least 16 characters",
    );
    expect(serverSettingsFromEnv({ CPNS_ADMIN_TOKEN: "t".repeat(16) }).adminToken).toBe(
      "t".repeat(16),
    );
  });

  // Report: settings.ts:99 ConditionalExpression, EqualityOperator (both), :100 StringLiteral.
  it("[FLEET-CONFIG] a lifetime is a whole number of seconds from 1 to 86400, both ends included", () => {
    for (const value of ["0", "86401", "1.5", "ten"]) {
      expect(refusal({ CPNS_OTK_MAX_LIFETIME_S: value })?.message).toBe(
        "CPNS_OTK_MAX_LIFETIME_S must be a whole number of seconds from 1 to 86400",
      );
    }
    expect(serverSettingsFromEnv({ CPNS_OTK_MAX_LIFETIME_S: "1" }).otkMaxLifetimeSeconds).toBe(1);
    expect(serverSettingsFromEnv({ CPNS_OTK_MAX_LIFETIME_S: "86400" }).otkMaxLifetimeSeconds).toBe(
      86_400,
    );
  });

  // Report: settings.ts:151 StringLiteral (NoCoverage).
  it("[FLEET-CONFIG] a fleet without its shared secrets is told every missing variable by name", () => {
    let err: unknown;
    try {
      requireSharedSecrets(serverSettingsFromEnv({}));
    } catch (caught) {
      err = caught;
    }
    expect((err as SettingsError).variable).toBe(
      "CPNS_MASTER_KEY, CPNS_ADMIN_TOKEN, CPNS_DIGEST_SECRET, CPNS_ADMIN_TRANSPORT_KEY",
    );
  });
});

describe("settings.ts: values as read", () => {
  // Report: settings.ts:70 MethodExpression.
  it("[FLEET-CONFIG] values are trimmed, and one of spaces only is unset", () => {
    expect(serverSettingsFromEnv({ CPNS_REALM: "  cpns-edge \n" }).realm).toBe("cpns-edge");
    expect(serverSettingsFromEnv({ CPNS_REALM: "   " }).realm).toBe("cpns");
  });

  // Report: settings.ts:138 Regex (both anchors).
  it("[TLSDECL-DEV-MODE] plain HTTP is on only for a whole 1, true or yes", () => {
    for (const value of ["1", "TRUE", "yes"]) {
      expect(serverSettingsFromEnv({ CPNS_PLAIN_HTTP: value }).plainHttp).toBe(true);
    }
    for (const value of ["10", "01", "yes-please", "not true", "0"]) {
      expect(serverSettingsFromEnv({ CPNS_PLAIN_HTTP: value }).plainHttp).toBe(false);
    }
  });

  // Report: settings.ts:117 BlockStatement, :118 StringLiteral, :119 ConditionalExpression,
  // :120 (every mutant), :121 StringLiteral (both), :123 ObjectLiteral.
  it("[FLEET-CONFIG] the source URL is an http(s) URL and nothing else: no other scheme, nothing around it, no space, quote or bracket", () => {
    for (const value of ["https://example.org/cpns", "http://ab"]) {
      expect(serverSettingsFromEnv({ CPNS_SOURCE_URL: value }).sourceUrl).toBe(value);
    }
    expect(serverSettingsFromEnv({})).not.toHaveProperty("sourceUrl");
    for (const value of [
      "javascript:alert(1)",
      "javascript:https://x",
      "https://a b",
      'https://a"onmouseover=x',
      "https://a<script>",
      "https://",
      "ftp://example.org",
    ]) {
      const err = refusal({ CPNS_SOURCE_URL: value });
      expect(err?.variable).toBe("CPNS_SOURCE_URL");
      expect(err?.message).toBe("CPNS_SOURCE_URL must be an http(s) URL");
    }
  });
});
