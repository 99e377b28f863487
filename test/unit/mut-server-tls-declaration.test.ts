/**
 * Issue #10 (tls-declare) and issue #9 (mutation testing of src/server):
 * src/server/tls-declaration.ts. Each test tells apart a mutant the first
 * measurement left undetected: the default TLS check (the request URL's
 * scheme, nothing else in the URL), the refusal decision for every
 * (declared, transport, dev mode) combination, and the security-log line of a
 * refusal (its event, the ids, the caller's address or "unknown").
 */
import { describe, expect, it } from "vitest";
import type { ServerParts } from "../../src/server/context.ts";
import type { SecurityEvent } from "../../src/server/events.ts";
import {
  logTlsRefusal,
  requestUrlIsHttps,
  tlsRequirement,
} from "../../src/server/tls-declaration.ts";

const https = () => new Request("https://cpns.example/entities/dev");
const plain = () => new Request("http://cpns.example/https:/entities/dev?x=https:");

describe("requestUrlIsHttps (the default check)", () => {
  it("[TLSDECL-REFUSE-PLAIN] reads the URL scheme only: https: is TLS, http: with https: in its path or query is not", () => {
    expect(requestUrlIsHttps(https())).toBe(true);
    expect(requestUrlIsHttps(plain())).toBe(false);
  });
});

describe("tlsRequirement", () => {
  it("[TLSDECL-REFUSE-PLAIN] with the default check: a declared entity is refused over plain HTTP, served over https", () => {
    const requirement = tlsRequirement({});
    expect(requirement.refuses(true, plain(), {})).toBe(true);
    expect(requirement.refuses(true, https(), {})).toBe(false);
  });

  it("[TLSDECL-UNDECLARED-PLAIN] an entity that did not declare TLS (false, or an old record without the field) is served over plain HTTP", () => {
    const requirement = tlsRequirement({});
    expect(requirement.refuses(false, plain(), {})).toBe(false);
    expect(requirement.refuses(undefined, plain(), {})).toBe(false);
  });

  it("[TLSDECL-DEV-MODE] only allowPlainHttpForTlsEntities === true lets a declared entity over plain HTTP", () => {
    expect(tlsRequirement({ allowPlainHttpForTlsEntities: true }).refuses(true, plain(), {})).toBe(
      false,
    );
    expect(tlsRequirement({ allowPlainHttpForTlsEntities: false }).refuses(true, plain(), {})).toBe(
      true,
    );
  });

  it("[TLSDECL-REFUSE-PLAIN] the runtime's check, given, is asked with the request and env", () => {
    const seen: unknown[] = [];
    const requirement = tlsRequirement({
      requestIsTls: (_request, env) => {
        seen.push(env);
        return false;
      },
    });
    expect(requirement.refuses(true, https(), "env")).toBe(true);
    expect(seen).toEqual(["env"]);
  });
});

describe("logTlsRefusal", () => {
  function parts(clientAddress?: (request: Request, env: unknown) => string | undefined) {
    const events: SecurityEvent[] = [];
    const value = {
      log: { emit: (event: SecurityEvent) => events.push(event) },
      config: clientAddress ? { clientAddress } : {},
    } as unknown as Pick<ServerParts, "log" | "config">;
    return { events, value };
  }

  it("[TLSDECL-REFUSE-PLAIN] logs tls.required with the ids and the caller's address", () => {
    const { events, value } = parts(() => "192.0.2.7");
    logTlsRefusal(value, plain(), {}, { entityId: "dev", userId: "alice" });
    expect(events).toEqual([
      { event: "tls.required", entityId: "dev", userId: "alice", address: "192.0.2.7" },
    ]);
  });

  it('[TLSDECL-REFUSE-PLAIN] without a way to tell the address (or none told) the address is "unknown"', () => {
    const none = parts();
    logTlsRefusal(none.value, plain(), {}, { entityId: "dev" });
    const silent = parts(() => undefined);
    logTlsRefusal(silent.value, plain(), {}, { entityId: "dev" });
    expect([...none.events, ...silent.events]).toEqual([
      { event: "tls.required", entityId: "dev", address: "unknown" },
      { event: "tls.required", entityId: "dev", address: "unknown" },
    ]);
  });
});
