/**
 * Bounded store keys (issue #9 item 9; src/store/repositories.ts): normal ids
 * keep the key they always had (an existing data folder still reads), long ids
 * get a fixed-length hashed key that no encoded id can equal.
 */
import { createStorage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { describe, expect, it } from "vitest";
import { idSegment, UserRepository } from "../../src/store/repositories.ts";

describe("[STORE-LONG-ID] store keys are bounded", () => {
  it("[STORE-LONG-ID] a normal id keeps its base64url key; a 15 KB id gets '~' + 64 hex; distinct long ids stay distinct", () => {
    expect(idSegment("alice")).toBe("YWxpY2U");
    expect(idSegment("a".repeat(96))).toHaveLength(128);
    const long = idSegment("a".repeat(15_000));
    expect(long).toMatch(/^~[0-9a-f]{64}$/);
    expect(idSegment(`${"a".repeat(14_999)}b`)).not.toBe(long);
  });

  it("[STORE-LONG-ID] a record under a long id round-trips, and its key is short", async () => {
    const storage = createStorage({ driver: memoryDriver() });
    const users = new UserRepository(storage);
    const userId = "u".repeat(15_000);
    const record = {
      v: 1 as const,
      userId,
      ha1: { MD5: "x", "SHA-256": "y", "SHA-512-256": "z" },
      createdAt: new Date(0).toISOString(),
    };
    expect(await users.create(record, [])).toBe(true);
    expect((await users.get(userId))?.userId).toBe(userId);
    for (const key of await storage.getKeys()) expect(key.length).toBeLessThan(80);
  });
});
