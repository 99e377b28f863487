/**
 * The coordination port's contract (issue #11, src/store/coordination.ts),
 * written once and run against every adapter: in memory here, Redis, Deno KV
 * and Durable Objects in their own test files. `make` returns two handles on
 * ONE backend, as two instances of a fleet would hold them (for the memory
 * adapter both are the same object). Every check is a burst, not a sequence:
 * what must be atomic is tried concurrently through both handles.
 */
import { describe, expect, it } from "vitest";
import type { BudgetClaim } from "../src/store/budgets.ts";
import type { Coordination } from "../src/store/coordination.ts";

export interface CoordinationPair {
  a: Coordination;
  b: Coordination;
  close(): Promise<void>;
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 2));
const unique = (label: string) => `${label}-${crypto.randomUUID()}`;

/** Generous: these tests start nothing, but a loaded CI machine runs bursts slowly. */
const TIMEOUT_MS = 120_000;

export function coordinationContract(name: string, make: () => Promise<CoordinationPair>): void {
  describe(`[FLEET-PORTS] coordination contract: ${name}`, () => {
    async function withPair(run: (pair: CoordinationPair) => Promise<void>): Promise<void> {
      const pair = await make();
      try {
        await run(pair);
      } finally {
        await pair.close();
      }
    }

    it(
      "[FLEET-PORTS][DIGEST-REPLAY] one (nonce, nc) fired 200 times at once through both handles is accepted exactly once",
      async () => {
        await withPair(async ({ a, b }) => {
          const nonce = unique("nonce");
          const expires = Date.now() + 60_000;
          const answers = await Promise.all(
            Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).ledger.accept(nonce, 1, expires)),
          );
          expect(answers.filter(Boolean)).toHaveLength(1);
        });
      },
      TIMEOUT_MS,
    );

    it(
      "[FLEET-PORTS][DIGEST-REPLAY] the nc window is shared: out-of-order values pass once, repeats and values below the window never",
      async () => {
        await withPair(async ({ a, b }) => {
          const nonce = unique("nonce");
          const expires = Date.now() + 60_000;
          expect(await a.ledger.accept(nonce, 5, expires)).toBe(true);
          expect(await b.ledger.accept(nonce, 3, expires)).toBe(true);
          expect(await a.ledger.accept(nonce, 3, expires)).toBe(false);
          expect(await b.ledger.accept(nonce, 5, expires)).toBe(false);
          expect(await a.ledger.accept(nonce, 40, expires)).toBe(true);
          expect(await b.ledger.accept(nonce, 7, expires)).toBe(false); // 33 below the highest
          expect(await b.ledger.accept(nonce, 41, expires)).toBe(true);
        });
      },
      TIMEOUT_MS,
    );

    it(
      "[FLEET-PORTS][DIGEST-EPOCH] both handles report one ledger epoch (a nonce issued by one is judged by the same ledger on the other)",
      async () => {
        await withPair(async ({ a, b }) => {
          expect(a.ledger.epoch.length).toBeGreaterThanOrEqual(16);
          expect([...b.ledger.epoch]).toEqual([...a.ledger.epoch]);
        });
      },
      TIMEOUT_MS,
    );

    it(
      "[FLEET-PORTS][LIMIT-RESERVE] 1,000 concurrent takes of one budget through both handles are granted exactly its free failures",
      async () => {
        await withPair(async ({ a, b }) => {
          const claim: BudgetClaim = {
            key: unique("p:alice"),
            rule: { free: 10, windowMs: 60_000, baseDelayMs: 1000 },
          };
          const now = Date.now();
          const waits = await Promise.all(
            Array.from({ length: 1000 }, (_, i) => (i % 2 ? a : b).budgets.take([claim], now)),
          );
          expect(waits.filter((wait) => wait === 0)).toHaveLength(10);
          expect(Math.min(...waits.filter((wait) => wait > 0))).toBeGreaterThan(0);
        });
      },
      TIMEOUT_MS,
    );

    it(
      "[FLEET-PORTS][LIMIT-RESERVE] a take is all-or-nothing: a blocked claim charges none of the others",
      async () => {
        await withPair(async ({ a, b }) => {
          const rule = { free: 1, windowMs: 60_000, baseDelayMs: 1000 };
          const blocked: BudgetClaim = { key: unique("i:bob"), rule };
          const other: BudgetClaim = { key: unique("p:bob"), rule };
          const now = Date.now();
          expect(await a.budgets.take([blocked], now)).toBe(0); // its one free failure
          expect(await b.budgets.take([blocked, other], now)).toBeGreaterThan(0);
          expect(await a.budgets.take([other], now)).toBe(0); // `other` was not charged above
        });
      },
      TIMEOUT_MS,
    );

    it(
      "[FLEET-PORTS][LIMIT-RESERVE] a refund through one handle gives the charge back on the other; clear forgets",
      async () => {
        await withPair(async ({ a, b }) => {
          const claim: BudgetClaim = {
            key: unique("p:carol"),
            rule: { free: 2, windowMs: 60_000, baseDelayMs: 1000 },
          };
          const now = Date.now();
          for (let i = 0; i < 10; i++) {
            expect(await a.budgets.take([claim], now)).toBe(0);
            await b.budgets.refund([claim]);
          }
          expect(await a.budgets.take([claim], now)).toBe(0);
          expect(await b.budgets.take([claim], now)).toBe(0);
          expect(await a.budgets.take([claim], now)).toBeGreaterThan(0);
          await b.budgets.clear([claim.key]);
          expect(await a.budgets.take([claim], now)).toBe(0);
        });
      },
      TIMEOUT_MS,
    );

    it(
      "[FLEET-PORTS][LIMIT-TRUSTED] a pair trusted through one handle is trusted on the other, until its time",
      async () => {
        await withPair(async ({ a, b }) => {
          const pair = unique("t:dave");
          const now = Date.now();
          expect([...(await b.budgets.trusted([pair], now))]).toEqual([]);
          await a.budgets.trust([pair], now + 60_000);
          expect([...(await b.budgets.trusted([pair, unique("t:x")], now))]).toEqual([pair]);
          expect([...(await b.budgets.trusted([pair], now + 61_000))]).toEqual([]);
        });
      },
      TIMEOUT_MS,
    );

    it(
      "[FLEET-PORTS][SERVER-OWNERSHIP] tasks on one key through both handles never overlap; other keys do not wait",
      async () => {
        await withPair(async ({ a, b }) => {
          const key = unique("id:contested");
          let inside = 0;
          let most = 0;
          const task = (handle: Coordination, i: number) =>
            handle.locks.run(key, async () => {
              inside += 1;
              most = Math.max(most, inside);
              await tick();
              inside -= 1;
              return i;
            });
          let release!: () => void;
          const blocker = a.locks.run(
            unique("id:other"),
            () => new Promise<void>((resolve) => (release = resolve)),
          );
          const results = await Promise.all(
            Array.from({ length: 20 }, (_, i) => task(i % 2 ? a : b, i)),
          );
          expect(results.sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
          expect(most).toBe(1);
          release();
          await blocker;
        });
      },
      TIMEOUT_MS,
    );

    it(
      "[FLEET-PORTS][SERVER-OWNERSHIP] a failing task releases its key; its error reaches its caller only",
      async () => {
        await withPair(async ({ a, b }) => {
          const key = unique("otk:x");
          const failing = a.locks.run(key, async () => {
            await tick();
            throw new Error("boom");
          });
          const next = b.locks.run(key, async () => "next ran");
          await expect(failing).rejects.toThrow("boom");
          expect(await next).toBe("next ran");
        });
      },
      TIMEOUT_MS,
    );
  });
}
