/**
 * Issue #9 item 5 from the attacker's side: one client hammering the server
 * with wrong Digest answers under a 10 KB username, over one keep-alive
 * connection, first failing and then rate limited. The security log grows by
 * a bounded amount (a handful of short lines), not one 10 KB line per request.
 */
import { afterEach, describe, expect, it } from "vitest";
import { REALM, startTestServer, type TestServer } from "./server-helpers.ts";

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("[LOG-FLOOD] a flood of failures and 429s grows the log by a bounded amount", () => {
  it("[LOG-FLOOD][LOG-FIELDS][LOG-AGGREGATE] 500 wrong answers under a 10 KB username on one keep-alive connection: at most 2 log lines, under 1 KB in all", async () => {
    server = await startTestServer({ rateLimit: { maxFailures: 3, windowSeconds: 60 } });
    const s = server;
    const challenge = await s.fetch("/cpns/v1/entities");
    await challenge.arrayBuffer();
    const nonce = /nonce="([^"]+)"/.exec(challenge.headers.get("www-authenticate") ?? "")?.[1];
    expect(nonce).toBeDefined();
    const header = [
      `Digest username="${"u".repeat(10_000)}"`,
      `realm="${REALM}"`,
      `nonce="${nonce}"`,
      `uri="/cpns/v1/entities"`,
      `response="${"0".repeat(64)}"`,
      "qop=auth",
      "nc=00000001",
      `cnonce="flood"`,
      "algorithm=SHA-256",
    ].join(", ");
    const statuses = new Map<number, number>();
    for (let i = 0; i < 500; i++) {
      const res = await s.fetch("/cpns/v1/entities", { headers: { authorization: header } });
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    }
    expect(statuses.get(429)).toBeGreaterThan(450);
    expect(s.logLines.length).toBeLessThanOrEqual(2);
    expect(s.logLines.join("\n").length).toBeLessThan(1024);
  }, 60_000);
});
