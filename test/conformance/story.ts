/**
 * The whole CPNS story and its attacks over HTTP, parameterised by a base URL
 * only (issue #11, "One conformance suite"): `cpnsStorySuite(name, start)`
 * runs unchanged against any running CPNS Server, whatever serves it (Node on
 * fs, a Node fleet on Redis, Deno on KV, workerd with Durable Objects, or a
 * deployed Worker). Everything goes over real HTTP with the real global fetch
 * (node:http only where fetch cannot: a fresh connection per oversized body),
 * through the project's own clients: EntityAgent, OtkClient, PeerSession,
 * createDigestFetch and createUserSealed.
 *
 * The story: user creation (a weak password, a clear password on plain HTTP
 * and retired HA1 values refused), enrollment of a PN GW and a PNE, entity
 * Digest with rspauth verified (a forged rspauth refused by the agent),
 * ownership, rotation (the old key refused at once), revocation (refused
 * after), OTK deposit / inbox / delivery / consume (each at most once, also in
 * a concurrent burst), a peer session between the PNE and a PN GW served by
 * this test on loopback and pointed at the target, and a whoami relayed end to
 * end. The attacks: a captured request replayed (one at a time and in a
 * concurrent burst), a man in the middle stripping auth-int or SHA-2 from the
 * challenges, two users racing for one Entity ID, bad inputs (malformed JSON,
 * unknown fields, long ids, oversized bodies, wrong media type, garbage Digest
 * headers: 4xx problem+json with a stable code, never 5xx, nothing written),
 * unknown routes, and failure budgets (wrong passwords get 429 with
 * Retry-After after the free budget; an entity's key still gets in after
 * others' failures aimed at it).
 *
 * Nothing depends on the target's file system or clock: every run makes
 * fresh random User and Entity IDs, so the suite can run again and again
 * against a long-lived target. The one assumption about the target's
 * configuration is its failure budget per (identity, address) pair, 10 by
 * default (`freeFailures`). The admin envelope carries this machine's clock:
 * the target's clock must be within 60 s of it.
 *
 * Implements: FLEET-CONF-STORY, FLEET-CONF-RERUN
 */
import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentError, EntityAgent } from "../../src/agent/agent.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import { OtkClient } from "../../src/agent/otk-client.ts";
import { PeerSession } from "../../src/agent/peer.ts";
import {
  ALGORITHMS,
  computeHa1,
  createDigestFetch,
  type FetchLike,
} from "../../src/digest/index.ts";
import { errorCodeOf, type ProblemBody } from "../../src/errors.ts";
import { PnGateway } from "../../src/gateway/gateway.ts";
import { DEFAULT_BODY_LIMIT } from "../../src/protocol/body.ts";
import type { EntityView, ServerInfo } from "../../src/protocol/schemas.ts";
import { serveNode } from "../../src/runtime/node-server.ts";
import { createUserSealed } from "../admin-users.ts";
import { nodeTransport } from "../e2e/node-transport.ts";
import { tamperAuthenticationInfo } from "../mitm.ts";

/** A running CPNS Server, however it is served. */
export interface StoryTarget {
  /** Origin of the CPNS Server, e.g. http://127.0.0.1:8787 (no path). */
  baseUrl: string;
  /** Its admin Bearer token (CPNS_ADMIN_TOKEN). */
  adminToken: string;
  close(): Promise<void>;
}

export interface StoryOptions {
  /** The target's free failures per (identity, address) pair (default 10, the server's default). */
  freeFailures?: number;
}

const T = 120_000;

/** A fresh id for this run: the suite never meets an id an earlier run left behind. */
const runTag = () => `c${randomBytes(5).toString("hex")}`;
/** A password zxcvbn scores 4: 18 random base64url characters. */
const strongPassword = () => `Conf-${randomBytes(14).toString("base64url")}`;

interface User {
  userId: string;
  password: string;
}

interface Device {
  entityId: string;
  store: MemoryKeyStore;
  agent: EntityAgent;
  otks: OtkClient;
}

/** A stand-in for a device the story's enrollment step has not made (yet). */
function notEnrolled(what: string): Device {
  return new Proxy({} as Device, {
    get() {
      throw new Error(`${what} is missing: the enrollment step of this suite did not complete`);
    },
  });
}

/** Asserts an RFC 9457 problem with this status and code; returns the body. */
async function expectProblem(res: Response, status: number, code: string): Promise<ProblemBody> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(text) as ProblemBody;
  expect(body.code, text).toBe(code);
  expect(body.status).toBe(status);
  return body;
}

/** What a promise was rejected with: a CpnsError's, DigestError's or AgentError's code, and an AgentError's status. */
async function refusal(work: Promise<unknown>): Promise<{ code?: string; status?: number }> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err === undefined) return {};
  if (err instanceof AgentError) return { code: err.code, status: err.status };
  return { code: errorCodeOf(err) ?? String(err) };
}

const jsonInit = (method: string, body: unknown): RequestInit => ({
  method,
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

/** Headers.get joins repeated challenges with ", ": split them back at each "Digest ". */
const splitChallenges = (joined: string) => joined.split(/,\s*(?=Digest\s)/i);

export function cpnsStorySuite(
  name: string,
  start: () => Promise<StoryTarget>,
  options: StoryOptions = {},
): void {
  const freeFailures = options.freeFailures ?? 10;

  describe(`[FLEET-CONF-STORY] the CPNS story and its attacks over HTTP: ${name}`, () => {
    let target: StoryTarget | undefined;
    const run = runTag();
    const alice: User = { userId: `${run}-alice`, password: strongPassword() };
    const bob: User = { userId: `${run}-bob`, password: strongPassword() };
    // Set by the enrollment step; until then any use says so instead of "undefined".
    let gw: Device = notEnrolled("the PN GW");
    let pne: Device = notEnrolled("the PNE");

    const base = () => {
      if (!target) throw new Error(`${name}: the target did not start`);
      return target.baseUrl.replace(/\/+$/, "");
    };
    const raw = (path: string, init?: RequestInit) => fetch(`${base()}${path}`, init);
    const postUser = (userId: string, password: string) =>
      createUserSealed({
        transport: (request) => fetch(request),
        base: base(),
        adminToken: target?.adminToken ?? "",
        userId,
        password,
      });
    const admin = (path: string, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      headers.set("authorization", `Bearer ${target?.adminToken}`);
      return raw(path, { ...init, headers });
    };
    /** A Digest fetch as `user` (rspauth required), bound to the target. */
    const asUser = (user: User, transport?: FetchLike) => {
      const digestFetch = createDigestFetch({
        username: user.userId,
        password: user.password,
        requireRspauth: true,
        ...(transport ? { fetch: transport } : {}),
      });
      return (path: string, init?: RequestInit) => digestFetch(`${base()}${path}`, init);
    };
    /** A Digest fetch as an entity with an explicit key (rspauth required unless a refusal is expected). */
    const asEntity = (entityId: string, eukey: string, requireRspauth = true) => {
      const digestFetch = createDigestFetch({
        username: entityId,
        password: eukey,
        requireRspauth,
      });
      return (path: string, init?: RequestInit) => digestFetch(`${base()}${path}`, init);
    };
    const newAgent = (store: MemoryKeyStore, fetchLike?: FetchLike) =>
      new EntityAgent({
        serverUrl: base(),
        store,
        ...(fetchLike ? { fetch: fetchLike } : {}),
      });
    const enroll = async (owner: User, entityId: string, type: "PNE" | "PNGW"): Promise<Device> => {
      const store = new MemoryKeyStore();
      const agent = newAgent(store);
      await agent.enroll({ ...owner, entityId, type });
      return { entityId, store, agent, otks: new OtkClient({ agent, store }) };
    };
    const eukeyOf = async (device: Device) =>
      (await device.store.get(device.entityId))?.eukey ?? "";
    const entitiesOf = async (user: User): Promise<string[]> => {
      const res = await asUser(user)("/cpns/v1/entities");
      expect(res.status).toBe(200);
      return ((await res.json()) as { entities: EntityView[] }).entities
        .map((e) => e.entityId)
        .sort();
    };

    beforeAll(async () => {
      target = await start();
      for (const user of [alice, bob]) {
        const res = await postUser(user.userId, user.password);
        expect(res.status, await res.clone().text()).toBe(201);
        await res.arrayBuffer();
      }
    }, T);

    afterAll(async () => {
      await target?.close();
    }, 30_000);

    it(
      "[FLEET-CONF-STORY][SERVER-API] the service describes itself; unknown routes are 404 problem+json ERR_NOT_FOUND",
      async () => {
        const res = await raw("/cpns/v1");
        expect(res.status).toBe(200);
        const info = (await res.json()) as ServerInfo;
        expect(info).toMatchObject({ service: "cpns", version: 1 });
        expect(info.algorithms).toContain("SHA-256");
        for (const path of [
          "/cpns/v1/nope",
          "/cpns/v2/whoami",
          "/nope",
          `/cpns/v1/${"x".repeat(3000)}`,
        ]) {
          await expectProblem(await raw(path), 404, "ERR_NOT_FOUND");
        }
      },
      T,
    );

    it(
      "[FLEET-CONF-STORY][SERVER-ADMIN-API][ADMIN-SEALED-SECRET][PASSWORD-POLICY][ADMIN-NO-PLAIN-SECRET] user creation: sealed and strong only; weak, clear-on-plain-HTTP and HA1 forms refused; no token, no user",
      async () => {
        const carol = { userId: `${run}-carol`, password: strongPassword() };
        // Without the admin token.
        const anonymous = await createUserSealed({
          transport: (request) => fetch(request),
          base: base(),
          adminToken: "not-the-admin-token-0123456789",
          ...carol,
        });
        await expectProblem(anonymous, 401, "ERR_ADMIN_UNAUTHORIZED");
        // A weak password, even sealed: refused with advice, never echoed.
        for (const weak of ["password1234", `${carol.userId}${carol.userId}`]) {
          const body = await expectProblem(
            await postUser(carol.userId, weak),
            400,
            "ERR_WEAK_PASSWORD",
          );
          expect(JSON.stringify(body)).not.toContain(weak);
        }
        // HA1 values are retired, TLS or not (a policy bypass).
        const realm = ((await (await raw("/cpns/v1")).json()) as ServerInfo).realm;
        const ha1 = Object.fromEntries(
          (["SHA-256", "SHA-512-256", "MD5"] as const).map((hash) => [
            hash,
            computeHa1(ALGORITHMS[hash], carol.userId, realm, carol.password),
          ]),
        );
        await expectProblem(
          await admin("/cpns/v1/admin/users", jsonInit("POST", { userId: carol.userId, ha1 })),
          400,
          "ERR_ADMIN_HA1_RETIRED",
        );
        // A clear password only over TLS terminated by the server.
        if (new URL(base()).protocol === "http:") {
          const clear = await admin(
            "/cpns/v1/admin/users",
            jsonInit("POST", { userId: carol.userId, password: carol.password }),
          );
          const body = await expectProblem(clear, 400, "ERR_ADMIN_PLAIN_SECRET");
          expect(JSON.stringify(body)).not.toContain(carol.password);
        }
        // Nothing of the refused attempts was stored: carol does not exist, so her Digest fails.
        const listed = await admin("/cpns/v1/admin/users");
        expect(listed.status).toBe(200);
        expect(((await listed.json()) as { users: string[] }).users).not.toContain(carol.userId);
        // The sealed, strong form works; twice is ERR_USER_EXISTS.
        const created = await postUser(carol.userId, carol.password);
        expect(created.status, await created.clone().text()).toBe(201);
        await created.arrayBuffer();
        await expectProblem(await postUser(carol.userId, strongPassword()), 409, "ERR_USER_EXISTS");
        expect(await entitiesOf(carol)).toEqual([]);
      },
      T,
    );

    it(
      "[FLEET-CONF-STORY][SEED-5.x.1-1][SEED-5.x.2-1][AGENT-REQUIRE-RSPAUTH][SERVER-EUKEY-FORMAT] enrollment of a PN GW and a PNE; entity Digest with the EUKey, rspauth verified on every exchange",
      async () => {
        const exchanges: Array<{ authorized: boolean; status: number; info: string | null }> = [];
        const recording: FetchLike = async (request) => {
          const res = await fetch(request);
          exchanges.push({
            authorized: request.headers.has("authorization"),
            status: res.status,
            info: res.headers.get("authentication-info"),
          });
          return res;
        };
        const gwStore = new MemoryKeyStore();
        const gwAgent = newAgent(gwStore, recording);
        const gwRecord = await gwAgent.enroll({ ...alice, entityId: `${run}-gw`, type: "PNGW" });
        expect(gwRecord).toMatchObject({ userId: alice.userId, type: "PNGW", keyVersion: 1 });
        expect(gwRecord.eukey).toMatch(/^[A-Za-z0-9_-]{43}$/);
        const gwPlainAgent = newAgent(gwStore);
        gw = {
          entityId: gwRecord.entityId,
          store: gwStore,
          agent: gwPlainAgent,
          otks: new OtkClient({ agent: gwPlainAgent, store: gwStore }),
        };
        pne = await enroll(alice, `${run}-pne`, "PNE");

        expect(await gwAgent.whoami(gw.entityId)).toEqual({
          entityId: gw.entityId,
          userId: alice.userId,
          type: "PNGW",
          keyVersion: 1,
        });
        expect(await pne.agent.whoami(pne.entityId)).toMatchObject({
          entityId: pne.entityId,
          type: "PNE",
        });
        const authorized = exchanges.filter((e) => e.authorized && e.status < 300);
        expect(authorized.length).toBe(2);
        for (const e of authorized) expect(e.info).toMatch(/rspauth="?[0-9a-f]{64}/);

        // Username = Entity ID, secret = base64url(EUKey) unpadded: a third-party Digest client gets in.
        const direct = await asEntity(gw.entityId, gwRecord.eukey)("/cpns/v1/whoami");
        expect(direct.status).toBe(200);
        expect(await direct.json()).toMatchObject({ entityId: gw.entityId, userId: alice.userId });
        expect(await entitiesOf(alice)).toEqual([gw.entityId, pne.entityId].sort());
      },
      T,
    );

    it(
      "[FLEET-CONF-STORY][FFS-SERVER-AUTH][AGENT-REQUIRE-RSPAUTH] a forged or stripped rspauth on the way back: the agent refuses the answer and keeps its key",
      async () => {
        const tamper = tamperAuthenticationInfo;
        const flip = (info: string) =>
          info.replace(/rspauth="?([0-9a-f])/, (m, c: string) =>
            m.replace(c, c === "0" ? "1" : "0"),
          );
        for (const edit of [flip, () => null]) {
          const agent = newAgent(pne.store, tamper(edit));
          expect((await refusal(agent.whoami(pne.entityId))).code).toBe(
            "ERR_DIGEST_SERVER_UNAUTHENTICATED",
          );
        }
        expect(await pne.agent.whoami(pne.entityId)).toMatchObject({ keyVersion: 1 });
      },
      T,
    );

    it(
      "[FLEET-CONF-STORY][SERVER-OWNERSHIP][SEED-5.x.3-2] another user cannot take, read or revoke alice's entity; two users racing for one Entity ID get exactly one owner",
      async () => {
        for (const type of ["PNE", "PNGW"]) {
          await expectProblem(
            await asUser(bob)(
              "/cpns/v1/enrollments",
              jsonInit("POST", { entityId: pne.entityId, type }),
            ),
            403,
            "ERR_NOT_OWNER",
          );
        }
        await expectProblem(
          await asUser(bob)(`/cpns/v1/entities/${pne.entityId}`),
          404,
          "ERR_NOT_FOUND",
        );
        await expectProblem(
          await asUser(bob)(`/cpns/v1/entities/${pne.entityId}`, { method: "DELETE" }),
          404,
          "ERR_NOT_FOUND",
        );
        expect(await pne.agent.whoami(pne.entityId)).toMatchObject({
          userId: alice.userId,
          keyVersion: 1,
        });

        for (let round = 0; round < 3; round++) {
          const entityId = `${run}-race${round}`;
          const [a, b] = await Promise.all(
            [alice, bob].map((user) =>
              asUser(user)("/cpns/v1/enrollments", jsonInit("POST", { entityId, type: "PNE" })),
            ),
          );
          const statuses = [a?.status, b?.status].sort();
          expect(statuses, `round ${round}`).toEqual([201, 403]);
          const winner = a?.status === 201 ? alice : bob;
          const loser = winner === alice ? b : a;
          await expectProblem(loser as Response, 403, "ERR_NOT_OWNER");
          await (winner === alice ? a : b)?.arrayBuffer();
          const view = await asUser(winner)(`/cpns/v1/entities/${entityId}`);
          expect(await view.json()).toMatchObject({
            entityId,
            userId: winner.userId,
            keyVersion: 1,
          });
        }
      },
      T,
    );

    it(
      "[FLEET-CONF-STORY][ENTITY-LIFECYCLE][SEED-5.x.1-2] rotation: re-enrolling gives keyVersion 2 and the old key is refused at once, even by a client holding a nonce",
      async () => {
        const watch = await enroll(alice, `${run}-rot`, "PNE");
        const oldKey = await eukeyOf(watch);
        const oldClient = asEntity(watch.entityId, oldKey, false);
        expect((await oldClient("/cpns/v1/whoami")).status).toBe(200);

        const second = await watch.agent.enroll({
          ...alice,
          entityId: watch.entityId,
          type: "PNE",
        });
        expect(second.keyVersion).toBe(2);
        expect(second.eukey).not.toBe(oldKey);

        const refused = await oldClient("/cpns/v1/whoami");
        expect(refused.status).toBe(401);
        await refused.arrayBuffer();
        const fresh = await asEntity(watch.entityId, oldKey, false)("/cpns/v1/whoami");
        expect(fresh.status).toBe(401);
        await fresh.arrayBuffer();
        expect(await watch.agent.whoami(watch.entityId)).toMatchObject({ keyVersion: 2 });
        const view = await asUser(alice)(`/cpns/v1/entities/${watch.entityId}`);
        expect(await view.json()).toMatchObject({ keyVersion: 2, state: "active" });
      },
      T,
    );

    it(
      "[FLEET-CONF-STORY][ENTITY-LIFECYCLE][SEED-5.x.3-1][SERVER-MODEL-GATE] revocation: 200, then the key is refused, revoking again or re-enrolling is 409 ERR_ENTITY_STATE",
      async () => {
        const watch = await enroll(alice, `${run}-rev`, "PNE");
        const key = await eukeyOf(watch);
        expect(await watch.agent.whoami(watch.entityId)).toMatchObject({ keyVersion: 1 });
        const res = await asUser(alice)(`/cpns/v1/entities/${watch.entityId}`, {
          method: "DELETE",
        });
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject({ entityId: watch.entityId, state: "revoked" });

        const after = await asEntity(watch.entityId, key, false)("/cpns/v1/whoami");
        expect(after.status).toBe(401);
        await after.arrayBuffer();
        expect(await refusal(watch.agent.whoami(watch.entityId))).toMatchObject({ status: 401 });
        await expectProblem(
          await asUser(alice)(`/cpns/v1/entities/${watch.entityId}`, { method: "DELETE" }),
          409,
          "ERR_ENTITY_STATE",
        );
        await expectProblem(
          await asUser(alice)(
            "/cpns/v1/enrollments",
            jsonInit("POST", { entityId: watch.entityId, type: "PNE" }),
          ),
          409,
          "ERR_ENTITY_STATE",
        );
        const view = await asUser(alice)(`/cpns/v1/entities/${watch.entityId}`);
        expect(await view.json()).toMatchObject({ state: "revoked" });
      },
      T,
    );

    it(
      "[FLEET-CONF-STORY][SEED-5.x.2-4][SEED-5.x.2-5][OTK-DEPOSIT][OTK-DELIVERY][OTK-FORMAT] OTK: the PN GW deposits for the PNE, the inbox lists it, it is delivered once and consumed once",
      async () => {
        const issued = await gw.otks.deposit(gw.entityId, {
          peerId: pne.entityId,
          lifetimeSeconds: 120,
        });
        expect(issued).toMatchObject({ peerId: pne.entityId, peerType: "PNE" });
        expect(issued.otk).toHaveLength(32);
        const inbox = await pne.otks.inbox(pne.entityId);
        expect(inbox.map((o) => [o.otkId, o.issuerId, o.state])).toContainEqual([
          issued.otkId,
          gw.entityId,
          "deposited",
        ]);
        expect(JSON.stringify(inbox)).not.toMatch(/sealed/i);
        // The issuer cannot take it for itself; the addressee gets exactly the OTK the PN GW made.
        expect(await refusal(gw.otks.fetch(gw.entityId, issued.otkId))).toMatchObject({
          status: 403,
        });
        const received = await pne.otks.fetch(pne.entityId, issued.otkId);
        expect(received.otk).toEqual(issued.otk);
        expect(received.view).toMatchObject({ otkId: issued.otkId, state: "delivered" });
        // At most once.
        expect(await refusal(pne.otks.fetch(pne.entityId, issued.otkId))).toEqual({
          code: "ERR_OTK_GONE",
          status: 410,
        });
        expect((await pne.otks.inbox(pne.entityId)).map((o) => o.otkId)).not.toContain(
          issued.otkId,
        );
        // A PNE cannot consume; the issuer consumes once.
        expect(await refusal(pne.otks.consume(pne.entityId, issued.otkId))).toMatchObject({
          code: "ERR_FORBIDDEN",
        });
        expect(await gw.otks.consume(gw.entityId, issued.otkId)).toMatchObject({
          state: "consumed",
        });
        expect(await refusal(gw.otks.consume(gw.entityId, issued.otkId))).toEqual({
          code: "ERR_OTK_GONE",
          status: 410,
        });
      },
      T,
    );

    it(
      "[FLEET-CONF-STORY][OTK-DELIVERY][OTK-PAIRING] bursts: three deliveries of one OTK at once deliver it once; two deposits of one otkId at once store it once",
      async () => {
        for (let round = 0; round < 3; round++) {
          const issued = await gw.otks.deposit(gw.entityId, {
            peerId: pne.entityId,
            lifetimeSeconds: 120,
          });
          const results = await Promise.allSettled(
            [0, 1, 2].map(() => pne.otks.fetch(pne.entityId, issued.otkId)),
          );
          const won = results.filter((r) => r.status === "fulfilled");
          expect(won, `round ${round}`).toHaveLength(1);
          for (const lost of results.filter((r) => r.status === "rejected")) {
            expect(await refusal(Promise.reject((lost as PromiseRejectedResult).reason))).toEqual({
              code: "ERR_OTK_GONE",
              status: 410,
            });
          }
          const prepared = gw.otks.prepare(120);
          const deposits = await Promise.allSettled(
            [0, 1].map(() => gw.otks.deposit(gw.entityId, { peerId: pne.entityId, prepared })),
          );
          expect(
            deposits.filter((r) => r.status === "fulfilled"),
            `round ${round}`,
          ).toHaveLength(1);
          const lost = deposits.find((r) => r.status === "rejected") as PromiseRejectedResult;
          expect(await refusal(Promise.reject(lost.reason))).toMatchObject({ status: 409 });
        }
      },
      T,
    );

    it(
      "[FLEET-CONF-STORY][SEED-5.x.2-3][SEED-5.x.2-6][SEED-5.x.2-7][PEER-DIGEST][PEER-SESSION][GATEWAY-RELAY] a peer session between the PNE and a PN GW on loopback, a message, and a whoami relayed end to end",
      async () => {
        let gateway!: PnGateway;
        let listening!: (port: number) => void;
        const ready = new Promise<number>((resolve) => {
          listening = resolve;
        });
        const http = serveNode(
          { fetch: (request) => gateway.app.fetch(request), port: 0, hostname: "127.0.0.1" },
          (info) => listening(info.port),
        ) as Server;
        const gatewayUrl = `http://127.0.0.1:${await ready}`;
        gateway = new PnGateway({
          gatewayId: gw.entityId,
          serverUrl: base(),
          agent: gw.agent,
          store: gw.store,
          endpoint: gatewayUrl,
        });
        try {
          const offer = await gateway.offer(pne.entityId);
          expect(offer).toMatchObject({ peerId: pne.entityId, peerType: "PNE" });
          const waiting = (await pne.otks.inbox(pne.entityId)).filter(
            (o) => o.otkId === offer.otkId,
          );
          expect(waiting).toHaveLength(1);
          expect(waiting[0]?.endpoint).toBe(gatewayUrl);
          const received = await pne.otks.fetch(pne.entityId, offer.otkId);
          const session = await PeerSession.open({ entityId: pne.entityId, received });
          expect(session.state).toBe("open");
          expect(session.gatewayId).toBe(gw.entityId);
          // The OTK was used once: it cannot be fetched or consumed again.
          expect(await refusal(pne.otks.fetch(pne.entityId, offer.otkId))).toMatchObject({
            status: 410,
          });
          expect(await refusal(gw.otks.consume(gw.entityId, offer.otkId))).toMatchObject({
            status: 410,
          });

          expect(await session.send("hello gateway")).toEqual({
            sessionId: session.sessionId,
            from: pne.entityId,
            echo: "hello gateway",
          });
          // The PNE's own Digest to the server, carried by the PN GW's relay: the server answers
          // the PNE (rspauth verified by the PNE's agent), not the gateway.
          const relayed = new EntityAgent({
            serverUrl: base(),
            store: pne.store,
            fetch: session.relayTransport(),
          });
          expect(await relayed.whoami(pne.entityId)).toMatchObject({
            entityId: pne.entityId,
            userId: alice.userId,
            type: "PNE",
          });
          await session.close();
          expect(session.state).toBe("closed");
          expect(gateway.states().find((s) => s.otkId === offer.otkId)?.state).toBe("closed");
          expect(await refusal(relayed.whoami(pne.entityId))).toMatchObject({
            code: "ERR_PEER_SESSION_GONE",
          });
        } finally {
          await new Promise<void>((resolve) => {
            http.closeAllConnections?.();
            http.close(() => resolve());
          });
        }
      },
      T,
    );

    it(
      "[FLEET-CONF-STORY][DIGEST-REPLAY][LIMIT-PROVEN][SEED-5.x.2-1][SEED-5.x.1-1] a captured request replayed is refused: a whoami (401 every time, past the failure budget too: a replay is no guess), an enrollment (no new key), and a burst of one request sent five times at once (exactly one success)",
      async () => {
        const capture: Array<{
          url: string;
          method: string;
          authorization: string;
          body: string;
          status: number;
        }> = [];
        const capturing: FetchLike = async (request) => {
          const body = request.method === "GET" ? "" : await request.clone().text();
          const res = await fetch(request);
          const authorization = request.headers.get("authorization");
          if (authorization) {
            capture.push({
              url: request.url,
              method: request.method,
              authorization,
              body,
              status: res.status,
            });
          }
          return res;
        };
        const watch = await enroll(alice, `${run}-replay`, "PNE");
        await newAgent(watch.store, capturing).whoami(watch.entityId);
        const whoami = capture.find((c) => c.url.endsWith("/cpns/v1/whoami") && c.status === 200);
        expect(whoami?.authorization).toMatch(/^Digest /);
        const replay = await raw("/cpns/v1/whoami", {
          headers: { authorization: whoami?.authorization ?? "" },
        });
        expect(replay.status).toBe(401);
        expect(replay.headers.get("www-authenticate")).toMatch(/^Digest /);
        expect(replay.headers.get("authentication-info")).toBeNull();
        expect(await replay.text()).not.toContain(`"userId"`);
        // Sent again past the free budget: a copy proves the key, so it charges nothing and
        // never turns into 429; the entity itself still gets in (LIMIT-PROVEN).
        const again: number[] = [];
        for (let i = 0; i < freeFailures + 2; i++) {
          const copy = await raw("/cpns/v1/whoami", {
            headers: { authorization: whoami?.authorization ?? "" },
          });
          await copy.arrayBuffer();
          again.push(copy.status);
        }
        expect(again).toEqual(Array.from({ length: freeFailures + 2 }, () => 401));
        expect((await newAgent(watch.store).whoami(watch.entityId)).entityId).toBe(watch.entityId);

        const entityId = `${run}-replay2`;
        const enrolled = await asUser(alice, capturing)(
          "/cpns/v1/enrollments",
          jsonInit("POST", { entityId, type: "PNE" }),
        );
        expect(enrolled.status).toBe(201);
        await enrolled.arrayBuffer();
        const enrollment = capture.find(
          (c) => c.url.endsWith("/cpns/v1/enrollments") && c.status === 201,
        );
        await expectProblem(
          await raw("/cpns/v1/enrollments", {
            method: "POST",
            headers: {
              "content-type": "application/json",
              authorization: enrollment?.authorization ?? "",
            },
            body: enrollment?.body ?? "",
          }),
          401,
          "ERR_DIGEST_UNAUTHORIZED",
        );
        const view = await asUser(alice)(`/cpns/v1/entities/${entityId}`);
        expect(await view.json()).toMatchObject({ keyVersion: 1 });

        // The attacker's burst: one authorised request on the wire five times at once.
        const burst = await enroll(alice, `${run}-burst`, "PNE");
        for (let round = 0; round < 3; round++) {
          const statuses: number[] = [];
          const fiveAtOnce: FetchLike = async (request) => {
            if (!request.headers.has("authorization")) return fetch(request);
            const answers = await Promise.all([0, 1, 2, 3, 4].map(() => fetch(request.clone())));
            statuses.push(...answers.map((r) => r.status));
            const ok = answers.find((r) => r.status === 200) ?? (answers[0] as Response);
            for (const r of answers) if (r !== ok) await r.arrayBuffer();
            return ok;
          };
          await createDigestFetch({
            username: burst.entityId,
            password: await eukeyOf(burst),
            requireRspauth: false,
            fetch: fiveAtOnce,
          })(`${base()}/cpns/v1/whoami`).then((r) => r.arrayBuffer());
          // Exactly one success; the copies are refused (401, or 429 once the copies of earlier
          // rounds have used up this entity's failure budget from here).
          expect(
            statuses.filter((s) => s === 200),
            `round ${round}: ${statuses}`,
          ).toHaveLength(1);
          expect(
            statuses.filter((s) => s === 401 || s === 429),
            `round ${round}: ${statuses}`,
          ).toHaveLength(4);
        }
      },
      T,
    );

    it(
      "[FLEET-CONF-STORY][AGENT-NO-DOWNGRADE][DIGEST-MINIMUM] a man in the middle strips auth-int or SHA-2 from the challenges: the agents refuse to answer (enroll, whoami, deposit, inbox, delivery)",
      async () => {
        for (const attack of ["strip auth-int", "strip SHA-2"] as const) {
          let answered = 0;
          const mitm: FetchLike = async (request) => {
            if (request.headers.has("authorization")) answered++;
            const res = await fetch(request);
            const joined = res.headers.get("www-authenticate");
            if (!joined) return res;
            const challenges = splitChallenges(joined);
            const rewritten =
              attack === "strip auth-int"
                ? challenges.map((c) => c.replace(/qop="[^"]*"/i, 'qop="auth"'))
                : challenges.some((c) => /algorithm=MD5\b/i.test(c))
                  ? challenges.filter((c) => /algorithm=MD5\b/i.test(c))
                  : challenges
                      .slice(0, 1)
                      .map((c) => c.replace(/algorithm=[\w-]+/i, "algorithm=MD5"));
            const headers = new Headers(res.headers);
            headers.delete("www-authenticate");
            for (const c of rewritten) headers.append("www-authenticate", c);
            return new Response(res.body, { status: res.status, headers });
          };
          const pneAgent = newAgent(pne.store, mitm);
          const gwAgent = newAgent(gw.store, mitm);
          // One at a time, each started only when awaited (a rejection is never left unhandled).
          const attempts: Array<[string, () => Promise<unknown>]> = [
            [
              "enroll",
              () =>
                newAgent(new MemoryKeyStore(), mitm).enroll({
                  ...alice,
                  entityId: `${run}-mitm`,
                  type: "PNE",
                }),
            ],
            ["whoami", () => pneAgent.whoami(pne.entityId)],
            [
              "deposit",
              () =>
                new OtkClient({ agent: gwAgent, store: gw.store }).deposit(gw.entityId, {
                  peerId: pne.entityId,
                  lifetimeSeconds: 60,
                }),
            ],
            [
              "inbox",
              () => new OtkClient({ agent: pneAgent, store: pne.store }).inbox(pne.entityId),
            ],
            [
              "delivery",
              () =>
                new OtkClient({ agent: pneAgent, store: pne.store }).fetch(
                  pne.entityId,
                  "AAAAAAAAAAAAAAAAAAAAAA",
                ),
            ],
          ];
          for (const [label, work] of attempts) {
            expect((await refusal(work())).code, `${attack}: ${label}`).toBe(
              "ERR_DIGEST_DOWNGRADE",
            );
          }
          expect(answered, attack).toBe(0);
        }
        // Nothing was written: the entity the attacked enrollment named does not exist.
        await expectProblem(
          await asUser(alice)(`/cpns/v1/entities/${run}-mitm`),
          404,
          "ERR_NOT_FOUND",
        );
        expect(await pne.agent.whoami(pne.entityId)).toMatchObject({ keyVersion: 1 });
      },
      T,
    );

    it(
      "[FLEET-CONF-STORY][SERVER-BAD-INPUT][OTK-DEPOSIT] bad inputs: malformed JSON, unknown fields, long ids, oversized bodies, wrong media types, garbage Digest: 4xx problem+json with a stable code, never 5xx, nothing written",
      async () => {
        const before = await entitiesOf(bob);
        const valid = { entityId: `${run}-bad`, type: "PNE" };
        const over = DEFAULT_BODY_LIMIT + 1;
        const padded = (size: number) => {
          const text = JSON.stringify(valid);
          return text.slice(0, -1) + " ".repeat(size - text.length) + text.slice(-1);
        };
        const cases: Array<[string, string, string | null, number, string, FetchLike?]> = [
          [
            "truncated JSON",
            '{"entityId":"a","type":',
            "application/json",
            400,
            "ERR_BODY_MALFORMED",
          ],
          [
            "two JSON values",
            `${JSON.stringify(valid)}${JSON.stringify(valid)}`,
            "application/json",
            400,
            "ERR_BODY_MALFORMED",
          ],
          ["empty body", "", "application/json", 400, "ERR_BODY_MALFORMED"],
          [
            "an unknown field",
            JSON.stringify({ ...valid, extra: 1 }),
            "application/json",
            400,
            "ERR_BODY_INVALID",
          ],
          [
            "a userId field",
            JSON.stringify({ ...valid, userId: alice.userId }),
            "application/json",
            400,
            "ERR_BODY_INVALID",
          ],
          [
            "a __proto__ field",
            `{"entityId":"${valid.entityId}","type":"PNE","__proto__":{"x":1}}`,
            "application/json",
            400,
            "ERR_BODY_INVALID",
          ],
          ["an array", JSON.stringify([valid]), "application/json", 400, "ERR_BODY_INVALID"],
          [
            "a 65-character id",
            JSON.stringify({ entityId: "a".repeat(65), type: "PNE" }),
            "application/json",
            400,
            "ERR_BODY_INVALID",
          ],
          [
            "a 4000-character id",
            JSON.stringify({ entityId: "a".repeat(4000), type: "PNE" }),
            "application/json",
            400,
            "ERR_BODY_INVALID",
          ],
          [
            "an id with a slash",
            JSON.stringify({ entityId: "../admin", type: "PNE" }),
            "application/json",
            400,
            "ERR_BODY_INVALID",
          ],
          [
            "an id with a NUL",
            JSON.stringify({ entityId: "a\u0000b", type: "PNE" }),
            "application/json",
            400,
            "ERR_BODY_INVALID",
          ],
          [
            "a lower-case type",
            JSON.stringify({ ...valid, type: "pne" }),
            "application/json",
            400,
            "ERR_BODY_INVALID",
          ],
          ["text/plain", JSON.stringify(valid), "text/plain", 415, "ERR_UNSUPPORTED_MEDIA_TYPE"],
          ["no content type", JSON.stringify(valid), null, 415, "ERR_UNSUPPORTED_MEDIA_TYPE"],
          [
            `${over} bytes`,
            padded(over),
            "application/json",
            413,
            "ERR_BODY_TOO_LARGE",
            nodeTransport(),
          ],
          [
            "1 MiB",
            padded(1024 * 1024),
            "application/json",
            413,
            "ERR_BODY_TOO_LARGE",
            nodeTransport(),
          ],
        ];
        for (const [label, body, contentType, status, code, transport] of cases) {
          const headers = new Headers();
          if (contentType !== null) headers.set("content-type", contentType);
          const res = await asUser(bob, transport)("/cpns/v1/enrollments", {
            method: "POST",
            headers,
            body,
          });
          const problem = await expectProblem(res, status, code).catch((err: Error) => {
            throw new Error(`${label}: ${err.message}`);
          });
          expect(JSON.stringify(problem)).not.toContain(bob.password);
        }
        // Exactly the limit is read and accepted.
        const exact = await asUser(bob, nodeTransport())("/cpns/v1/enrollments", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: padded(DEFAULT_BODY_LIMIT),
        });
        expect(exact.status, await exact.clone().text()).toBe(201);
        await exact.arrayBuffer();
        expect(await entitiesOf(bob)).toEqual([...before, valid.entityId].sort());

        // A PN GW's deposit with a broken body.
        const asGw = asEntity(gw.entityId, await eukeyOf(gw));
        await expectProblem(
          await asGw("/cpns/v1/otks", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: "{",
          }),
          400,
          "ERR_BODY_MALFORMED",
        );
        await expectProblem(
          await asGw("/cpns/v1/otks", jsonInit("POST", { peerId: pne.entityId })),
          400,
          "ERR_BODY_INVALID",
        );
        // Long and hostile ids in paths.
        for (const path of [
          `/cpns/v1/entities/${"x".repeat(4000)}`,
          "/cpns/v1/entities/..%2F..%2Fadmin%2Fusers",
          "/cpns/v1/entities/a%00b",
          `/cpns/v1/otks/${"A".repeat(500)}/delivery`,
        ]) {
          const method = path.includes("/otks/") ? "POST" : "GET";
          const res = await (method === "POST"
            ? asEntity(pne.entityId, await eukeyOf(pne))
            : asUser(bob))(path, { method });
          const text = await res.text();
          expect([400, 404], `${path.slice(0, 60)}: ${text}`).toContain(res.status);
          expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
        }
        // Garbage Authorization headers.
        for (const [header, status, code] of [
          ["Digest ,,,=,", 400, "ERR_DIGEST_MALFORMED"],
          ["Digest", 400, "ERR_DIGEST_MALFORMED"],
          [`Digest username="${"u".repeat(5000)}"`, 400, "ERR_DIGEST_MALFORMED"],
          [`Basic ${btoa(`${bob.userId}:${bob.password}`)}`, 401, "ERR_DIGEST_UNAUTHORIZED"],
        ] as const) {
          await expectProblem(
            await raw("/cpns/v1/entities", { headers: { authorization: header } }),
            status,
            code,
          );
        }
        // The admin API too.
        await expectProblem(
          await admin("/cpns/v1/admin/users", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: "{",
          }),
          400,
          "ERR_BODY_MALFORMED",
        );
        await expectProblem(
          await admin(
            "/cpns/v1/admin/users",
            jsonInit("POST", { userId: "a".repeat(1000), password: "x", extra: true }),
          ),
          400,
          "ERR_BODY_INVALID",
        );
        // Arbitrary JSON values, strings and bytes: always a 4xx problem with an ERR_ code.
        const bodies = fc.oneof(
          fc.jsonValue().map((value) => JSON.stringify(value) ?? "null"),
          fc.string({ maxLength: 200 }),
          fc.uint8Array({ maxLength: 256 }),
        );
        const asBob = asUser(bob);
        await fc.assert(
          fc.asyncProperty(bodies, async (body) => {
            const res = await asBob("/cpns/v1/enrollments", {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: body as BodyInit,
            });
            const text = await res.text();
            expect(res.status, text).toBeGreaterThanOrEqual(400);
            expect(res.status, text).toBeLessThan(500);
            expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
            expect(JSON.parse(text).code).toMatch(/^ERR_[A-Z_]+$/);
          }),
          { numRuns: 60 },
        );
        expect(await entitiesOf(bob)).toEqual([...before, valid.entityId].sort());
      },
      T,
    );

    it(
      "[FLEET-CONF-STORY][SERVER-RATE-LIMIT][LIMIT-PAIR][LIMIT-BACKOFF] wrong passwords: 401 for the free budget, then 429 ERR_RATE_LIMITED with Retry-After, the right password included; after the wait the right password gets in",
      async () => {
        const victim = { userId: `${run}-limited`, password: strongPassword() };
        const created = await postUser(victim.userId, victim.password);
        expect(created.status).toBe(201);
        await created.arrayBuffer();
        const attempt = (password: string) =>
          createDigestFetch({ username: victim.userId, password, requireRspauth: false })(
            `${base()}/cpns/v1/entities`,
          );
        // Signed in once from here first: the failures below are charged to this (user, address)
        // pair only, never to the address's budget, so runs against a long-lived target never add up.
        const first = await attempt(victim.password);
        expect(first.status).toBe(200);
        await first.arrayBuffer();
        for (let i = 0; i < freeFailures; i++) {
          await expectProblem(await attempt(`wrong-${i}`), 401, "ERR_DIGEST_UNAUTHORIZED");
        }
        let wait = 0;
        for (const password of ["wrong-again", victim.password]) {
          const limited = await attempt(password);
          wait = Number(limited.headers.get("retry-after"));
          expect(wait).toBeGreaterThanOrEqual(1);
          expect(limited.headers.get("authentication-info")).toBeNull();
          await expectProblem(limited, 429, "ERR_RATE_LIMITED");
        }
        // A wait, not a lockout: once Retry-After has passed, the right password gets in.
        await new Promise((resolve) => setTimeout(resolve, wait * 1000 + 250));
        const after = await attempt(victim.password);
        expect(after.status, await after.clone().text()).toBe(200);
        await after.arrayBuffer();
      },
      T,
    );

    it(
      "[FLEET-CONF-STORY][LIMIT-KEYS] others' failures aimed at an entity: wrong keys get 429 after the budget, the entity with its key still gets in",
      async () => {
        const watch = await enroll(alice, `${run}-keys`, "PNE");
        expect(await watch.agent.whoami(watch.entityId)).toMatchObject({ keyVersion: 1 });
        const statuses: number[] = [];
        for (let i = 0; i < freeFailures + 5; i++) {
          const res = await asEntity(
            watch.entityId,
            randomBytes(32).toString("base64url"),
            false,
          )("/cpns/v1/whoami");
          statuses.push(res.status);
          await res.arrayBuffer();
        }
        expect(statuses.slice(0, freeFailures).every((s) => s === 401)).toBe(true);
        expect(statuses.slice(freeFailures).every((s) => s === 429)).toBe(true);
        expect(await watch.agent.whoami(watch.entityId)).toMatchObject({
          entityId: watch.entityId,
        });
        expect(await watch.agent.whoami(watch.entityId)).toMatchObject({
          entityId: watch.entityId,
        });
      },
      T,
    );
  });
}
