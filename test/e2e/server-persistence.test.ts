/**
 * The embedded default on Node (issue #3, STORE-PERSISTENCE): the real
 * `tsx src/runtime/node.ts` on a temporary CPNS_DATA_DIR with the fs storage.
 * Users and entities survive a restart (the master key, admin token and nonce
 * secret are generated once and kept beside the data, owner-only), and no
 * file in the data folder holds a secret in clear: every EUKey, password and
 * HA1 is searched for in clear, hex and base64url in every file, including
 * the security log.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EntityAgent } from "../../src/agent/agent.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import { fromBase64url } from "../../src/crypto/bytes.ts";
import { ALGORITHMS, computeHa1, createDigestFetch } from "../../src/digest/index.ts";
import { createUserSealed } from "../admin-users.ts";
import { findLeaks, readTree, type SpawnedServer, spawnCpnsServer } from "./server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-fs-password-Kp2" };
const WRONG_PASSWORD = "alice-wrong-guess-5521";
const REALM = "cpns"; // the default of src/runtime/node-config.ts

let parentDir: string;
let dataDir: string;
let running: SpawnedServer | undefined;
const store = new MemoryKeyStore();
const keys: Record<string, string> = {};
let adminToken = "";

const admin = (path: string, init: RequestInit = {}) => {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${adminToken}`);
  return fetch(`${running?.url}${path}`, { ...init, headers });
};
const agent = () => new EntityAgent({ serverUrl: running?.url as string, store });
const asAlice = () => {
  const digestFetch = createDigestFetch({
    username: ALICE.userId,
    password: ALICE.password,
    requireRspauth: true,
  });
  return (path: string, init?: RequestInit) => digestFetch(`${running?.url}${path}`, init);
};

beforeAll(async () => {
  // A folder that does not exist yet: the server creates it (owner-only).
  parentDir = mkdtempSync(join(tmpdir(), "cpns-e2e-fs-"));
  dataDir = join(parentDir, "data");
  running = await spawnCpnsServer(dataDir);
  adminToken = readFileSync(join(dataDir, "admin.token"), "utf8").trim();
  const created = await createUserSealed({
    transport: (request) => fetch(request),
    base: running.url,
    adminToken,
    ...ALICE,
  });
  expect(created.status).toBe(201);

  keys["watch-fs v1"] = (
    await agent().enroll({ ...ALICE, entityId: "watch-fs", type: "PNE" })
  ).eukey;
  keys["gw-fs v1"] = (await agent().enroll({ ...ALICE, entityId: "gw-fs", type: "PNGW" })).eukey;
  keys["gw-fs v2"] = (await agent().enroll({ ...ALICE, entityId: "gw-fs", type: "PNGW" })).eukey;
  keys["dead-fs"] = (await agent().enroll({ ...ALICE, entityId: "dead-fs", type: "PNE" })).eukey;
  expect((await asAlice()("/cpns/v1/entities/dead-fs", { method: "DELETE" })).status).toBe(200);
  expect(await agent().whoami("watch-fs")).toMatchObject({ keyVersion: 1 });
  const wrong = await createDigestFetch({ username: "alice", password: WRONG_PASSWORD })(
    `${running.url}/cpns/v1/entities`,
  );
  expect(wrong.status).toBe(401);

  await running.stop();
  running = await spawnCpnsServer(dataDir);
}, 60_000);

afterAll(async () => {
  await running?.stop();
  rmSync(parentDir, { recursive: true, force: true });
}, 30_000);

describe("[STORE-PERSISTENCE] a restarted embedded server keeps every user and entity", () => {
  it("[STORE-PERSISTENCE][SEED-5.x.2-1] whoami with the kept EUKey still works after the restart", async () => {
    expect(await agent().whoami("watch-fs")).toEqual({
      entityId: "watch-fs",
      userId: "alice",
      type: "PNE",
      keyVersion: 1,
    });
    expect(await agent().whoami("gw-fs")).toMatchObject({ type: "PNGW", keyVersion: 2 });
  });

  it("[STORE-PERSISTENCE][ENTITY-LIFECYCLE] a rotated-away key and a revoked entity stay refused after the restart", async () => {
    for (const [entityId, key] of [
      ["gw-fs", keys["gw-fs v1"]],
      ["dead-fs", keys["dead-fs"]],
    ] as const) {
      const res = await createDigestFetch({ username: entityId, password: key as string })(
        `${running?.url}/cpns/v1/whoami`,
      );
      expect(res.status).toBe(401);
    }
  });

  it("[STORE-PERSISTENCE][SEED-5.x.1-1] the user can still enroll, and the admin token from the data folder still works", async () => {
    const record = await agent().enroll({ ...ALICE, entityId: "watch-fs-2", type: "PNE" });
    keys["watch-fs-2"] = record.eukey;
    expect(record.keyVersion).toBe(1);
    expect(await agent().whoami("watch-fs-2")).toMatchObject({ keyVersion: 1 });
    const users = await admin("/cpns/v1/admin/users");
    expect(await users.json()).toEqual({ users: ["alice"] });
    const again = await createUserSealed({
      transport: (request) => fetch(request),
      base: running?.url as string,
      adminToken,
      ...ALICE,
    });
    expect(again.status).toBe(409);
    const list = await asAlice()("/cpns/v1/entities");
    const entities = (
      (await list.json()) as { entities: Array<{ entityId: string; state: string }> }
    ).entities;
    expect(entities.map((e) => [e.entityId, e.state])).toEqual([
      ["dead-fs", "revoked"],
      ["gw-fs", "active"],
      ["watch-fs", "active"],
      ["watch-fs-2", "active"],
    ]);
  });

  it("[STORE-PERSISTENCE][STORE-AT-REST] the kept secrets are owner-only files beside the data", () => {
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    for (const name of ["master.key", "admin.token", "digest.secret", "security.log"]) {
      expect(statSync(join(dataDir, name)).mode & 0o077, name).toBe(0);
    }
    expect(fromBase64url(readFileSync(join(dataDir, "master.key"), "utf8").trim())).toHaveLength(
      32,
    );
  });
});

describe("[STORE-AT-REST][SERVER-SECURITY-LOG][SERVER-USER-HA1] no secret in clear anywhere in the data folder", () => {
  it("[STORE-AT-REST] every file, read byte by byte, holds no EUKey, password or HA1 in clear, hex or base64url", async () => {
    await running?.stop();
    const secrets: Record<string, Uint8Array | string> = {
      "alice password": ALICE.password,
      "wrong password": WRONG_PASSWORD,
    };
    for (const [label, key] of Object.entries(keys)) secrets[`EUKey ${label}`] = fromBase64url(key);
    for (const hash of ["MD5", "SHA-256", "SHA-512-256"] as const) {
      const ha1 = computeHa1(ALGORITHMS[hash], "alice", REALM, ALICE.password);
      secrets[`HA1 ${hash}`] = ha1;
      secrets[`HA1 ${hash} bytes`] = Buffer.from(ha1, "hex");
    }
    const files = readTree(dataDir);
    const names = files.map((f) => f.path.slice(dataDir.length + 1));
    expect(names).toContain("security.log");
    expect(names.filter((n) => n.startsWith("store"))).not.toHaveLength(0);
    const leaks = files.flatMap((f) =>
      findLeaks(f.bytes, secrets).map((leak) => `${f.path.slice(dataDir.length + 1)}: ${leak}`),
    );
    expect(leaks).toEqual([]);
    // The admin token lives in admin.token and nowhere else.
    const token = files.filter((f) => f.bytes.includes(Buffer.from(adminToken)));
    expect(token.map((f) => f.path.slice(dataDir.length + 1))).toEqual(["admin.token"]);
    // Control: the scan does find the keys where a device keeps them.
    expect(findLeaks(JSON.stringify(await store.list()), secrets)).not.toEqual([]);
  });

  it("[SERVER-SECURITY-LOG] the security log file has the events of both runs", () => {
    const events = readFileSync(join(dataDir, "security.log"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { event: string; entityId?: string; userId?: string });
    const names = events.map((e) => `${e.event}${e.entityId ? ` ${e.entityId}` : ""}`);
    expect(names).toEqual(
      expect.arrayContaining([
        "user.created",
        "entity.enrolled watch-fs",
        "entity.enrolled gw-fs",
        "entity.rotated gw-fs",
        "entity.revoked dead-fs",
        "auth.failed",
        "entity.enrolled watch-fs-2",
      ]),
    );
  });
});
