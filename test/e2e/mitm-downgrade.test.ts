/**
 * Issue #9 item 1, end to end and from the attacker's side: a man in the
 * middle on loopback (a transport wrapped around the real fetch, between the
 * agent and the real CPNS Server or PN GW) that
 *   (a) strips auth-int from the challenges,
 *   (b) strips the SHA-256 / SHA-512-256 challenges, leaving MD5,
 *   (c) rewrites request bodies (an enrollment into another entity's
 *       rotation) and response bodies (whoami answered with another identity),
 * is detected on every route that matters: enroll, whoami (direct and through
 * the PN GW relay), OTK deposit, inbox, delivery, consume, peer session
 * opening and messages. Detected = the agent throws a clear error or the
 * server refuses, and nothing is written at the server. A third-party client
 * answering qop=auth on an auth-int route is refused too.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EntityAgent } from "../../src/agent/agent.ts";
import { OtkClient } from "../../src/agent/otk-client.ts";
import { PeerSession } from "../../src/agent/peer.ts";
import type { FetchLike } from "../../src/digest/index.ts";
import { CpnsError } from "../../src/errors.ts";
import { POLICY } from "../../src/server/policy.ts";
import { answerChallenge, challengeParam } from "../vectors/reference-digest.ts";
import { type Device, enrollDevice, type RunningGateway, startGateway } from "./peer-helpers.ts";
import { startTestServer, type TestServer } from "./server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-mitm-password-Hq4" };

let server: TestServer;
let gw: Device;
let pne: Device;
let g: RunningGateway;

beforeAll(async () => {
  server = await startTestServer();
  await server.createUser(ALICE.userId, ALICE.password);
  gw = await enrollDevice(server, ALICE, "mitm-gw", "PNGW");
  pne = await enrollDevice(server, ALICE, "mitm-pne", "PNE");
  g = await startGateway(server, gw);
}, 60_000);

afterAll(async () => {
  await g?.close();
  await server?.close();
});

type Attack = "strip auth-int" | "strip SHA-2";
const ATTACKS: readonly Attack[] = ["strip auth-int", "strip SHA-2"];

/** Headers.get joins repeated challenges with ", ": split back at each "Digest ". */
const splitChallenges = (joined: string) => joined.split(/,\s*(?=Digest\s)/i);

function rewriteChallenges(attack: Attack, challenges: string[]): string[] {
  if (attack === "strip auth-int") {
    // Whatever was offered, leave only qop=auth.
    return challenges.map((c) => c.replace(/qop="[^"]*"/i, 'qop="auth"'));
  }
  const md5 = challenges.filter((c) => /algorithm=MD5\b/i.test(c));
  // A server that offers no MD5: the attacker turns a SHA-256 challenge into an MD5 one.
  return md5.length > 0
    ? md5
    : challenges.slice(0, 1).map((c) => c.replace(/algorithm=[\w-]+/i, "algorithm=MD5"));
}

/**
 * The man in the middle: forwards everything over the real network, rewrites
 * the challenges it relays, and records whether any credentials got through.
 */
function manInTheMiddle(attack: Attack) {
  const answered: string[] = [];
  const transport: FetchLike = async (request) => {
    if (request.headers.has("authorization")) answered.push(new URL(request.url).pathname);
    const res = await fetch(request);
    const joined = res.headers.get("www-authenticate");
    if (!joined) return res;
    const headers = new Headers(res.headers);
    headers.delete("www-authenticate");
    for (const c of rewriteChallenges(attack, splitChallenges(joined))) {
      headers.append("www-authenticate", c);
    }
    return new Response(res.body, { status: res.status, headers });
  };
  return { transport, answered };
}

async function errorCode(work: Promise<unknown>): Promise<string | undefined> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err instanceof CpnsError) return err.code;
  return (err as { code?: string } | undefined)?.code ?? String(err);
}

const honestOtks = (device: Device) =>
  new OtkClient({ agent: device.agent, store: device.store, now: () => server.clock.now });
const attackedOtks = (device: Device, transport: FetchLike) =>
  new OtkClient({
    agent: new EntityAgent({ serverUrl: server.url, store: device.store, fetch: transport }),
    store: device.store,
    now: () => server.clock.now,
  });

async function entityState(entityId: string): Promise<{ state?: string; keyVersion?: number }> {
  const res = await server.asUser(ALICE.userId, ALICE.password)(`/cpns/v1/entities/${entityId}`);
  if (res.status === 404) return {};
  return (await res.json()) as { state: string; keyVersion: number };
}

describe("[AGENT-NO-DOWNGRADE][DIGEST-MINIMUM] a downgrading man in the middle, on every route the agents use", () => {
  for (const attack of ATTACKS) {
    it(`[AGENT-NO-DOWNGRADE][DIGEST-MINIMUM] ${attack}: enroll, whoami, deposit, inbox, delivery, consume all fail with ERR_DIGEST_DOWNGRADE; no answer sent, nothing written`, async () => {
      const mitm = manInTheMiddle(attack);
      const tag = attack === "strip auth-int" ? "qop" : "alg";
      const agent = new EntityAgent({
        serverUrl: server.url,
        store: pne.store,
        fetch: mitm.transport,
      });
      const before = await entityState(pne.entityId);

      // Enrollment of a new entity, and a rotation of an existing one.
      expect(
        await errorCode(agent.enroll({ ...ALICE, entityId: `mitm-new-${tag}`, type: "PNE" })),
      ).toBe("ERR_DIGEST_DOWNGRADE");
      expect(await entityState(`mitm-new-${tag}`)).toEqual({});
      expect(await errorCode(agent.enroll({ ...ALICE, entityId: pne.entityId, type: "PNE" }))).toBe(
        "ERR_DIGEST_DOWNGRADE",
      );
      expect(await errorCode(agent.whoami(pne.entityId))).toBe("ERR_DIGEST_DOWNGRADE");

      // OTK deposit by the PN GW: nothing reaches the peer's inbox.
      const inboxBefore = await honestOtks(pne).inbox(pne.entityId);
      expect(
        await errorCode(
          attackedOtks(gw, mitm.transport).deposit(gw.entityId, {
            peerId: pne.entityId,
            lifetimeSeconds: 60,
          }),
        ),
      ).toBe("ERR_DIGEST_DOWNGRADE");
      expect(await honestOtks(pne).inbox(pne.entityId)).toEqual(inboxBefore);

      // Inbox and delivery by the peer, consume by the PN GW: the OTK stays as it was.
      const offer = await g.gateway.offer(pne.entityId);
      const peerOtks = attackedOtks(pne, mitm.transport);
      expect(await errorCode(peerOtks.inbox(pne.entityId))).toBe("ERR_DIGEST_DOWNGRADE");
      expect(await errorCode(peerOtks.fetch(pne.entityId, offer.otkId))).toBe(
        "ERR_DIGEST_DOWNGRADE",
      );
      expect(
        await errorCode(attackedOtks(gw, mitm.transport).consume(gw.entityId, offer.otkId)),
      ).toBe("ERR_DIGEST_DOWNGRADE");
      // Not delivered, not consumed: the honest peer still gets it and opens a session with it.
      const received = await honestOtks(pne).fetch(pne.entityId, offer.otkId);
      const session = await PeerSession.open({
        entityId: pne.entityId,
        received,
        now: () => server.clock.now,
      });
      expect(session.sessionId).toBeTruthy();
      await session.close();

      expect(mitm.answered).toEqual([]);
      const after = await entityState(pne.entityId);
      expect(after).toEqual(before);
    }, 60_000);

    it(`[AGENT-NO-DOWNGRADE][DIGEST-MINIMUM] ${attack} between the peer and the PN GW: session opening, messages and relayed whoami fail with ERR_DIGEST_DOWNGRADE`, async () => {
      const mitm = manInTheMiddle(attack);
      // Opening: the PN GW's challenge is rewritten.
      const first = await g.gateway.offer(pne.entityId);
      const received = await honestOtks(pne).fetch(pne.entityId, first.otkId);
      expect(
        await errorCode(
          PeerSession.open({
            entityId: pne.entityId,
            received,
            fetch: mitm.transport,
            now: () => server.clock.now,
          }),
        ),
      ).toBe("ERR_DIGEST_DOWNGRADE");
      expect(mitm.answered).toEqual([]);

      // Messages and the relay: opened honestly, then the man in the middle steps in. During
      // the opening it only keeps the session routes' first challenge (PEER-SESSION-PRIMED)
      // from the peer, so the first message meets a challenge it can strip.
      let attacking = false;
      const switched: FetchLike = async (request) => {
        if (attacking) return mitm.transport(request);
        const answer = await fetch(request);
        if (answer.status !== 201) return answer;
        const headers = new Headers(answer.headers);
        headers.delete("www-authenticate");
        return new Response(answer.body, { status: answer.status, headers });
      };
      const second = await g.gateway.offer(pne.entityId);
      const session = await PeerSession.open({
        entityId: pne.entityId,
        received: await honestOtks(pne).fetch(pne.entityId, second.otkId),
        fetch: switched,
        now: () => server.clock.now,
      });
      attacking = true;
      expect(await errorCode(session.send("hello"))).toBe("ERR_DIGEST_DOWNGRADE");
      const relayed = new EntityAgent({
        serverUrl: server.url,
        store: pne.store,
        fetch: session.relayTransport(),
      });
      expect(await errorCode(relayed.whoami(pne.entityId))).toBe("ERR_DIGEST_DOWNGRADE");
      expect(mitm.answered).toEqual([]);
      attacking = false;
      // The session itself is unharmed once the man in the middle is gone.
      expect((await session.send("still here")).echo).toBe("still here");
      await session.close();
    }, 60_000);
  }
});

describe("[AGENT-NO-DOWNGRADE][DIGEST-AUTHINT] a man in the middle rewriting bodies under auth-int", () => {
  it("[AGENT-NO-DOWNGRADE] an enrollment rewritten into a rotation of another entity: the server refuses it (401) and the victim's key stays", async () => {
    const victim = await entityState(gw.entityId);
    const rewriting: FetchLike = async (request) => {
      if (request.method !== "POST" || !request.headers.has("authorization")) return fetch(request);
      const text = await request.text();
      return fetch(
        new Request(request.url, {
          method: "POST",
          headers: request.headers,
          body: text.replace('"mitm-rewritten"', `"${gw.entityId}"`).replace('"PNE"', '"PNGW"'),
        }),
      );
    };
    const agent = new EntityAgent({ serverUrl: server.url, store: pne.store, fetch: rewriting });
    const err = await agent
      .enroll({ ...ALICE, entityId: "mitm-rewritten", type: "PNE" })
      .catch((e: unknown) => e);
    expect((err as { status?: number }).status).toBe(401);
    expect(await entityState(gw.entityId)).toEqual(victim);
    expect(await entityState("mitm-rewritten")).toEqual({});
  });

  it("[AGENT-NO-DOWNGRADE] whoami answered with another identity: ERR_DIGEST_SERVER_UNAUTHENTICATED, even for an agent that asks for qop=auth", async () => {
    const rewriting: FetchLike = async (request) => {
      const res = await fetch(request);
      if (res.status !== 200) return res;
      const text = (await res.text()).replaceAll(pne.entityId, gw.entityId);
      return new Response(text, { status: 200, headers: res.headers });
    };
    for (const qop of ["auth-int", "auth"] as const) {
      const agent = new EntityAgent({
        serverUrl: server.url,
        store: pne.store,
        fetch: rewriting,
        qop,
      });
      expect(await errorCode(agent.whoami(pne.entityId)), qop).toBe(
        "ERR_DIGEST_SERVER_UNAUTHENTICATED",
      );
    }
  });
});

describe("[DIGEST-QOP-REQUIRED] the PN GW's session routes and relay offer only auth-int", () => {
  it("[DIGEST-QOP-REQUIRED] messages and close challenge with qop=auth-int only; a qop=auth answer gets the same refusal", async () => {
    for (const [method, path] of [
      ["POST", "/cpns-gw/v1/sessions/any/messages"],
      ["DELETE", "/cpns-gw/v1/sessions/any"],
    ] as const) {
      const res = await fetch(`${g.url}${path}`, { method });
      expect(res.status, path).toBe(401);
      const challenges = splitChallenges(res.headers.get("www-authenticate") ?? "");
      expect(challenges.length).toBeGreaterThan(0);
      for (const c of challenges) expect(challengeParam(c, "qop"), path).toBe("auth-int");
      const { header } = answerChallenge(challenges[0] as string, {
        username: "any",
        password: "guess",
        method,
        uri: path,
        qop: "auth",
      });
      const answered = await fetch(`${g.url}${path}`, {
        method,
        headers: { authorization: header },
      });
      expect(answered.status, path).toBe(401);
      for (const c of splitChallenges(answered.headers.get("www-authenticate") ?? "")) {
        expect(challengeParam(c, "qop"), path).toBe("auth-int");
      }
    }
  });
});

describe("[DIGEST-QOP-REQUIRED] a third-party client answering qop=auth on the server's auth-int routes", () => {
  const key = async () => (await pne.store.get(pne.entityId))?.eukey as string;
  const routes = Object.entries(POLICY).filter(
    ([, policy]) =>
      policy.qop === "auth-int" && !(policy.allow as readonly string[]).includes("admin"),
  );

  it("[DIGEST-QOP-REQUIRED] the policy table demands auth-int on every route with a body or key material", () => {
    for (const id of [
      "enrollments.create",
      "whoami",
      "otks.deposit",
      "otks.inbox",
      "otks.deliver",
      "otks.consume",
      "entities.revoke",
      "users.create",
    ] as const) {
      expect(POLICY[id].qop, id).toBe("auth-int");
    }
    for (const [id, policy] of Object.entries(POLICY)) {
      // A route open to anyone takes no Digest at all (channel records authenticate themselves).
      const digestRoute = !(policy.allow as readonly string[]).includes("anonymous");
      if (policy.method !== "GET" && digestRoute) expect(policy.qop, id).toBe("auth-int");
    }
  });

  it.each(routes.map(([id, policy]) => [id, policy] as const))(
    "[DIGEST-QOP-REQUIRED] %s: a correct qop=auth answer gets 401 with challenges offering only auth-int, and nothing is written",
    async (_id, policy) => {
      const path = policy.path.replace(":entityId", pne.entityId).replace(":otkId", "otk-x");
      const user = policy.allow.includes("user" as never);
      const username = user ? ALICE.userId : pne.entityId;
      const password = user ? ALICE.password : await key();
      const body =
        policy.method === "POST"
          ? JSON.stringify({ entityId: "mitm-third", type: "PNE" })
          : undefined;
      const first = await server.fetch(path, { method: policy.method, body });
      expect(first.status).toBe(401);
      const challenges = splitChallenges(first.headers.get("www-authenticate") ?? "");
      expect(challenges.length).toBeGreaterThan(0);
      for (const c of challenges) expect(challengeParam(c, "qop")).toBe("auth-int");
      const { header } = answerChallenge(challenges[0] as string, {
        username,
        password,
        method: policy.method,
        uri: path,
        qop: "auth",
      });
      const res = await server.fetch(path, {
        method: policy.method,
        body,
        headers: { authorization: header, "content-type": "application/json" },
      });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe("ERR_DIGEST_UNAUTHORIZED");
      expect(await entityState("mitm-third")).toEqual({});
      expect((await entityState(pne.entityId)).state).toBe("active");
    },
  );
});
