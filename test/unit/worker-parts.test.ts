/**
 * The Worker target's parts that run without workerd (issue #11): shard
 * choice, the light password estimator, and the server entry's refusals
 * before it touches its Durable Objects (TLS below 1.2, missing or bad
 * secrets). The objects themselves run in test/workers/ on real workerd.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkPassword } from "../../src/protocol/password-policy.ts";
import { handleRequest } from "../../src/runtime/worker-app.ts";
import {
  listingShardKey,
  recordShardKey,
  SHARDS,
  shardOf,
} from "../../src/runtime/worker-coordination.ts";
import { lightEstimator } from "../../src/runtime/worker-password.ts";
import { idSegment } from "../../src/store/repositories.ts";

const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as never;

describe("[FLEET-WORKERS-SHARDS] shard choice", () => {
  it("[FLEET-WORKERS-SHARDS] is stable and spreads: 10,000 entity keys land in every one of the shards, none with more than twice its share", () => {
    const counts = new Array(SHARDS).fill(0);
    for (let i = 0; i < 10_000; i++) counts[shardOf(`entity:${idSegment(`pne-${i}`)}`)] += 1;
    expect(counts.every((n) => n > 0)).toBe(true);
    expect(Math.max(...counts)).toBeLessThan((2 * 10_000) / SHARDS);
    expect(shardOf("entity:abc")).toBe(shardOf("entity:abc"));
  });

  it("[FLEET-WORKERS-SHARDS] a peer's OTK index entries live with the listing of that peer; other records shard by their whole key", () => {
    const peer = `otk-peer:${idSegment("pngw-1")}`;
    expect(recordShardKey(`${peer}:${idSegment("otk-1")}`)).toBe(peer);
    expect(recordShardKey(`${peer}:${idSegment("otk-2")}`)).toBe(peer);
    expect(listingShardKey(`${peer}:`)).toBe(peer);
    expect(recordShardKey(`entity:${idSegment("pne-1")}`)).toBe(`entity:${idSegment("pne-1")}`);
    expect(recordShardKey("userhash-user:SHA-256:ab12")).toBe("userhash-user:SHA-256:ab12");
    // A bare prefix ("user", "entity") has no one shard: the listing asks every shard.
    expect(listingShardKey("user:")).toBeUndefined();
    expect(listingShardKey("entity:")).toBeUndefined();
    expect(listingShardKey("")).toBeUndefined();
  });
});

describe("[FLEET-WORKERS-PASSWORD] the Worker's light password estimator under the same policy", () => {
  const policy = (password: string, userId = "alice") =>
    checkPassword(password, { userId, realm: "cpns" }, lightEstimator).ok;

  it("[FLEET-WORKERS-PASSWORD][PASSWORD-POLICY] refuses common passwords, keyboard runs, repeats and the user's own name, however long", () => {
    for (const weak of [
      "password1234",
      "Password123!",
      "qwertyuiop12",
      "aaaaaaaaaaaaaaaa",
      "abcdefghijklmnop",
      "1234567890123",
      "alicealice2024",
      "cpnscpnscpns1",
      "iloveyou123456",
    ]) {
      expect(policy(weak), weak).toBe(false);
    }
    expect(policy("martin-2025!x", "martin-2025")).toBe(false);
  });

  it("[FLEET-WORKERS-PASSWORD][PASSWORD-POLICY] accepts long mixed passphrases and random strings", () => {
    for (const strong of [
      "wonderland-correct-horse",
      "alice-Correct-Horse-Battery",
      "Tr0ub4dor&3-staple-Zebra",
      "k9#Vq2!mW7zR",
    ]) {
      expect(policy(strong), strong).toBe(true);
    }
  });
});

describe("[FLEET-WORKERS-ENTRY] the server entry's refusals before its storage", () => {
  const secrets = {
    CPNS_MASTER_KEY: "A".repeat(43),
    CPNS_ADMIN_TOKEN: "admin-token-0123456789abcdef",
    CPNS_DIGEST_SECRET: "digest-secret-0123456789abcdef",
    CPNS_ADMIN_TRANSPORT_KEY: "B".repeat(43),
  };
  // A namespace that fails every call: nothing below may reach storage.
  const unreachable = {
    idFromName: () => {
      throw new Error("storage must not be reached");
    },
    get: () => {
      throw new Error("storage must not be reached");
    },
  };

  it("[FLEET-WORKERS-ENTRY][FFS-TLS-VERSION] TLS 1.1 at the edge: 400 ERR_TLS_VERSION before anything else", async () => {
    const request = new Request("https://cpns.example/health");
    Object.defineProperty(request, "cf", { value: { tlsVersion: "TLSv1.1" } });
    const res = await handleRequest(request, { ...secrets, CPNS_STORE: unreachable }, ctx);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: "ERR_TLS_VERSION" });
  });

  it("[FLEET-WORKERS-ENTRY][FLEET-CONFIG] a missing secret: 503 ERR_WORKER_NOT_CONFIGURED, storage never touched", async () => {
    const { CPNS_DIGEST_SECRET: _, ...three } = secrets;
    const res = await handleRequest(
      new Request("https://cpns.example/health"),
      { ...three, CPNS_STORE: unreachable },
      ctx,
    );
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(await res.json()).toMatchObject({ code: "ERR_WORKER_NOT_CONFIGURED" });
  });

  it("[FLEET-WORKERS-ENTRY][FLEET-CONFIG] a bad secret is refused without echoing it, and the next request tries again", async () => {
    const bad = "not-a-32-byte-key-but-a-secret-value";
    const env = { ...secrets, CPNS_MASTER_KEY: bad, CPNS_STORE: unreachable };
    for (let i = 0; i < 2; i++) {
      const res = await handleRequest(new Request("https://cpns.example/health"), env, ctx);
      expect(res.status).toBe(503);
      expect(await res.text()).not.toContain(bad);
    }
  });

  it("[FLEET-WORKERS-ENTRY] storage that does not answer: 503, not a 500 with its message", async () => {
    const res = await handleRequest(
      new Request("https://cpns.example/health"),
      { ...secrets, CPNS_STORE: unreachable },
      ctx,
    );
    expect(res.status).toBe(503);
    expect(await res.text()).not.toContain("storage must not be reached");
  });
});

describe("[FLEET-WORKERS-DO] wrangler.toml, the production Worker's config", () => {
  const toml = readFileSync(new URL("../../wrangler.toml", import.meta.url), "utf8");
  const lines = toml.split("\n").filter((line) => !line.trim().startsWith("#"));

  it("[FLEET-WORKERS-DO][FLEET-WORKERS-ENTRY] binds CpnsStore with a new_sqlite_classes migration, uses no Workers KV, and holds no secret", () => {
    expect(lines).toContain('main = "src/runtime/worker.ts"');
    expect(lines).toContain('class_name = "CpnsStore"');
    expect(lines).toContain('new_sqlite_classes = ["CpnsStore"]');
    expect(lines.some((line) => /kv_namespaces/.test(line))).toBe(false);
    for (const secret of [
      "CPNS_MASTER_KEY",
      "CPNS_ADMIN_TOKEN",
      "CPNS_DIGEST_SECRET",
      "CPNS_ADMIN_TRANSPORT_KEY",
      "CPNS_DEMO_USERS",
    ]) {
      expect(lines.some((line) => line.includes(secret))).toBe(false);
    }
  });
});
