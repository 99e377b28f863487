/**
 * Where the Deno entry keeps its data (src/runtime/deno-settings.ts): the
 * reading of CPNS_STORAGE_URL, pure, in process. The KV itself and the
 * secrets kept in it are tested against real Deno processes in
 * test/conformance/deno-kv.test.ts.
 */
import { describe, expect, it } from "vitest";
import { denoStorage } from "../../src/runtime/deno-settings.ts";
import { SettingsError } from "../../src/server/settings.ts";

describe("[FLEET-DENO-SERVER] CPNS_STORAGE_URL on Deno", () => {
  it("[FLEET-DENO-SERVER][FLEET-CONFIG] unset is a local KV file in the data folder; deno-kv:<path> that file; deno-kv: the platform's KV", () => {
    expect(denoStorage(undefined, "./.cpns-data")).toEqual({
      kvPath: "./.cpns-data/deno.kv",
      local: true,
    });
    expect(denoStorage(undefined, "/srv/cpns/")).toEqual({
      kvPath: "/srv/cpns/deno.kv",
      local: true,
    });
    expect(denoStorage("deno-kv:/var/lib/cpns/kv.sqlite", "x")).toEqual({
      kvPath: "/var/lib/cpns/kv.sqlite",
      local: true,
    });
    expect(denoStorage("deno-kv:", "x")).toEqual({ kvPath: undefined, local: false });
  });

  it("[FLEET-DENO-SERVER][FLEET-CONFIG] any other storage URL is refused by the variable's name, never echoing its value", () => {
    for (const url of ["redis://:s3cret-pass@host:6379", "fs:/tmp", "DENO-KV:x", "memory:"]) {
      let refused: unknown;
      try {
        denoStorage(url, "x");
      } catch (err) {
        refused = err;
      }
      expect(refused).toBeInstanceOf(SettingsError);
      expect((refused as SettingsError).variable).toBe("CPNS_STORAGE_URL");
      expect((refused as Error).message).not.toContain(url);
    }
  });
});
