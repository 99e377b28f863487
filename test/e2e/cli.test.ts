/**
 * The `cpns` command end to end, as a user types it: a real CPNS Server
 * process (tsx src/runtime/node.ts) with a temporary data folder, and the CLI
 * as child processes (`node bin/cpns.mjs ...`) with a temporary device key
 * store and passwords on stdin. The blocks run in order and share the server:
 * users, enrollment, authentication, rotation, ownership, revocation,
 * refusals, an impostor server, and finally a scan for leaked secrets.
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeviceRecord } from "../../src/agent/keystore.ts";
import { CLI_ID_PATTERN } from "../../src/cli/settings.ts";
import { fromBase64url, toHex } from "../../src/crypto/bytes.ts";
import {
  ALGORITHMS,
  computeHa1,
  createDigestFetch,
  STRONG_ALGORITHMS,
} from "../../src/digest/index.ts";
import { ID_PATTERN } from "../../src/protocol/schemas.ts";
import { KeyStoreError, keyFileName, NodeKeyStore } from "../../src/runtime/node-keystore.ts";
import {
  type CliResult,
  type CliRunOptions,
  readTree,
  runCli,
  type ServerProcess,
  startImpostor,
  startServer,
  transcript,
} from "./cli-helpers.ts";

const PASSWORDS = {
  alice: "alice-Corr3ct-horse-battery",
  bob: "bob-Bu1lder-staple-4821",
  wrong: "alice-typo-Corr3ct-horse",
  carol: "carol-Qu13t-lantern-meadow",
} as const;

const T = 60_000;

let root = "";
let dataDir = "";
let keystore = "";
let server: ServerProcess | undefined;
/** Every EUKey (base64url) the device side held at some point. */
const eukeys = new Set<string>();

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "cpns-cli-e2e-"));
  dataDir = join(root, "data");
  keystore = join(root, "device");
  server = await startServer(dataDir);
}, T);

afterAll(async () => {
  await server?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
}, T);

/** The CLI against the test server, with this device's key store. */
function cpns(args: string[], options: CliRunOptions = {}): Promise<CliResult> {
  return runCli(args, {
    ...options,
    env: {
      CPNS_SERVER: server?.baseUrl ?? "",
      CPNS_DATA_DIR: dataDir,
      CPNS_KEYSTORE: keystore,
      ...options.env,
    },
  });
}

/** A user's command with the password on stdin. */
function as(user: keyof typeof PASSWORDS, args: string[], env?: Record<string, string>) {
  return cpns([...args, "--password-stdin"], { stdin: `${PASSWORDS[user]}\n`, env });
}

function keyFile(dir: string, entityId: string): string {
  return join(dir, keyFileName(entityId));
}

function heldKey(dir: string, entityId: string): { eukey: string; keyVersion: number } {
  const record = JSON.parse(readFileSync(keyFile(dir, entityId), "utf8"));
  if (record.eukey) eukeys.add(record.eukey);
  return record;
}

function expectOk(result: CliResult): void {
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
}

function expectFailure(result: CliResult, code: string, exit = 1): void {
  expect(result.code).toBe(exit);
  expect(result.stderr).toMatch(new RegExp(`^cpns: .+ \\(${code}\\)\\n`));
}

describe("[CLI-FLOWS][SEED-5.x.1-1] the device key store (src/runtime/node-keystore.ts)", () => {
  const record = (entityId: string, keyVersion: number): DeviceRecord => ({
    entityId,
    serverUrl: "http://127.0.0.1:1",
    userId: "alice",
    type: "PNE",
    keyVersion,
    eukey: `key-${keyVersion}`,
    machine: { value: "enrolled" },
  });

  it("one 0600 file per entity, named base64url(id), in a 0700 folder it creates", async () => {
    const dir = join(root, "ks-unit", "nested");
    const store = new NodeKeyStore(dir);
    expect(await store.get("gw-1")).toBeUndefined();
    expect(await store.list()).toEqual([]);
    const ids = ["gw-1", "../../escape", "a/b\\c", "ünï-cødé", "."];
    await Promise.all(ids.map((id) => store.put(record(id, 1))));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readdirSync(dir).sort()).toEqual(ids.map(keyFileName).sort());
    for (const id of ids) {
      expect(statSync(join(dir, keyFileName(id))).mode & 0o777).toBe(0o600);
      expect(await store.get(id)).toEqual(record(id, 1));
    }
    expect((await store.list()).map((r) => r.entityId)).toEqual(
      [...ids].sort((a, b) => a.localeCompare(b)),
    );
  });

  it("writes atomically: concurrent writes leave one whole record and no temporary file", async () => {
    const dir = join(root, "ks-atomic");
    const store = new NodeKeyStore(dir);
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.put(record("gw-1", i + 1))));
    expect(readdirSync(dir)).toEqual([keyFileName("gw-1")]);
    expect((await store.get("gw-1"))?.keyVersion).toBeGreaterThan(0);
  });

  it("refuses a folder or file open to others, and a damaged file", async () => {
    const dir = join(root, "ks-refuse");
    const store = new NodeKeyStore(dir);
    await store.put(record("gw-1", 1));
    chmodSync(dir, 0o755);
    await expect(store.get("gw-1")).rejects.toMatchObject({ code: "ERR_KEYSTORE_PERMISSIONS" });
    chmodSync(dir, 0o700);
    chmodSync(join(dir, keyFileName("gw-1")), 0o644);
    await expect(store.get("gw-1")).rejects.toBeInstanceOf(KeyStoreError);
    writeFileSync(join(dir, keyFileName("gw-1")), "{not json", { mode: 0o600 });
    chmodSync(join(dir, keyFileName("gw-1")), 0o600);
    await expect(store.get("gw-1")).rejects.toMatchObject({ code: "ERR_KEYSTORE_CORRUPT" });
  });
});

describe("[CLI-FLOWS][SEED-5.x.1-1][SERVER-ADMIN-API] cpns user: CPNS Users through the admin API", () => {
  it("the CLI's id rule is the server's", () => {
    expect(CLI_ID_PATTERN.source).toBe(ID_PATTERN.source);
  });

  it(
    "user add creates alice and bob (password sealed to the pinned admin key; token and pin from the data folder); user list shows them",
    async () => {
      const [alice, bob] = await Promise.all([
        as("alice", ["user", "add", "alice"]),
        as("bob", ["user", "add", "bob", "--json"]),
      ]);
      expectOk(alice);
      expect(alice.stdout).toBe('created CPNS User alice (realm "cpns")\n');
      expectOk(bob);
      expect(JSON.parse(bob.stdout)).toMatchObject({ userId: "bob", realm: "cpns" });

      const [list, denied] = await Promise.all([
        cpns(["user", "list", "--json"]),
        cpns(["user", "list"], { env: { CPNS_ADMIN_TOKEN: "not-the-admin-token-at-all" } }),
      ]);
      expectOk(list);
      expect(JSON.parse(list.stdout)).toEqual({ users: ["alice", "bob"] });
      expectFailure(denied, "ERR_ADMIN_UNAUTHORIZED");
    },
    T,
  );
});

describe("[CLI-FLOWS][SEED-5.x.1-1][SEED-5.x.2-1][AGENT-REQUIRE-RSPAUTH] cpns enroll and whoami", () => {
  it(
    "enroll gw-1 (PNGW) and pne-1 (PNE): the EUKey is kept in a 0600 file in a 0700 folder",
    async () => {
      const [gw, pne] = await Promise.all([
        as("alice", ["enroll", "--user", "alice", "--entity", "gw-1", "--type", "PNGW"]),
        as("alice", ["enroll", "--user", "alice", "--entity", "pne-1", "--type", "PNE", "--json"]),
      ]);
      expectOk(gw);
      expect(gw.stdout).toMatch(/^enrolled gw-1 \(PNGW\) for alice: key version 1; key kept in /);
      expectOk(pne);
      expect(JSON.parse(pne.stdout)).toMatchObject({
        entityId: "pne-1",
        userId: "alice",
        type: "PNE",
        keyVersion: 1,
        rotated: false,
      });

      expect(statSync(keystore).mode & 0o777).toBe(0o700);
      expect(readdirSync(keystore).sort()).toEqual(["Z3ctMQ.json", "cG5lLTE.json"]);
      for (const entityId of ["gw-1", "pne-1"]) {
        expect(statSync(keyFile(keystore, entityId)).mode & 0o777).toBe(0o600);
        const held = heldKey(keystore, entityId);
        expect(fromBase64url(held.eukey)).toHaveLength(32);
        expect(held.keyVersion).toBe(1);
      }
    },
    T,
  );

  it(
    "whoami authenticates with the EUKey and prints entityId, userId and type",
    async () => {
      const [gw, pne] = await Promise.all([
        cpns(["whoami", "--entity", "gw-1"]),
        cpns(["whoami", "--entity", "pne-1"]),
      ]);
      expectOk(gw);
      expect(JSON.parse(gw.stdout)).toEqual({
        entityId: "gw-1",
        userId: "alice",
        type: "PNGW",
        keyVersion: 1,
      });
      expectOk(pne);
      expect(JSON.parse(pne.stdout)).toEqual({
        entityId: "pne-1",
        userId: "alice",
        type: "PNE",
        keyVersion: 1,
      });
    },
    T,
  );

  it(
    "entities --user alice lists both with state and key version",
    async () => {
      const table = await as("alice", ["entities", "--user", "alice"]);
      expectOk(table);
      const lines = table.stdout.trimEnd().split("\n");
      expect(lines[0]).toMatch(/^ENTITY\s+TYPE\s+STATE\s+KEY\s+UPDATED$/);
      expect(lines[1]).toMatch(/^gw-1\s+PNGW\s+active\s+1\s/);
      expect(lines[2]).toMatch(/^pne-1\s+PNE\s+active\s+1\s/);
      expect(lines).toHaveLength(3);
    },
    T,
  );
});

describe("[CLI-FLOWS][SEED-5.x.1-1][SEED-5.x.2-1] rotation: enrolling again replaces the key", () => {
  const oldKeystore = () => join(root, "old-device");

  it(
    "rotate gw-1 and enroll pne-1 again: key version 2 each",
    async () => {
      // A copy of gw-1's version-1 key file, as an attacker or a stale backup would hold it.
      mkdirSync(oldKeystore(), { mode: 0o700 });
      cpSync(keyFile(keystore, "gw-1"), keyFile(oldKeystore(), "gw-1"));
      const before = heldKey(keystore, "gw-1").eukey;

      const [gw, pne] = await Promise.all([
        as("alice", ["rotate", "--user", "alice", "--entity", "gw-1"]),
        as("alice", ["enroll", "--user", "alice", "--entity", "pne-1", "--json"]),
      ]);
      expectOk(gw);
      expect(gw.stdout).toMatch(
        /^rotated gw-1 \(PNGW\) of alice: key version 2 \(version 1 no longer authenticates\)/,
      );
      expectOk(pne);
      expect(JSON.parse(pne.stdout)).toMatchObject({ type: "PNE", keyVersion: 2, rotated: true });
      const after = heldKey(keystore, "gw-1");
      expect(after.keyVersion).toBe(2);
      expect(after.eukey).not.toBe(before);
      heldKey(keystore, "pne-1");
    },
    T,
  );

  it(
    "whoami works with the new key; the old key file gets ERR_DIGEST_UNAUTHORIZED",
    async () => {
      const [fresh, stale] = await Promise.all([
        cpns(["whoami", "--entity", "gw-1"]),
        cpns(["whoami", "--entity", "gw-1", "--keystore", oldKeystore()]),
      ]);
      expectOk(fresh);
      expect(JSON.parse(fresh.stdout)).toMatchObject({ entityId: "gw-1", keyVersion: 2 });
      expectFailure(stale, "ERR_DIGEST_UNAUTHORIZED");
      expect(stale.stderr).toContain("refused key version 1 of gw-1");
      expect(stale.stdout).toBe("");
    },
    T,
  );
});

describe("[CLI-FLOWS][SERVER-OWNERSHIP][SEED-5.x.1-1] ownership and revocation", () => {
  it(
    "bob cannot enroll alice's gw-1 (ERR_NOT_OWNER); a wrong password is refused",
    async () => {
      const [bob, wrong] = await Promise.all([
        as("bob", ["enroll", "--user", "bob", "--entity", "gw-1", "--type", "PNGW"], {
          CPNS_KEYSTORE: join(root, "bob-device"),
        }),
        as("wrong", ["enroll", "--user", "alice", "--entity", "gw-2", "--type", "PNGW"]),
      ]);
      expectFailure(bob, "ERR_NOT_OWNER");
      expect(bob.stdout).toBe("");
      expectFailure(wrong, "ERR_DIGEST_UNAUTHORIZED");
      expect(wrong.stderr).toContain("wrong User ID or password");
      // No key was obtained, and a device that had none records nothing.
      expect(existsSync(keyFile(keystore, "gw-2"))).toBe(false);
    },
    T,
  );

  it(
    "revoke pne-1: whoami then fails and entities shows it revoked, gw-1 still active",
    async () => {
      const revoked = await as("alice", ["revoke", "--user", "alice", "--entity", "pne-1"]);
      expectOk(revoked);
      expect(revoked.stdout).toBe(
        "revoked pne-1 (PNE) of alice: key version 2 no longer authenticates\n",
      );

      const [pne, list] = await Promise.all([
        cpns(["whoami", "--entity", "pne-1"]),
        as("alice", ["entities", "--user", "alice", "--json"]),
      ]);
      expectFailure(pne, "ERR_DIGEST_UNAUTHORIZED");
      expect(pne.stdout).toBe("");
      expectOk(list);
      expect(JSON.parse(list.stdout)).toMatchObject({
        userId: "alice",
        entities: [
          { entityId: "gw-1", userId: "alice", type: "PNGW", state: "active", keyVersion: 2 },
          { entityId: "pne-1", userId: "alice", type: "PNE", state: "revoked", keyVersion: 2 },
        ],
      });
    },
    T,
  );
});

describe("[CLI-FLOWS] usage errors exit 2", () => {
  it(
    "a missing option and no password source (stdin not a terminal) are usage errors",
    async () => {
      const [missing, noPassword] = await Promise.all([
        cpns(["enroll", "--user", "alice", "--type", "PNE"]),
        cpns(["entities", "--user", "alice"]),
      ]);
      expectFailure(missing, "ERR_USAGE", 2);
      expect(missing.stderr).toContain("--entity");
      expectFailure(noPassword, "ERR_NO_PASSWORD", 2);
    },
    T,
  );
});

describe("[FIRSTRUN-JSON-ERRORS][CLI-FLOWS] with --json, errors are JSON too", () => {
  it(
    "a usage error and a refusal print {error: {code, message}} on stderr, nothing on stdout",
    async () => {
      const [usage, refused] = await Promise.all([
        cpns(["enroll", "--user", "alice", "--type", "PNE", "--json"]),
        cpns(["whoami", "--entity", "never-enrolled", "--json"]),
      ]);
      expect(usage.code).toBe(2);
      expect(usage.stdout).toBe("");
      expect(JSON.parse(usage.stderr)).toEqual({
        error: { code: "ERR_USAGE", message: expect.stringContaining("--entity") },
      });
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe("");
      const { error } = JSON.parse(refused.stderr) as { error: { code: string; message: string } };
      expect(error.code).toMatch(/^ERR_[A-Z_]+$/);
      expect(error.message).toContain("never-enrolled");
    },
    T,
  );
});

describe("[AGENT-REQUIRE-RSPAUTH][SEED-5.x.2-1] a server that cannot prove itself is not believed", () => {
  it(
    "without rspauth, or with no Digest exchange at all: ERR_DIGEST_SERVER_UNAUTHENTICATED, key kept",
    async () => {
      const challenge = await startImpostor("challenge");
      const open = await startImpostor("open");
      try {
        const [noRspauth, noExchange] = await Promise.all([
          cpns(["whoami", "--entity", "gw-1", "--server", challenge.baseUrl]),
          cpns(["whoami", "--entity", "gw-1", "--server", open.baseUrl]),
        ]);
        for (const result of [noRspauth, noExchange]) {
          expectFailure(result, "ERR_DIGEST_SERVER_UNAUTHENTICATED");
          expect(result.stdout).toBe(""); // nothing the impostor said is printed
          expect(result.stderr).not.toContain("mallory");
        }
      } finally {
        await Promise.all([challenge.close(), open.close()]);
      }
      // The key survived: the genuine server still accepts it.
      const genuine = await cpns(["whoami", "--entity", "gw-1"]);
      expectOk(genuine);
      expect(JSON.parse(genuine.stdout)).toMatchObject({ userId: "alice", keyVersion: 2 });
    },
    T,
  );
});

describe("[KEYSTORE-OUTSIDE-GIT][CLI-FLOWS] a key store a git work tree would track", () => {
  it(
    "enroll warns when the key store is inside a git work tree that does not ignore it, and not once it is ignored",
    async () => {
      const tree = join(root, "git-project");
      mkdirSync(tree);
      expect(spawnSync("git", ["init", "--quiet", tree], { stdio: "ignore" }).status).toBe(0);
      const env = { CPNS_KEYSTORE: join(tree, "keys") };
      const first = await as(
        "alice",
        ["enroll", "--user", "alice", "--entity", "pne-git", "--type", "PNE"],
        env,
      );
      expect(first.code).toBe(0);
      expect(first.stderr).toBe(
        `cpns: warning: the key store ${join(tree, "keys")} is inside the git work tree ${tree}, which does not ignore it: the EUKey could be committed; move it (--keystore, CPNS_KEYSTORE) or add it to .gitignore\n`,
      );
      writeFileSync(join(tree, ".gitignore"), "keys/\n");
      expectOk(await as("alice", ["enroll", "--user", "alice", "--entity", "pne-git"], env));
    },
    T,
  );
});

describe("[FIRSTRUN-REFUSALS][CLI-FLOWS] a refusal reads as what it is", () => {
  it(
    "after a burst of wrong passwords the failure limiter's 429 is reported as rate limiting with its Retry-After, not as an impostor server",
    async () => {
      expectOk(await as("carol", ["user", "add", "carol"]));
      const guess = createDigestFetch({
        username: "carol",
        password: "not carol's password at all",
        requireRspauth: true,
        qop: "auth-int",
        algorithms: STRONG_ALGORITHMS,
      });
      // Past the pair's free failures each wrong answer doubles the wait (LIMIT-BACKOFF):
      // keep guessing after each wait until it is long enough to outlast the CLI's start-up.
      let retryAfter = 0;
      for (let i = 0; i < 60 && retryAfter < 8; i++) {
        const res = await guess(`${server?.baseUrl}/cpns/v1/entities`);
        await res.body?.cancel();
        if (res.status !== 429) continue;
        retryAfter = Number(res.headers.get("retry-after"));
        if (retryAfter < 8) await new Promise((r) => setTimeout(r, retryAfter * 1000 + 100));
      }
      expect(retryAfter).toBeGreaterThanOrEqual(8);
      // The right password from the same address is over the same budget now.
      const refused = await as("carol", ["entities", "--user", "carol"]);
      expectFailure(refused, "ERR_RATE_LIMITED");
      expect(refused.stderr).toMatch(/retry after \d+ s/);
      expect(refused.stderr).not.toMatch(/rspauth|impostor|not authenticated/i);
    },
    T,
  );
});

describe("[CLI-FLOWS][SEED-5.x.1-1][SEED-5.x.2-1] no password, HA1 or EUKey escapes", () => {
  it("none in the CLI's output, the server's output, the data folder or security.log", () => {
    const secrets: string[] = [...Object.values(PASSWORDS)];
    for (const user of ["alice", "bob"] as const) {
      for (const hash of ["SHA-256", "SHA-512-256", "MD5"] as const) {
        secrets.push(computeHa1(ALGORITHMS[hash], user, "cpns", PASSWORDS[user]));
      }
    }
    // gw-1 v1 and v2, pne-1 v1 and v2: every key the device side ever held.
    expect(eukeys.size).toBe(4);
    for (const eukey of eukeys) secrets.push(eukey, toHex(fromBase64url(eukey)));

    const places = [
      ...transcript.map((text, i) => ({ path: `CLI output #${i}`, text })),
      { path: "server output", text: server?.output() ?? "" },
      ...readTree(dataDir),
    ];
    expect(places.some((place) => place.path.endsWith("security.log"))).toBe(true);
    const log = readFileSync(join(dataDir, "security.log"), "utf8");
    expect(log).toMatch(/"event":"entity.rotated"/);
    expect(log).toMatch(/"event":"auth.failed"/);

    const leaks = places.flatMap(({ path, text }) =>
      secrets.filter((secret) => text.includes(secret)).map(() => path),
    );
    expect(leaks).toEqual([]);
    // The scan can see a key where one is: the device's key store holds gw-1's.
    expect(readTree(keystore).some(({ text }) => [...eukeys].some((k) => text.includes(k)))).toBe(
      true,
    );
  });
});
