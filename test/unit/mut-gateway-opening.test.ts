/**
 * Issue #9, a check the suite could not see (Stryker's no-coverage mutants in
 * src/gateway/handlers.ts: the opening's refusal when its OTK is already being consumed), from
 * an attacker's side against a real CPNS Server and a real PN GW: two openings with one OTK,
 * each with its own valid Digest answer (nc 1 and 2 on one nonce), let into the PN GW at the
 * same moment so that both pass the Digest check while the offer still waits. Exactly one
 * session opens; the other is refused without a second consume at the server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toBase64url } from "../../src/crypto/bytes.ts";
import { createDigestFetch, type FetchLike } from "../../src/digest/index.ts";
import { enrollDevice, type RunningGateway, startGateway } from "../e2e/peer-helpers.ts";
import { startTestServer, type TestServer } from "../e2e/server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-mut-gateway-opening-1" };

let server: TestServer;
let g: RunningGateway;
/** The consume requests the PN GW sent to the server. */
let consumes = 0;

beforeAll(async () => {
  server = await startTestServer({ rateLimit: { maxFailures: 10_000, windowSeconds: 60 } });
  await server.createUser(ALICE.userId, ALICE.password);
  // The PN GW's own agent, its requests counted on the way to the server.
  const counting: FetchLike = (request) => {
    if (/\/cpns\/v1\/otks\/[^/]+\/consume$/.test(new URL(request.url).pathname)) consumes += 1;
    return fetch(request);
  };
  const gw = await enrollDevice(server, ALICE, "mo-gw", "PNGW", counting);
  g = await startGateway(server, gw);
}, 60_000);

afterAll(async () => {
  await g?.close();
  await server?.close();
});

async function openTwice(entityId: string, qop: "auth" | "auth-int") {
  const pne = await enrollDevice(server, ALICE, entityId, "PNE");
  await g.gateway.offer(pne.entityId);
  const [waiting] = await pne.otks.inbox(pne.entityId);
  if (!waiting) throw new Error("no OTK");
  const { otk } = await pne.otks.fetch(pne.entityId, waiting.otkId);

  // Unanswered requests (the challenges) pass at once; the first two answered ones are held
  // and let into the PN GW's app together.
  const held: Array<{
    request: Request;
    release: (answer: Response | Promise<Response>) => void;
  }> = [];
  const gate: FetchLike = (request) => {
    if (!request.headers.has("authorization") || held.length >= 2) {
      return g.gateway.app.fetch(request);
    }
    return new Promise<Response>((release) => {
      held.push({ request, release });
      if (held.length === 2) {
        for (const { request: sent, release: answer } of held) {
          answer(g.gateway.app.fetch(sent));
        }
      }
    });
  };
  // auth-int: each verification then waits for its body, so both pass the Digest check
  // before either reaches the handler (with qop=auth a synchronous verification lets the
  // first one claim the offer before the second is checked, and the second gets a 401).
  const peer = createDigestFetch({
    username: pne.entityId,
    password: toBase64url(otk),
    userhash: false,
    qop,
    fetch: gate,
  });
  const url = `${g.url}/cpns-gw/v1/sessions`;
  const answers = await Promise.all([peer(url, { method: "POST" }), peer(url, { method: "POST" })]);
  expect(held).toHaveLength(2);
  return answers;
}

describe("PN GW session opening (src/gateway/handlers.ts)", () => {
  it("[PEER-SESSION] two openings with one OTK let in together: one session, the other refused 403 without a second consume", async () => {
    const before = consumes;
    const answers = await openTwice("mo-pne", "auth-int");
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([201, 403]);
    const refused = answers.find((answer) => answer.status === 403);
    if (!refused) throw new Error("no refusal");
    expect(((await refused.json()) as { code?: string }).code).toBe("ERR_PEER_SESSION_REFUSED");
    // The OTK went to the server once: the loser never asked.
    expect(consumes - before).toBe(1);
  });

  it("[PEER-SESSION][DIGEST-SYNC-CHECK] the same with qop=auth, verified without waiting: one session, the other refused, one consume", async () => {
    const before = consumes;
    const answers = await openTwice("mo-pne-2", "auth");
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses[0]).toBe(201);
    expect([401, 403]).toContain(statuses[1]);
    expect(consumes - before).toBe(1);
  });
});
