/**
 * The security log (issue #3): every security event of a full session (users
 * created by password and by HA1, entities enrolled, rotated, revoked, failed
 * authentications, a rate limit, a bad admin token) is one JSON line naming
 * the ids involved, and no line holds a secret: no EUKey, no password (right
 * or wrong), no HA1 for any algorithm, no admin token, no Authorization
 * header, in clear, hex or base64url. The memory store is scanned the same
 * way: every secret in it is sealed (STORE-AT-REST, SERVER-USER-HA1).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromBase64url } from "../../src/crypto/bytes.ts";
import { ALGORITHMS, computeHa1, createDigestFetch } from "../../src/digest/index.ts";
import {
  ADMIN_TOKEN,
  findLeaks,
  type LoggedEvent,
  REALM,
  startTestServer,
  type TestServer,
} from "./server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-log-password-Zq9" };
const ERIN = { userId: "erin", password: "erin-ha1-password-Xw4" };
const WRONG = ["wrong-guess-one-7781", "wrong-guess-two-9913", "wrong-guess-three-4410"];

const ha1Of = (userId: string, password: string) => ({
  "SHA-256": computeHa1(ALGORITHMS["SHA-256"], userId, REALM, password),
  "SHA-512-256": computeHa1(ALGORITHMS["SHA-512-256"], userId, REALM, password),
  MD5: computeHa1(ALGORITHMS.MD5, userId, REALM, password),
});

let server: TestServer;
const eukeys: Record<string, Uint8Array> = {};

beforeAll(async () => {
  server = await startTestServer({ rateLimit: { maxFailures: 3, windowSeconds: 60 } });
  await server.createUser(ALICE.userId, ALICE.password);
  await server.createUser(ERIN.userId, ERIN.password);

  const agent = server.agent();
  eukeys["watch-log v1"] = fromBase64url(
    (await agent.enroll({ ...ALICE, entityId: "watch-log", type: "PNE" })).eukey,
  );
  eukeys["watch-log v2"] = fromBase64url(
    (await agent.enroll({ ...ALICE, entityId: "watch-log", type: "PNE" })).eukey,
  );
  eukeys["gw-log"] = fromBase64url(
    (await agent.enroll({ ...ERIN, entityId: "gw-log", type: "PNGW" })).eukey,
  );
  await agent.whoami("watch-log");
  await agent.whoami("gw-log");
  const revoked = await server.asUser(ERIN.userId, ERIN.password)("/cpns/v1/entities/gw-log", {
    method: "DELETE",
  });
  expect(revoked.status).toBe(200);

  // Three wrong passwords for alice, then the right one is rate limited.
  for (const password of WRONG) {
    const res = await createDigestFetch({ username: "alice", password })(
      `${server.url}/cpns/v1/entities`,
    );
    expect(res.status).toBe(401);
  }
  const limited = await createDigestFetch({ username: "alice", password: ALICE.password })(
    `${server.url}/cpns/v1/entities`,
  );
  expect(limited.status).toBe(429);
  // A wrong admin token.
  const denied = await server.fetch("/cpns/v1/admin/users", {
    headers: { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -4)}Zzzz` },
  });
  expect(denied.status).toBe(401);
});

afterAll(async () => {
  await server.close();
});

function secrets(): Record<string, Uint8Array | string> {
  const out: Record<string, Uint8Array | string> = { ...eukeys, "admin token": ADMIN_TOKEN };
  for (const [who, password] of [
    ["alice", ALICE.password],
    ["erin", ERIN.password],
  ] as const) {
    out[`${who} password`] = password;
    for (const [hash, ha1] of Object.entries(ha1Of(who, password))) {
      out[`${who} HA1 ${hash}`] = ha1;
      out[`${who} HA1 ${hash} bytes`] = Buffer.from(ha1, "hex");
    }
  }
  for (const [i, password] of WRONG.entries()) out[`wrong password ${i}`] = password;
  return out;
}

describe("[SERVER-SECURITY-LOG] security events as JSON lines", () => {
  it("[SERVER-SECURITY-LOG] each line is one JSON object with a timestamp and only known fields", () => {
    const allowed = new Set([
      "ts",
      "event",
      "userId",
      "entityId",
      "entityType",
      "keyVersion",
      "username",
      "address",
    ]);
    expect(server.logLines.length).toBeGreaterThan(8);
    for (const line of server.logLines) {
      expect(line).not.toContain("\n");
      const event = JSON.parse(line) as Record<string, unknown>;
      expect(Number.isNaN(Date.parse(event.ts as string))).toBe(false);
      for (const key of Object.keys(event)) expect(allowed).toContain(key);
    }
  });

  it("[SERVER-SECURITY-LOG][SEED-5.x.1-1] user.created, entity.enrolled, entity.rotated, entity.revoked name their ids", () => {
    const events = server.events();
    const has = (expected: Partial<LoggedEvent>) =>
      expect(events).toContainEqual(expect.objectContaining(expected));
    has({ event: "user.created", userId: "alice" });
    has({ event: "user.created", userId: "erin" });
    has({
      event: "entity.enrolled",
      userId: "alice",
      entityId: "watch-log",
      entityType: "PNE",
      keyVersion: 1,
    });
    has({
      event: "entity.rotated",
      userId: "alice",
      entityId: "watch-log",
      entityType: "PNE",
      keyVersion: 2,
    });
    has({ event: "entity.enrolled", userId: "erin", entityId: "gw-log", entityType: "PNGW" });
    has({ event: "entity.revoked", userId: "erin", entityId: "gw-log", keyVersion: 1 });
    // Exactly one event per change.
    expect(events.filter((e) => e.event === "entity.enrolled")).toHaveLength(2);
    expect(events.filter((e) => e.event === "entity.rotated")).toHaveLength(1);
    expect(events.filter((e) => e.event === "entity.revoked")).toHaveLength(1);
  });

  it("[SERVER-SECURITY-LOG][SERVER-RATE-LIMIT] auth.failed, auth.rate_limited and admin.denied name the username as sent and the address", () => {
    const events = server.events();
    const failed = events.filter((e) => e.event === "auth.failed");
    // Three failures from one address: the first is written at once, the other two
    // wait for the interval's summary line (issue #9 item 5, LOG-AGGREGATE).
    expect(failed).toHaveLength(1);
    for (const e of failed) {
      expect(e.username).toMatch(/^(alice|[0-9a-f]{64})$/);
      expect(e.address).toBe("127.0.0.1");
    }
    expect(events).toContainEqual(
      expect.objectContaining({ event: "auth.rate_limited", address: "127.0.0.1" }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({ event: "admin.denied", address: "127.0.0.1" }),
    );
  });

  it("[SERVER-SECURITY-LOG] the scan finds a planted secret in each encoding (control)", () => {
    const key = eukeys["watch-log v2"] as Uint8Array;
    for (const planted of [
      Buffer.from(key).toString("hex"),
      Buffer.from(key).toString("base64url"),
      Buffer.from(key).toString("base64"),
      ALICE.password,
      ha1Of("alice", ALICE.password).MD5,
      Buffer.from(ALICE.password).toString("base64url"),
    ]) {
      expect(findLeaks(`{"x":"${planted}"}`, secrets())).not.toEqual([]);
    }
  });

  it("[SERVER-SECURITY-LOG] no EUKey, password, HA1 or admin token appears in the log, in any encoding", () => {
    const text = server.logLines.join("\n");
    expect(findLeaks(text, secrets())).toEqual([]);
    expect(text).not.toMatch(/Digest |Bearer |response=|cnonce/i);
  });

  it("[STORE-AT-REST][SERVER-USER-HA1] the store holds no EUKey, password or HA1 in clear, hex or base64url", async () => {
    const dump: string[] = [];
    for (const key of await server.storage.getKeys()) {
      dump.push(key, JSON.stringify(await server.storage.getItem(key)));
    }
    expect(dump.length).toBeGreaterThan(4);
    expect(findLeaks(dump.join("\n"), secrets())).toEqual([]);
  });

  it("[SERVER-USER-HA1] the user created from HA1 values authenticates with the password those values came from", async () => {
    server.clock.now += 60_000; // past the rate limit window that beforeAll filled
    const res = await server.asUser(ERIN.userId, ERIN.password)("/cpns/v1/entities");
    expect(res.status).toBe(200);
    const wrong = await createDigestFetch({ username: "erin", password: `${ERIN.password}x` })(
      `${server.url}/cpns/v1/entities`,
    );
    expect(wrong.status).toBe(401);
  });
});
