/**
 * Runs the shared HTTP conformance suite (suite.ts) against the demo app served
 * by a real workerd child process on a free loopback port:
 * wrangler dev --local running src/runtime/worker.ts.
 * Same app, same suite, same expectations on every runtime.
 */
import { afterAll, beforeAll, describe } from "vitest";
import { type RuntimeProcess, startWorkerd } from "./spawn.ts";
import { runConformance } from "./suite.ts";

describe("[DIGEST-RUNTIME-WORKERD] Digest demo app on workerd (wrangler dev --local, src/runtime/worker.ts)", () => {
  let runtime: RuntimeProcess | undefined;

  beforeAll(async () => {
    runtime = await startWorkerd();
  }, 120_000);

  afterAll(async () => {
    await runtime?.stop();
  }, 30_000);

  runConformance("workerd", () => {
    if (runtime === undefined) throw new Error("workerd runtime did not start");
    return runtime.baseUrl;
  });
});
