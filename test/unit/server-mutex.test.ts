/**
 * KeyedMutex (src/store/coordination.ts) and what it is for: two users racing to
 * enroll one Entity ID must not both win (SERVER-OWNERSHIP). Sequencing per
 * key, independence across keys, release on error, no leftover state; then
 * concurrent enrollments through the real app (in process, memory storage,
 * whose async steps interleave), many times over.
 */
import { createStorage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { describe, expect, it } from "vitest";
import { createDigestFetch, type FetchLike } from "../../src/digest/index.ts";
import { createServerApp } from "../../src/server/app.ts";
import { KeyedMutex } from "../../src/store/coordination.ts";
import { createUserSealed } from "../admin-users.ts";

const tick = () => new Promise((r) => setTimeout(r, 1));

describe("[SERVER-OWNERSHIP] KeyedMutex", () => {
  it("[SERVER-OWNERSHIP] tasks of one key run one at a time, in order", async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    let inside = 0;
    const task = (name: string) =>
      mutex.run("k", async () => {
        inside += 1;
        expect(inside).toBe(1);
        log.push(`${name}:start`);
        await tick();
        log.push(`${name}:end`);
        inside -= 1;
        return name;
      });
    expect(await Promise.all([task("a"), task("b"), task("c")])).toEqual(["a", "b", "c"]);
    expect(log).toEqual(["a:start", "a:end", "b:start", "b:end", "c:start", "c:end"]);
  });

  it("[SERVER-OWNERSHIP] different keys do not wait for each other", async () => {
    const mutex = new KeyedMutex();
    let release!: () => void;
    const blocker = mutex.run("a", () => new Promise<void>((r) => (release = r)));
    const other = await mutex.run("b", async () => "b done");
    expect(other).toBe("b done");
    release();
    await blocker;
  });

  it("[SERVER-OWNERSHIP] a failing task releases the key and its error reaches its caller only", async () => {
    const mutex = new KeyedMutex();
    const failing = mutex.run("k", async () => {
      await tick();
      throw new Error("boom");
    });
    const next = mutex.run("k", async () => "next ran");
    await expect(failing).rejects.toThrow("boom");
    expect(await next).toBe("next ran");
    expect(await mutex.run("k", async () => "again")).toBe("again");
  });
});

describe("[SERVER-OWNERSHIP][SEED-5.x.3-2] concurrent enrollments of one Entity ID by two users", () => {
  async function setup(): Promise<FetchLike> {
    const app = createServerApp({
      realm: "cpns-race",
      storage: createStorage({ driver: memoryDriver() }),
      masterKey: crypto.getRandomValues(new Uint8Array(32)),
      adminToken: "race-admin-token-0123456789abcdef",
      digestSecret: "race-digest-secret-0123456789abcdef",
    });
    const transport: FetchLike = (request) => app.fetch(request);
    for (const userId of ["alice", "bob"]) {
      const res = await createUserSealed({
        transport,
        base: "http://cpns.test",
        adminToken: "race-admin-token-0123456789abcdef",
        userId,
        password: `${userId}-race-password`,
      });
      expect(res.status).toBe(201);
    }
    return transport;
  }

  it("[SERVER-OWNERSHIP] exactly one owner wins (201), the other gets 403 ERR_NOT_OWNER, 25 times over", async () => {
    const transport = await setup();
    const client = (userId: string) =>
      createDigestFetch({
        username: userId,
        password: `${userId}-race-password`,
        fetch: transport,
      });
    const alice = client("alice");
    const bob = client("bob");
    // Warm both clients so the racing requests go out preemptively, in one round trip each.
    await alice("http://cpns.test/cpns/v1/entities");
    await bob("http://cpns.test/cpns/v1/entities");
    const winners: Record<string, number> = { alice: 0, bob: 0 };
    for (let i = 0; i < 25; i++) {
      const entityId = `contested-${i}`;
      const enroll = (fetcher: typeof alice) =>
        fetcher("http://cpns.test/cpns/v1/enrollments", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ entityId, type: i % 2 ? "PNE" : "PNGW" }),
        });
      const order: Array<["alice" | "bob", typeof alice]> =
        i % 2
          ? [
              ["alice", alice],
              ["bob", bob],
            ]
          : [
              ["bob", bob],
              ["alice", alice],
            ];
      const results = await Promise.all(
        order.map(async ([name, fetcher]) => {
          const res = await enroll(fetcher);
          return { name, status: res.status, body: (await res.json()) as Record<string, unknown> };
        }),
      );
      expect(results.map((r) => r.status).sort()).toEqual([201, 403]);
      const won = results.find((r) => r.status === 201);
      const lost = results.find((r) => r.status === 403);
      expect(lost?.body.code).toBe("ERR_NOT_OWNER");
      expect(won?.body).toMatchObject({ userId: won?.name, keyVersion: 1 });
      winners[won?.name as string] = (winners[won?.name as string] ?? 0) + 1;
    }
    expect((winners.alice ?? 0) + (winners.bob ?? 0)).toBe(25);
  });

  it("[SERVER-OWNERSHIP][ENTITY-LIFECYCLE] one user enrolling one id twice at once: versions 1 and 2, never two version 1s", async () => {
    const transport = await setup();
    const alice = createDigestFetch({
      username: "alice",
      password: "alice-race-password",
      fetch: transport,
    });
    await alice("http://cpns.test/cpns/v1/entities");
    for (let i = 0; i < 10; i++) {
      const enroll = () =>
        alice("http://cpns.test/cpns/v1/enrollments", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ entityId: `twice-${i}`, type: "PNE" }),
        });
      const answers = await Promise.all([enroll(), enroll(), enroll()]);
      const got = await Promise.all(
        answers.map(async (r) => [
          r.status,
          ((await r.json()) as { keyVersion: number }).keyVersion,
        ]),
      );
      expect(got.sort()).toEqual([
        [200, 2],
        [200, 3],
        [201, 1],
      ]);
    }
  });
});
