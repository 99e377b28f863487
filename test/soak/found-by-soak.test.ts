/**
 * Issue #9 "Reliability figures": a finding of the full soak, kept as a test.
 * Once any failure has been counted (the limiter is not empty), the guard
 * resolves the attempted identity from the store before verifying; a Digest
 * username of 8,000 characters (1,000 still pass), sent to the real server process (fs store),
 * then got 503 ERR_STORE_CORRUPT instead of 401: the store key, base64url of
 * the id, makes a file name longer than the file system allows
 * (ENAMETOOLONG), reported as a damaged store (src/server/guard.ts
 * attemptedIdentity -> src/store/repositories.ts). Bad input must get a 4xx.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SpawnedServer, spawnCpnsServer } from "../e2e/server-helpers.ts";

let dir: string;
let server: SpawnedServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cpns-soak-found-"));
  server = await spawnCpnsServer(join(dir, "data"));
}, 60_000);

afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A well-formed answer to a fresh challenge, with a wrong response. */
async function wrongAnswer(username: string): Promise<string> {
  const challenge = await fetch(`${server.url}/cpns/v1/whoami`);
  const nonce = /nonce="([^"]+)"/.exec(challenge.headers.get("www-authenticate") ?? "")?.[1];
  await challenge.arrayBuffer();
  return `Digest username="${username}", realm="cpns", uri="/cpns/v1/whoami", algorithm=SHA-256, nonce="${nonce}", nc=00000001, cnonce="0a4f113b", qop=auth, response="${"0".repeat(64)}"`;
}

describe("found by the soak", () => {
  it.each([
    ["a", 1000],
    ["0123456789abcdef", 500],
  ])(
    "[SOAK-FUZZ] a %s x %i username gets 401, not a 5xx from the store's file names",
    async (unit, times) => {
      // One ordinary failure first: the limiter then counts, and the guard looks identities up.
      const first = await fetch(`${server.url}/cpns/v1/whoami`, {
        headers: { authorization: await wrongAnswer("nobody") },
      });
      expect(first.status, await first.text()).toBe(401);
      const res = await fetch(`${server.url}/cpns/v1/whoami`, {
        headers: { authorization: await wrongAnswer(unit.repeat(times)) },
      });
      expect(res.status, await res.text()).toBe(401);
    },
    30_000,
  );
});
