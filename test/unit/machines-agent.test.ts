/**
 * The device agent machine (machines/agent.ts; AGENT-LIFECYCLE,
 * AGENT-REQUIRE-RSPAUTH): every state times every event through
 * `snapshot.can` and `transition`, every simple path of the graph replayed
 * step by step, and the EntityAgent (src/agent/agent.ts) driving the machine
 * along each path against the real server app (in process, app.fetch as the
 * transport): enroll, authenticate, rotate, a failed first enrollment, a
 * failed rotation, a rejected key, and an impostor server without rspauth.
 */
import { createStorage } from "unstorage";
import memoryDriver from "unstorage/drivers/memory";
import { describe, expect, it } from "vitest";
import { initialTransition, transition } from "xstate";
import { getSimplePaths } from "xstate/graph";
import { type AgentEvent, agentMachine } from "../../machines/agent.ts";
import { AgentError, EntityAgent } from "../../src/agent/agent.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import { createDigestFetch, type FetchLike } from "../../src/digest/index.ts";
import { CpnsError } from "../../src/errors.ts";
import { createServerApp } from "../../src/server/app.ts";
import { createUserSealed } from "../admin-users.ts";

type Snapshot = ReturnType<typeof agentMachine.resolveState>;

const start = (): Snapshot => initialTransition(agentMachine, { entityId: "watch-1" })[0];

function run(events: AgentEvent[]): Snapshot {
  let snapshot = start();
  for (const event of events) {
    expect(snapshot.can(event), `${event.type} in ${String(snapshot.value)}`).toBe(true);
    snapshot = transition(agentMachine, snapshot, event)[0];
  }
  return snapshot;
}

const EVENTS: AgentEvent[] = [
  { type: "ENROLL" },
  { type: "ENROLLED", keyVersion: 0 },
  { type: "ENROLLED", keyVersion: 1 },
  { type: "ENROLLED", keyVersion: 2 },
  { type: "ENROLL_FAILED" },
  { type: "AUTHENTICATE" },
  { type: "SERVER_PROVED" },
  { type: "SERVER_UNPROVEN" },
  { type: "REJECTED" },
];
const label = (e: AgentEvent) => ("keyVersion" in e ? `${e.type}(${e.keyVersion})` : e.type);

const ENROLLED_1: AgentEvent = { type: "ENROLLED", keyVersion: 1 };

interface Row {
  state: string;
  reach: AgentEvent[];
  allowed: Record<string, { value: string; keyVersion: number }>;
}

const ROWS: Row[] = [
  { state: "unenrolled", reach: [], allowed: { ENROLL: { value: "enrolling", keyVersion: 0 } } },
  {
    state: "enrolling (first)",
    reach: [{ type: "ENROLL" }],
    allowed: {
      "ENROLLED(1)": { value: "enrolled", keyVersion: 1 },
      "ENROLLED(2)": { value: "enrolled", keyVersion: 2 },
      ENROLL_FAILED: { value: "unenrolled", keyVersion: 0 },
    },
  },
  {
    state: "enrolling (rotation from v1)",
    reach: [{ type: "ENROLL" }, ENROLLED_1, { type: "ENROLL" }],
    allowed: {
      "ENROLLED(2)": { value: "enrolled", keyVersion: 2 },
      ENROLL_FAILED: { value: "enrolled", keyVersion: 1 },
    },
  },
  {
    state: "enrolled",
    reach: [{ type: "ENROLL" }, ENROLLED_1],
    allowed: {
      ENROLL: { value: "enrolling", keyVersion: 1 },
      AUTHENTICATE: { value: "authenticating", keyVersion: 1 },
    },
  },
  {
    state: "authenticating",
    reach: [{ type: "ENROLL" }, ENROLLED_1, { type: "AUTHENTICATE" }],
    allowed: {
      SERVER_PROVED: { value: "authenticated", keyVersion: 1 },
      SERVER_UNPROVEN: { value: "enrolled", keyVersion: 1 },
      // A 401 proves nothing: the key is kept.
      REJECTED: { value: "enrolled", keyVersion: 1 },
    },
  },
  {
    state: "authenticated",
    reach: [{ type: "ENROLL" }, ENROLLED_1, { type: "AUTHENTICATE" }, { type: "SERVER_PROVED" }],
    allowed: {
      ENROLL: { value: "enrolling", keyVersion: 1 },
      AUTHENTICATE: { value: "authenticating", keyVersion: 1 },
    },
  },
];

describe("[AGENT-LIFECYCLE] agent machine: every state × every event", () => {
  for (const row of ROWS) {
    for (const event of EVENTS) {
      const expected = row.allowed[label(event)];
      it(`[AGENT-LIFECYCLE] ${row.state} + ${label(event)} → ${expected ? `${expected.value} v${expected.keyVersion}` : "refused"}`, () => {
        const before = run(row.reach);
        expect(before.can(event)).toBe(expected !== undefined);
        const [after] = transition(agentMachine, before, event);
        if (expected) {
          expect(after.value).toBe(expected.value);
          expect(after.context.keyVersion).toBe(expected.keyVersion);
        } else {
          expect(after.value).toBe(before.value);
          expect(after.context).toEqual(before.context);
        }
      });
    }
  }

  it("[AGENT-LIFECYCLE] every simple path of the graph replays step by step and reaches every state", () => {
    const paths = getSimplePaths(agentMachine, {
      input: { entityId: "watch-1" },
      events: [
        { type: "ENROLL" },
        { type: "ENROLLED", keyVersion: 1 },
        { type: "ENROLLED", keyVersion: 2 },
        { type: "ENROLL_FAILED" },
        { type: "AUTHENTICATE" },
        { type: "SERVER_PROVED" },
        { type: "SERVER_UNPROVEN" },
        { type: "REJECTED" },
      ],
    });
    expect(paths.length).toBeGreaterThan(10);
    const reached = new Set<string>();
    for (const path of paths) {
      const end = run(path.steps.map((s) => s.event).filter((e) => !e.type.startsWith("xstate.")));
      expect(end.value).toEqual(path.state.value);
      expect(end.context).toEqual(path.state.context);
      reached.add(String(end.value));
    }
    expect([...reached].sort()).toEqual(
      ["authenticated", "authenticating", "enrolled", "enrolling", "unenrolled"].sort(),
    );
  });
});

// ------------------------------------------------------------- EntityAgent paths

const ALICE = { userId: "alice", password: "alice-agent-password" };
const ADMIN = "agent-unit-admin-token-0123456789";

async function inProcessServer(): Promise<FetchLike> {
  const app = createServerApp({
    realm: "cpns-agent-unit",
    storage: createStorage({ driver: memoryDriver() }),
    masterKey: crypto.getRandomValues(new Uint8Array(32)),
    adminToken: ADMIN,
    digestSecret: "agent-unit-digest-secret-0123456789",
  });
  const transport: FetchLike = (request) => app.fetch(request);
  const res = await createUserSealed({
    transport,
    base: "http://cpns.test",
    adminToken: ADMIN,
    ...ALICE,
  });
  expect(res.status).toBe(201);
  return transport;
}

function agentWith(transport: FetchLike, store = new MemoryKeyStore()) {
  return {
    agent: new EntityAgent({ serverUrl: "http://cpns.test", store, fetch: transport }),
    store,
  };
}

describe("[AGENT-LIFECYCLE][AGENT-REQUIRE-RSPAUTH] EntityAgent drives its machine on every path", () => {
  it("[AGENT-LIFECYCLE] enroll → enrolled; whoami → authenticated; enroll again → enrolled v2", async () => {
    const { agent, store } = agentWith(await inProcessServer());
    expect(await agent.enroll({ ...ALICE, entityId: "w", type: "PNE" })).toMatchObject({
      keyVersion: 1,
      machine: { value: "enrolled" },
    });
    await agent.whoami("w");
    expect(await store.get("w")).toMatchObject({ machine: { value: "authenticated" } });
    expect(await agent.enroll({ ...ALICE, entityId: "w", type: "PNE" })).toMatchObject({
      keyVersion: 2,
      machine: { value: "enrolled" },
    });
  });

  it("[AGENT-LIFECYCLE] a refused first enrollment records nothing; a refused rotation keeps the key", async () => {
    const transport = await inProcessServer();
    const { agent, store } = agentWith(transport);
    const wrong = await agent
      .enroll({ ...ALICE, password: "wrong", entityId: "w", type: "PNE" })
      .catch((err: unknown) => err);
    expect(wrong).toBeInstanceOf(AgentError);
    expect(wrong).toMatchObject({ status: 401 });
    expect(await store.get("w")).toBeUndefined();

    const first = await agent.enroll({ ...ALICE, entityId: "w", type: "PNE" });
    const mismatch = await agent
      .enroll({ ...ALICE, entityId: "w", type: "PNGW" })
      .catch((err: unknown) => err);
    expect(mismatch).toMatchObject({ status: 409, code: "ERR_ENTITY_TYPE_MISMATCH" });
    expect(await store.get("w")).toMatchObject({
      eukey: first.eukey,
      keyVersion: 1,
      machine: { value: "enrolled" },
    });
    expect(await agent.whoami("w")).toMatchObject({ keyVersion: 1 });
  });

  it("[AGENT-LIFECYCLE][ENTITY-LIFECYCLE] a key the server rejects (rotated elsewhere) → 401, back to enrolled, key kept (a 401 proves nothing)", async () => {
    const transport = await inProcessServer();
    const stale = agentWith(transport);
    const old = await stale.agent.enroll({ ...ALICE, entityId: "w", type: "PNE" });
    // Another device of alice's rotates the key.
    await agentWith(transport).agent.enroll({ ...ALICE, entityId: "w", type: "PNE" });
    const error = await stale.agent.whoami("w").catch((err: unknown) => err);
    expect(error).toBeInstanceOf(AgentError);
    expect(error).toMatchObject({ status: 401 });
    expect(await stale.store.get("w")).toMatchObject({
      eukey: old.eukey,
      keyVersion: 1,
      machine: { value: "enrolled" },
    });
    // Still refused on the next try; a rotation by the owner brings the device back.
    expect(await stale.agent.whoami("w").catch((err: unknown) => err)).toMatchObject({
      status: 401,
    });
    expect(await stale.agent.enroll({ ...ALICE, entityId: "w", type: "PNE" })).toMatchObject({
      keyVersion: 3,
    });
    expect(await stale.agent.whoami("w")).toMatchObject({ keyVersion: 3 });
  });

  it("[AGENT-LIFECYCLE] authenticating without a key is refused by the machine before any request", async () => {
    let requests = 0;
    const transport = await inProcessServer();
    const counting: FetchLike = (request) => {
      requests += 1;
      return transport(request);
    };
    const { agent } = agentWith(counting);
    const refused = await agent.whoami("never-enrolled").catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(CpnsError);
    expect((refused as CpnsError).code).toBe("ERR_ENTITY_STATE");
    expect(requests).toBe(0);
  });

  it("[AGENT-REQUIRE-RSPAUTH][FFS-SERVER-AUTH] an answer without rspauth → back to enrolled, key kept, answer not used", async () => {
    const transport = await inProcessServer();
    const store = new MemoryKeyStore();
    await agentWith(transport, store).agent.enroll({ ...ALICE, entityId: "w", type: "PNE" });
    const stripping: FetchLike = async (request) => {
      const res = await transport(request);
      const headers = new Headers(res.headers);
      headers.delete("authentication-info");
      return new Response(await res.arrayBuffer(), { status: res.status, headers });
    };
    const impostor = agentWith(stripping, store).agent;
    const error = await impostor.whoami("w").catch((err: unknown) => err);
    expect(error).toBeInstanceOf(CpnsError);
    expect((error as CpnsError).code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
    const kept = await store.get("w");
    expect(kept).toMatchObject({ keyVersion: 1, machine: { value: "enrolled" } });
    expect(kept?.eukey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // An enrollment through the impostor is refused too: the sealed key is never opened.
    const enrolling = await impostor
      .enroll({ ...ALICE, entityId: "w2", type: "PNE" })
      .catch((err: unknown) => err);
    expect((enrolling as CpnsError).code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
    expect(await store.get("w2")).toBeUndefined();
  });

  it("[AGENT-REQUIRE-RSPAUTH] the agent's Digest client requires rspauth (a plain client accepts the stripped answer)", async () => {
    const transport = await inProcessServer();
    const record = await agentWith(transport).agent.enroll({
      ...ALICE,
      entityId: "w",
      type: "PNE",
    });
    const stripping: FetchLike = async (request) => {
      const res = await transport(request);
      const headers = new Headers(res.headers);
      headers.delete("authentication-info");
      return new Response(await res.arrayBuffer(), { status: res.status, headers });
    };
    const plain = createDigestFetch({ username: "w", password: record.eukey, fetch: stripping });
    expect((await plain("http://cpns.test/cpns/v1/whoami")).status).toBe(200);
  });
});

describe("[CHMODEL-ONE-GATE] the agent passes through the one gate (src/machine-gate/bridge.ts)", () => {
  it("[CHMODEL-ONE-GATE][AGENT-LIFECYCLE] a stored agent state the machine does not have is ERR_STORE_CORRUPT, before any request, and the record is left as it was", async () => {
    let requests = 0;
    const transport = await inProcessServer();
    const counting: FetchLike = (request) => {
      requests += 1;
      return transport(request);
    };
    const { agent, store } = agentWith(counting);
    const record = await agent.enroll({ ...ALICE, entityId: "w", type: "PNE" });
    const damaged = { ...record, machine: { value: "trusted-forever" } };
    await store.put(damaged);
    const before = requests;
    for (const attempt of [
      () => agent.whoami("w"),
      () => agent.enroll({ ...ALICE, entityId: "w", type: "PNE" }),
    ]) {
      const refused = await attempt().catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(CpnsError);
      expect((refused as CpnsError).code).toBe("ERR_STORE_CORRUPT");
    }
    expect(requests).toBe(before);
    expect(await store.get("w")).toEqual(damaged);
  });

  it("[CHMODEL-ONE-GATE] no module of src/ but the bridge steps a machine itself (xstate's transition and initialTransition are imported nowhere else)", async () => {
    const { readdirSync, readFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const root = new URL("../../src/", import.meta.url).pathname;
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (path.endsWith(".ts") && !path.endsWith(join("machine-gate", "bridge.ts"))) {
          const text = readFileSync(path, "utf8");
          // Value imports from xstate (type-only imports are fine).
          for (const m of text.matchAll(/import\s+(type\s+)?\{([^}]*)\}\s+from\s+"xstate"/g)) {
            if (m[1]) continue;
            const names = (m[2] ?? "").split(",").map((n) => n.trim());
            if (names.some((n) => n && !n.startsWith("type ")))
              offenders.push(path.slice(root.length));
          }
        }
      }
    };
    walk(root);
    expect(offenders).toEqual([]);
  });
});
