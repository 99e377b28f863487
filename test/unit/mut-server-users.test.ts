/**
 * Issue #9 (mutation testing of src/server): user creation through the admin
 * API (src/server/users.ts), from the attacker's side. Each test tells apart a
 * mutant the batch run (main at 4150e8c) left undetected or did not reach
 * (its tests of the admin transport were outside the server scope): a
 * configured admin transport key of the wrong length, HA1 values refused for
 * good, a password in clear refused over plain HTTP and taken only over
 * https:, a sealed envelope for another key, an expired one and one opened for
 * another user id, a weak password and its reason, the user.created event, the
 * answer, and the id lock user creation shares with enrollment.
 *
 * The server app runs in process (app.fetch), so a request can arrive as
 * https: without a TLS listener; it is built inside each test.
 */

import { createStorage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { describe, expect, it } from "vitest";
import { CpnsError } from "../../src/errors.ts";
import { sealAdminSecret } from "../../src/protocol/admin-transport.ts";
import { createServerApp } from "../../src/server/app.ts";
import type { CpnsServerConfig } from "../../src/server/context.ts";
import { type KeyedLock, memoryCoordination } from "../../src/store/coordination.ts";
import { sealedFor } from "../admin-users.ts";

const ADMIN_TOKEN = "users-admin-token-0123456789abcdef";
const PASSWORD = "Quiet-Harbour-Lantern-42";
const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);

function setup(overrides: Partial<CpnsServerConfig> = {}) {
  const clock = { now: T0 };
  const lines: string[] = [];
  const app = createServerApp({
    realm: "cpns-users",
    storage: createStorage({ driver: memoryDriver() }),
    masterKey: new Uint8Array(32).fill(5),
    adminToken: ADMIN_TOKEN,
    digestSecret: "users-digest-secret-0123456789abcdef",
    securityLog: (line) => lines.push(line),
    now: () => clock.now,
    ...overrides,
  });
  const transport = (request: Request) => app.fetch(request);
  /** POST /cpns/v1/admin/users with this body, to http: or https:. */
  const post = (body: unknown, scheme: "http" | "https" = "http") =>
    app.fetch(
      new Request(`${scheme}://cpns.test/cpns/v1/admin/users`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
    );
  const sealed = (userId: string, password = PASSWORD) =>
    sealedFor(transport, "http://cpns.test", userId, password, () => clock.now);
  const events = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { app, clock, post, sealed, events };
}

async function problem(res: Response): Promise<[number, string, string | undefined]> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { code?: string; detail?: string };
    return [res.status, body.code ?? text, body.detail];
  } catch {
    return [res.status, text, undefined];
  }
}

/** The error createServerApp throws with this admin transport key, or undefined. */
function configError(adminTransportKey: Uint8Array): unknown {
  try {
    setup({ adminTransportKey });
    return undefined;
  } catch (err) {
    return err;
  }
}

describe("users.ts: the admin transport key in the configuration", () => {
  // Report: users.ts:46 ConditionalExpression `true`/`false`, EqualityOperator, BlockStatement; :47 StringLiteral (both).
  it("[ADMIN-TRANSPORT-KEY] a configured key of 31 or 33 bytes stops the app with ERR_CONFIG naming the rule; 32 bytes and none are fine", () => {
    for (const length of [31, 33]) {
      const err = configError(new Uint8Array(length).fill(1));
      expect(err).toBeInstanceOf(CpnsError);
      expect((err as CpnsError).code).toBe("ERR_CONFIG");
      expect((err as CpnsError).detail).toBe("adminTransportKey must be 32 bytes");
    }
    expect(configError(new Uint8Array(32).fill(1))).toBeUndefined();
    expect(() => setup()).not.toThrow();
  });
});

describe("users.ts: the password's way in", () => {
  // Report: users.ts:69 ConditionalExpression `false`, StringLiteral `""`.
  it("[ADMIN-NO-PLAIN-SECRET] HA1 values are refused ERR_ADMIN_HA1_RETIRED even over https:, and no user is made", async () => {
    const { post } = setup();
    const ha1 = { "SHA-256": "a".repeat(64), "SHA-512-256": "b".repeat(64), MD5: "c".repeat(32) };
    const res = await post({ userId: "alice", ha1 }, "https");
    expect((await problem(res)).slice(0, 2)).toEqual([400, "ERR_ADMIN_HA1_RETIRED"]);
    expect((await problem(await post({ userId: "alice", password: PASSWORD }, "https")))[0]).toBe(
      201,
    );
  });

  // Report: users.ts:70 BlockStatement, ConditionalExpression; :72 (every mutant).
  it("[ADMIN-NO-PLAIN-SECRET] a password in clear is refused over http: (ERR_ADMIN_PLAIN_SECRET) and taken over https:", async () => {
    const { post } = setup();
    const plain = await post({ userId: "alice", password: PASSWORD }, "http");
    expect((await problem(plain)).slice(0, 2)).toEqual([400, "ERR_ADMIN_PLAIN_SECRET"]);
    const tls = await post({ userId: "alice", password: PASSWORD }, "https");
    expect(tls.status, await tls.clone().text()).toBe(201);
  });

  // Report: users.ts:81 BlockStatement, ConditionalExpression; :83 (every mutant), :84 StringLiteral.
  it("[ADMIN-SEALED-SECRET] an envelope sealed to another key is ERR_ADMIN_ENVELOPE_KEY", async () => {
    const { post, clock } = setup();
    const otherKey = await crypto.subtle.exportKey(
      "raw",
      ((await crypto.subtle.generateKey({ name: "X25519" }, true, ["deriveBits"])) as CryptoKeyPair)
        .publicKey,
    );
    const sealed = await sealAdminSecret(new Uint8Array(otherKey), "alice", PASSWORD, {
      now: () => clock.now,
    });
    const res = await post({ userId: "alice", sealed });
    expect((await problem(res)).slice(0, 2)).toEqual([400, "ERR_ADMIN_ENVELOPE_KEY"]);
  });

  // Report: users.ts:85 (every mutant), :86 StringLiteral.
  it("[ADMIN-SEALED-SECRET] an envelope sealed ten minutes ago is ERR_ADMIN_ENVELOPE_EXPIRED", async () => {
    const { post, sealed, clock } = setup();
    const old = await sealed("alice");
    clock.now += 600_000;
    const res = await post({ userId: "alice", sealed: old });
    expect((await problem(res)).slice(0, 2)).toEqual([400, "ERR_ADMIN_ENVELOPE_EXPIRED"]);
  });

  // Report: users.ts:87 StringLiteral.
  it("[ADMIN-SEALED-SECRET] alice's envelope replayed to create mallory is ERR_ADMIN_ENVELOPE_INVALID", async () => {
    const { post, sealed } = setup();
    const res = await post({ userId: "mallory", sealed: await sealed("alice") });
    expect((await problem(res)).slice(0, 2)).toEqual([400, "ERR_ADMIN_ENVELOPE_INVALID"]);
  });
});

describe("users.ts: creating the user", () => {
  // Report: users.ts:102 ConditionalExpression `false`, StringLiteral `""` (NoCoverage).
  it("[PASSWORD-POLICY] a weak password is refused ERR_WEAK_PASSWORD with its reason, and no user is made", async () => {
    const { post, sealed } = setup();
    const res = await post({ userId: "alice", sealed: await sealed("alice", "password1") });
    const [status, code, detail] = await problem(res);
    expect([status, code]).toEqual([400, "ERR_WEAK_PASSWORD"]);
    expect(detail ?? "").not.toBe("");
    const again = await post({ userId: "alice", sealed: await sealed("alice") });
    expect(again.status).toBe(201);
  });

  // Report: users.ts:121 ObjectLiteral, StringLiteral; :122 ObjectLiteral.
  it("[SERVER-ADMIN-API][SERVER-SECURITY-LOG] a created user is answered with its id and time, and logged as user.created", async () => {
    const { post, sealed, events } = setup();
    const res = await post({ userId: "alice", sealed: await sealed("alice") });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ userId: "alice", createdAt: new Date(T0).toISOString() });
    expect(events()).toEqual([
      { ts: new Date(T0).toISOString(), event: "user.created", userId: "alice" },
    ]);
  });

  // Report: users.ts:103 StringLiteral ``.
  it("[FLEET-ATOMIC] user creation runs under the `id:<userId>` lock enrollment takes for the same id", async () => {
    const taken: string[] = [];
    const coordination = memoryCoordination(() => T0);
    const locks: KeyedLock = {
      run: (key, task) => {
        taken.push(key);
        return coordination.locks.run(key, task);
      },
    };
    const { post, sealed } = setup({ coordination: { ...coordination, locks } });
    const res = await post({ userId: "alice", sealed: await sealed("alice") });
    expect(res.status).toBe(201);
    expect(taken).toEqual(["id:alice"]);
  });
});
