/**
 * What "one server" means when the CPNS Server runs as two instances on one
 * store and one coordination (issue #11, "Atomicity is the point"), written
 * once and run against every fleet: two apps in one process on the memory
 * adapter (test/unit/coordination-memory.test.ts), two Node processes on a
 * real Redis, two Workers isolates on Durable Objects. Each instance is
 * reached only through its base URL and a fetch, and each attack is a burst
 * aimed at both instances at once:
 *
 * - a captured request fired at both instances at once: exactly one success;
 * - a revocation done through one instance is refused at once by the other;
 * - two users enrolling one Entity ID through the two instances at once:
 *   exactly one owner;
 * - the failure budget is shared: wrong answers spread over the instances
 *   are counted together.
 */
import { describe, expect, it } from "vitest";
import { EntityAgent } from "../src/agent/agent.ts";
import { MemoryKeyStore } from "../src/agent/keystore.ts";
import { createDigestFetch, type FetchLike } from "../src/digest/index.ts";
import { createUserSealed } from "./admin-users.ts";

export interface FleetInstance {
  base: string;
  fetch: FetchLike;
}

export interface Fleet {
  adminToken: string;
  instances: [FleetInstance, FleetInstance];
  close(): Promise<void>;
}

const json = { "content-type": "application/json" };

async function newUser(fleet: Fleet, label: string): Promise<{ userId: string; password: string }> {
  const userId = `${label}-${crypto.randomUUID().slice(0, 8)}`;
  const password = `${userId}-Correct-Horse-Battery`;
  const [one] = fleet.instances;
  const res = await createUserSealed({
    transport: one.fetch,
    base: one.base,
    adminToken: fleet.adminToken,
    userId,
    password,
  });
  expect(res.status).toBe(201);
  return { userId, password };
}

/** The request a genuine client would send next, computed but never sent. */
async function captured(
  instance: FleetInstance,
  user: { userId: string; password: string },
  path: string,
): Promise<Request> {
  let held: Request | undefined;
  const client = createDigestFetch({
    username: user.userId,
    password: user.password,
    fetch: async (request) => {
      if (!request.headers.has("authorization")) return instance.fetch(request);
      held = request.clone();
      return new Response(null, { status: 204 });
    },
  });
  await client(`${instance.base}${path}`);
  if (!held) throw new Error("the client never answered the challenge");
  return held;
}

/** The same request aimed at another instance (same method, path, headers and body). */
function aimedAt(request: Request, instance: FleetInstance): Request {
  const url = new URL(request.url);
  return new Request(`${instance.base}${url.pathname}${url.search}`, {
    method: request.method,
    headers: request.headers,
  });
}

/** Generous: these tests start nothing, but a loaded CI machine runs bursts slowly. */
const TIMEOUT_MS = 120_000;

export function twoInstanceScenarios(name: string, make: () => Promise<Fleet>): void {
  describe(`[FLEET-ATOMIC] two instances, one server: ${name}`, () => {
    async function withFleet(run: (fleet: Fleet) => Promise<void>): Promise<void> {
      const fleet = await make();
      try {
        await run(fleet);
      } finally {
        await fleet.close();
      }
    }

    it(
      "[FLEET-ATOMIC][DIGEST-REPLAY] one captured request fired at both instances at once: exactly one success, five times over",
      async () => {
        await withFleet(async (fleet) => {
          const user = await newUser(fleet, "replayed");
          const [one, two] = fleet.instances;
          for (let round = 0; round < 5; round++) {
            const request = await captured(one, user, "/cpns/v1/entities");
            const statuses = await Promise.all(
              [one, two, one, two].map((instance) =>
                Promise.resolve(instance.fetch(aimedAt(request, instance))).then(
                  (res) => res.status,
                ),
              ),
            );
            expect(statuses.filter((status) => status === 200)).toHaveLength(1);
            expect(statuses.filter((status) => status === 401)).toHaveLength(3);
          }
        });
      },
      TIMEOUT_MS,
    );

    it(
      "[FLEET-ATOMIC][DIGEST-EPOCH] a challenge of one instance answered to the other is accepted (a load balancer may alternate), and only once",
      async () => {
        await withFleet(async (fleet) => {
          const user = await newUser(fleet, "balanced");
          const [one, two] = fleet.instances;
          const request = await captured(one, user, "/cpns/v1/entities");
          expect((await two.fetch(aimedAt(request, two))).status).toBe(200);
          expect((await one.fetch(aimedAt(request, one))).status).toBe(401);
        });
      },
      TIMEOUT_MS,
    );

    it(
      "[FLEET-ATOMIC][SEED-5.x.3-1] a revocation through one instance is refused at once by the other",
      async () => {
        await withFleet(async (fleet) => {
          const user = await newUser(fleet, "revoker");
          const [one, two] = fleet.instances;
          const entityId = `pne-${crypto.randomUUID().slice(0, 8)}`;

          const keys = new MemoryKeyStore();
          await new EntityAgent({ serverUrl: two.base, store: keys, fetch: two.fetch }).enroll({
            ...user,
            entityId,
            type: "PNE",
          });
          const viaTwo = new EntityAgent({ serverUrl: two.base, store: keys, fetch: two.fetch });
          expect(await viaTwo.whoami(entityId)).toMatchObject({ entityId });

          const owner = createDigestFetch({
            username: user.userId,
            password: user.password,
            qop: "auth-int",
            fetch: one.fetch,
          });
          const revoked = await owner(`${one.base}/cpns/v1/entities/${entityId}`, {
            method: "DELETE",
          });
          expect(revoked.status).toBeLessThan(300);
          await expect(viaTwo.whoami(entityId)).rejects.toMatchObject({ status: 401 });
        });
      },
      TIMEOUT_MS,
    );

    it(
      "[FLEET-ATOMIC][SERVER-OWNERSHIP] two users enrolling one Entity ID through the two instances at once: exactly one owner, ten times over",
      async () => {
        await withFleet(async (fleet) => {
          const alice = await newUser(fleet, "alice");
          const bob = await newUser(fleet, "bob");
          const [one, two] = fleet.instances;
          const client = (user: typeof alice, instance: FleetInstance) =>
            createDigestFetch({
              username: user.userId,
              password: user.password,
              qop: "auth-int",
              fetch: instance.fetch,
            });
          const aliceOnOne = client(alice, one);
          const bobOnTwo = client(bob, two);
          // Warm both so the racing requests go out preemptively, one round trip each.
          await aliceOnOne(`${one.base}/cpns/v1/entities`);
          await bobOnTwo(`${two.base}/cpns/v1/entities`);
          for (let i = 0; i < 10; i++) {
            const entityId = `contested-${crypto.randomUUID().slice(0, 8)}`;
            const body = JSON.stringify({ entityId, type: "PNE" });
            const answers = await Promise.all([
              aliceOnOne(`${one.base}/cpns/v1/enrollments`, {
                method: "POST",
                headers: json,
                body,
              }),
              bobOnTwo(`${two.base}/cpns/v1/enrollments`, { method: "POST", headers: json, body }),
            ]);
            const statuses = answers.map((res) => res.status).sort();
            expect(statuses).toEqual([201, 403]);
            const lost = answers.find((res) => res.status === 403) as Response;
            expect(((await lost.json()) as { code: string }).code).toBe("ERR_NOT_OWNER");
          }
        });
      },
      TIMEOUT_MS,
    );

    it(
      "[FLEET-ATOMIC][LIMIT-PAIR] wrong answers spread over both instances share one budget: the eleventh is 429 on either",
      async () => {
        await withFleet(async (fleet) => {
          const user = await newUser(fleet, "guessed");
          const [one, two] = fleet.instances;
          const wrong = (instance: FleetInstance) =>
            createDigestFetch({
              username: user.userId,
              password: "not-the-password",
              fetch: instance.fetch,
            })(`${instance.base}/cpns/v1/entities`).then((res) => res.status);
          const statuses: number[] = [];
          for (let i = 0; i < 10; i++) statuses.push(await wrong(i % 2 ? two : one));
          expect(statuses).toEqual(Array(10).fill(401));
          expect(await wrong(one)).toBe(429);
          expect(await wrong(two)).toBe(429);
        });
      },
      TIMEOUT_MS,
    );
  });
}
