/**
 * Runs the shared HTTP conformance suite (suite.ts) against the demo app served
 * by a real Node child process on a free loopback port:
 * tsx src/runtime/node-demo.ts, served by @hono/node-server.
 * Same app, same suite, same expectations on every runtime.
 */
import { afterAll, beforeAll, describe } from "vitest";
import { type RuntimeProcess, startNode } from "./spawn.ts";
import { runConformance } from "./suite.ts";

describe("[DIGEST-RUNTIME-NODE] Digest demo app on Node (tsx src/runtime/node-demo.ts, @hono/node-server)", () => {
  let runtime: RuntimeProcess | undefined;

  beforeAll(async () => {
    runtime = await startNode();
  }, 120_000);

  afterAll(async () => {
    await runtime?.stop();
  }, 30_000);

  runConformance("node", () => {
    if (runtime === undefined) throw new Error("node runtime did not start");
    return runtime.baseUrl;
  });
});
