/**
 * Issue #9 "Reliability figures": the fuzzer must be able to fail. Against a
 * deliberately broken Digest server on loopback (it challenges, then accepts
 * ANY Authorization, and answers 500 to long ones), the same fuzz worker the
 * soak runs must count accepted forgeries and 5xx, while an accepted header
 * that is only spelled differently must not count as a forgery.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FuzzContext, fuzzServerEntity } from "../../bench/soak/fuzz.ts";
import { Wire } from "../../bench/soak/wire.ts";

let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const authorization = req.headers.authorization;
    req.resume();
    if (!authorization) {
      res.writeHead(401, {
        "www-authenticate": ["SHA-256", "SHA-512-256", "MD5"].map(
          (algorithm) =>
            `Digest realm="broken", qop="auth", algorithm=${algorithm}, nonce="n0nce-0123"`,
        ),
      });
      res.end();
      return;
    }
    if (authorization.length > 900) {
      res.writeHead(500);
      res.end("boom");
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("the soak's fuzzer against a broken server", () => {
  it("[SOAK-FUZZ] counts the forgeries and 5xx of a server that accepts any credentials", async () => {
    const wire = new Wire();
    const ctx = new FuzzContext(wire, Date.now() + 20_000, 400);
    await fuzzServerEntity(ctx, url, { entityId: "pne-1", eukey: "secret" }, 42);
    wire.close();
    const s = ctx.stats;
    expect(s.mutated + s.generated + s.bodies).toBeGreaterThanOrEqual(400);
    expect(s.forgeries).toBeGreaterThan(0);
    expect(s.fiveXx).toBeGreaterThan(0);
    // Re-spelled but identical credentials were accepted too, and not counted as forgeries.
    expect(s.equivalentAccepted).toBeGreaterThan(0);
    expect(s.equivalentAccepted + s.forgeries).toBeLessThanOrEqual(s.mutated + s.generated);
  }, 60_000);
});
