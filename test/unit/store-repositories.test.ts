/**
 * The record repositories (src/store/repositories.ts): one key per record
 * named by base64url(id), so no id can name a path of its own (checked on
 * the real fs driver with hostile ids); create-if-absent for users; userhash
 * lookups through the index; per-user listing; and driver failures turned
 * into ERR_STORE_UNAVAILABLE without the driver's message.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createStorage, type Storage } from "unstorage";
import fsDriver from "unstorage/drivers/fs";
import memoryDriver from "unstorage/drivers/memory";
import { afterAll, describe, expect, it } from "vitest";
import { ALGORITHMS, computeUserhash } from "../../src/digest/index.ts";
import { CpnsError } from "../../src/errors.ts";
import type { EntityRecord, UserRecord } from "../../src/store/records.ts";
import { EntityRepository, UserRepository } from "../../src/store/repositories.ts";
import { readTree } from "../e2e/server-helpers.ts";

const entity = (entityId: string, userId = "alice"): EntityRecord => ({
  v: 1,
  entityId,
  userId,
  type: "PNE",
  keyVersion: 1,
  eukey: "sealed",
  machine: { value: "active", context: {} },
  createdAt: "2025-01-01T00:00:00.000Z",
  updatedAt: "2025-01-01T00:00:00.000Z",
});

const user = (userId: string, ha1 = "sealed-ha1"): UserRecord => ({
  v: 1,
  userId,
  ha1: { "SHA-256": ha1, "SHA-512-256": ha1, MD5: ha1 },
  createdAt: "2025-01-01T00:00:00.000Z",
});

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("[STORE-PERSISTENCE][SERVER-BAD-INPUT] repositories", () => {
  it("[SERVER-BAD-INPUT] hostile ids stay inside the fs store (keys are base64url of the id)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cpns-repo-"));
    dirs.push(dir);
    const base = join(dir, "store");
    const storage = createStorage({ driver: fsDriver({ base }) });
    const entities = new EntityRepository(storage);
    const hostile = [
      "../../escape",
      "/etc/passwd",
      "a:b:c",
      "..",
      "C:\\x",
      "a/../../b",
      "%2e%2e/x",
    ];
    for (const id of hostile) await entities.put(entity(id));
    for (const id of hostile) expect((await entities.get(id))?.entityId).toBe(id);
    const files = readTree(dir).map((f) => f.path);
    expect(files.length).toBe(hostile.length);
    for (const file of files) {
      expect(file.startsWith(`${base}/`)).toBe(true);
      expect(file.slice(base.length + 1)).toMatch(/^entity\/[A-Za-z0-9_-]+$/);
    }
  });

  it("[SERVER-USER-HA1] create is create-if-absent: a second create answers false and writes nothing", async () => {
    const storage = createStorage({ driver: memoryDriver() });
    const users = new UserRepository(storage);
    expect(await users.create(user("alice", "first"), [])).toBe(true);
    expect(await users.create(user("alice", "second"), [])).toBe(false);
    expect((await users.get("alice"))?.ha1.MD5).toBe("first");
    expect(await users.list()).toEqual(["alice"]);
  });

  it("[SERVER-USER-HA1] userhash lookups find the record in any hex case; non-hex userhashes find nothing", async () => {
    const storage = createStorage({ driver: memoryDriver() });
    const users = new UserRepository(storage);
    const spec = ALGORITHMS["SHA-256"];
    const userhash = computeUserhash(spec, "alice", "cpns");
    await users.create(user("alice"), [{ hash: "SHA-256", userhash }]);
    expect((await users.findByUserhash("SHA-256", userhash))?.userId).toBe("alice");
    expect((await users.findByUserhash("SHA-256", userhash.toUpperCase()))?.userId).toBe("alice");
    expect(await users.findByUserhash("MD5", userhash)).toBeUndefined();
    for (const bad of ["", "alice", "../x", `${userhash}:x`, "zz".repeat(32)]) {
      expect(await users.findByUserhash("SHA-256", bad)).toBeUndefined();
    }
  });

  it("[SEED-5.x.3-1] listByUser lists one owner's entities, sorted", async () => {
    const entities = new EntityRepository(createStorage({ driver: memoryDriver() }));
    for (const [id, owner] of [
      ["b", "alice"],
      ["a", "alice"],
      ["c", "bob"],
    ]) {
      await entities.put(entity(id as string, owner));
    }
    expect((await entities.listByUser("alice")).map((e) => e.entityId)).toEqual(["a", "b"]);
    expect((await entities.listByUser("carol")).map((e) => e.entityId)).toEqual([]);
  });

  it("[STORE-NO-HALF-WRITE] a driver failure is ERR_STORE_UNAVAILABLE without the driver's message", async () => {
    const broken = new Proxy(createStorage({ driver: memoryDriver() }), {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== "function") return value;
        return () => Promise.reject(new Error("EACCES /srv/cpns/store secret-path"));
      },
    }) as Storage;
    const calls: Array<() => Promise<unknown>> = [
      () => new EntityRepository(broken).get("x"),
      () => new EntityRepository(broken).put(entity("x")),
      () => new EntityRepository(broken).listByUser("alice"),
      () => new UserRepository(broken).get("x"),
      () => new UserRepository(broken).create(user("x"), []),
      () => new UserRepository(broken).list(),
    ];
    for (const call of calls) {
      const error = await call().then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(CpnsError);
      expect((error as CpnsError).code).toBe("ERR_STORE_UNAVAILABLE");
      expect((error as CpnsError).message).not.toContain("secret-path");
    }
  });
});
