/**
 * Issue #9 (mutation testing of src/server): the parts every route shares
 * (src/server/context.ts) and the entity machine's first snapshot
 * (src/server/entity-model.ts), from the attacker's side. Each test tells
 * apart a mutant the batch run (main at 4150e8c) left undetected: two
 * instances on one store and one coordination share the failure budget
 * (guesses spread over both are counted together), and an enrolled entity's
 * stored machine state names its entity.
 *
 * Two server apps run in process (app.fetch), built inside each test.
 */
import { createStorage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { describe, expect, it } from "vitest";
import { EntityAgent } from "../../src/agent/agent.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import { createDigestFetch } from "../../src/digest/index.ts";
import { createServerApp } from "../../src/server/app.ts";
import type { CpnsServerConfig } from "../../src/server/context.ts";
import { memoryCoordination } from "../../src/store/coordination.ts";
import { EntityRepository } from "../../src/store/repositories.ts";
import { createUserSealed } from "../admin-users.ts";

const ADMIN_TOKEN = "context-admin-token-0123456789abcdef";
const PASSWORD = "Quiet-Harbour-Lantern-42";
const BASE = "http://cpns.test";
const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);

/** Two instances of one server: one store, one coordination, one configuration. */
async function fleet(overrides: Partial<CpnsServerConfig> = {}) {
  const storage = createStorage({ driver: memoryDriver() });
  const coordination = memoryCoordination(() => T0);
  const config: CpnsServerConfig = {
    realm: "cpns-fleet",
    storage,
    masterKey: new Uint8Array(32).fill(7),
    adminToken: ADMIN_TOKEN,
    digestSecret: "context-digest-secret-0123456789abcdef",
    adminTransportKey: new Uint8Array(32).fill(9),
    coordination,
    now: () => T0,
    ...overrides,
  };
  const a = createServerApp(config);
  const b = createServerApp(config);
  const created = await createUserSealed({
    transport: (request) => a.fetch(request),
    base: BASE,
    adminToken: ADMIN_TOKEN,
    userId: "alice",
    password: PASSWORD,
    now: () => T0,
  });
  expect(created.status).toBe(201);
  return { a, b, storage };
}

describe("context.ts: what instances on one coordination share", () => {
  // Report: context.ts:141 LogicalOperator.
  it("[FLEET-ATOMIC][SERVER-RATE-LIMIT] wrong passwords spread over both instances share one budget", async () => {
    const { a, b } = await fleet({ rateLimit: { maxFailures: 2, windowSeconds: 60 } });
    const guess = (app: typeof a) =>
      createDigestFetch({
        username: "alice",
        password: "wrong-password-guess-1",
        fetch: (request) => app.fetch(request),
      })(`${BASE}/cpns/v1/entities`);
    expect((await guess(a)).status).toBe(401);
    expect((await guess(a)).status).toBe(401);
    expect((await guess(b)).status).toBe(429);
  });
});

describe("entity-model.ts: the first snapshot", () => {
  // Report: entity-model.ts:18 ObjectLiteral.
  it("[ENTITY-LIFECYCLE] an enrolled entity's stored machine state names the entity", async () => {
    const { a, storage } = await fleet();
    const agent = new EntityAgent({
      serverUrl: BASE,
      store: new MemoryKeyStore(),
      fetch: (request) => a.fetch(request),
    });
    await agent.enroll({ userId: "alice", password: PASSWORD, entityId: "pne-m", type: "PNE" });
    const record = await new EntityRepository(storage).get("pne-m");
    expect(record?.machine.context).toMatchObject({ entityId: "pne-m", keyVersion: 1 });
  });
});
