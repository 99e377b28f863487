/**
 * Issue #9, checks the suite could not see (Stryker survivors in src/gateway/guard.ts): the PN
 * GW's Digest challenges never offer userhash (peer and session ids are looked up as sent), on
 * the peer's opening, the session's traffic and the relay's proxy hop alike.
 */
import { describe, expect, it } from "vitest";
import type { PnGateway } from "../../src/gateway/gateway.ts";
import { offlineGateway } from "../e2e/peer-helpers.ts";

function offline(): PnGateway {
  return offlineGateway({
    gatewayId: "gw-mut",
    digestSecret: "a digest secret of the userhash test",
  });
}

describe("PN GW guard (src/gateway/guard.ts)", () => {
  it("[PEER-DIGEST] [GATEWAY-RELAY] the PN GW's challenges never offer userhash, on any Digest route", async () => {
    const app = offline().app;
    const challenges = [
      (await app.fetch(new Request("http://gw.test/cpns-gw/v1/sessions", { method: "POST" })))
        .headers,
      (
        await app.fetch(
          new Request("http://gw.test/cpns-gw/v1/sessions/s1/messages", { method: "POST" }),
        )
      ).headers,
    ].map((h) => h.get("www-authenticate") ?? "");
    const proxy =
      (await app.fetch(new Request("http://gw.test/cpns/v1/whoami"))).headers.get(
        "proxy-authenticate",
      ) ?? "";
    for (const challenge of [...challenges, proxy]) {
      expect(challenge).toMatch(/^Digest /);
      expect(challenge).not.toMatch(/userhash=true/i);
    }
  });
});
