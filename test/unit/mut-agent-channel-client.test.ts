/**
 * Issue #9 (mutation testing of src/agent): the entity's opening of its secure
 * channel with the CPNS Server (src/agent/channel-client.ts, seed 5.x.4,
 * spec/channel.md), from the attacker's side. The first run (main at 8e7d0c4)
 * left undetected: the refusal of an entity that holds no EUKey, what the
 * channel's machine is told when an opening fails (the server did not prove
 * itself, or refused), a server URL with trailing slashes, a channel whose
 * expiry is past by the entity's clock, the crypto provider, and the zeroing of
 * the entity's EUKey copy.
 *
 * A real CPNS Server on loopback (test/e2e/server-helpers.ts); an impostor (no
 * rspauth) reached through the device's own transport; what the secure-channel
 * machine is asked is watched as the model tests watch it (peer-model-helpers.ts).
 */

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { EventObject } from "xstate";
import { secureChannelClientMachine } from "../../machines/secure-channel.ts";
import { ServerChannel, type ServerChannelOptions } from "../../src/agent/channel-client.ts";
import { CHANNEL_MEDIA_TYPE } from "../../src/channel/record.ts";
import type { FetchLike } from "../../src/digest/index.ts";
import { type Device, enrollDevice } from "../e2e/peer-helpers.ts";
import { startTestServer, type TestServer } from "../e2e/server-helpers.ts";
import { type Served, startImpostor } from "../model/model-helpers.ts";
import { isHkdfImport, spyingCrypto } from "../spying-crypto.ts";

const ALICE = { userId: "alice", password: "alice-agent-channel-mut-Pw7" };
const LIFETIME_S = 120;

interface Asked {
  from: string;
  event: unknown;
  sessionId: unknown;
  expiresAtMs: unknown;
}

/** Every question put to the client's channel machine (bridge.step asks twice: kept once). */
const asked: Asked[] = [];
const original = secureChannelClientMachine.getTransitionData;
let last: { snapshot: unknown; event: unknown } | undefined;
secureChannelClientMachine.getTransitionData = function (this: unknown, snapshot, event) {
  if (last?.snapshot !== snapshot || last?.event !== event) {
    last = { snapshot, event };
    const context = snapshot.context as { sessionId?: unknown; expiresAtMs?: unknown };
    asked.push({
      from: String(snapshot.value),
      event: (event as EventObject).type,
      sessionId: context.sessionId,
      expiresAtMs: context.expiresAtMs,
    });
  }
  return original.call(secureChannelClientMachine, snapshot, event);
} as typeof original;

let server: TestServer;
let impostor: Served;
beforeAll(async () => {
  server = await startTestServer({
    channelLifetimeSeconds: LIFETIME_S,
    rateLimit: { maxFailures: 1_000_000, windowSeconds: 1 },
  });
  await server.createUser(ALICE.userId, ALICE.password);
  impostor = await startImpostor({ challenge: true });
});
afterAll(async () => {
  secureChannelClientMachine.getTransitionData = original;
  await impostor?.close();
  await server?.close();
});
afterEach(() => {
  asked.length = 0;
});

/**
 * The device's transport: to the real server, or (once `toImpostor` is set) to the impostor;
 * `sent` lists every request it carried (path, and whether it was a channel record).
 */
function wire() {
  const state = { toImpostor: false, sent: [] as string[] };
  const fetchVia: FetchLike = async (request) => {
    const url = new URL(request.url);
    const record = request.headers.get("content-type") === CHANNEL_MEDIA_TYPE;
    state.sent.push(`${record ? "record" : request.method} ${url.pathname}`);
    if (!state.toImpostor) return fetch(request);
    const body =
      request.method === "GET" || request.method === "HEAD"
        ? undefined
        : await request.arrayBuffer();
    return fetch(`${impostor.url}${url.pathname}${url.search}`, {
      method: request.method,
      headers: request.headers,
      ...(body ? { body } : {}),
    });
  };
  return { state, fetch: fetchVia };
}

let serial = 0;
async function device() {
  const path = wire();
  serial += 1;
  const entity = await enrollDevice(server, ALICE, `chc-pne-${serial}`, "PNE", path.fetch);
  path.state.sent.length = 0;
  asked.length = 0;
  return { entity, path };
}

function open(entity: Device, fetch: FetchLike, extra: Partial<ServerChannelOptions> = {}) {
  return ServerChannel.open({
    agent: entity.agent,
    store: entity.store,
    entityId: entity.entityId,
    serverUrl: server.url,
    fetch,
    now: () => server.clock.now,
    ...extra,
  });
}

async function failure(promise: Promise<unknown>) {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err as { code?: string; status?: number; message?: string },
  );
  expect(error, "the opening should have failed").toBeDefined();
  return error ?? {};
}

describe("ServerChannel.open: refusals before any record", () => {
  // Answers channel-client.ts:56 (ConditionalExpression false; `device.eukey` without `?.`) and
  // :57 (the code's and the message's strings).
  it("[CHMODEL-NO-DATA-BEFORE-AUTH] an entity this store holds no EUKey for is refused as ERR_ENTITY_STATE, before anything is sent or asked", async () => {
    const { entity, path } = await device();
    const error = await failure(open({ ...entity, entityId: "chc-nobody" }, path.fetch));
    expect(error.code).toBe("ERR_ENTITY_STATE");
    expect(error.message).toContain("chc-nobody");
    expect(path.state.sent).toEqual([]);
    // No channel was even establishing: its machine was not asked anything.
    expect(asked).toEqual([]);
  });

  // Answers channel-client.ts:48-50 (openingFailure's block, `&& ""`, the comparison and its
  // strings), :59 (the establishing channel's input) and :77 (the event object emptied).
  it("[FFS-SERVER-AUTH] a server that does not prove the EUKey fails the opening as SERVER_UNPROVEN: no record goes out", async () => {
    const { entity, path } = await device();
    path.state.toImpostor = true;
    const error = await failure(open(entity, path.fetch));
    expect(error.code).toBe("ERR_DIGEST_SERVER_UNAUTHENTICATED");
    expect(path.state.sent.every((line) => !line.startsWith("record"))).toBe(true);
    expect(asked).toEqual([
      {
        from: "establishing",
        event: "SERVER_UNPROVEN",
        sessionId: "",
        expiresAtMs: Number.MAX_SAFE_INTEGER,
      },
    ]);
  });

  // Answers channel-client.ts:50 (the comparison and its strings, the REFUSED side).
  it("[SEED-5.x.4-1] an opening the server refuses (a revoked entity) fails as REFUSED: no record goes out", async () => {
    const { entity, path } = await device();
    const owner = server.asUser(ALICE.userId, ALICE.password);
    const revoked = await owner(`/cpns/v1/entities/${entity.entityId}`, { method: "DELETE" });
    expect(revoked.status).toBe(200);
    const error = await failure(open(entity, path.fetch));
    expect(error.status).toBe(401);
    expect(path.state.sent.every((line) => !line.startsWith("record"))).toBe(true);
    expect(asked).toEqual([
      {
        from: "establishing",
        event: "REFUSED",
        sessionId: "",
        expiresAtMs: Number.MAX_SAFE_INTEGER,
      },
    ]);
  });

  // Answers channel-client.ts:101 (ConditionalExpression false, the block emptied, its strings).
  it("[CHANNEL-CLOSE] a channel whose expiry is already past by the entity's clock is refused as ERR_CHANNEL_CLOSED, nothing sent", async () => {
    const { entity, path } = await device();
    const late = () => server.clock.now + (LIFETIME_S + 1) * 1000;
    const error = await failure(open(entity, path.fetch, { now: late }));
    expect(error.code).toBe("ERR_CHANNEL_CLOSED");
    expect(error.message).toMatch(/expired before it opened/);
    expect(path.state.sent).toEqual(["POST /cpns/v1/channels"]);
  });
});

describe("ServerChannel.open: the open channel", () => {
  // Answers channel-client.ts:82 (both regex mutants, and the replacement string).
  it("[SEED-5.x.4-2] a server URL with trailing slashes still sends records to the channel's own path", async () => {
    const { entity, path } = await device();
    const channel = await open(entity, path.fetch, { serverUrl: `${server.url}//` });
    const res = await channel.fetch("/cpns/v1/whoami");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ entityId: entity.entityId });
    expect(path.state.sent.at(-1)).toBe(`record /cpns/v1/channels/${channel.sessionId}`);
  });

  // Answers channel-client.ts:98 (the crypto provider dropped) and :110 (the `finally` emptied:
  // the entity's copy of its EUKey left in memory once the channel keys are derived).
  it("[CHANNEL-KEYS] the channel keys come from the given crypto provider, and the entity's EUKey copy is zeroed after", async () => {
    const { entity, path } = await device();
    const secrets: Uint8Array[] = [];
    const provider = spyingCrypto((name, args) => {
      if (isHkdfImport(name, args)) secrets.push(args[1] as Uint8Array);
    });
    const channel = await open(entity, path.fetch, { crypto: provider });
    // Both directions' keys were derived from the EUKey through the provider...
    expect(secrets.length).toBeGreaterThan(0);
    // ...and the copy the opening decoded (the one handed to the provider) is all zeros now.
    for (const secret of secrets) {
      expect(secret.length).toBe(32);
      expect(secret.every((byte) => byte === 0)).toBe(true);
    }
    // The store's EUKey is untouched: the channel works, and so does the entity's Digest.
    const res = await channel.fetch("/cpns/v1/whoami");
    expect(await res.json()).toMatchObject({ entityId: entity.entityId });
    expect((await entity.agent.fetchAsEntity(entity.entityId, "/cpns/v1/whoami")).status).toBe(200);
  });
});
