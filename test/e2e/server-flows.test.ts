/**
 * The CPNS Server's main flows over real HTTP on loopback (issue #3; seed
 * 5.x.1 EUKey assignment, 5.x.2 entity authentication, 5.x.3 authorisation):
 * enroll, authenticate with the EUKey (rspauth verified), rotate, revoke, and
 * the refusals around them (another owner, another type, a revoked id, an id
 * that names a user, a replayed request). Each refusal is checked for what it
 * must not do as well: the stored record stays exactly as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentError } from "../../src/agent/agent.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import { toBase64url } from "../../src/crypto/bytes.ts";
import {
  ALGORITHMS,
  computeHa1,
  createDigestFetch,
  digestExchangeOf,
  type FetchLike,
} from "../../src/digest/index.ts";
import { CpnsError } from "../../src/errors.ts";
import { EUKEY_TRANSPORT_ALG, openEukey } from "../../src/protocol/key-transport.ts";
import type { EnrollResponse, EntityView } from "../../src/protocol/schemas.ts";
import { tamperAuthenticationInfo } from "../mitm.ts";
import {
  expectProblem,
  json,
  REALM,
  recordingTransport,
  startTestServer,
  type TestServer,
} from "./server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-correct-horse-battery" };
const BOB = { userId: "bob", password: "bob-builder-staple-1234" };

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  await server.createUser(ALICE.userId, ALICE.password);
  await server.createUser(BOB.userId, BOB.password);
});

afterAll(async () => {
  await server.close();
});

const asAlice = () => server.asUser(ALICE.userId, ALICE.password);
const asBob = () => server.asUser(BOB.userId, BOB.password);

/** A Digest client for an entity with an explicit secret (rspauth required). */
function asEntity(entityId: string, eukey: string, transport?: FetchLike) {
  const digestFetch = createDigestFetch({
    username: entityId,
    password: eukey,
    requireRspauth: true,
    ...(transport ? { fetch: transport } : {}),
  });
  return (path: string, init?: RequestInit) => digestFetch(`${server.url}${path}`, init);
}

async function getAsAlice(entityId: string): Promise<EntityView> {
  const res = await asAlice()(`/cpns/v1/entities/${entityId}`);
  expect(res.status).toBe(200);
  return (await res.json()) as EntityView;
}

/** The raw stored value of every entity record, to show a refusal wrote nothing. */
async function storedEntities(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of await server.storage.getKeys("entity")) {
    out[key] = await server.storage.getItem(key);
  }
  return out;
}

describe("[SERVER-API] the API surface", () => {
  it("[SERVER-API] GET /cpns/v1 describes the service; unknown paths are problem+json 404", async () => {
    const res = await server.fetch("/cpns/v1");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      service: "cpns",
      version: 1,
      realm: REALM,
      algorithms: ["SHA-256", "SHA-512-256", "MD5"],
    });
    await expectProblem(await server.fetch("/cpns/v1/nope"), 404, "ERR_NOT_FOUND");
    await expectProblem(await server.fetch("/cpns/v2/whoami"), 404, "ERR_NOT_FOUND");
  });
});

describe("[SEED-5.x.1-1][SEED-5.x.1-2][KEY-TRANSPORT-EUKEY][SERVER-EUKEY-FORMAT] enrollment", () => {
  it("[SEED-5.x.1-1] answers 201 with a sealed EUKey that opens with the owner's HA1 and this exchange's nonce/cnonce", async () => {
    const entityId = "watch-201";
    const res = await asAlice()("/cpns/v1/enrollments", json("POST", { entityId, type: "PNE" }));
    expect(res.status).toBe(201);
    const body = (await res.json()) as EnrollResponse;
    expect(body).toMatchObject({
      entityId,
      userId: "alice",
      type: "PNE",
      keyVersion: 1,
      rotated: false,
      alg: EUKEY_TRANSPORT_ALG,
    });
    const exchange = digestExchangeOf(res);
    expect(exchange).toBeDefined();
    if (!exchange) return;
    const ha1 = computeHa1(ALGORITHMS[exchange.algorithm], "alice", REALM, ALICE.password);
    const context = { entityId, userId: "alice", type: "PNE", keyVersion: 1 };
    const eukey = await openEukey(
      body.sealedKey,
      { ha1, nonce: exchange.nonce, cnonce: exchange.cnonce },
      context,
    );
    expect(eukey?.length).toBe(32);
    if (!eukey) return;
    // Never in clear on the wire.
    expect(JSON.stringify(body)).not.toContain(toBase64url(eukey));
    // Another exchange's nonce, or bob's HA1, does not open it.
    expect(
      await openEukey(
        body.sealedKey,
        { ha1, nonce: `${exchange.nonce}x`, cnonce: exchange.cnonce },
        context,
      ),
    ).toBeUndefined();
    const bobHa1 = computeHa1(ALGORITHMS[exchange.algorithm], "bob", REALM, BOB.password);
    expect(
      await openEukey(
        body.sealedKey,
        { ha1: bobHa1, nonce: exchange.nonce, cnonce: exchange.cnonce },
        context,
      ),
    ).toBeUndefined();

    // [SERVER-EUKEY-FORMAT] username = Entity ID, secret = base64url(EUKey) unpadded.
    const rec = recordingTransport();
    const whoami = await asEntity(entityId, toBase64url(eukey), rec.transport)("/cpns/v1/whoami");
    expect(whoami.status).toBe(200);
    expect(await whoami.json()).toEqual({ entityId, userId: "alice", type: "PNE", keyVersion: 1 });
    const ok = rec.exchanges.find((e) => e.status === 200);
    expect(ok?.authenticationInfo).toMatch(/rspauth="?[0-9a-f]{64}/);
    // The padded or standard-base64 form is not the secret.
    const padded = Buffer.from(eukey).toString("base64");
    if (padded !== toBase64url(eukey)) {
      const wrong = await asEntity(entityId, padded)("/cpns/v1/whoami");
      expect(wrong.status).toBe(401);
    }
  });

  it("[SEED-5.x.2-1][AGENT-REQUIRE-RSPAUTH] the agent enrolls, then authenticates with the EUKey and verifies rspauth", async () => {
    const rec = recordingTransport();
    const agent = server.agent({ fetch: rec.transport });
    const record = await agent.enroll({ ...ALICE, entityId: "phone-1", type: "PNGW" });
    expect(record).toMatchObject({
      entityId: "phone-1",
      userId: "alice",
      type: "PNGW",
      keyVersion: 1,
      machine: { value: "enrolled" },
    });
    expect(record.eukey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await agent.whoami("phone-1")).toEqual({
      entityId: "phone-1",
      userId: "alice",
      type: "PNGW",
      keyVersion: 1,
    });
    const authed = rec.exchanges.filter((e) => e.authorization !== null && e.status < 300);
    expect(authed.length).toBe(2);
    for (const e of authed) expect(e.authenticationInfo).toMatch(/rspauth=/);
  });

  it("[FFS-SERVER-AUTH][AGENT-REQUIRE-RSPAUTH] a forged or missing rspauth makes the agent refuse the answer", async () => {
    const store = new MemoryKeyStore();
    const agent0 = server.agent({ store });
    await agent0.enroll({ ...ALICE, entityId: "watch-rspauth", type: "PNE" });
    const tamper = tamperAuthenticationInfo;
    for (const edit of [
      (info: string) =>
        info.replace(/rspauth="?([0-9a-f])/, (m, c) => m.replace(c, c === "0" ? "1" : "0")),
      () => null,
    ]) {
      const agent = server.agent({ fetch: tamper(edit), store });
      const error = await agent.whoami("watch-rspauth").catch((err: unknown) => err);
      expect(error).toBeInstanceOf(CpnsError);
      expect((error as CpnsError).code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
    }
    // The key is kept (an impostor cannot make the device forget it), and works with the real server.
    expect(await agent0.whoami("watch-rspauth")).toMatchObject({ keyVersion: 1 });
  });
});

describe("[ENTITY-LIFECYCLE][SERVER-OWNERSHIP] rotation and revocation", () => {
  it("[ENTITY-LIFECYCLE][SEED-5.x.1-2] re-enrolling rotates: 200, keyVersion 2, and the old key is refused with 401 at once", async () => {
    const rec = recordingTransport();
    const agent = server.agent({ fetch: rec.transport });
    const first = await agent.enroll({ ...ALICE, entityId: "watch-rot", type: "PNE" });
    const oldKey = first.eukey;
    // An old-key client that has already authenticated (it holds a nonce and counts nc).
    const oldClient = asEntity("watch-rot", oldKey);
    expect((await oldClient("/cpns/v1/whoami")).status).toBe(200);

    const second = await agent.enroll({ ...ALICE, entityId: "watch-rot", type: "PNE" });
    expect(second.keyVersion).toBe(2);
    expect(second.eukey).not.toBe(oldKey);
    const enrollStatuses = rec.exchanges
      .filter((e) => e.url.endsWith("/cpns/v1/enrollments") && e.status !== 401)
      .map((e) => e.status);
    expect(enrollStatuses).toEqual([201, 200]);

    const refused = await oldClient("/cpns/v1/whoami");
    expect(refused.status).toBe(401);
    await refused.arrayBuffer();
    expect((await asEntity("watch-rot", oldKey)("/cpns/v1/whoami")).status).toBe(401);
    expect(await agent.whoami("watch-rot")).toMatchObject({ keyVersion: 2 });
    expect(await getAsAlice("watch-rot")).toMatchObject({ keyVersion: 2, state: "active" });
  });

  it("[ENTITY-LIFECYCLE][SEED-5.x.3-1] revoke: 200, then the key is refused with 401 and the entity stays revoked", async () => {
    const agent = server.agent();
    const record = await agent.enroll({ ...ALICE, entityId: "watch-rev", type: "PNE" });
    expect(await agent.whoami("watch-rev")).toMatchObject({ keyVersion: 1 });

    const res = await asAlice()("/cpns/v1/entities/watch-rev", { method: "DELETE" });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      entityId: "watch-rev",
      state: "revoked",
      keyVersion: 1,
    });

    expect((await asEntity("watch-rev", record.eukey)("/cpns/v1/whoami")).status).toBe(401);
    const error = await agent.whoami("watch-rev").catch((err: unknown) => err);
    expect(error).toBeInstanceOf(AgentError);
    expect((error as AgentError).status).toBe(401);
    expect(await getAsAlice("watch-rev")).toMatchObject({ state: "revoked" });
    // The stored record no longer holds any key.
    const stored = Object.values(await storedEntities()).find(
      (r) => (r as { entityId: string }).entityId === "watch-rev",
    ) as Record<string, unknown>;
    expect(stored.eukey).toBeUndefined();

    // Revoking twice is a state error, not a success.
    await expectProblem(
      await asAlice()("/cpns/v1/entities/watch-rev", { method: "DELETE" }),
      409,
      "ERR_ENTITY_STATE",
    );
  });

  it("[ENTITY-LIFECYCLE][SERVER-MODEL-GATE] a revoked entity cannot be re-enrolled (409 ERR_ENTITY_STATE) and nothing is written", async () => {
    const agent = server.agent();
    await agent.enroll({ ...ALICE, entityId: "watch-dead", type: "PNE" });
    expect((await asAlice()("/cpns/v1/entities/watch-dead", { method: "DELETE" })).status).toBe(
      200,
    );
    const before = await storedEntities();
    for (const type of ["PNE", "PNGW"]) {
      await expectProblem(
        await asAlice()("/cpns/v1/enrollments", json("POST", { entityId: "watch-dead", type })),
        409,
        "ERR_ENTITY_STATE",
      );
    }
    // Not even another user can take a revoked id.
    await expectProblem(
      await asBob()("/cpns/v1/enrollments", json("POST", { entityId: "watch-dead", type: "PNE" })),
      403,
      "ERR_NOT_OWNER",
    );
    expect(await storedEntities()).toEqual(before);
  });

  it("[SERVER-OWNERSHIP][SEED-5.x.3-2] bob enrolling alice's entity gets 403 ERR_NOT_OWNER and the record is unchanged", async () => {
    const agent = server.agent();
    await agent.enroll({ ...ALICE, entityId: "alice-watch", type: "PNE" });
    const view = await getAsAlice("alice-watch");
    const before = await storedEntities();
    const logBefore = server.logLines.length;
    server.clock.now += 5_000;
    for (const type of ["PNE", "PNGW"]) {
      await expectProblem(
        await asBob()("/cpns/v1/enrollments", json("POST", { entityId: "alice-watch", type })),
        403,
        "ERR_NOT_OWNER",
      );
    }
    // Nor may bob read or revoke it: 404, as for an id nobody holds (issue #9 item 8).
    await expectProblem(await asBob()("/cpns/v1/entities/alice-watch"), 404, "ERR_NOT_FOUND");
    await expectProblem(
      await asBob()("/cpns/v1/entities/alice-watch", { method: "DELETE" }),
      404,
      "ERR_NOT_FOUND",
    );
    const bobList = await asBob()("/cpns/v1/entities");
    expect(
      ((await bobList.json()) as { entities: EntityView[] }).entities.map((e) => e.entityId),
    ).not.toContain("alice-watch");

    expect(await storedEntities()).toEqual(before);
    expect(server.logLines.slice(logBefore).join("\n")).not.toMatch(/"entity\./);
    expect(await getAsAlice("alice-watch")).toEqual(view);
    expect(await agent.whoami("alice-watch")).toMatchObject({ userId: "alice", keyVersion: 1 });
  });

  it("[ENTITY-LIFECYCLE][SERVER-MODEL-GATE] a PNE cannot be re-enrolled as a PNGW (409 ERR_ENTITY_TYPE_MISMATCH), nothing changes", async () => {
    const agent = server.agent();
    await agent.enroll({ ...ALICE, entityId: "sensor-1", type: "PNE" });
    const before = await storedEntities();
    const logBefore = server.logLines.length;
    await expectProblem(
      await asAlice()("/cpns/v1/enrollments", json("POST", { entityId: "sensor-1", type: "PNGW" })),
      409,
      "ERR_ENTITY_TYPE_MISMATCH",
    );
    expect(await storedEntities()).toEqual(before);
    expect(server.logLines.slice(logBefore)).toEqual([]);
    expect(await agent.whoami("sensor-1")).toMatchObject({ type: "PNE", keyVersion: 1 });
  });

  it("[SERVER-OWNERSHIP][SEED-5.x.3-1] the owner lists only its own entities; an unknown id is 404", async () => {
    await server.agent().enroll({ ...BOB, entityId: "bob-gw", type: "PNGW" });
    const res = await asBob()("/cpns/v1/entities");
    expect(res.status).toBe(200);
    const list = ((await res.json()) as { entities: EntityView[] }).entities;
    expect(list.every((e) => e.userId === "bob")).toBe(true);
    expect(list.map((e) => e.entityId)).toContain("bob-gw");
    await expectProblem(await asBob()("/cpns/v1/entities/no-such-entity"), 404, "ERR_NOT_FOUND");
  });
});

describe("[SEED-5.x.3-2][SERVER-ADMIN-API] one namespace for User IDs and Entity IDs", () => {
  it("[SEED-5.x.3-2] an entity id that names a user, or a user id that names an entity, is 409 ERR_ID_TAKEN", async () => {
    await server.createUser("carol", "carol-password-123456");
    const before = await storedEntities();
    await expectProblem(
      await asAlice()("/cpns/v1/enrollments", json("POST", { entityId: "carol", type: "PNE" })),
      409,
      "ERR_ID_TAKEN",
    );
    expect(await storedEntities()).toEqual(before);

    await server.agent().enroll({ ...ALICE, entityId: "dev-x", type: "PNE" });
    await expectProblem(
      await server.postUser("dev-x", "whatever-Passw0rd-91"),
      409,
      "ERR_ID_TAKEN",
    );
    const users = await server.admin("/cpns/v1/admin/users");
    expect(((await users.json()) as { users: string[] }).users).not.toContain("dev-x");

    await expectProblem(
      await server.postUser("alice", "another-Passw0rd-77"),
      409,
      "ERR_USER_EXISTS",
    );
    // alice's password did not change.
    expect((await asAlice()("/cpns/v1/entities")).status).toBe(200);
  });
});

describe("[DIGEST-REPLAY][SEED-5.x.2-1] replay", () => {
  it("[SEED-5.x.2-1] the exact Authorization header of a successful whoami, sent again, is refused with 401", async () => {
    const rec = recordingTransport();
    const agent = server.agent({ fetch: rec.transport });
    await agent.enroll({ ...ALICE, entityId: "watch-replay", type: "PNE" });
    await agent.whoami("watch-replay");
    const captured = rec.exchanges.find(
      (e) => e.url.endsWith("/cpns/v1/whoami") && e.status === 200,
    );
    expect(captured?.authorization).toMatch(/^Digest /);
    const replay = await server.fetch("/cpns/v1/whoami", {
      headers: { authorization: captured?.authorization as string },
    });
    expect(replay.status).toBe(401);
    expect(replay.headers.get("www-authenticate")).toMatch(/^Digest /);
    expect(replay.headers.get("authentication-info")).toBeNull();
    expect(await replay.text()).not.toContain('watch-replay","userId');
  });

  it("[SEED-5.x.1-1] a replayed enrollment is refused with 401 and issues no new key", async () => {
    const rec = recordingTransport();
    const asAliceRec = server.asUser(ALICE.userId, ALICE.password, rec.transport);
    const body = JSON.stringify({ entityId: "watch-replay-2", type: "PNE" });
    const res = await asAliceRec("/cpns/v1/enrollments", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    expect(res.status).toBe(201);
    const captured = rec.exchanges.find((e) => e.status === 201);
    const replay = await server.fetch("/cpns/v1/enrollments", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: captured?.authorization as string,
      },
      body,
    });
    await expectProblem(replay, 401, "ERR_DIGEST_UNAUTHORIZED");
    expect(await getAsAlice("watch-replay-2")).toMatchObject({ keyVersion: 1 });
  });
});
