/**
 * TEST-ONLY Worker entry (never in wrangler.toml): the production handler of
 * src/runtime/worker.ts plus one route, POST /__test/coordination, that runs
 * one call of the Durable Object coordination (ledger, budgets, locks' acquire
 * and release) so test/workers/worker-coordination.test.ts can hold the port's
 * contract against the real objects through two Worker processes. Loaded only
 * by the configs test/workers/start.ts writes.
 *
 * Implements: FLEET-WORKERS-TWO
 */
import type { ExecutionContext } from "hono";
import { toBase64url } from "../../src/crypto/bytes.ts";
import { handleRequest, type WorkerEnv } from "../../src/runtime/worker-app.ts";
import {
  durableCoordination,
  durableEpoch,
  LOCK_LEASE_MS,
  lockStub,
} from "../../src/runtime/worker-coordination.ts";
import type { BudgetClaim, BudgetStore } from "../../src/store/budgets.ts";

export { CpnsStore } from "../../src/runtime/worker-store.ts";

type Call =
  | { op: "epoch" }
  | { op: "accept"; nonce: string; nc: number; expiresAtMs: number }
  | { op: "take"; claims: BudgetClaim[]; now: number }
  | { op: "refund"; claims: BudgetClaim[] }
  | { op: "clear"; keys: string[] }
  | { op: "trust"; pairs: string[]; untilMs: number }
  | { op: "trusted"; pairs: string[]; now: number }
  | { op: "acquire"; key: string }
  | { op: "release"; key: string; token: string };

async function coordinationCall(call: Call, env: WorkerEnv): Promise<unknown> {
  const epoch = await durableEpoch(env.CPNS_STORE);
  const { ledger, budgets } = durableCoordination(env.CPNS_STORE, epoch) as {
    ledger: { accept(n: string, nc: number, e: number): Promise<boolean> };
    budgets: BudgetStore;
  };
  switch (call.op) {
    case "epoch":
      return toBase64url(epoch);
    case "accept":
      return ledger.accept(call.nonce, call.nc, call.expiresAtMs);
    case "take":
      return budgets.take(call.claims, call.now);
    case "refund":
      return budgets.refund(call.claims);
    case "clear":
      return budgets.clear(call.keys);
    case "trust":
      return budgets.trust(call.pairs, call.untilMs);
    case "trusted":
      return [...(await budgets.trusted(call.pairs, call.now))];
    case "acquire":
      return lockStub(env.CPNS_STORE, call.key).lockAcquire(call.key, LOCK_LEASE_MS);
    case "release":
      return lockStub(env.CPNS_STORE, call.key).lockRelease(call.key, call.token);
  }
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/__test/coordination" && request.method === "POST") {
      try {
        const result = await coordinationCall((await request.json()) as Call, env);
        return Response.json({ result: result ?? null });
      } catch (error) {
        // The test sees why a call failed (an overloaded object, a broken connection).
        return Response.json({ error: String(error) }, { status: 500 });
      }
    }
    if (url.pathname === "/__test/whoami") {
      return Response.json({ worker: env.TEST_WORKER_NAME ?? null });
    }
    return handleRequest(request, env, ctx);
  },
};
