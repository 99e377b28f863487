// Issue #12: the Digest profiles and how every entry reads them (CPNS_DIGEST_ALGORITHMS names a
// profile or a comma list). The clients themselves are measured in test/interop/browsers-digest.test.ts.
import { describe, expect, it } from "vitest";
import { demoConfigFromEnv } from "../../src/demo/app.ts";
import { DIGEST_PROFILES, parseDigestAlgorithmSetting } from "../../src/digest/index.ts";
import { serverSettingsFromEnv } from "../../src/server/settings.ts";

const SECRET = "digest-profiles-secret-0123456789";

describe("Digest profiles", () => {
  it("[DIGEST-CLIENTS-PROFILES] names three profiles with their challenge order and qops", () => {
    expect(DIGEST_PROFILES.strong).toEqual({
      algorithms: ["SHA-256", "SHA-512-256", "MD5"],
      qop: ["auth", "auth-int"],
    });
    // MD5 first for first-challenge-only clients, SHA-256 LAST for last-challenge clients.
    expect(DIGEST_PROFILES["legacy-first"]).toEqual({
      algorithms: ["MD5", "SHA-512-256", "SHA-256"],
      qop: ["auth"],
    });
    expect(DIGEST_PROFILES["md5-only"]).toEqual({ algorithms: ["MD5"], qop: ["auth"] });
  });

  it("[DIGEST-CLIENTS-PROFILES] a setting is a profile name or a plain list (which keeps the route's qops)", () => {
    expect(parseDigestAlgorithmSetting(" legacy-first ")).toEqual({
      algorithms: ["MD5", "SHA-512-256", "SHA-256"],
      profile: "legacy-first",
      qop: ["auth"],
    });
    expect(parseDigestAlgorithmSetting("MD5, SHA-256")).toEqual({ algorithms: ["MD5", "SHA-256"] });
    expect(() => parseDigestAlgorithmSetting("weak")).toThrow(
      /profile \(strong, legacy-first, md5-only\)/,
    );
    expect(() => parseDigestAlgorithmSetting("MD5,MD5")).toThrow(/twice/);
  });

  it("[DIGEST-CLIENTS-PROFILES] the CPNS Server takes a profile's algorithm order only", () => {
    expect(serverSettingsFromEnv({ CPNS_DIGEST_ALGORITHMS: "md5-only" }).algorithms).toEqual([
      "MD5",
    ]);
    expect(serverSettingsFromEnv({ CPNS_DIGEST_ALGORITHMS: "strong" }).algorithms).toEqual([
      "SHA-256",
      "SHA-512-256",
      "MD5",
    ]);
    // A bad value is refused with the variable's name, never its value.
    expect(() => serverSettingsFromEnv({ CPNS_DIGEST_ALGORITHMS: "sekrit-typo" })).toThrow(
      /^CPNS_DIGEST_ALGORITHMS must be a profile/,
    );
    try {
      serverSettingsFromEnv({ CPNS_DIGEST_ALGORITHMS: "sekrit-typo" });
    } catch (error) {
      expect((error as Error).message).not.toContain("sekrit");
    }
  });

  it("[DIGEST-CLIENTS-PROFILES] the demo reads CPNS_DIGEST_ALGORITHMS too, a profile setting its qops", () => {
    const base = { CPNS_DIGEST_SECRET: SECRET, CPNS_DEMO_USERS: "alice:pw" };
    expect(demoConfigFromEnv(base)).not.toHaveProperty("algorithms");
    expect(demoConfigFromEnv({ ...base, CPNS_DIGEST_ALGORITHMS: "legacy-first" })).toMatchObject({
      algorithms: ["MD5", "SHA-512-256", "SHA-256"],
      qop: ["auth"],
    });
    const list = demoConfigFromEnv({ ...base, CPNS_DIGEST_ALGORITHMS: "SHA-256,MD5" });
    expect(list.algorithms).toEqual(["SHA-256", "MD5"]);
    expect(list).not.toHaveProperty("qop");
    expect(() => demoConfigFromEnv({ ...base, CPNS_DIGEST_ALGORITHMS: "sekrit" })).toThrow(
      /^CPNS_DIGEST_ALGORITHMS must be a profile/,
    );
  });

  it("[DIGEST-CLIENTS-PROFILES] the demo app's challenges follow the profile, in order", async () => {
    const { createDemoApp } = await import("../../src/demo/app.ts");
    const app = createDemoApp(
      demoConfigFromEnv({
        CPNS_DIGEST_SECRET: SECRET,
        CPNS_DEMO_USERS: "alice:pw",
        CPNS_DIGEST_ALGORITHMS: "legacy-first",
      }),
    );
    const res = await app.request("/hello");
    expect(res.status).toBe(401);
    const header = res.headers.get("www-authenticate") ?? "";
    expect([...header.matchAll(/algorithm=([\w-]+)/g)].map((m) => m[1])).toEqual([
      "MD5",
      "SHA-512-256",
      "SHA-256",
    ]);
    expect([...header.matchAll(/qop="([^"]*)"/g)].map((m) => m[1])).toEqual([
      "auth",
      "auth",
      "auth",
    ]);
  });

  it("[DIGEST-CLIENTS-PROFILES] a profile can be chosen per route with digestAuth options", async () => {
    const { Hono } = await import("hono");
    const { digestAuth, staticCredentials } = await import("../../src/digest/index.ts");
    const base = {
      realm: "api@example.org",
      secret: SECRET,
      lookup: staticCredentials({ alice: "pw" }),
    };
    const app = new Hono();
    app.use("/api/*", digestAuth({ ...base, ...DIGEST_PROFILES.strong }));
    app.use("/legacy/*", digestAuth({ ...base, ...DIGEST_PROFILES["md5-only"] }));
    app.get("*", (c) => c.text("ok"));
    const algorithmsOf = async (path: string) =>
      [
        ...((await app.request(path)).headers.get("www-authenticate") ?? "").matchAll(
          /algorithm=([\w-]+)/g,
        ),
      ].map((m) => m[1]);
    expect(await algorithmsOf("/api/x")).toEqual(["SHA-256", "SHA-512-256", "MD5"]);
    expect(await algorithmsOf("/legacy/x")).toEqual(["MD5"]);
  });
});
