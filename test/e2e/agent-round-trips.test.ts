/**
 * Issue #12 (Speed): round trips the agents no longer pay, seen on the wire.
 * An entity's Digest client is kept between its requests (AGENT-NONCE-REUSE),
 * and a peer session's opening hands the peer the session routes' first
 * challenge (PEER-SESSION-PRIMED). From the attacker's side: a challenge
 * altered in the opening's answer costs a round trip, never a weaker qop.
 */
import { afterEach, describe, expect, it } from "vitest";
import { PeerSession } from "../../src/agent/peer.ts";
import type { FetchLike } from "../../src/digest/index.ts";
import { enrollDevice, type RunningGateway, startGateway } from "./peer-helpers.ts";
import { startTestServer, type TestServer } from "./server-helpers.ts";

const owner = { userId: "trips-owner", password: "trips-owner-password-1" };

/** A transport that records "METHOD path -> status" for every exchange, and may rewrite answers. */
function recorder(rewrite?: (request: Request, response: Response) => Response) {
  const seen: string[] = [];
  const fetch: FetchLike = async (request) => {
    const path = new URL(request.url).pathname;
    const method = request.method;
    let response = await globalThis.fetch(request);
    if (rewrite) response = rewrite(request, response);
    seen.push(
      `${method} ${path.replace(/\/sessions\/[^/]+/, "/sessions/:id")} -> ${response.status}`,
    );
    return response;
  };
  return { seen, fetch };
}

/**
 * The man in the middle's edit of a 201: its WWW-Authenticate (the primed challenge)
 * rewritten by `edit`; any other answer passes untouched.
 */
function rewritePrimedChallenge(
  response: Response,
  edit: (challenges: string) => string,
): Response {
  if (response.status !== 201) return response;
  const headers = new Headers(response.headers);
  headers.set("www-authenticate", edit(headers.get("www-authenticate") ?? ""));
  return new Response(response.body, { status: 201, headers });
}

let server: TestServer | undefined;
let gateway: RunningGateway | undefined;
afterEach(async () => {
  await gateway?.close();
  await server?.close();
  gateway = undefined;
  server = undefined;
});

describe("agent round trips (issue #12)", () => {
  it("[AGENT-NONCE-REUSE] an entity's later requests answer the kept nonce at once; a new EUKey starts over", async () => {
    server = await startTestServer();
    await server.createUser(owner.userId, owner.password);
    const wire = recorder();
    // An agent that did not enroll the entity itself (its key came in the store): no primed challenge.
    const enrolled = await enrollDevice(server, owner, "trips-pne", "PNE");
    const agent = server.agent({ store: enrolled.store, fetch: wire.fetch });
    for (let i = 0; i < 3; i++) await agent.whoami("trips-pne");
    expect(wire.seen).toEqual([
      "GET /cpns/v1/whoami -> 401",
      "GET /cpns/v1/whoami -> 200",
      "GET /cpns/v1/whoami -> 200",
      "GET /cpns/v1/whoami -> 200",
    ]);
    // A rotation by another agent gives a new EUKey in the shared store: the kept client
    // (and the old key in it) is not used again; a new one asks for a challenge.
    await enrolled.agent.enroll({ ...owner, entityId: "trips-pne", type: "PNE" });
    wire.seen.length = 0;
    await agent.whoami("trips-pne");
    expect(wire.seen).toEqual(["GET /cpns/v1/whoami -> 401", "GET /cpns/v1/whoami -> 200"]);
  });

  it("[ENROLL-PRIMED] the enrollment's answer carries the new key's first challenge: the entity's first request needs no 401, after a rotation too", async () => {
    server = await startTestServer();
    await server.createUser(owner.userId, owner.password);
    const wire = recorder();
    const pne = await enrollDevice(server, owner, "trips-primed", "PNE", wire.fetch);
    expect(wire.seen).toEqual([
      "POST /cpns/v1/enrollments -> 401",
      "POST /cpns/v1/enrollments -> 201",
    ]);
    wire.seen.length = 0;
    await pne.agent.whoami("trips-primed");
    await pne.agent.whoami("trips-primed");
    expect(wire.seen).toEqual(["GET /cpns/v1/whoami -> 200", "GET /cpns/v1/whoami -> 200"]);
    await pne.agent.enroll({ ...owner, entityId: "trips-primed", type: "PNE" });
    wire.seen.length = 0;
    expect((await pne.agent.whoami("trips-primed")).keyVersion).toBe(2);
    expect(wire.seen).toEqual(["GET /cpns/v1/whoami -> 200"]);
  });

  it("[ENROLL-PRIMED] the server's enrollment answer offers the challenges of its auth-int routes' 401s, with a fresh nonce", async () => {
    server = await startTestServer();
    await server.createUser(owner.userId, owner.password);
    let primed: string[] = [];
    const keep: FetchLike = async (request) => {
      const answer = await globalThis.fetch(request);
      if (answer.status === 201)
        primed = answer.headers.get("www-authenticate")?.split(/,\s*(?=Digest )/) ?? [];
      return answer;
    };
    await enrollDevice(server, owner, "trips-raw", "PNE", keep);
    // whoami demands auth-int, as the key-material routes do.
    const unauthenticated = await server.fetch("/cpns/v1/whoami");
    const refused = unauthenticated.headers.get("www-authenticate")?.split(/,\s*(?=Digest )/) ?? [];
    const shape = (challenge: string) => challenge.replace(/nonce="[^"]+"/, 'nonce="*"');
    expect(primed.length).toBeGreaterThan(0);
    expect(primed.map(shape)).toEqual(refused.map(shape));
    // Fresh nonces: none of the 401's, none repeated.
    const nonces = primed.map((c) => /nonce="([^"]+)"/.exec(c)?.[1]);
    expect(new Set(nonces).size).toBe(1);
    expect(refused.some((c) => c.includes(nonces[0] as string))).toBe(false);
  });

  it("[ENROLL-PRIMED] a man in the middle who weakens the enrollment's challenge to qop=auth gains nothing: the first request asks again and answers auth-int", async () => {
    server = await startTestServer();
    await server.createUser(owner.userId, owner.password);
    const answered: string[] = [];
    const weaken: FetchLike = async (request) => {
      const auth = request.headers.get("authorization");
      if (auth && request.url.endsWith("/whoami")) answered.push(auth);
      return rewritePrimedChallenge(await globalThis.fetch(request), (challenges) =>
        challenges.replaceAll(/qop="[^"]*"/g, 'qop="auth"'),
      );
    };
    const pne = await enrollDevice(server, owner, "trips-weak", "PNE", weaken);
    expect((await pne.agent.whoami("trips-weak")).entityId).toBe("trips-weak");
    expect(answered).toHaveLength(1);
    expect(answered[0]).toMatch(/qop=auth-int/);
  });

  it("[AGENT-NONCE-REUSE] a kept nonce gone stale is answered with the fresh challenge, in the same call", async () => {
    server = await startTestServer({ nonceLifetimeSeconds: 60 });
    await server.createUser(owner.userId, owner.password);
    const wire = recorder();
    const pne = await enrollDevice(server, owner, "trips-stale", "PNE", wire.fetch);
    await pne.agent.whoami("trips-stale");
    server.clock.now += 61_000;
    wire.seen.length = 0;
    const me = await pne.agent.whoami("trips-stale");
    expect(me.entityId).toBe("trips-stale");
    expect(wire.seen).toEqual(["GET /cpns/v1/whoami -> 401", "GET /cpns/v1/whoami -> 200"]);
  });

  it("[AGENT-NONCE-REUSE] 100 concurrent requests on one kept client all succeed (nonce-counts out of order, beyond the ledger's 32-wide window)", async () => {
    server = await startTestServer();
    await server.createUser(owner.userId, owner.password);
    const pne = await enrollDevice(server, owner, "trips-burst", "PNE");
    await pne.agent.whoami("trips-burst");
    const answers = await Promise.all(
      Array.from({ length: 100 }, () => pne.agent.whoami("trips-burst")),
    );
    expect(answers.every((me) => me.entityId === "trips-burst")).toBe(true);
  });

  async function openSession(rewrite?: (request: Request, response: Response) => Response) {
    server = await startTestServer();
    await server.createUser(owner.userId, owner.password);
    const gw = await enrollDevice(server, owner, "trips-gw", "PNGW");
    gateway = await startGateway(server, gw);
    const pne = await enrollDevice(server, owner, "trips-peer", "PNE");
    await gateway.gateway.offer("trips-peer");
    const [newest] = await pne.otks.inbox("trips-peer");
    if (!newest) throw new Error("no OTK");
    const received = await pne.otks.fetch("trips-peer", newest.otkId);
    const wire = recorder(rewrite);
    const session = await PeerSession.open({
      entityId: "trips-peer",
      received,
      now: () => server?.clock.now ?? 0,
      fetch: wire.fetch,
    });
    return { session, wire };
  }

  it("[PEER-SESSION-PRIMED] the first session message is answered without a 401: the opening carried its challenge", async () => {
    const { session, wire } = await openSession();
    expect(wire.seen).toEqual([
      "POST /cpns-gw/v1/sessions -> 401",
      "POST /cpns-gw/v1/sessions -> 201",
    ]);
    const echo = await session.send("first");
    expect(echo.echo).toBe("first");
    await session.send("second");
    expect(wire.seen.slice(2)).toEqual([
      "POST /cpns-gw/v1/sessions/:id/messages -> 200",
      "POST /cpns-gw/v1/sessions/:id/messages -> 200",
    ]);
  });

  it("[PEER-SESSION-PRIMED] a man in the middle who weakens the opening's challenge to qop=auth gains nothing: the peer asks again and still answers auth-int", async () => {
    const authorizations: string[] = [];
    const weaken = (request: Request, response: Response) => {
      const auth = request.headers.get("authorization");
      if (auth && request.url.includes("/messages")) authorizations.push(auth);
      return rewritePrimedChallenge(response, (challenges) => {
        expect(challenges).toMatch(/qop="auth-int"/);
        return challenges.replaceAll('qop="auth-int"', 'qop="auth"');
      });
    };
    const { session, wire } = await openSession(weaken);
    expect((await session.send("hello")).echo).toBe("hello");
    expect(wire.seen.slice(2)).toEqual([
      "POST /cpns-gw/v1/sessions/:id/messages -> 401",
      "POST /cpns-gw/v1/sessions/:id/messages -> 200",
    ]);
    // The only answered Authorization was auth-int; the weakened challenge was never answered.
    expect(authorizations).toHaveLength(1);
    expect(authorizations[0]).toMatch(/qop=auth-int/);
  });

  it("[PEER-SESSION-PRIMED] a forged nonce in the opening's challenge costs one 401, not the session", async () => {
    const forge = (_request: Request, response: Response) =>
      rewritePrimedChallenge(response, (challenges) =>
        challenges.replace(/nonce="[^"]+"/g, 'nonce="forged-by-mitm"'),
      );
    const { session, wire } = await openSession(forge);
    expect((await session.send("hello")).echo).toBe("hello");
    expect(wire.seen.slice(2)).toEqual([
      "POST /cpns-gw/v1/sessions/:id/messages -> 401",
      "POST /cpns-gw/v1/sessions/:id/messages -> 200",
    ]);
  });
});
