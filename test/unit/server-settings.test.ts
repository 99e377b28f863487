/**
 * The one settings module (src/server/settings.ts, issue #11): the same
 * variables read the same way from any string map; bad values refused by
 * name without echoing them; the four shared secrets required where they
 * cannot be generated.
 */
import { describe, expect, it } from "vitest";
import {
  requireSharedSecrets,
  SettingsError,
  serverSettingsFromEnv,
} from "../../src/server/settings.ts";

const KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"; // 32 bytes, base64url

describe("[FLEET-CONFIG] server settings from a string map", () => {
  it("[FLEET-CONFIG] reads every variable; defaults where unset", () => {
    const settings = serverSettingsFromEnv({
      CPNS_REALM: "edge",
      CPNS_MASTER_KEY: KEY,
      CPNS_ADMIN_TOKEN: "admin-token-0123456789",
      CPNS_DIGEST_SECRET: "digest-secret-0123456789",
      CPNS_ADMIN_TRANSPORT_KEY: KEY,
      CPNS_DIGEST_ALGORITHMS: "MD5, SHA-256",
      CPNS_NONCE_LIFETIME_S: "120",
      CPNS_OTK_MAX_LIFETIME_S: "60",
      CPNS_CHANNEL_LIFETIME_S: "900",
      CPNS_STORAGE_URL: "redis://127.0.0.1:6379/0",
      CPNS_PLAIN_HTTP: "1",
    });
    expect(settings).toMatchObject({
      realm: "edge",
      adminToken: "admin-token-0123456789",
      digestSecret: "digest-secret-0123456789",
      algorithms: ["MD5", "SHA-256"],
      nonceLifetimeSeconds: 120,
      otkMaxLifetimeSeconds: 60,
      channelLifetimeSeconds: 900,
      storageUrl: "redis://127.0.0.1:6379/0",
      plainHttp: true,
    });
    expect(settings.masterKey).toHaveLength(32);
    expect(requireSharedSecrets(settings).adminTransportKey).toHaveLength(32);
    const empty = serverSettingsFromEnv({});
    expect(empty).toMatchObject({ realm: "cpns", plainHttp: false });
    expect(empty.algorithms).toBeUndefined();
    expect(empty.storageUrl).toBeUndefined();
  });

  it.each([
    ["CPNS_MASTER_KEY", "c2hvcnQ"],
    ["CPNS_MASTER_KEY", "not base64 !!"],
    ["CPNS_ADMIN_TRANSPORT_KEY", `${KEY}AA`],
    ["CPNS_ADMIN_TOKEN", "short-secret"],
    ["CPNS_DIGEST_SECRET", "short-secret"],
    ["CPNS_DIGEST_ALGORITHMS", "SHA-1"],
    ["CPNS_DIGEST_ALGORITHMS", "MD5,MD5"],
    ["CPNS_NONCE_LIFETIME_S", "-5"],
    ["CPNS_NONCE_LIFETIME_S", "1e3"],
    ["CPNS_CHANNEL_LIFETIME_S", "999999"],
  ])("[FLEET-CONFIG] %s=%s is refused by name, without its value", (name, value) => {
    let thrown: unknown;
    try {
      serverSettingsFromEnv({ [name]: value });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(SettingsError);
    expect((thrown as SettingsError).variable).toBe(name);
    expect((thrown as Error).message).not.toContain(value);
  });

  it("[FLEET-CONFIG] a runtime that cannot generate secrets names every missing one", () => {
    expect(() => requireSharedSecrets(serverSettingsFromEnv({ CPNS_MASTER_KEY: KEY }))).toThrow(
      "CPNS_ADMIN_TOKEN, CPNS_DIGEST_SECRET, CPNS_ADMIN_TRANSPORT_KEY must be set",
    );
  });
});
