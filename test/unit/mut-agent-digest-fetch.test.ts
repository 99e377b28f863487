/**
 * Issue #9 (mutation testing of src/agent): the primed Digest client of the
 * agents (src/agent/digest-fetch.ts, primedAgentDigestFetch; issue #12
 * "Speed"). The first run (main at 8e7d0c4) left the priming itself
 * undetected (:40 the block, :41 and :43 the options): without it every
 * entity's first request after its enrollment costs a 401 round trip, and
 * nothing failed. A challenge weakened on the way must still be dropped.
 *
 * A real CPNS Server on loopback (test/e2e/server-helpers.ts); the device's
 * transport records every exchange, and (for the weakened case) rewrites the
 * enrollment answer's WWW-Authenticate, which rspauth does not cover.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import type { FetchLike } from "../../src/digest/index.ts";
import { recordingTransport, startTestServer, type TestServer } from "../e2e/server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-agent-digest-mut-Pw7" };

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: { maxFailures: 1_000_000, windowSeconds: 1 } });
  await server.createUser(ALICE.userId, ALICE.password);
});
afterAll(async () => {
  await server?.close();
});

/** The exchanges of the entity's own requests (the enrollment's are left out). */
function entityExchanges(exchanges: ReturnType<typeof recordingTransport>["exchanges"]) {
  return exchanges.filter((exchange) => !exchange.url.endsWith("/cpns/v1/enrollments"));
}

describe("[ENROLL-PRIMED] the entity's first request after its enrollment", () => {
  // Answers: digest-fetch.ts:40 BlockStatement `{}`, :41 ObjectLiteral `{}`, :43 ObjectLiteral `{}`.
  it("[ENROLL-PRIMED] is answered at once with the enrollment's challenge: no 401 round trip", async () => {
    const { transport, exchanges } = recordingTransport();
    const agent = server.agent({ store: new MemoryKeyStore(), fetch: transport });
    await agent.enroll({ ...ALICE, entityId: "pne-primed-1", type: "PNE" });
    expect(await agent.whoami("pne-primed-1")).toMatchObject({ entityId: "pne-primed-1" });
    const mine = entityExchanges(exchanges);
    expect(mine.map((exchange) => exchange.status)).toEqual([200]);
    expect(mine[0]?.authorization).toMatch(/^Digest .*qop=auth-int/);
  });

  it("[ENROLL-PRIMED][AGENT-NO-DOWNGRADE] a challenge weakened on the way (qop=auth only) is dropped: one real 401, then auth-int", async () => {
    const { transport: recording, exchanges } = recordingTransport();
    const weaken: FetchLike = async (request) => {
      const res = await recording(request);
      if (!request.url.endsWith("/cpns/v1/enrollments") || res.status !== 201) return res;
      const challenge = res.headers.get("www-authenticate");
      expect(challenge).toContain("auth-int");
      const headers = new Headers(res.headers);
      headers.set("www-authenticate", String(challenge).replace(/qop="[^"]*"/g, 'qop="auth"'));
      return new Response(res.body, { status: res.status, headers });
    };
    const agent = server.agent({ store: new MemoryKeyStore(), fetch: weaken });
    await agent.enroll({ ...ALICE, entityId: "pne-primed-2", type: "PNE" });
    expect(await agent.whoami("pne-primed-2")).toMatchObject({ entityId: "pne-primed-2" });
    const mine = entityExchanges(exchanges);
    expect(mine.map((exchange) => exchange.status)).toEqual([401, 200]);
    expect(mine[0]?.authorization).toBeNull();
    expect(mine[1]?.authorization).toMatch(/^Digest .*qop=auth-int/);
  });
});
