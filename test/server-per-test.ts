/**
 * For a test file that starts a CPNS Server on loopback inside each test (the
 * handlers are closures made when the app is built, so each test builds its
 * own): the servers a test started are closed after it. Shared by the
 * mutation tests of src/server (issue #9, test/unit/mut-server-*.test.ts).
 */
import { afterEach } from "vitest";
import { startTestServer, type TestServer, type TestServerOptions } from "./e2e/server-helpers.ts";

/** A failure budget no test spends by accident (the budget's own tests set theirs). */
export const GENEROUS_RATE_LIMIT = { maxFailures: 10_000, windowSeconds: 1 };

/** Registers the closing `afterEach`; the function it returns starts a server with `defaults` under `options`. */
export function serverPerTest(
  defaults: TestServerOptions = {},
): (options?: TestServerOptions) => Promise<TestServer> {
  const started: TestServer[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((server) => server.close()));
  });
  return async (options = {}) => {
    const server = await startTestServer({ ...defaults, ...options });
    started.push(server);
    return server;
  };
}
