/**
 * Issue #9 item 2: a restart, or a second server on the same data, must never
 * reopen a replay window. The attacker captured an enrollment (a rotation of
 * the victim's EUKey) on the wire, byte for byte, and sends it again:
 * - in process: two servers on one storage, one digest secret and one master
 *   key, each with its own ledger; and a "restart" (a new app on the storage);
 * - for real: `tsx src/runtime/node.ts` on a temporary CPNS_DATA_DIR, stopped
 *   and started again on the same folder (the digest secret is kept there).
 * Each replay is refused (401) and the victim's key version does not move.
 * The defence is the ledger epoch inside every nonce (src/digest/ledger.ts,
 * nonce.ts); a data-folder lock against a second live process is another
 * engineer's part of issue #9 and is not relied on here.
 */

import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EntityAgent } from "../../src/agent/agent.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import type { FetchLike } from "../../src/digest/index.ts";
import { createUserSealed } from "../admin-users.ts";
import {
  type SpawnedServer,
  spawnCpnsServer,
  startTestServer,
  type TestServer,
} from "./server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-replay-password-7Qx" };

interface Captured {
  method: string;
  path: string;
  headers: Array<[string, string]>;
  body: Uint8Array | undefined;
  status: number;
}

/** The attacker's tap on the wire: every request exactly as sent, and its status. */
function tap(inner: FetchLike = (request) => fetch(request)) {
  const captured: Captured[] = [];
  const transport: FetchLike = async (request) => {
    const copy = request.clone();
    const body = copy.body ? new Uint8Array(await copy.arrayBuffer()) : undefined;
    const url = new URL(request.url);
    const res = await inner(request);
    captured.push({
      method: request.method,
      path: url.pathname + url.search,
      headers: [...request.headers],
      body,
      status: res.status,
    });
    return res;
  };
  return { transport, captured };
}

/** The answered enrollment: the one request that carried credentials and got 201. */
function answeredEnrollment(captured: Captured[]): Captured {
  const hit = captured.find(
    (c) =>
      c.method === "POST" &&
      c.path === "/cpns/v1/enrollments" &&
      c.status === 201 &&
      c.headers.some(([name]) => name === "authorization"),
  );
  if (!hit) throw new Error("no answered enrollment was captured");
  return hit;
}

async function replay(baseUrl: string, request: Captured): Promise<Response> {
  return await fetch(`${baseUrl}${request.path}`, {
    method: request.method,
    headers: request.headers,
    body: request.body as BodyInit | undefined,
  });
}

async function keyVersionOf(agent: EntityAgent, entityId: string): Promise<unknown> {
  return (await agent.whoami(entityId)).keyVersion;
}

describe("[DIGEST-EPOCH][DIGEST-REPLAY-RESTART] in process: a second server on the same storage, and a restart", () => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it("[DIGEST-EPOCH][DIGEST-REPLAY-RESTART] a captured rotation replayed at a second instance or after a restart: 401, the victim's key version unchanged", async () => {
    const digestSecret = randomBytes(32).toString("base64url");
    const first = await startTestServer({ digestSecret });
    servers.push(first);
    const shared = { digestSecret, storage: first.storage, masterKey: first.masterKey };
    await first.createUser(ALICE.userId, ALICE.password);
    const store = new MemoryKeyStore();
    const wire = tap();
    const owner = new EntityAgent({ serverUrl: first.url, store, fetch: wire.transport });
    await owner.enroll({ ...ALICE, entityId: "victim", type: "PNE" });
    const captured = answeredEnrollment(wire.captured);
    const victim = new EntityAgent({ serverUrl: first.url, store });
    expect(await keyVersionOf(victim, "victim")).toBe(1);

    // Same instance: the ledger refuses it (the baseline the others must match).
    expect((await replay(first.url, captured)).status).toBe(401);

    // A second instance on the same storage and secret, with its own ledger.
    const second = await startTestServer(shared);
    servers.push(second);
    const atSecond = await replay(second.url, captured);
    expect(atSecond.status).toBe(401);
    expect((await atSecond.json()) as { code: string }).toMatchObject({
      code: "ERR_DIGEST_UNAUTHORIZED",
    });

    // A restart: the first instance gone, a new one on the same storage.
    await first.close();
    servers.splice(servers.indexOf(first), 1);
    const restarted = await startTestServer(shared);
    servers.push(restarted);
    expect((await replay(restarted.url, captured)).status).toBe(401);

    // Nothing was rotated, and the honest agent keeps working at both instances.
    for (const server of [second, restarted]) {
      expect(await keyVersionOf(new EntityAgent({ serverUrl: server.url, store }), "victim")).toBe(
        1,
      );
    }
  });
});

describe("[DIGEST-REPLAY-RESTART] the real Node server, stopped and started again on the same data folder", () => {
  let parentDir: string | undefined;
  let running: SpawnedServer | undefined;
  afterAll(async () => {
    await running?.stop();
    if (parentDir) rmSync(parentDir, { recursive: true, force: true });
  }, 30_000);

  it("[DIGEST-REPLAY-RESTART][DIGEST-EPOCH] capture an enrollment, restart, replay it byte for byte: refused, key version unchanged, and the agent carries on", async () => {
    parentDir = mkdtempSync(join(tmpdir(), "cpns-e2e-replay-"));
    const dataDir = join(parentDir, "data");
    running = await spawnCpnsServer(dataDir);
    const adminToken = readFileSync(join(dataDir, "admin.token"), "utf8").trim();
    const created = await createUserSealed({
      transport: (request) => fetch(request),
      base: running.url,
      adminToken,
      ...ALICE,
    });
    expect(created.status).toBe(201);
    const store = new MemoryKeyStore();
    const wire = tap();
    await new EntityAgent({ serverUrl: running.url, store, fetch: wire.transport }).enroll({
      ...ALICE,
      entityId: "victim",
      type: "PNE",
    });
    const captured = answeredEnrollment(wire.captured);
    const before = (await store.get("victim"))?.eukey;

    await running.stop();
    running = await spawnCpnsServer(dataDir);
    const replayed = await replay(running.url, captured);
    expect(replayed.status).toBe(401);
    expect(((await replayed.json()) as { code: string }).code).toBe("ERR_DIGEST_UNAUTHORIZED");

    // The victim's kept key still works, at version 1: nothing was rotated.
    const victim = new EntityAgent({ serverUrl: running.url, store });
    expect(await victim.whoami("victim")).toMatchObject({ entityId: "victim", keyVersion: 1 });
    expect((await store.get("victim"))?.eukey).toBe(before);
  }, 120_000);
});
