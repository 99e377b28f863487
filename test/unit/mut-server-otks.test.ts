import { describe, expect, it } from "vitest";
import { AgentError, type EntityAgent } from "../../src/agent/agent.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import { OtkClient } from "../../src/agent/otk-client.ts";
import { toBase64url } from "../../src/crypto/bytes.ts";
import { randomBytes } from "../../src/crypto/provider.ts";
import { OTK_BYTES, sealOtk } from "../../src/protocol/otk-transport.ts";
import { createParts, type Principal } from "../../src/server/context.ts";
import { otkHandlers } from "../../src/server/otks.ts";
import { type KeyedLock, memoryCoordination } from "../../src/store/coordination.ts";
import { OtkRepository } from "../../src/store/repositories.ts";
import {
  configOf,
  json,
  statusAndCode,
  T0,
  type TestServer,
  type TestServerOptions,
} from "../e2e/server-helpers.ts";
import { appBehind, GENEROUS_RATE_LIMIT, serverPerTest } from "../server-per-test.ts";

const ALICE = { userId: "alice", password: "alice-otk-mut-password-Qk2" };
const BOB = { userId: "bob", password: "bob-otk-mut-password-Vr8" };

const startServer = serverPerTest({ rateLimit: GENEROUS_RATE_LIMIT });

async function setup(options: TestServerOptions = {}) {
  const server = await startServer(options);
  await server.createUser(ALICE.userId, ALICE.password);
  const store = new MemoryKeyStore();
  const agent: EntityAgent = server.agent({ store });
  const otks = new OtkClient({ agent, store, now: () => server.clock.now });
  const enroll = async (entityId: string, type: "PNE" | "PNGW", owner = ALICE) => {
    const record = await agent.enroll({ ...owner, entityId, type });
    return record;
  };
  const repo = new OtkRepository(server.storage);
  return { server, store, agent, otks, enroll, repo };
}

/** Awaits a rejection from OtkClient and returns the AgentError. */
async function refused(promise: Promise<unknown>): Promise<AgentError> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(AgentError);
  return error as AgentError;
}

/**
 * The OTK handlers behind a principal the test chooses, over the server's store:
 * what a handler does if the guard in front of it ever let the wrong caller through.
 */
function handlersAs(server: TestServer, principal: Principal) {
  const config = configOf(server, "otk-mut-digest-secret-0123456789abcdef");
  const handlers = otkHandlers(createParts(config));
  return appBehind({ principal }, (app) => {
    app.post("/otks", handlers.deposit);
    app.get("/otks/inbox", handlers.inbox);
    app.post("/otks/:otkId/delivery", handlers.deliver);
    app.post("/otks/:otkId/consume", handlers.consume);
  });
}

/** A deposit body that passes the schema; its seal is under a key nobody holds. */
async function anyDepositBody(peerId: string, nowMs: number) {
  const otkId = toBase64url(randomBytes(16));
  const expiresAt = Math.floor(nowMs / 1000) + 60;
  const sealedOtk = await sealOtk("deposit", randomBytes(OTK_BYTES), randomBytes(32), {
    otkId,
    issuerId: "whoever",
    peerId,
    expiresAt,
  });
  return { otkId, peerId, expiresAt, sealedOtk };
}

/** The problem code; an answer that is no problem gives its text instead. */
async function codeOf(res: Response): Promise<string> {
  return (await statusAndCode(res))[1];
}

describe("otks.ts: who may reach the OTK handlers at all", () => {
  // Report: otks.ts:47 ConditionalExpression `false`, StringLiteral `""` (NoCoverage).
  it("[OTK-DELIVERY] a CPNS User (no entity) that reached the inbox handler is refused ERR_FORBIDDEN, not served", async () => {
    const { server } = await setup();
    const app = handlersAs(server, { kind: "user", userId: ALICE.userId });
    const res = await app.request("/otks/inbox");
    expect(res.status).toBe(403);
    expect(await codeOf(res)).toBe("ERR_FORBIDDEN");
  });

  // Report: otks.ts:139 ConditionalExpression `false`, StringLiteral `""` (NoCoverage).
  it("[OTK-DEPOSIT] a PN GW principal whose entity record is gone cannot deposit: ERR_ENTITY_STATE, never a crash", async () => {
    const { server, enroll } = await setup();
    await enroll("pne-1", "PNE");
    const app = handlersAs(server, {
      kind: "PNGW",
      entityId: "gw-vanished",
      userId: ALICE.userId,
      keyVersion: 1,
    });
    const res = await app.request("/otks", json("POST", await anyDepositBody("pne-1", T0)));
    expect(res.status).toBe(409);
    expect(await codeOf(res)).toBe("ERR_ENTITY_STATE");
  });

  // Report: otks.ts:160 ConditionalExpression `false`, StringLiteral `""` (NoCoverage).
  it("[OTK-DEPOSIT] a PNE that reached the deposit handler is refused ERR_FORBIDDEN even toward its own user's active PNE", async () => {
    const { server, enroll } = await setup();
    const pne = await enroll("pne-caller", "PNE");
    await enroll("pne-peer", "PNE");
    const app = handlersAs(server, {
      kind: "PNE",
      entityId: "pne-caller",
      userId: ALICE.userId,
      keyVersion: pne.keyVersion,
    });
    const res = await app.request("/otks", json("POST", await anyDepositBody("pne-peer", T0)));
    expect(res.status).toBe(403);
    expect(await codeOf(res)).toBe("ERR_FORBIDDEN");
  });
});

describe("otks.ts: the settings an app is built with", () => {
  // Report: otks.ts:67 LogicalOperator, :163 StringLiteral ``.
  it("[OTK-DEPOSIT] a configured lifetime bound (60 s) is the one enforced and the one named in the refusal", async () => {
    const { otks, enroll } = await setup({ otkMaxLifetimeSeconds: 60 });
    await enroll("gw", "PNGW");
    await enroll("pne", "PNE");
    const error = await refused(otks.deposit("gw", { peerId: "pne", lifetimeSeconds: 61 }));
    expect([error.status, error.code]).toEqual([400, "ERR_OTK_EXPIRY"]);
    expect(error.message).toContain("at most 60 s from now");
    const issued = await otks.deposit("gw", { peerId: "pne", lifetimeSeconds: 60 });
    expect(issued.peerType).toBe("PNE");
  });

  // Report: otks.ts:67 LogicalOperator (no setting), :69 LogicalOperator, :70 ArrowFunction, :296 ObjectLiteral.
  it("[OTK-PAIRING] with no settings: 300 s at most, and a PN GW pairs with its own user's entities only", async () => {
    const { server, otks, enroll } = await setup();
    await server.createUser(BOB.userId, BOB.password);
    await enroll("gw", "PNGW");
    await enroll("pne", "PNE");
    await enroll("bob-pne", "PNE", BOB);
    const tooLong = await refused(otks.deposit("gw", { peerId: "pne", lifetimeSeconds: 301 }));
    expect(tooLong.code).toBe("ERR_OTK_EXPIRY");
    expect(tooLong.message).toContain("at most 300 s from now");
    const issued = await otks.deposit("gw", { peerId: "pne", lifetimeSeconds: 300 });
    expect(issued.peerId).toBe("pne");
    const crossUser = await refused(otks.deposit("gw", { peerId: "bob-pne", lifetimeSeconds: 60 }));
    expect([crossUser.status, crossUser.code]).toEqual([403, "ERR_OTK_PAIRING_REFUSED"]);
  });

  // Report: otks.ts:162 StringLiteral `""`.
  it("[OTK-CUT-THROUGH] a deposit toward a revoked peer is ERR_ENTITY_STATE and says the peer holds no active EUKey", async () => {
    const { server, otks, enroll } = await setup();
    await enroll("gw", "PNGW");
    await enroll("pne", "PNE");
    const revoked = await server.asUser(ALICE.userId, ALICE.password)("/cpns/v1/entities/pne", {
      method: "DELETE",
    });
    expect(revoked.status, await revoked.text()).toBe(200);
    const error = await refused(otks.deposit("gw", { peerId: "pne", lifetimeSeconds: 60 }));
    expect([error.status, error.code]).toEqual([409, "ERR_ENTITY_STATE"]);
    expect(error.message).toContain("the peer holds no active EUKey");
  });
});

describe("otks.ts: the server's clock", () => {
  // Report: otks.ts:71 ArrowFunction (expiry reads the server's clock).
  it("[OTK-DELIVERY] an OTK past its expiry on the server's clock is gone for its addressee", async () => {
    const { server, otks, enroll } = await setup();
    await enroll("gw", "PNGW");
    await enroll("pne", "PNE");
    const issued = await otks.deposit("gw", { peerId: "pne", lifetimeSeconds: 30 });
    server.clock.now += 31_000;
    const error = await refused(otks.fetch("pne", issued.otkId));
    expect([error.status, error.code]).toEqual([410, "ERR_OTK_GONE"]);
    expect(await otks.inbox("pne")).toEqual([]);
  });

  // Report: otks.ts:72 ArrowFunction (the records' time stamps).
  it("[OTK-DEPOSIT] a stored OTK record carries the server's time of its deposit and of its delivery", async () => {
    const { server, otks, enroll, repo } = await setup();
    await enroll("gw", "PNGW");
    await enroll("pne", "PNE");
    const issued = await otks.deposit("gw", { peerId: "pne", lifetimeSeconds: 60 });
    const deposited = await repo.get(issued.otkId);
    expect([deposited?.createdAt, deposited?.updatedAt]).toEqual([
      new Date(T0).toISOString(),
      new Date(T0).toISOString(),
    ]);
    server.clock.now += 5_000;
    await otks.fetch("pne", issued.otkId);
    const delivered = await repo.get(issued.otkId);
    expect([delivered?.createdAt, delivered?.updatedAt]).toEqual([
      new Date(T0).toISOString(),
      new Date(T0 + 5_000).toISOString(),
    ]);
  });
});

describe("otks.ts: damaged or missing records", () => {
  // Report: otks.ts:80 OptionalChaining.
  it("[OTK-CUT-THROUGH] an addressee whose entity record is gone revokes the OTK: the issuer's consume is refused, not a crash", async () => {
    const { server, otks, enroll, repo } = await setup();
    await enroll("gw", "PNGW");
    const before = new Set(await server.storage.getKeys());
    await enroll("pne", "PNE");
    const entityKeys = (await server.storage.getKeys()).filter(
      (key) => !before.has(key) && key.startsWith("entity:"),
    );
    expect(entityKeys).toHaveLength(1);
    const issued = await otks.deposit("gw", { peerId: "pne", lifetimeSeconds: 60 });
    for (const key of entityKeys) await server.storage.removeItem(key);
    const error = await refused(otks.consume("gw", issued.otkId));
    expect([error.status, error.code]).toEqual([410, "ERR_OTK_GONE"]);
    expect((await repo.get(issued.otkId))?.machine.value).toBe("revoked");
  });

  // Report: otks.ts:238 ConditionalExpression `false`, StringLiteral `""` (NoCoverage).
  it("[OTK-DELIVERY] a deposited record stripped of its sealed OTK is ERR_STORE_CORRUPT on delivery, and stays deposited", async () => {
    const { otks, enroll, repo } = await setup();
    await enroll("gw", "PNGW");
    await enroll("pne", "PNE");
    const issued = await otks.deposit("gw", { peerId: "pne", lifetimeSeconds: 60 });
    const stored = await repo.get(issued.otkId);
    if (!stored) throw new Error("no record");
    const { otk: _dropped, ...stripped } = stored;
    await repo.put(stripped);
    const error = await refused(otks.fetch("pne", issued.otkId));
    expect([error.status, error.code]).toEqual([503, "ERR_STORE_CORRUPT"]);
    expect((await repo.get(issued.otkId))?.machine.value).toBe("deposited");
  });
});

describe("otks.ts: every step holds that OTK's lock", () => {
  // Report: otks.ts:132 StringLiteral ``, :213 ``, :225 `` and `""`, :274 `` and `""`.
  it("[OTK-DELIVERY][FLEET-ATOMIC] deposit, inbox, delivery and consume each run under the lock `otk:<otkId>` of the OTK they touch", async () => {
    const taken: string[] = [];
    const coordination = memoryCoordination(() => T0);
    const locks: KeyedLock = {
      run: (key, task) => {
        taken.push(key);
        return coordination.locks.run(key, task);
      },
    };
    const { otks, enroll } = await setup({ coordination: { ...coordination, locks } });
    await enroll("gw", "PNGW");
    await enroll("pne", "PNE");
    const otkLocks = () => taken.filter((key) => !key.startsWith("entity"));
    taken.length = 0;
    const issued = await otks.deposit("gw", { peerId: "pne", lifetimeSeconds: 60 });
    await otks.inbox("pne");
    await otks.fetch("pne", issued.otkId);
    await otks.consume("gw", issued.otkId);
    const key = `otk:${issued.otkId}`;
    expect(otkLocks()).toEqual([key, key, key, key]);
  });

  // Report: otks.ts:217 OptionalChaining.
  it("[OTK-DELIVERY] an OTK whose record vanishes while the inbox waits for its lock is left out, not a crash", async () => {
    const coordination = memoryCoordination(() => T0);
    let beforeTask: (key: string) => Promise<void> = async () => {};
    const locks: KeyedLock = {
      run: (key, task) =>
        coordination.locks.run(key, async () => {
          await beforeTask(key);
          return task();
        }),
    };
    const { server, otks, enroll } = await setup({ coordination: { ...coordination, locks } });
    await enroll("gw", "PNGW");
    await enroll("pne", "PNE");
    const before = new Set(await server.storage.getKeys());
    const issued = await otks.deposit("gw", { peerId: "pne", lifetimeSeconds: 60 });
    const recordKeys = (await server.storage.getKeys()).filter(
      (key) => !before.has(key) && key.startsWith("otk:"),
    );
    expect(recordKeys).toHaveLength(1);
    expect((await otks.inbox("pne")).map((otk) => otk.otkId)).toEqual([issued.otkId]);
    beforeTask = async (key) => {
      if (key === `otk:${issued.otkId}`) await server.storage.removeItem(recordKeys[0] as string);
    };
    expect(await otks.inbox("pne")).toEqual([]);
  });
});
