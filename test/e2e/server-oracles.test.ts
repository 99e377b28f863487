/**
 * Issue #9 items 8 and 9 from the attacker's side: unknown and
 * known-but-wrong names cost the server the same work (store reads and
 * AES-GCM opens, counted with an instrumented storage and crypto provider),
 * another user's entity answers exactly like a missing one, and ids of any
 * length answer 401/404 (never 503) on the real fs driver.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStorage, type Storage } from "unstorage";
import fsDriver from "unstorage/drivers/fs";
import memoryDriver from "unstorage/drivers/memory";
import { afterEach, describe, expect, it } from "vitest";
import { createDigestFetch } from "../../src/digest/index.ts";
import { expectProblem, startTestServer, type TestServer } from "./server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-oracle-password" };
const BOB = { userId: "bob", password: "bob-oracle-password-2" };

let server: TestServer | undefined;
let folder: string | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  if (folder) rmSync(folder, { recursive: true, force: true });
  folder = undefined;
});

/** Counts every read the server makes of its storage. */
function countingStorage(inner: Storage): { storage: Storage; reads: { n: number } } {
  const reads = { n: 0 };
  const storage = new Proxy(inner, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property === "getItem" || property === "hasItem" || property === "getKeys") {
        return (...args: unknown[]) => {
          reads.n += 1;
          if (process.env.DEBUG_READS)
            console.log("READ", String(property), String(args[0]).slice(0, 60));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return value;
    },
  });
  return { storage, reads };
}

/** Web Crypto whose AES-GCM decryptions are counted. */
function countingCrypto(): { crypto: Crypto; opens: { n: number } } {
  const opens = { n: 0 };
  const subtle = new Proxy(globalThis.crypto.subtle, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as (...a: unknown[]) => unknown;
      if (property !== "decrypt") return typeof value === "function" ? value.bind(target) : value;
      return (...args: unknown[]) => {
        opens.n += 1;
        return value.apply(target, args);
      };
    },
  });
  const crypto = {
    subtle,
    getRandomValues: <T extends ArrayBufferView>(array: T) =>
      globalThis.crypto.getRandomValues(array),
    randomUUID: () => globalThis.crypto.randomUUID(),
  } as unknown as Crypto;
  return { crypto, opens };
}

describe("[ORACLE-LOOKUP] unknown and known names cost the same work", () => {
  it("[ORACLE-LOOKUP] a wrong answer for a user, an entity, a revoked entity, an unknown name and an unknown userhash: same store reads, one AES-GCM open each", async () => {
    const counted = countingStorage(createStorage({ driver: memoryDriver() }));
    const { crypto, opens } = countingCrypto();
    server = await startTestServer({
      storage: counted.storage,
      crypto,
      rateLimit: { maxFailures: 1000, windowSeconds: 60 },
    });
    const s = server;
    await s.createUser(ALICE.userId, ALICE.password);
    await s.agent().enroll({ ...ALICE, entityId: "watch-live", type: "PNE" });
    await s.agent().enroll({ ...ALICE, entityId: "watch-gone", type: "PNE" });
    expect(
      (
        await s.asUser(ALICE.userId, ALICE.password)("/cpns/v1/entities/watch-gone", {
          method: "DELETE",
        })
      ).status,
    ).toBe(200);

    const cost = async (username: string, userhash: boolean) => {
      // The challenge round trip first (no lookup), then count only the answer.
      const before = { reads: counted.reads.n, opens: opens.n };
      let challenged = false;
      const res = await createDigestFetch({
        username,
        password: "wrong-answer",
        userhash,
        requireRspauth: false,
        fetch: async (request) => {
          if (request.headers.has("authorization") && !challenged) {
            challenged = true;
            before.reads = counted.reads.n;
            before.opens = opens.n;
          }
          return fetch(request);
        },
      })(`${s.url}/cpns/v1/entities`);
      expect(res.status).toBe(401);
      await res.arrayBuffer();
      return { reads: counted.reads.n - before.reads, opens: opens.n - before.opens };
    };
    await cost("alice", false); // warm-up: the first answer may still see the enrolment's reads
    const kinds = {
      user: await cost("alice", false),
      entity: await cost("watch-live", false),
      revoked: await cost("watch-gone", false),
      unknown: await cost("nobody", false),
      userUserhash: await cost("alice", true),
      unknownUserhash: await cost("nobody", true),
    };
    expect(kinds.user.opens).toBe(1);
    for (const kind of [kinds.entity, kinds.revoked, kinds.unknown])
      expect(kind).toEqual(kinds.user);
    expect(kinds.userUserhash.opens).toBe(1);
    expect(kinds.unknownUserhash).toEqual(kinds.userUserhash);
  });
});

describe("[ORACLE-OWNER] another user's entity answers like a missing one", () => {
  it("[ORACLE-OWNER] bob reading or revoking alice's entity gets the same 404 (status, header names, body) as for an id nobody holds", async () => {
    server = await startTestServer();
    const s = server;
    await s.createUser(ALICE.userId, ALICE.password);
    await s.createUser(BOB.userId, BOB.password);
    await s.agent().enroll({ ...ALICE, entityId: "alice-watch", type: "PNE" });
    const asBob = s.asUser(BOB.userId, BOB.password);
    for (const method of ["GET", "DELETE"]) {
      const taken = await asBob("/cpns/v1/entities/alice-watch", { method });
      const missing = await asBob("/cpns/v1/entities/nobody-watch", { method });
      const names = (r: Response) =>
        [...r.headers.keys()].filter((n) => n !== "date" && n !== "authentication-info").sort();
      expect(names(taken)).toEqual(names(missing));
      const [a, b] = [
        await expectProblem(taken, 404, "ERR_NOT_FOUND"),
        await expectProblem(missing, 404, "ERR_NOT_FOUND"),
      ];
      expect(a).toEqual(b);
    }
    // Alice's entity is untouched.
    const view = await s.asUser(ALICE.userId, ALICE.password)("/cpns/v1/entities/alice-watch");
    expect(((await view.json()) as { state: string }).state).toBe("active");
  });
});

describe("[STORE-LONG-ID] ids of any length never reach a file-name limit", () => {
  it("[STORE-LONG-ID] on the fs driver: a 15 KB username answers 401 (and is counted as a failure), a 7 KB path id 400 or 404; the server keeps working", async () => {
    folder = mkdtempSync(join(tmpdir(), "cpns-long-id-"));
    server = await startTestServer({
      storage: createStorage({ driver: fsDriver({ base: folder }) }),
      rateLimit: { maxFailures: 3, windowSeconds: 60 },
    });
    const s = server;
    await s.createUser(ALICE.userId, ALICE.password);
    const long = "a".repeat(15_000);
    for (const [name, userhash] of [
      [long, false],
      ["b".repeat(300), false],
      [long, true],
    ] as const) {
      const res = await createDigestFetch({
        username: name,
        password: "x",
        userhash,
        requireRspauth: false,
      })(`${s.url}/cpns/v1/entities`);
      await expectProblem(res, 401, "ERR_DIGEST_UNAUTHORIZED");
    }
    // Counted: the long name's (identity, address) budget of 3 runs out like any other (its
    // plain and userhash spellings above already cost 2 of it).
    const longAttempt = () =>
      createDigestFetch({ username: long, password: "x", requireRspauth: false })(
        `${s.url}/cpns/v1/entities`,
      );
    await expectProblem(await longAttempt(), 401, "ERR_DIGEST_UNAUTHORIZED");
    await expectProblem(await longAttempt(), 429, "ERR_RATE_LIMITED");
    const failed = s.events().filter((e) => e.event === "auth.failed");
    expect(failed[0]).toMatchObject({ username: "a".repeat(128), truncated: true });
    const asAlice = s.asUser(ALICE.userId, ALICE.password);
    const noProof = createDigestFetch({
      username: ALICE.userId,
      password: ALICE.password,
      requireRspauth: false,
    });
    for (const method of ["GET", "DELETE"]) {
      // 7 KB in the path and again in the uri (15 KB would exceed Node's 16 KB header limit: 431).
      const huge = await noProof(`${s.url}/cpns/v1/entities/${"c".repeat(7_000)}`, { method });
      expect([400, 404]).toContain(huge.status);
      await huge.arrayBuffer();
      await expectProblem(
        await asAlice(`/cpns/v1/entities/${"c".repeat(200)}`, { method }),
        404,
        "ERR_NOT_FOUND",
      );
    }
    expect((await asAlice("/cpns/v1/entities")).status).toBe(200);
  });
});
