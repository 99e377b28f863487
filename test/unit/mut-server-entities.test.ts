import { createStorage, type Driver } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { describe, expect, it } from "vitest";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import { createParts, type Principal } from "../../src/server/context.ts";
import { entityHandlers } from "../../src/server/entities.ts";
import { type KeyedLock, memoryCoordination } from "../../src/store/coordination.ts";
import { idSegment } from "../../src/store/repositories.ts";
import {
  configOf,
  json,
  REALM,
  statusAndCode,
  T0,
  type TestServer,
  type TestServerOptions,
} from "../e2e/server-helpers.ts";
import { appBehind, GENEROUS_RATE_LIMIT, serverPerTest } from "../server-per-test.ts";

const ALICE = { userId: "alice", password: "alice-entity-mut-password-Qk2" };
const BOB = { userId: "bob", password: "bob-entity-mut-password-Vr8" };

const startServer = serverPerTest({ rateLimit: GENEROUS_RATE_LIMIT });

/** A memory store that records the key of every read. */
function watchedStorage() {
  const inner = memoryDriver();
  const reads: string[] = [];
  const driver: Driver = {
    ...inner,
    getItem: (key, options) => {
      reads.push(key);
      return inner.getItem(key, options);
    },
  };
  return { storage: createStorage({ driver }), reads };
}

async function setup(options: TestServerOptions = {}) {
  const server = await startServer(options);
  await server.createUser(ALICE.userId, ALICE.password);
  const agent = server.agent({ store: new MemoryKeyStore() });
  const asAlice = server.asUser(ALICE.userId, ALICE.password);
  const enroll = (entityId: string, type: "PNE" | "PNGW" = "PNE") =>
    agent.enroll({ ...ALICE, entityId, type });
  const events = (name: string) => server.events().filter((e) => e.event === name);
  return { server, agent, asAlice, enroll, events };
}

/** The entity handlers behind a principal (and Digest exchange) the test chooses, over the server's store. */
function handlersAs(server: TestServer, principal: Principal) {
  const config = configOf(server, "entity-mut-digest-secret-0123456789abcdef");
  const handlers = entityHandlers(createParts(config));
  const digest = {
    username: "userId" in principal ? principal.userId : "nobody",
    realm: REALM,
    algorithm: "SHA-256",
    qop: "auth-int",
    userhash: false,
    nonce: "bm9uY2UtZm9yLXRoZS10ZXN0",
    cnonce: "Y25vbmNlLWZvci10aGUtdGVzdA",
    data: undefined,
  } as const;
  return appBehind({ principal, digest }, (app) => {
    app.post("/enrollments", handlers.enroll);
    app.get("/entities", handlers.list);
    app.get("/whoami", handlers.whoami);
  });
}

/** [status, problem code]; an answer that is no problem gives its text instead of a code. */
describe("entities.ts: who may reach the entity handlers", () => {
  // Report: entities.ts:36 ConditionalExpression `false`, StringLiteral `""` (NoCoverage).
  it("[SERVER-AUTHZ-POLICY][SERVER-OWNERSHIP] a PNE that reached the user's entity list is refused ERR_FORBIDDEN, and sees no entity of its user", async () => {
    const { server, enroll } = await setup();
    const pne = await enroll("pne-1");
    const app = handlersAs(server, {
      kind: "PNE",
      entityId: "pne-1",
      userId: ALICE.userId,
      keyVersion: pne.keyVersion,
    });
    expect(await statusAndCode(await app.request("/entities"))).toEqual([403, "ERR_FORBIDDEN"]);
  });

  // Report: entities.ts:209 ConditionalExpression `false`, StringLiteral `""` (NoCoverage).
  it("[SERVER-AUTHZ-POLICY] a CPNS User that reached whoami is refused ERR_FORBIDDEN", async () => {
    const { server } = await setup();
    const app = handlersAs(server, { kind: "user", userId: ALICE.userId });
    expect(await statusAndCode(await app.request("/whoami"))).toEqual([403, "ERR_FORBIDDEN"]);
  });

  // Report: entities.ts:123 OptionalChaining, :124 StringLiteral `""` (NoCoverage).
  it("[STORE-NO-HALF-WRITE] a user principal whose record vanished cannot enroll: ERR_STORE_CORRUPT, nothing written", async () => {
    const { server } = await setup();
    const app = handlersAs(server, { kind: "user", userId: "ghost" });
    const res = await app.request("/enrollments", json("POST", { entityId: "pne-g", type: "PNE" }));
    expect(await statusAndCode(res)).toEqual([503, "ERR_STORE_CORRUPT"]);
    expect((await server.storage.getKeys()).filter((key) => key.startsWith("entity:"))).toEqual([]);
  });

  // Report: entities.ts:60 ArrowFunction, ArrayDeclaration (NoCoverage).
  it("[ENROLL-PRIMED] handlers built without a challenge source enroll without any WWW-Authenticate header", async () => {
    const { server } = await setup();
    const app = handlersAs(server, { kind: "user", userId: ALICE.userId });
    const res = await app.request("/enrollments", json("POST", { entityId: "pne-p", type: "PNE" }));
    expect(res.status, await res.clone().text()).toBe(201);
    expect(res.headers.get("www-authenticate")).toBeNull();
  });
});

describe("entities.ts: enrollment", () => {
  // Report: entities.ts:171 BlockStatement, :172 ObjectLiteral, BooleanLiteral.
  it("[ENROLL-PRIMED] an enrollment hands out every first challenge of the app, one header each", async () => {
    const { asAlice } = await setup({ algorithms: ["SHA-256", "SHA-512-256"] });
    const res = await asAlice(
      "/cpns/v1/enrollments",
      json("POST", { entityId: "pne-c", type: "PNE" }),
    );
    expect(res.status).toBe(201);
    const header = res.headers.get("www-authenticate") ?? "";
    const algorithms = [...header.matchAll(/algorithm=([A-Za-z0-9-]+)/g)].map((m) => m[1]);
    expect(algorithms).toEqual(["SHA-256", "SHA-512-256"]);
  });

  // Report: entities.ts:90 ConditionalExpression `false`, BooleanLiteral `false`.
  it("[TLSDECL-REFUSE-PLAIN] a TLS enrollment over plain HTTP is refused before the id is looked at: another user's id gives no ERR_ID_TAKEN", async () => {
    const { server, asAlice } = await setup();
    await server.createUser(BOB.userId, BOB.password);
    const res = await asAlice(
      "/cpns/v1/enrollments",
      json("POST", { entityId: BOB.userId, type: "PNE", tls: true }),
    );
    expect(await statusAndCode(res)).toEqual([403, "ERR_TLS_REQUIRED"]);
  });

  // Report: entities.ts:67 ObjectLiteral.
  it("[TLSDECL-REFUSE-PLAIN][SERVER-SECURITY-LOG] the refusal of a TLS enrollment over plain HTTP is logged with its user and entity", async () => {
    const { asAlice, events } = await setup();
    const res = await asAlice(
      "/cpns/v1/enrollments",
      json("POST", { entityId: "pne-tls", type: "PNE", tls: true }),
    );
    expect((await statusAndCode(res))[1]).toBe("ERR_TLS_REQUIRED");
    expect(events("tls.required")).toEqual([
      expect.objectContaining({ userId: ALICE.userId, entityId: "pne-tls" }),
    ]);
  });

  // Report: entities.ts:112 ConditionalExpression `true`.
  it("[TLSDECL-ENROLL] an entity that never declared TLS may rotate with an explicit tls: false", async () => {
    const { asAlice, enroll } = await setup();
    await enroll("pne-r");
    const res = await asAlice(
      "/cpns/v1/enrollments",
      json("POST", { entityId: "pne-r", type: "PNE", tls: false }),
    );
    expect(res.status, await res.clone().text()).toBe(200);
    expect(((await res.json()) as { rotated: boolean }).rotated).toBe(true);
  });

  // Report: entities.ts:105 ConditionalExpression `true`.
  it("[ENTITY-LIFECYCLE] re-enrolling a revoked entity with the same type is ERR_ENTITY_STATE, not a type mismatch", async () => {
    const { asAlice, enroll } = await setup();
    await enroll("pne-x");
    expect((await asAlice("/cpns/v1/entities/pne-x", { method: "DELETE" })).status).toBe(200);
    const res = await asAlice(
      "/cpns/v1/enrollments",
      json("POST", { entityId: "pne-x", type: "PNE" }),
    );
    expect(await statusAndCode(res)).toEqual([409, "ERR_ENTITY_STATE"]);
  });

  // Report: entities.ts:155 StringLiteral `""` (twice), :202 ObjectLiteral, StringLiteral.
  it("[SERVER-SECURITY-LOG] enrollment, rotation and revocation each write their event with the user, entity and key version", async () => {
    const { asAlice, enroll, events } = await setup();
    await enroll("pne-e");
    await enroll("pne-e");
    expect((await asAlice("/cpns/v1/entities/pne-e", { method: "DELETE" })).status).toBe(200);
    const fields = { userId: ALICE.userId, entityId: "pne-e" };
    expect(events("entity.enrolled")).toEqual([
      expect.objectContaining({ ...fields, entityType: "PNE", keyVersion: 1 }),
    ]);
    expect(events("entity.rotated")).toEqual([
      expect.objectContaining({ ...fields, entityType: "PNE", keyVersion: 2 }),
    ]);
    expect(events("entity.revoked")).toEqual([
      expect.objectContaining({ ...fields, keyVersion: 2 }),
    ]);
  });
});

describe("entities.ts: hostile ids and the id lock", () => {
  // Report: entities.ts:77 ConditionalExpression `false`.
  it("[STORE-LONG-ID] an id that cannot be valid is 404 without a read of the store", async () => {
    const { storage, reads } = watchedStorage();
    const { asAlice } = await setup({ storage });
    const hostile = `${"h".repeat(70)}`;
    reads.length = 0;
    const res = await asAlice(`/cpns/v1/entities/${hostile}`);
    expect(await statusAndCode(res)).toEqual([404, "ERR_NOT_FOUND"]);
    expect(reads).not.toContain(`entity:${idSegment(hostile)}`);
    // The same read with a valid id does reach the store: the watch sees entity reads.
    await asAlice("/cpns/v1/entities/pne-absent");
    expect(reads).toContain(`entity:${idSegment("pne-absent")}`);
  });

  // Report: entities.ts:191 StringLiteral ``.
  it("[FLEET-ATOMIC] revocation runs under the same `id:<entityId>` lock as enrollment", async () => {
    const taken: string[] = [];
    const coordination = memoryCoordination(() => T0);
    const locks: KeyedLock = {
      run: (key, task) => {
        taken.push(key);
        return coordination.locks.run(key, task);
      },
    };
    const { asAlice, enroll } = await setup({ coordination: { ...coordination, locks } });
    taken.length = 0;
    await enroll("pne-l");
    expect((await asAlice("/cpns/v1/entities/pne-l", { method: "DELETE" })).status).toBe(200);
    expect(taken).toEqual(["id:pne-l", "id:pne-l"]);
  });
});
