/**
 * Issue #9 (mutation testing of src/server): the guard in front of every route
 * (src/server/guard.ts), from the attacker's side. Each test tells apart a
 * mutant the guard.ts + policy.ts run (main at 4150e8c) left undetected: the
 * admin token's minimum length, the Bearer scheme read only at the start of
 * Authorization and compared after its spaces, an admin sent to a route only
 * entities may call, the anonymous principal of an open route, the admin.denied
 * event and its "unknown" address, the auth-int challenges an enrollment hands
 * out, and a charge that is given back once when the store fails, never twice.
 *
 * The real server app creates the user (sealed password, HA1s sealed at rest);
 * a guard of the test's own, over the same store, fronts handlers the test writes.
 */
import { Hono } from "hono";
import { createStorage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { describe, expect, it } from "vitest";
import { createDigestFetch } from "../../src/digest/index.ts";
import { createServerApp } from "../../src/server/app.ts";
import { type CpnsServerConfig, createParts, type ServerEnv } from "../../src/server/context.ts";
import { createGuard, firstChallenges } from "../../src/server/guard.ts";
import { type BudgetStore, MemoryBudgetStore } from "../../src/store/budgets.ts";
import { createUserSealed } from "../admin-users.ts";

const ADMIN_TOKEN = "guard-admin-token-0123456789abcd";
const BASE = "http://cpns.test";
const PASSWORD = "Quiet-Harbour-Lantern-42";

/** Faults a test switches on: the user store's reads, the budget store's clear(). */
interface Faults {
  userStore: boolean;
  budgetClear: boolean;
}

/** A MemoryBudgetStore whose clear() fails while `faults.budgetClear` is set. */
function faultyBudgets(faults: Faults): BudgetStore {
  const inner = new MemoryBudgetStore();
  return {
    take: (claims, now) => inner.take(claims, now),
    refund: (claims) => inner.refund(claims),
    clear: async (keys) => {
      if (faults.budgetClear) throw new Error("budget store unreachable");
      return inner.clear(keys);
    },
    trust: (pairs, until) => inner.trust(pairs, until),
    trusted: (pairs, now) => inner.trusted(pairs, now),
  };
}

async function setup(overrides: Partial<CpnsServerConfig> = {}) {
  const faults: Faults = { userStore: false, budgetClear: false };
  const lines: string[] = [];
  const config: CpnsServerConfig = {
    realm: "cpns-guard",
    storage: createStorage({ driver: memoryDriver() }),
    masterKey: new Uint8Array(32).fill(3),
    adminToken: ADMIN_TOKEN,
    digestSecret: "guard-digest-secret-0123456789abcdef",
    securityLog: (line) => lines.push(line),
    clientAddress: (request) => request.headers.get("x-test-address") ?? undefined,
    rateLimit: {
      maxFailures: 2,
      identityFailures: 2,
      addressFailures: 100,
      store: faultyBudgets(faults),
    },
    ...overrides,
  };
  const server = createServerApp(config);
  const created = await createUserSealed({
    transport: (request) => server.fetch(request),
    base: BASE,
    adminToken: ADMIN_TOKEN,
    userId: "alice",
    password: PASSWORD,
  });
  expect(created.status, await created.text()).toBe(201);
  lines.length = 0;

  const parts = createParts(config);
  // The user store fails every read while `faults.userStore` is set (a storage outage).
  const users = parts.users;
  parts.users = new Proxy(users, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (faults.userStore) throw new Error("user store unreachable");
        return value.apply(target, args);
      };
    },
  });
  const guard = createGuard(parts);
  const handled: string[] = [];
  const app = new Hono<ServerEnv>();
  app.get("/open", guard("health"), (c) => c.json({ principal: c.get("principal") ?? "none" }));
  app.get("/admin", guard("users.list"), (c) => {
    handled.push("admin");
    return c.json({ principal: c.get("principal") ?? "none" });
  });
  app.get("/user", guard("entities.list"), (c) => {
    handled.push("user");
    return c.json({ principal: c.get("principal") ?? "none" });
  });
  app.onError((err) => new Response(`failed: ${err.message}`, { status: 500 }));

  const request = (path: string, headers: Record<string, string> = {}) =>
    app.fetch(new Request(`${BASE}${path}`, { headers }));
  /** A Digest client as `username`/`password` from `address` (one 401 round trip per call). */
  const digestAs = (username: string, password: string, address: string) => {
    const digestFetch = createDigestFetch({
      username,
      password,
      fetch: (req) => app.fetch(req),
    });
    return (path: string) =>
      digestFetch(`${BASE}${path}`, { headers: { "x-test-address": address } });
  };
  const events = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { parts, app, request, digestAs, events, faults, handled };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("guard: the admin token", () => {
  // Report: guard.ts:68 ConditionalExpression false, EqualityOperator `<=`, StringLiteral (no coverage).
  it("[SERVER-AUTHZ-POLICY] an admin token of 15 bytes is refused at start with a message that says why; 16 bytes is enough", async () => {
    const { parts } = await setup();
    const withToken = (adminToken: string) =>
      createGuard({ ...parts, config: { ...parts.config, adminToken } });
    expect(() => withToken("x".repeat(15))).toThrow(
      new TypeError("server: the admin token must be >= 16 bytes"),
    );
    // Counted in bytes, not characters: 8 two-byte characters are 16 bytes.
    expect(() => withToken("é".repeat(7))).toThrow(TypeError);
    expect(typeof withToken("x".repeat(16))).toBe("function");
    expect(typeof withToken("é".repeat(8))).toBe("function");
  });

  // Report: guard.ts:109 MethodExpression `header.slice(7)` (no trim).
  it("[SERVER-AUTHZ-POLICY] the token is compared after the scheme's spaces (RFC 7235 1*SP); one character short or long is denied", async () => {
    const { request, handled } = await setup();
    const ok = await request("/admin", { authorization: `Bearer    ${ADMIN_TOKEN}` });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ principal: { kind: "admin" } });
    for (const token of [ADMIN_TOKEN.slice(0, -1), `${ADMIN_TOKEN}x`, ADMIN_TOKEN.toUpperCase()]) {
      const res = await request("/admin", bearer(token));
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="cpns-admin"');
    }
    expect(handled).toEqual(["admin"]);
  });

  // Report: guard.ts:108 Regex `/bearer\s/i` (the start anchor dropped).
  it("[SERVER-AUTHZ-POLICY] a header of another scheme that holds 'bearer ' later is read as that scheme, never as the admin's", async () => {
    const { request, events } = await setup();
    const res = await request("/admin", {
      authorization: `Digest username="x bearer ${ADMIN_TOKEN}", realm="cpns-guard"`,
    });
    // Digest's own answer (a malformed Digest header is 400), not the admin's 401 Bearer.
    expect(res.status).toBe(400);
    expect(res.headers.get("www-authenticate") ?? "").not.toMatch(/^Bearer/);
    expect(events().map((e) => e.event)).not.toContain("admin.denied");
  });

  // Report: guard.ts:110 ObjectLiteral, StringLiteral; guard.ts:70 StringLiteral "unknown".
  it("[SERVER-SECURITY-LOG] a wrong admin token is logged as admin.denied with the caller's address, or 'unknown' when none is told", async () => {
    const { request, events } = await setup();
    await request("/admin", {
      ...bearer("not-the-admin-token-at-all"),
      "x-test-address": "10.9.8.7",
    });
    await request("/admin", bearer("not-the-admin-token-at-all"));
    // admin.denied is aggregated per address: two addresses, two lines.
    expect(events().map(({ ts: _ts, ...rest }) => rest)).toEqual([
      { event: "admin.denied", address: "10.9.8.7" },
      { event: "admin.denied", address: "unknown" },
    ]);
  });

  // Report: guard.ts:116 ConditionalExpression false.
  it("[SEED-5.x.3-2] the admin's token on a route only users may call is 403, and the handler never runs", async () => {
    const { request, handled } = await setup();
    const res = await request("/user", bearer(ADMIN_TOKEN));
    expect(res.status).toBe(403);
    expect(((await res.json()) as { code: string }).code).toBe("ERR_FORBIDDEN");
    expect(handled).toEqual([]);
  });
});

describe("guard: open routes and first challenges", () => {
  // Report: guard.ts:104 StringLiteral x2, ObjectLiteral.
  it("[SERVER-AUTHZ-POLICY] an open route's handler sees the anonymous principal, whatever credentials came along", async () => {
    const { request } = await setup();
    for (const headers of [{}, bearer(ADMIN_TOKEN), bearer("not-the-admin-token-at-all")]) {
      expect(await (await request("/open", headers)).json()).toEqual({
        principal: { kind: "anonymous" },
      });
    }
  });

  // Report: guard.ts:55 BlockStatement, :61 ObjectLiteral.
  it("[ENROLL-PRIMED] an enrollment's first challenges are the guard's own, and demand auth-int only", async () => {
    const { parts, app } = await setup();
    const challenges = firstChallenges(parts)();
    expect(challenges.length).toBeGreaterThan(0);
    for (const challenge of challenges) {
      expect(challenge).toMatch(/^Digest /);
      expect(challenge).toContain('realm="cpns-guard"');
      expect(challenge).toContain('qop="auth-int"');
    }
    // Primed with them, alice's first request passes the guard with no 401 round trip.
    const statuses: number[] = [];
    const digestFetch = createDigestFetch({
      username: "alice",
      password: PASSWORD,
      primeWith: { challenge: challenges.join(", "), origin: BASE },
      fetch: async (req) => {
        const res = await app.fetch(req);
        statuses.push(res.status);
        return res;
      },
    });
    expect((await digestFetch(`${BASE}/user`)).status).toBe(200);
    expect(statuses).toEqual([200]);
  });
});

describe("guard: a charge given back once, whatever fails", () => {
  // Report: guard.ts:157 ConditionalExpression false, BooleanLiteral `passed`; :122 BlockStatement; :124 ConditionalExpression false.
  it("[LIMIT-RESERVE] requests that fail on a store outage are given their charge back: alice is not rate-limited afterwards", async () => {
    const { digestAs, faults } = await setup();
    const alice = digestAs("alice", PASSWORD, "10.0.0.1");
    faults.userStore = true;
    for (let i = 0; i < 4; i++) expect((await alice("/user")).status).toBe(500);
    faults.userStore = false;
    expect((await alice("/user")).status).toBe(200);
  });

  // Report: guard.ts:157 ConditionalExpression true (a second refund after the one of a success).
  it("[LIMIT-RESERVE] a success whose budget clear fails is refunded once, so an attacker's guesses are not handed back", async () => {
    const { digestAs, faults } = await setup();
    // identityFailures 2: the attacker's first guess from one address...
    expect((await digestAs("alice", "wrong-guess-1", "10.6.6.1")("/user")).status).toBe(401);
    // ...alice proves herself from home while the budget store fails mid-success...
    faults.budgetClear = true;
    expect((await digestAs("alice", PASSWORD, "10.0.0.1")("/user")).status).toBe(500);
    faults.budgetClear = false;
    // ...and the attacker, from a fresh address, has exactly one guess left on alice.
    expect((await digestAs("alice", "wrong-guess-2", "10.6.6.2")("/user")).status).toBe(401);
    expect((await digestAs("alice", "wrong-guess-3", "10.6.6.3")("/user")).status).toBe(429);
  });
});

describe("guard: what counts as a guess", () => {
  // Report (2026-12-05 re-run): guard.ts:174 ConditionalExpression `failure?.status === 401` -> `true`.
  it("[LIMIT-RESERVE][LIMIT-KEYS] a malformed answer naming alice (no nonce: 400) is no guess: never charged or logged as auth.failed, and alice still gets in", async () => {
    const { request, digestAs, events } = await setup();
    const malformed = `Digest username="alice", realm="cpns-guard", uri="/user", response="${"0".repeat(64)}", qop=auth, nc=00000001, cnonce="x", algorithm=SHA-256`;
    // Budgets of 2 (pair and identity): five malformed answers would spend them twice over.
    for (let i = 0; i < 5; i++) {
      const res = await request("/user", {
        authorization: malformed,
        "x-test-address": "10.0.0.1",
      });
      expect(res.status).toBe(400);
      expect((await res.json()).code).toBe("ERR_DIGEST_MALFORMED");
    }
    expect(events().filter((e) => e.event === "auth.failed")).toEqual([]);
    expect((await digestAs("alice", PASSWORD, "10.0.0.1")("/user")).status).toBe(200);
  });
});
