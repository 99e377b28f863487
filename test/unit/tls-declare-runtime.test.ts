// Issue #10 (tls-declare): how each runtime tells the CPNS Server that a request came over TLS
// (src/runtime/request-tls.ts), and the server-side rule built on it (src/server/tls-declaration.ts):
// refuse plain HTTP only to a declared entity, never in the explicit development mode. The Node
// detection over real sockets is exercised in test/e2e/tls-declare.test.ts.
import { describe, expect, it } from "vitest";
import {
  denoRequestIsTls,
  nodeRequestIsTls,
  plainHttpDevMode,
  workerRequestIsTls,
} from "../../src/runtime/request-tls.ts";
import { requestUrlIsHttps, tlsRequirement } from "../../src/server/tls-declaration.ts";

const httpsRequest = () => new Request("https://cpns.example/cpns/v1/whoami");
const plainRequest = () => new Request("http://cpns.example/cpns/v1/whoami");

function withCf(request: Request, cf: unknown): Request {
  Object.defineProperty(request, "cf", { value: cf });
  return request;
}

describe("[TLSDECL-RUNTIME] whether a request arrived over TLS, per runtime", () => {
  it("[TLSDECL-RUNTIME] Node: the socket decides, not the URL a client can shape", () => {
    const encrypted = { incoming: { socket: { encrypted: true } } };
    const plain = { incoming: { socket: {} } };
    expect(nodeRequestIsTls(plainRequest(), encrypted)).toBe(true);
    expect(nodeRequestIsTls(httpsRequest(), plain)).toBe(false);
    expect(nodeRequestIsTls(httpsRequest(), undefined)).toBe(false);
    expect(nodeRequestIsTls(httpsRequest(), { incoming: { socket: { encrypted: "yes" } } })).toBe(
      false,
    );
  });

  it("[TLSDECL-RUNTIME] Deno: the URL scheme Deno.serve gives (https: only with cert and key)", () => {
    expect(denoRequestIsTls(httpsRequest())).toBe(true);
    expect(denoRequestIsTls(plainRequest())).toBe(false);
  });

  it("[TLSDECL-RUNTIME] Workers: cf.tlsVersion when present (empty = plain), else the URL scheme", () => {
    expect(workerRequestIsTls(withCf(plainRequest(), { tlsVersion: "TLSv1.3" }))).toBe(true);
    expect(workerRequestIsTls(withCf(httpsRequest(), { tlsVersion: "" }))).toBe(false);
    expect(workerRequestIsTls(httpsRequest())).toBe(true);
    expect(workerRequestIsTls(plainRequest())).toBe(false);
  });

  it("[TLSDECL-DEV-MODE] the development mode is CPNS_PLAIN_HTTP=1 exactly", () => {
    expect(plainHttpDevMode({ CPNS_PLAIN_HTTP: "1" })).toBe(true);
    for (const value of [undefined, "", "0", "true", "yes", " 1"]) {
      expect(plainHttpDevMode({ CPNS_PLAIN_HTTP: value })).toBe(false);
    }
  });
});

describe("[TLSDECL-REFUSE-PLAIN] the rule: a declared entity over plain HTTP, outside dev mode", () => {
  it("[TLSDECL-REFUSE-PLAIN][TLSDECL-DEV-MODE] refuses exactly (declared, plain, not dev)", () => {
    const strict = tlsRequirement({});
    const dev = tlsRequirement({ allowPlainHttpForTlsEntities: true });
    expect(strict.refuses(true, plainRequest(), undefined)).toBe(true);
    expect(strict.refuses(true, httpsRequest(), undefined)).toBe(false);
    expect(strict.refuses(false, plainRequest(), undefined)).toBe(false);
    expect(strict.refuses(undefined, plainRequest(), undefined)).toBe(false);
    expect(dev.refuses(true, plainRequest(), undefined)).toBe(false);
  });

  it("[TLSDECL-RUNTIME] the runtime's detector replaces the default URL check", () => {
    const never = tlsRequirement({ requestIsTls: () => false });
    expect(never.refuses(true, httpsRequest(), undefined)).toBe(true);
    const node = tlsRequirement({ requestIsTls: nodeRequestIsTls });
    expect(node.refuses(true, httpsRequest(), { incoming: { socket: { encrypted: true } } })).toBe(
      false,
    );
    expect(requestUrlIsHttps(httpsRequest())).toBe(true);
    expect(requestUrlIsHttps(plainRequest())).toBe(false);
  });
});
