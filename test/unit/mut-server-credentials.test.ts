/**
 * Issue #9 (mutation testing of src/server): the Digest credential lookup and
 * the at-rest seal ids of src/server/credentials.ts, from the attacker's side.
 * Each test tells apart a mutant the first measurement left undetected: a
 * malformed name must never reach the store, a user without an HA1 for the
 * asked hash is "unknown" (not an error), a sealed secret moved to another
 * owner or OTK field must not open, and a rotated or revoked key is refused.
 */
import { createStorage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { describe, expect, it } from "vitest";
import { toBase64url, utf8 } from "../../src/crypto/bytes.ts";
import { errorCodeOf } from "../../src/errors.ts";
import type { ServerParts } from "../../src/server/context.ts";
import {
  credentialLookup,
  currentEukeyOf,
  eukeySealId,
  ha1SealId,
  otkSealId,
} from "../../src/server/credentials.ts";
import { AtRestCipher } from "../../src/store/at-rest.ts";
import type { EntityRecord, UserRecord } from "../../src/store/records.ts";
import { EntityRepository, UserRepository } from "../../src/store/repositories.ts";

const EUKEY = new Uint8Array(32).fill(7);

function entityRecord(entityId: string, sealed: string | undefined, tls?: boolean): EntityRecord {
  return {
    v: 1,
    entityId,
    userId: "alice",
    type: "PNE",
    keyVersion: 1,
    ...(sealed === undefined ? {} : { eukey: sealed }),
    ...(tls === undefined ? {} : { tls }),
    machine: {
      value: "active",
      context: { entityId, userId: "alice", entityType: "PNE", keyVersion: 1 },
    },
    createdAt: "2025-01-01T00:00:00.000Z",
    updatedAt: "2025-01-01T00:00:00.000Z",
  };
}

/** Real repositories and cipher over a memory store, with every store read and AES open counted. */
async function setup() {
  const storage = createStorage({ driver: memoryDriver() });
  const cipher = new AtRestCipher(new Uint8Array(32).fill(1));
  const entities = new EntityRepository(storage);
  const users = new UserRepository(storage);
  const counts = { storeReads: 0, opens: 0 };
  const countReads = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(object, name, receiver) {
        const value = Reflect.get(object, name, receiver);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (name === "get" || name === "findByUserhash") counts.storeReads++;
          return value.apply(object, args);
        };
      },
    });
  const countedCipher = countReads(cipher);
  const realOpen = cipher.open.bind(cipher);
  countedCipher.open = async (...args: Parameters<AtRestCipher["open"]>) => {
    counts.opens++;
    return realOpen(...args);
  };
  const parts = {
    entities: countReads(entities),
    users: countReads(users),
    cipher: countedCipher,
  } as unknown as ServerParts;
  return { storage, cipher, entities, users, parts, counts };
}

const request = (username: string, userhash = false) =>
  ({ username, userhash, realm: "cpns", algorithm: "SHA-256", hash: "SHA-256" }) as const;

describe("credentialLookup: names that cannot be ids", () => {
  it.each([
    ["a name ID_PATTERN refuses", "bad name!", false],
    ["a userhash with a non-hex prefix", `zz${"a".repeat(32)}`, true],
    ["a userhash with a non-hex suffix", `${"a".repeat(32)}zz`, true],
  ])(
    "[ORACLE-LOOKUP] %s never reaches the store, and costs the one dummy AES open every lookup costs",
    async (_what, username, userhash) => {
      const { parts, counts } = await setup();
      const lookup = credentialLookup(parts);
      await expect(lookup(request(username, userhash))).resolves.toBeUndefined();
      expect(counts).toEqual({ storeReads: 0, opens: 1 });
    },
  );

  it("[ORACLE-TIMING] a well-formed unknown name reads both records and does the same one AES open", async () => {
    const { parts, counts } = await setup();
    await expect(credentialLookup(parts)(request("nobody"))).resolves.toBeUndefined();
    expect(counts).toEqual({ storeReads: 2, opens: 1 });
  });
});

describe("credentialLookup: users and entities", () => {
  it("[ORACLE-LOOKUP] a user without a sealed HA1 for the asked hash is unknown (no error, no open of nothing)", async () => {
    const { parts, users, cipher, counts } = await setup();
    const sealed = await cipher.seal("ha1", ha1SealId("alice", "SHA-256"), utf8("ab".repeat(32)));
    // The record schema wants all three hashes; an empty one means "not provisioned for this hash".
    const record: UserRecord = {
      v: 1,
      userId: "alice",
      ha1: { "SHA-256": sealed, "SHA-512-256": "", MD5: "" },
      createdAt: "2025-01-01T00:00:00.000Z",
    };
    await users.create(record, []);
    const lookup = credentialLookup(parts);
    await expect(lookup({ ...request("alice"), algorithm: "MD5", hash: "MD5" })).resolves.toBe(
      undefined,
    );
    expect(counts.opens).toBe(1);
    await expect(lookup(request("alice"))).resolves.toMatchObject({
      username: "alice",
      ha1: "ab".repeat(32),
    });
  });

  it("[TLSDECL-REFUSE-PLAIN] an entity that declared TLS is looked up with declaredTls true; one that did not, false", async () => {
    const { parts, entities, cipher } = await setup();
    for (const [id, tls] of [
      ["dev-tls", true],
      ["dev-plain", undefined],
    ] as const) {
      const sealed = await cipher.seal("eukey", eukeySealId(id, 1), EUKEY);
      await entities.put(entityRecord(id, sealed, tls));
    }
    const lookup = credentialLookup(parts);
    await expect(lookup(request("dev-tls"))).resolves.toMatchObject({
      username: "dev-tls",
      password: toBase64url(EUKEY),
      data: { entityId: "dev-tls", keyVersion: 1, declaredTls: true },
    });
    await expect(lookup(request("dev-plain"))).resolves.toMatchObject({
      data: { declaredTls: false },
    });
  });
});

describe("seal ids: a sealed secret is bound to its owner", () => {
  it("[STORE-AT-REST] an HA1 sealed for one user is refused as another's (a store writer swapping records)", async () => {
    const { cipher } = await setup();
    expect(ha1SealId("alice", "SHA-256")).toBe("alice#SHA-256");
    const sealed = await cipher.seal("ha1", ha1SealId("alice", "SHA-256"), utf8("secret"));
    await expect(cipher.open("ha1", ha1SealId("mallory", "SHA-256"), sealed)).rejects.toSatisfy(
      (error) => errorCodeOf(error) === "ERR_STORE_CORRUPT",
    );
    await expect(cipher.open("ha1", ha1SealId("alice", "MD5"), sealed)).rejects.toSatisfy(
      (error) => errorCodeOf(error) === "ERR_STORE_CORRUPT",
    );
  });

  it("[STORE-AT-REST] an OTK's seal id keeps its fields apart: shifting a character between fields changes it", () => {
    const base = { otkId: "o1", issuerId: "dev", issuerKeyVersion: 1, peerId: "gw", expiresAt: 5 };
    expect(otkSealId(base)).toBe("o1\u0000dev\u00001\u0000gw\u00005");
    expect(otkSealId({ ...base, otkId: "o", issuerId: "1dev" })).not.toBe(otkSealId(base));
  });
});

describe("currentEukeyOf: the key the caller authenticated with, or ERR_ENTITY_STATE", () => {
  it("[SERVER-EUKEY-FORMAT] the current version opens to the EUKey", async () => {
    const { parts, entities, cipher } = await setup();
    await entities.put(
      entityRecord("dev", await cipher.seal("eukey", eukeySealId("dev", 1), EUKEY)),
    );
    await expect(currentEukeyOf(parts, { entityId: "dev", keyVersion: 1 })).resolves.toEqual(EUKEY);
  });

  it.each([
    ["an entity that does not exist", "ghost", 1, true],
    ["a rotated-away key version", "dev", 0, true],
    ["a revoked entity (no sealed key)", "dev", 1, false],
  ])(
    "[SERVER-EUKEY-FORMAT] %s is refused with ERR_ENTITY_STATE",
    async (_what, entityId, keyVersion, withKey) => {
      const { parts, entities, cipher } = await setup();
      const sealed = withKey ? await cipher.seal("eukey", eukeySealId("dev", 1), EUKEY) : undefined;
      await entities.put(entityRecord("dev", sealed));
      await expect(currentEukeyOf(parts, { entityId, keyVersion })).rejects.toSatisfy(
        (error) => errorCodeOf(error) === "ERR_ENTITY_STATE",
      );
    },
  );
});
