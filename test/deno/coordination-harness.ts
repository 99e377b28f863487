/**
 * Test harness (run by Deno, not vitest): one process's Deno KV coordination
 * (src/runtime/deno-kv.ts) on the KV file CPNS_KV_PATH, exposed as a small
 * JSON RPC on PORT, so test/conformance/deno-kv.test.ts can run the port's
 * contract (test/coordination-contract.ts) through TWO such processes on ONE
 * KV file: every call crosses a process boundary and meets the other
 * process's writes only in the KV. Locks are exposed as acquire/release, so
 * the contract's tasks run in the test process between the two calls.
 *
 * Run: deno run --unstable-kv --allow-net --allow-env --allow-read --allow-write test/deno/coordination-harness.ts
 */
import { busyTolerantKv, type DenoKv, denoKvCoordination } from "../../src/runtime/deno-kv.ts";

declare const Deno: {
  env: { get(name: string): string | undefined };
  openKv(path?: string): Promise<DenoKv>;
  serve(
    options: { port: number; hostname: string; onListen?: () => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): unknown;
};

const kv = busyTolerantKv(await Deno.openKv(Deno.env.get("CPNS_KV_PATH")));
// Short leases and waits, so the tests of a dead holder and of a bounded wait finish quickly.
const coordination = await denoKvCoordination(kv, {
  leaseMs: Number(Deno.env.get("CPNS_KV_LEASE_MS") ?? 30_000),
  lockWaitMs: Number(Deno.env.get("CPNS_KV_LOCK_WAIT_MS") ?? 10_000),
});

type Call = { op: string; args: unknown[] };

async function run({ op, args }: Call): Promise<unknown> {
  const a = args as [never, never, never];
  switch (op) {
    case "epoch":
      return [...coordination.ledger.epoch];
    case "accept":
      return coordination.ledger.accept(a[0], a[1], a[2]);
    case "take":
      return coordination.budgets.take(a[0], a[1]);
    case "refund":
      return coordination.budgets.refund(a[0]);
    case "clear":
      return coordination.budgets.clear(a[0]);
    case "trust":
      return coordination.budgets.trust(a[0], a[1]);
    case "trusted":
      return [...(await coordination.budgets.trusted(a[0], a[1]))];
    case "acquire":
      return coordination.locks.acquire(a[0]);
    case "release":
      return coordination.locks.release(a[0], a[1]);
    default:
      throw new Error(`unknown op ${op}`);
  }
}

Deno.serve(
  { port: Number(Deno.env.get("PORT")), hostname: "127.0.0.1", onListen: () => {} },
  async (request) => {
    if (new URL(request.url).pathname === "/health") return Response.json({ status: "ok" });
    try {
      const result = await run((await request.json()) as Call);
      return Response.json({ result: result ?? null });
    } catch (err) {
      const { message, code } = err as { message?: string; code?: string };
      return Response.json({ error: String(message), code }, { status: 500 });
    }
  },
);
