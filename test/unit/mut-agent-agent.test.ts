/**
 * Issue #9 (mutation testing of src/agent): the device's agent itself
 * (src/agent/agent.ts, seed 5.x.1 and 5.x.2). What the device keeps and what
 * it reports, checked from outside: the problem a refusal becomes (its code,
 * its text, a limiter's retry hint), the record in the key store after each
 * step (the machine's state says which event the agent fed it), a failed
 * enrollment or rotation leaving the device as it was, refusals the server
 * did not prove (a 429, a 2xx without rspauth) never acted on, an error
 * status kept an error even when rspauth verifies, one Digest client per
 * EUKey (no 401 round trip per request), and steps of one entity that overlap
 * (a request or a failed rotation in flight across a rotation, two
 * rotations answered out of order) leaving the newest key in the store.
 *
 * A real CPNS Server on loopback (test/e2e/server-helpers.ts); where the path
 * must misbehave, the device's transport does it. The enrollment answer's own
 * checks (it names the entity, owner and type asked for, and keeps a TLS
 * declaration) matter only against a party that proves the owner's password:
 * the answer is auth-int, so a rewrite on the path fails rspauth first. The
 * tests play such a party: a front (src/digest's middleware with alice's
 * password) that seals a key exactly as the server does and lies in the rest.
 */
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentError, EntityAgent, problemOf } from "../../src/agent/agent.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import {
  ALGORITHMS,
  computeHa1,
  type DigestPrincipal,
  digestAuth,
  type FetchLike,
  staticCredentials,
} from "../../src/digest/index.ts";
import { errorCodeOf } from "../../src/errors.ts";
import { sealEukey } from "../../src/protocol/key-transport.ts";
import { recordingTransport, startTestServer, type TestServer } from "../e2e/server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-agent-mut-password-Tz4" };

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ rateLimit: { maxFailures: 1_000_000, windowSeconds: 1 } });
  await server.createUser(ALICE.userId, ALICE.password);
});
afterAll(async () => {
  await server?.close();
});

/** Awaits a rejection and returns it. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (err: unknown) => err,
  );
}

/** A transport whose behaviour the test switches while the agent keeps it. */
function switchable() {
  let answer: FetchLike = (request) => fetch(request);
  const transport: FetchLike = (request) => answer(request);
  return {
    transport,
    set(next: FetchLike) {
      answer = next;
    },
  };
}

/** A device that enrolled `entityId` as alice's PNE through `path`'s transport. */
async function enrolledThrough<P extends { transport: FetchLike }>(entityId: string, path: P) {
  const store = new MemoryKeyStore();
  const agent = server.agent({ store, fetch: path.transport });
  await agent.enroll({ ...ALICE, entityId, type: "PNE" });
  return { path, store, agent };
}

describe("problemOf: what a refusal becomes", () => {
  it("[SERVER-API] a problem+json answer gives its status, its code and 'title: detail'", async () => {
    const both = await problemOf(
      Response.json({ code: "ERR_X", title: "Refused", detail: "because" }, { status: 403 }),
    );
    expect(both).toBeInstanceOf(AgentError);
    expect(both.name).toBe("AgentError");
    expect([both.status, both.code, both.message]).toEqual([403, "ERR_X", "Refused: because"]);
    const titleOnly = await problemOf(Response.json({ code: "ERR_X", title: "Refused" }));
    expect(titleOnly.message).toBe("Refused");
    const detailOnly = await problemOf(Response.json({ code: "ERR_X", detail: "because" }));
    expect(detailOnly.message).toBe("because");
  });

  it("[SERVER-API] an answer that is no problem keeps its status line: HTTP_<status> and the status text", async () => {
    const text = await problemOf(
      new Response("<html>down</html>", { status: 502, statusText: "Bad Gateway" }),
    );
    expect([text.status, text.code, text.message]).toEqual([502, "HTTP_502", "Bad Gateway"]);
    const empty = await problemOf(Response.json({}, { status: 404, statusText: "Not Found" }));
    expect([empty.code, empty.message]).toEqual(["HTTP_404", "Not Found"]);
  });

  it("[SERVER-RATE-LIMIT] a 429's Retry-After is told in the message; no other status gets the hint", async () => {
    const limited = await problemOf(
      Response.json(
        { code: "ERR_RATE_LIMITED", title: "Too many" },
        { status: 429, headers: { "retry-after": "7" } },
      ),
    );
    expect(limited.message).toBe("Too many (retry after 7 s)");
    const noHint = await problemOf(Response.json({ title: "Too many" }, { status: 429 }));
    expect(noHint.message).toBe("Too many");
    const unavailable = await problemOf(
      Response.json({ title: "Busy" }, { status: 503, headers: { "retry-after": "7" } }),
    );
    expect(unavailable.message).toBe("Busy");
  });
});

describe("the record the device keeps", () => {
  it("[AGENT-LIFECYCLE][SEED-5.x.1-1] after enrolling: owner, type, key version and EUKey, server URL without trailing slashes, machine 'enrolled'; after a proven answer 'authenticated', the rest kept", async () => {
    const store = new MemoryKeyStore();
    const agent = new EntityAgent({ serverUrl: `${server.url}//`, store });
    const enrolled = await agent.enroll({ ...ALICE, entityId: "gw-rec", type: "PNGW" });
    expect(enrolled).toEqual({
      entityId: "gw-rec",
      serverUrl: server.url,
      userId: "alice",
      type: "PNGW",
      keyVersion: 1,
      eukey: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      machine: { value: "enrolled" },
    });
    expect(await store.get("gw-rec")).toEqual(enrolled);
    expect(await agent.whoami("gw-rec")).toMatchObject({ entityId: "gw-rec", type: "PNGW" });
    expect(await store.get("gw-rec")).toEqual({ ...enrolled, machine: { value: "authenticated" } });
  });

  it("[AGENT-LIFECYCLE] a first enrollment that fails records nothing", async () => {
    const store = new MemoryKeyStore();
    const agent = server.agent({ store });
    const err = await rejection(
      agent.enroll({ ...ALICE, password: "not-the-password", entityId: "pne-none", type: "PNE" }),
    );
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).status).toBe(401);
    expect(await store.get("pne-none")).toBeUndefined();
  });

  it("[AGENT-LIFECYCLE] a rotation that fails keeps the key and the record; the machine goes back to 'enrolled' and the key still works", async () => {
    const store = new MemoryKeyStore();
    const agent = server.agent({ store });
    await agent.enroll({ ...ALICE, entityId: "pne-keep", type: "PNE" });
    await agent.whoami("pne-keep");
    const before = await store.get("pne-keep");
    expect(before?.machine.value).toBe("authenticated");
    await rejection(
      agent.enroll({ ...ALICE, password: "not-the-password", entityId: "pne-keep", type: "PNE" }),
    );
    expect(await store.get("pne-keep")).toEqual({ ...before, machine: { value: "enrolled" } });
    expect(await agent.whoami("pne-keep")).toMatchObject({ entityId: "pne-keep" });
  });
});

describe("fetchAsEntity: what the device acts on", () => {
  it("[AGENT-LIFECYCLE] an entity the device holds no EUKey for (no record, or a record without its key) is ERR_ENTITY_STATE, and nothing is sent", async () => {
    const { transport, exchanges } = recordingTransport();
    const store = new MemoryKeyStore();
    const agent = server.agent({ store, fetch: transport });
    expect(await rejection(agent.fetchAsEntity("pne-unknown", "/cpns/v1/whoami"))).toMatchObject({
      code: "ERR_ENTITY_STATE",
      detail: "pne-unknown holds no EUKey",
    });
    await store.put({
      entityId: "pne-keyless",
      serverUrl: server.url,
      userId: "alice",
      type: "PNE",
      // A record that says "enrolled" but lost its key (a damaged store): still nothing to send.
      keyVersion: 1,
      eukey: "",
      machine: { value: "enrolled" },
    });
    expect(
      errorCodeOf(await rejection(agent.fetchAsEntity("pne-keyless", "/cpns/v1/whoami"))),
    ).toBe("ERR_ENTITY_STATE");
    expect(exchanges).toEqual([]);
  });

  it("[AGENT-LIFECYCLE] a record whose machine is mid-enrollment cannot authenticate: ERR_ENTITY_STATE naming the state and the step, nothing sent", async () => {
    const { transport, exchanges } = recordingTransport();
    const store = new MemoryKeyStore();
    const agent = server.agent({ store, fetch: transport });
    await store.put({
      entityId: "pne-midway",
      serverUrl: server.url,
      userId: "alice",
      type: "PNE",
      keyVersion: 1,
      eukey: "A".repeat(43),
      machine: { value: "enrolling" },
    });
    expect(await rejection(agent.fetchAsEntity("pne-midway", "/cpns/v1/whoami"))).toMatchObject({
      code: "ERR_ENTITY_STATE",
      detail: "agent in enrolling cannot AUTHENTICATE",
    });
    expect(exchanges).toEqual([]);
  });

  it("[AGENT-LIFECYCLE] a transport failure (the network is down) is passed on and changes nothing the device keeps", async () => {
    const { path, store, agent } = await enrolledThrough("pne-offline", switchable());
    await agent.whoami("pne-offline");
    const before = await store.get("pne-offline");
    path.set(async () => {
      throw new TypeError("fetch failed");
    });
    const err = await rejection(agent.whoami("pne-offline"));
    expect(err).toBeInstanceOf(TypeError);
    expect(await store.get("pne-offline")).toEqual(before);
  });

  it("[AGENT-REQUIRE-RSPAUTH] a 400 nobody proved is reported as what it says (its status and code), not as an unauthenticated server", async () => {
    const { path, store, agent } = await enrolledThrough("pne-bad-request", switchable());
    path.set(async () =>
      Response.json({ code: "ERR_BAD_REQUEST", title: "Malformed" }, { status: 400 }),
    );
    const err = await rejection(agent.fetchAsEntity("pne-bad-request", "/cpns/v1/whoami"));
    expect(err).toBeInstanceOf(AgentError);
    expect([(err as AgentError).status, (err as AgentError).code]).toEqual([
      400,
      "ERR_BAD_REQUEST",
    ]);
    expect((await store.get("pne-bad-request"))?.machine.value).toBe("enrolled");
  });

  it("[AGENT-LIFECYCLE][SEED-5.x.2-1] a 401 (the entity was revoked) is reported, the machine goes back to 'enrolled', the key is kept", async () => {
    const store = new MemoryKeyStore();
    const agent = server.agent({ store });
    await agent.enroll({ ...ALICE, entityId: "pne-revoked", type: "PNE" });
    await agent.whoami("pne-revoked");
    const owner = server.asUser(ALICE.userId, ALICE.password);
    expect((await owner("/cpns/v1/entities/pne-revoked", { method: "DELETE" })).status).toBe(200);
    const err = await rejection(agent.fetchAsEntity("pne-revoked", "/cpns/v1/whoami"));
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).status).toBe(401);
    const record = await store.get("pne-revoked");
    expect(record?.machine.value).toBe("enrolled");
    expect(record?.eukey).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("[AGENT-REQUIRE-RSPAUTH] a 429 nobody proved is reported with its retry hint and never acted on: the machine goes back to 'enrolled', the key is kept", async () => {
    const { path, store, agent } = await enrolledThrough("pne-limited", switchable());
    await agent.whoami("pne-limited");
    const before = await store.get("pne-limited");
    path.set(async () =>
      Response.json(
        { code: "ERR_RATE_LIMITED", title: "Too many failures" },
        { status: 429, headers: { "retry-after": "30" } },
      ),
    );
    const err = await rejection(agent.fetchAsEntity("pne-limited", "/cpns/v1/whoami"));
    expect(err).toBeInstanceOf(AgentError);
    expect([(err as AgentError).status, (err as AgentError).code]).toEqual([
      429,
      "ERR_RATE_LIMITED",
    ]);
    expect((err as AgentError).message).toContain("retry after 30 s");
    expect(await store.get("pne-limited")).toEqual({ ...before, machine: { value: "enrolled" } });
  });

  it("[FFS-SERVER-AUTH][AGENT-REQUIRE-RSPAUTH] a 200 without rspauth (an impostor) is ERR_DIGEST_SERVER_UNAUTHENTICATED and the machine goes back to 'enrolled'", async () => {
    const { path, store, agent } = await enrolledThrough("pne-impostor", switchable());
    await agent.whoami("pne-impostor");
    path.set(async () => Response.json({ entityId: "pne-impostor", userId: "mallory" }));
    expect(errorCodeOf(await rejection(agent.whoami("pne-impostor")))).toBe(
      "ERR_DIGEST_SERVER_UNAUTHENTICATED",
    );
    expect((await store.get("pne-impostor"))?.machine.value).toBe("enrolled");
  });

  it("[AGENT-REQUIRE-RSPAUTH] whoami answered with an error status is an error, even when the answer's rspauth verifies (the status line is not covered by it)", async () => {
    const { path, agent } = await enrolledThrough("pne-status", switchable());
    // On the path: the genuine answer (headers and body, so rspauth verifies) under another status.
    path.set(async (request) => {
      const res = await fetch(request);
      if (res.status !== 200) return res;
      return new Response(await res.arrayBuffer(), {
        status: 500,
        statusText: "Internal Server Error",
        headers: res.headers,
      });
    });
    const err = await rejection(agent.whoami("pne-status"));
    expect(err).toBeInstanceOf(AgentError);
    expect((err as AgentError).status).toBe(500);
  });

  it("[ENROLL-PRIMED][AGENT-NONCE-REUSE] one Digest client per EUKey: three requests after enrolling, and three after a rotation, cost no 401", async () => {
    const { transport, exchanges } = recordingTransport();
    const agent = server.agent({ store: new MemoryKeyStore(), fetch: transport });
    const entityStatuses = () =>
      exchanges
        .filter((exchange) => !exchange.url.endsWith("/cpns/v1/enrollments"))
        .map((exchange) => exchange.status);
    await agent.enroll({ ...ALICE, entityId: "pne-one-client", type: "PNE" });
    for (let i = 0; i < 3; i++) await agent.whoami("pne-one-client");
    expect(entityStatuses()).toEqual([200, 200, 200]);
    const rotated = await agent.enroll({ ...ALICE, entityId: "pne-one-client", type: "PNE" });
    expect(rotated.keyVersion).toBe(2);
    for (let i = 0; i < 3; i++) await agent.whoami("pne-one-client");
    expect(entityStatuses()).toEqual([200, 200, 200, 200, 200, 200]);
  });
});

describe("enroll: the answer of a party that proves the owner's password", () => {
  type Lie = Partial<{ entityId: string; userId: string; type: string; tls: boolean }>;

  /** A front that proves alice's password and answers every enrollment with `lie` over the truth. */
  function lyingFront(lie: Lie): FetchLike {
    const app = new Hono<{ Variables: { digest: DigestPrincipal } }>();
    app.use(
      "*",
      digestAuth({
        realm: "cpns-front",
        secret: "mut-agent-agent-front-secret-0123456789",
        lookup: staticCredentials({ [ALICE.userId]: ALICE.password }),
        algorithms: ["SHA-256"],
        qop: ["auth-int"],
      }),
    );
    app.post("/cpns/v1/enrollments", async (c) => {
      const asked = (await c.req.json()) as { entityId: string; type: string; tls?: boolean };
      const digest = c.var.digest;
      const ha1 = computeHa1(
        ALGORITHMS[digest.algorithm],
        ALICE.userId,
        digest.realm,
        ALICE.password,
      );
      // Sealed for what the device asked (so it opens); the fields beside it may lie.
      const sealedKey = await sealEukey(
        crypto.getRandomValues(new Uint8Array(32)),
        { ha1, nonce: digest.nonce, cnonce: digest.cnonce },
        { entityId: asked.entityId, userId: ALICE.userId, type: asked.type, keyVersion: 1 },
      );
      const truth = {
        entityId: asked.entityId,
        userId: ALICE.userId,
        type: asked.type,
        keyVersion: 1,
        alg: "A256GCM+HKDF-SHA256",
        sealedKey,
        ...(asked.tls ? { tls: true } : {}),
      };
      return c.json({ ...truth, ...lie }, 201);
    });
    return async (request) => app.fetch(request);
  }

  async function enrollThrough(lie: Lie, tls = false) {
    const store = new MemoryKeyStore();
    const agent = new EntityAgent({
      serverUrl: "http://front.test",
      store,
      fetch: lyingFront(lie),
    });
    const outcome = await agent
      .enroll({ ...ALICE, entityId: "pne-lied-to", type: "PNE", ...(tls ? { tls } : {}) })
      .then(
        (record) => ({ record }),
        (err: unknown) => ({ code: errorCodeOf(err) }),
      );
    return { outcome, stored: await store.get("pne-lied-to") };
  }

  it("[SEED-5.x.1-1] the front's honest answer is taken (the harness works)", async () => {
    const { outcome } = await enrollThrough({});
    expect(outcome).toMatchObject({ record: { entityId: "pne-lied-to", keyVersion: 1 } });
    const declared = await enrollThrough({}, true);
    expect(declared.outcome).toMatchObject({ record: { entityId: "pne-lied-to" } });
  });

  for (const [what, lie] of [
    ["another entity", { entityId: "pne-someone-else" }],
    ["another owner", { userId: "mallory" }],
    ["another type", { type: "PNGW" }],
  ] as const) {
    it(`[SEED-5.x.1-1][KEY-TRANSPORT-EUKEY] an answer naming ${what} than asked is ERR_KEY_UNWRAP and nothing is stored`, async () => {
      const { outcome, stored } = await enrollThrough(lie);
      expect(outcome).toEqual({ code: "ERR_KEY_UNWRAP" });
      expect(stored).toBeUndefined();
    });
  }

  it("[TLSDECL-ENROLL][TLSDECL-DOWNGRADE-MITM] a TLS declaration the answer does not keep is ERR_KEY_UNWRAP; an undeclared entity needs no such field", async () => {
    const dropped = await enrollThrough({ tls: false }, true);
    expect(dropped.outcome).toEqual({ code: "ERR_KEY_UNWRAP" });
    expect(dropped.stored).toBeUndefined();
    const undeclared = await enrollThrough({ tls: false });
    expect(undeclared.outcome).toMatchObject({ record: { entityId: "pne-lied-to" } });
  });
});

describe("the Digest protection and client of an agent the test builds", () => {
  const EUKEY = "mut-agent-agent-eukey-0123456789abcdefghijk";

  /** A device record for `entityId` holding EUKEY, as a device restarted from its key store has it. */
  function storeHolding(entityId: string, serverUrl: string) {
    const store = new MemoryKeyStore();
    return store
      .put({
        entityId,
        serverUrl,
        userId: "alice",
        type: "PNE",
        keyVersion: 1,
        eukey: EUKEY,
        machine: { value: "enrolled" },
      })
      .then(() => store);
  }

  /** A server that knows `entityId` by EUKEY and offers only qop=auth (what a path attacker leaves). */
  function authOnlyFront(entityId: string): FetchLike {
    const app = new Hono();
    app.use(
      "*",
      digestAuth({
        realm: "cpns-front",
        secret: "mut-agent-agent-front-secret-0123456789",
        lookup: staticCredentials({ [entityId]: EUKEY }),
        algorithms: ["SHA-256"],
        qop: ["auth"],
      }),
    );
    app.get("/cpns/v1/whoami", (c) => c.json({ entityId }));
    return async (request) => app.fetch(request);
  }

  it("[AGENT-NO-DOWNGRADE] the qop floor is the qop asked unless a lower minimum is given: auth-int refuses an auth-only challenge, minimumQop auth accepts it", async () => {
    const store = await storeHolding("pne-floor", "http://front.test");
    const fetch = authOnlyFront("pne-floor");
    const strict = new EntityAgent({ serverUrl: "http://front.test", store, fetch });
    expect(errorCodeOf(await rejection(strict.fetchAsEntity("pne-floor", "/cpns/v1/whoami")))).toBe(
      "ERR_DIGEST_DOWNGRADE",
    );
    const lenient = new EntityAgent({
      serverUrl: "http://front.test",
      store,
      fetch,
      minimumQop: "auth",
    });
    const res = await lenient.fetchAsEntity("pne-floor", "/cpns/v1/whoami");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ entityId: "pne-floor" });
  });

  it("[AGENT-NONCE-REUSE] an agent started on a key store it did not enroll (a device restarted): one 401 for its first request, then none", async () => {
    const enrolledBy = server.agent({ store: new MemoryKeyStore() });
    const first = await enrolledBy.enroll({ ...ALICE, entityId: "pne-restarted", type: "PNE" });
    const store = new MemoryKeyStore();
    await store.put(first);
    const { transport, exchanges } = recordingTransport();
    const restarted = server.agent({ store, fetch: transport });
    for (let i = 0; i < 3; i++) await restarted.whoami("pne-restarted");
    expect(exchanges.map((exchange) => exchange.status)).toEqual([401, 200, 200, 200]);
  });
});

describe("[AGENT-NEWEST-KEY] steps of one entity that overlap", () => {
  /**
   * A transport that holds back the answers of requests `holding` picks until
   * released, so a test can finish another step while they are in flight.
   */
  function holdingTransport() {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const state: { holding: (request: Request) => boolean } = { holding: () => false };
    let heldCount = 0;
    let onHeld: () => void = () => {};
    /** The status of every answer to an entity request (enrollments left out), in order. */
    const entityStatuses: number[] = [];
    const transport: FetchLike = async (request) => {
      const hold = state.holding(request);
      const res = await fetch(request);
      if (!request.url.endsWith("/cpns/v1/enrollments")) entityStatuses.push(res.status);
      if (hold) {
        heldCount++;
        onHeld();
        await released;
      }
      return res;
    };
    /** Resolves once `n` answers are being held. */
    const held = (n: number) =>
      new Promise<void>((resolve) => {
        onHeld = () => heldCount >= n && resolve();
        onHeld();
      });
    return { transport, state, held, release, entityStatuses };
  }

  it("[AGENT-NEWEST-KEY] a request answered for the old key after a rotation finished leaves the rotation's record: new key, its version, 'enrolled'", async () => {
    const { path, store, agent } = await enrolledThrough("pne-race-req", holdingTransport());
    path.state.holding = (request) => request.url.endsWith("/cpns/v1/whoami");
    const inFlight = agent.whoami("pne-race-req");
    await path.held(1);
    path.state.holding = () => false;
    const rotated = await agent.enroll({ ...ALICE, entityId: "pne-race-req", type: "PNE" });
    path.release();
    expect(await inFlight).toMatchObject({ entityId: "pne-race-req" });
    expect(await store.get("pne-race-req")).toEqual(rotated);
    expect(rotated).toMatchObject({ keyVersion: 2, machine: { value: "enrolled" } });
    // The kept key is the one the server accepts now.
    expect(await agent.whoami("pne-race-req")).toMatchObject({ entityId: "pne-race-req" });
  });

  it("[AGENT-NEWEST-KEY] a rotation refused after another rotation finished leaves that rotation's record", async () => {
    const { path, store, agent } = await enrolledThrough("pne-race-fail", holdingTransport());
    await agent.whoami("pne-race-fail");
    // Held: the refusal of a rotation with a wrong password (its first 401 passes, its answer is held).
    path.state.holding = (request) =>
      request.url.endsWith("/cpns/v1/enrollments") && request.headers.has("authorization");
    const failing = rejection(
      agent.enroll({
        ...ALICE,
        password: "not-the-password",
        entityId: "pne-race-fail",
        type: "PNE",
      }),
    );
    await path.held(1);
    path.state.holding = () => false;
    const rotated = await agent.enroll({ ...ALICE, entityId: "pne-race-fail", type: "PNE" });
    path.release();
    expect(await failing).toBeInstanceOf(AgentError);
    expect(await store.get("pne-race-fail")).toEqual(rotated);
    expect(await agent.whoami("pne-race-fail")).toMatchObject({ entityId: "pne-race-fail" });
  });

  it("[AGENT-NEWEST-KEY] of two rotations whose answers arrive out of order, the higher key version is kept and works", async () => {
    const { path, store, agent } = await enrolledThrough("pne-race-two", holdingTransport());
    path.state.holding = (request) =>
      request.url.endsWith("/cpns/v1/enrollments") && request.headers.has("authorization");
    const earlier = agent.enroll({ ...ALICE, entityId: "pne-race-two", type: "PNE" });
    await path.held(1);
    path.state.holding = () => false;
    const later = await agent.enroll({ ...ALICE, entityId: "pne-race-two", type: "PNE" });
    expect(later.keyVersion).toBe(3);
    path.release();
    // The earlier rotation's key (version 2) arrived last: the device still holds version 3,
    // and still the client primed for it (its first request costs no 401).
    expect(await earlier).toEqual(later);
    expect(await store.get("pne-race-two")).toEqual(later);
    expect(await agent.whoami("pne-race-two")).toMatchObject({ entityId: "pne-race-two" });
    expect(path.entityStatuses).toEqual([200]);
  });
});
