/**
 * Issue #9, "tests that could not see a broken check": records planted
 * directly in the CPNS Server's storage, as by someone who can write the store
 * but does not hold the master key (a restored backup, a second instance with
 * a bug, a careless operator). Each check below is one layer of defence in
 * depth behind another, so no HTTP-only test could see it go missing:
 *
 * - the credential lookup asks the entity machine (AUTHENTICATE for the
 *   record's key version) even when the record still holds a sealed EUKey:
 *   a revoked record, or one rolled back to an older key version, that kept
 *   its sealed key must not authenticate (SEED-5.x.2-1, SERVER-MODEL-GATE);
 * - the seal of an EUKey at rest binds its key version, so a sealed key
 *   copied from version 1 into the version 2 record does not open
 *   (STORE-AT-REST);
 * - the inbox filters what its index lists by addressee, so an index entry
 *   planted under peer B that points at A's OTK is not shown to B
 *   (OTK-DELIVERY).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDigestFetch } from "../../src/digest/index.ts";
import type { EntityRecord } from "../../src/store/records.ts";
import { enrollDevice } from "./peer-helpers.ts";
import { expectProblem, startTestServer, type TestServer } from "./server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-depth-password-1" };
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  await server.createUser(ALICE.userId, ALICE.password);
});

afterAll(async () => {
  await server.close();
});

const entityKey = (entityId: string) => `entity:${Buffer.from(entityId).toString("base64url")}`;

async function recordOf(entityId: string): Promise<EntityRecord> {
  const record = (await server.storage.getItem(entityKey(entityId))) as EntityRecord | null;
  if (!record) throw new Error(`no record stored for ${entityId}`);
  return structuredClone(record);
}

async function plant(record: EntityRecord): Promise<void> {
  await server.storage.setItem(entityKey(record.entityId), record);
}

/** GET /cpns/v1/whoami as the entity with this EUKey (base64url), rspauth not required (a refusal has none). */
function whoamiWith(entityId: string, eukey: string): Promise<Response> {
  return createDigestFetch({ username: entityId, password: eukey })(`${server.url}/cpns/v1/whoami`);
}

async function enroll(entityId: string): Promise<string> {
  return (await server.agent().enroll({ ...ALICE, entityId, type: "PNE" })).eukey;
}

describe("[SEED-5.x.2-1][SERVER-MODEL-GATE] the credential lookup asks the entity machine even when a record still holds a sealed key", () => {
  it("[SEED-5.x.2-1][SERVER-MODEL-GATE] a revoked record that kept its sealed EUKey (planted in the store) does not authenticate: 401", async () => {
    const eukey = await enroll("depth-revoked");
    const live = await recordOf("depth-revoked");
    expect((await whoamiWith("depth-revoked", eukey)).status).toBe(200);

    const revoked = await server.asUser(ALICE.userId, ALICE.password)(
      "/cpns/v1/entities/depth-revoked",
      { method: "DELETE" },
    );
    expect(revoked.status, await revoked.clone().text()).toBe(200);
    const after = await recordOf("depth-revoked");
    expect(after.machine.value).toBe("revoked");
    expect(after.eukey).toBeUndefined();

    // The revoked state, but with the sealed key of the live record put back.
    await plant({ ...after, keyVersion: live.keyVersion, eukey: live.eukey });
    await expectProblem(await whoamiWith("depth-revoked", eukey), 401, "ERR_DIGEST_UNAUTHORIZED");
  });

  it("[SEED-5.x.2-1][SERVER-MODEL-GATE] a record rolled back to key version 1 with its sealed key, while the machine says version 2: the old key does not authenticate (401)", async () => {
    const first = await enroll("depth-rollback");
    const v1 = await recordOf("depth-rollback");
    const second = await enroll("depth-rollback");
    const v2 = await recordOf("depth-rollback");
    expect(v2.keyVersion).toBe(v1.keyVersion + 1);
    expect((await whoamiWith("depth-rollback", second)).status).toBe(200);

    // The machine is version 2's; the key version and sealed key are version 1's, consistent
    // with each other, so the seal opens: only the machine can refuse it.
    await plant({ ...v2, keyVersion: v1.keyVersion, eukey: v1.eukey });
    await expectProblem(await whoamiWith("depth-rollback", first), 401, "ERR_DIGEST_UNAUTHORIZED");
  });
});

describe("[STORE-AT-REST] the seal of an EUKey at rest binds its key version", () => {
  it("[STORE-AT-REST] version 1's sealed EUKey copied into the version 2 record does not open: neither key authenticates, and the answer is a 503 problem, never a 500", async () => {
    const first = await enroll("depth-copied");
    const v1 = await recordOf("depth-copied");
    const second = await enroll("depth-copied");
    const v2 = await recordOf("depth-copied");

    await plant({ ...v2, eukey: v1.eukey });
    await expectProblem(await whoamiWith("depth-copied", first), 503, "ERR_STORE_CORRUPT");
    await expectProblem(await whoamiWith("depth-copied", second), 503, "ERR_STORE_CORRUPT");

    // Put back, version 2 works again: nothing else was damaged.
    await plant(v2);
    expect((await whoamiWith("depth-copied", second)).status).toBe(200);
  });
});

describe("[OTK-DELIVERY] the inbox is filtered by addressee when it is read", () => {
  it("[OTK-DELIVERY] an index entry planted under peer B that points at A's OTK is not listed to B, and B cannot fetch it; A still sees it", async () => {
    const gw = await enrollDevice(server, ALICE, "depth-gw", "PNGW");
    const a = await enrollDevice(server, ALICE, "depth-peer-a", "PNE");
    const b = await enrollDevice(server, ALICE, "depth-peer-b", "PNE");
    const issued = await gw.otks.deposit("depth-gw", {
      peerId: a.entityId,
      lifetimeSeconds: 300,
    });

    // The index entry of A's OTK, copied under B's prefix.
    const prefixOf = (peerId: string) => `otk-peer:${Buffer.from(peerId).toString("base64url")}`;
    const entries = await server.storage.getKeys(prefixOf(a.entityId));
    expect(entries).toHaveLength(1);
    const entry = entries[0] as string;
    await server.storage.setItem(
      entry.replace(prefixOf(a.entityId), prefixOf(b.entityId)),
      await server.storage.getItem(entry),
    );
    expect(await server.storage.getKeys(prefixOf(b.entityId))).toHaveLength(1);

    expect(await b.otks.inbox(b.entityId)).toEqual([]);
    const res = await b.agent.fetchAsEntity(
      b.entityId,
      `/cpns/v1/otks/${encodeURIComponent(issued.otkId)}/delivery`,
      { method: "POST", headers: { "content-type": "application/json" }, body: "{}" },
    );
    await expectProblem(res, 403, "ERR_OTK_NOT_ADDRESSEE");
    const forA = await a.otks.inbox(a.entityId);
    expect(forA.map((otk) => otk.otkId)).toEqual([issued.otkId]);
  });
});
