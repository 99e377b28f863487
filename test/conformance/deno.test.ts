/**
 * Runs the shared HTTP conformance suite (suite.ts) against the demo app served
 * by a real Deno child process on a free loopback port:
 * deno run src/runtime/deno-demo.ts, served by Deno.serve.
 * Same app, same suite, same expectations on every runtime.
 */
import { afterAll, beforeAll, describe } from "vitest";
import { type RuntimeProcess, startDeno } from "./spawn.ts";
import { runConformance } from "./suite.ts";

describe("[DIGEST-RUNTIME-DENO] Digest demo app on Deno (deno run src/runtime/deno-demo.ts, Deno.serve)", () => {
  let runtime: RuntimeProcess | undefined;

  beforeAll(async () => {
    runtime = await startDeno();
  }, 120_000);

  afterAll(async () => {
    await runtime?.stop();
  }, 30_000);

  runConformance("deno", () => {
    if (runtime === undefined) throw new Error("deno runtime did not start");
    return runtime.baseUrl;
  });
});
