// Seed 5.x.4 FFS resolution (TLS 1.2 minimum) on Cloudflare Workers, where TLS ends at the edge and
// workerd's local `wrangler dev` cannot negotiate TLS at all: the Worker entry must refuse a request
// whose `request.cf.tlsVersion` says 1.0 or 1.1, and let 1.2, 1.3 and plain local requests through.
import { describe, expect, it } from "vitest";
import { isRefusedTlsVersion } from "../../src/channel/tls-policy.ts";
import worker from "../../src/runtime/worker-demo.ts";

const env = {
  CPNS_REALM: "cpns-worker-tls",
  CPNS_DIGEST_SECRET: "worker-tls-test-secret-0123456789",
  CPNS_DEMO_USERS: "alice:wonderland",
};
const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as never;

function withTls(tlsVersion: string | undefined): Request {
  const request = new Request("https://cpns.example/health");
  if (tlsVersion !== undefined) Object.defineProperty(request, "cf", { value: { tlsVersion } });
  return request;
}

describe("[FFS-TLS-VERSION] the Worker refuses TLS below 1.2 as reported by the edge", () => {
  for (const version of ["SSLv3", "TLSv1", "TLSv1.1"]) {
    it(`[FFS-TLS-VERSION] ${version}: 400 ERR_TLS_VERSION, and the app is never reached`, async () => {
      const response = await worker.fetch(withTls(version), env, ctx);
      expect(response.status).toBe(400);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      expect(await response.json()).toMatchObject({ code: "ERR_TLS_VERSION" });
    });
  }

  for (const version of ["TLSv1.2", "TLSv1.3", undefined, ""]) {
    it(`[FFS-TLS-VERSION] ${version === undefined ? "no cf (local)" : version || "plain HTTP"}: served`, async () => {
      const response = await worker.fetch(withTls(version), env, ctx);
      expect(response.status).toBe(200);
    });
  }

  it("[FFS-TLS-VERSION] the policy itself", () => {
    expect(isRefusedTlsVersion("TLSv1.1")).toBe(true);
    expect(isRefusedTlsVersion("TLSv1.2")).toBe(false);
    expect(isRefusedTlsVersion(undefined)).toBe(false);
  });
});
