/**
 * For a test file that starts a CPNS Server on loopback inside each test (the
 * handlers are closures made when the app is built, so each test builds its
 * own): the servers a test started are closed after it; and handlers built
 * again behind a principal of the test's choosing. Shared by the mutation
 * tests of src/server (issue #9, test/unit/mut-server-*.test.ts).
 */
import { Hono } from "hono";
import { afterEach } from "vitest";
import { CpnsError, problemResponse } from "../src/errors.ts";
import type { ServerEnv } from "../src/server/context.ts";
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

/**
 * An app of handlers built again over a running server's parts, behind
 * variables the test chooses (a principal, the Digest exchange): what a
 * handler does if the guard in front of it ever let the wrong caller through.
 * A CpnsError becomes its problem; anything else (a TypeError a mutant
 * caused) is told apart by status 599.
 */
export function appBehind(
  vars: Pick<ServerEnv["Variables"], "principal"> & Partial<ServerEnv["Variables"]>,
  mount: (app: Hono<ServerEnv>) => void,
): Hono<ServerEnv> {
  const app = new Hono<ServerEnv>();
  app.use(async (c, next) => {
    c.set("principal", vars.principal);
    if (vars.digest) c.set("digest", vars.digest);
    await next();
  });
  mount(app);
  app.onError((err) =>
    err instanceof CpnsError
      ? problemResponse(err.code, err.detail)
      : new Response(String(err), { status: 599 }),
  );
  return app;
}
