// Issue #10 "Machines": the safety properties of the secure-channel machines (machines/secure-channel.ts)
// checked on the real code over real HTTP on loopback, from the attacker's side: the CPNS Server's
// channel routes (src/server/channels.ts) and the entity's ServerChannel (src/agent/channel-client.ts).
// The machine-only versions are test/model/secure-channel.properties.test.ts; these show that the
// code the machines gate keeps them: no application record before mutual authentication, no record
// accepted twice (a concurrent burst of copies), none after close or expiry (either end), none of
// an old epoch after a re-key, a restart or second instance between capture and replay, and never
// a 500 when a channel cannot answer.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EntityAgent } from "../../src/agent/agent.ts";
import { ServerChannel, type ServerChannelOptions } from "../../src/agent/channel-client.ts";
import { CHANNEL_MEDIA_TYPE, decodeHeader } from "../../src/channel/record.ts";
import type { FetchLike } from "../../src/digest/index.ts";
import { startImpostor } from "../model/model-helpers.ts";
import { type Device, enrollDevice } from "./peer-helpers.ts";
import {
  expectProblem,
  startTestServer,
  type TestServer,
  type TestServerOptions,
} from "./server-helpers.ts";

const ALICE = { userId: "alice", password: "alice-channel-safety-1" };

interface Captured {
  url: string;
  body: Uint8Array;
}

/**
 * The entity's transport as a path attacker sees it: it records every record it carries, and can
 * swallow the next one (it never reaches the server, the client gets a 502), to replay it later,
 * together with the close the client sends when a record's answer is lost (PEERCH-ABANDON: a
 * client ends a channel whose record's fate it cannot know; an attacker drops that close too).
 * Or it can hold the next one: not forwarded, its answer pending until `release`.
 */
class RecordTap {
  readonly sent: Captured[] = [];
  readonly answers: Uint8Array[] = [];
  readonly swallowed: Captured[] = [];
  swallowNext = false;
  /** Whether a swallow also drops the close the client sends next (default: the attacker does). */
  dropTheClose = true;
  #swallowTheClose = false;
  holdNext = false;
  #release: ((answer: Response) => void) | undefined;
  records = 0;

  readonly fetch: FetchLike = async (request) => {
    if (request.headers.get("content-type") !== CHANNEL_MEDIA_TYPE) return fetch(request);
    this.records += 1;
    const captured = { url: request.url, body: new Uint8Array(await request.arrayBuffer()) };
    this.sent.push(captured);
    if (this.swallowNext) {
      this.swallowNext = false;
      this.#swallowTheClose = this.dropTheClose;
      this.swallowed.push(captured);
      return new Response("swallowed", { status: 502 });
    }
    if (this.#swallowTheClose) {
      this.#swallowTheClose = false;
      return new Response("swallowed", { status: 502 });
    }
    if (this.holdNext) {
      this.holdNext = false;
      this.swallowed.push(captured);
      return new Promise<Response>((resolve) => {
        this.#release = resolve;
      });
    }
    const answer = await post(captured);
    const bytes = new Uint8Array(await answer.arrayBuffer());
    if (answer.status === 200) this.answers.push(bytes);
    return new Response(bytes as BodyInit, { status: answer.status, headers: answer.headers });
  };

  last(): Captured {
    const last = this.sent.at(-1);
    if (!last) throw new Error("no record carried");
    return last;
  }

  /** The record last swallowed or held (never delivered by the tap). */
  held(): Captured {
    const held = this.swallowed.at(-1);
    if (!held) throw new Error("no record held");
    return held;
  }

  /** Answers the held record's request with `answer` (the client then learns it was lost). */
  release(answer: Response): void {
    this.#release?.(answer);
    this.#release = undefined;
  }
}

function post(record: Captured, url = record.url): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": CHANNEL_MEDIA_TYPE },
    body: record.body as BodyInit,
  });
}

async function setUp(options: TestServerOptions = {}) {
  const server = await startTestServer({
    rateLimit: { maxFailures: 1_000_000, windowSeconds: 1 },
    ...options,
  });
  await server.createUser(ALICE.userId, ALICE.password);
  return server;
}

let serial = 0;
async function device(server: TestServer, type: "PNE" | "PNGW" = "PNE"): Promise<Device> {
  serial += 1;
  return enrollDevice(server, ALICE, `safe-${type.toLowerCase()}-${serial}`, type);
}

function open(
  server: TestServer,
  entity: Device,
  tap: RecordTap,
  extra: Partial<ServerChannelOptions> = {},
): Promise<ServerChannel> {
  return ServerChannel.open({
    agent: entity.agent,
    store: entity.store,
    entityId: entity.entityId,
    serverUrl: server.url,
    fetch: tap.fetch,
    now: () => server.clock.now,
    ...extra,
  });
}

let server: TestServer;
beforeAll(async () => {
  server = await setUp();
});
afterAll(() => server?.close());

describe("[CHMODEL-NO-DATA-BEFORE-AUTH][SEED-5.x.4-1] no application record before mutual authentication", () => {
  it("[CHMODEL-NO-DATA-BEFORE-AUTH][FFS-SERVER-AUTH] a server that cannot prove the EUKey gets no channel and no record: the client sends nothing after the opening", async () => {
    const impostor = await startImpostor({ challenge: true });
    try {
      const entity = await device(server);
      const tap = new RecordTap();
      const outcome = await ServerChannel.open({
        agent: new EntityAgent({ serverUrl: impostor.url, store: entity.store }),
        store: entity.store,
        entityId: entity.entityId,
        serverUrl: impostor.url,
        fetch: tap.fetch,
      }).catch((err: unknown) => err);
      expect(outcome).toMatchObject({ code: "ERR_DIGEST_SERVER_UNAUTHENTICATED" });
      expect(tap.records).toBe(0);
    } finally {
      await impostor.close();
    }
  });

  it("[CHMODEL-NO-DATA-BEFORE-AUTH] a revoked entity's opening is refused (401) and it sends no record", async () => {
    const entity = await device(server);
    const owner = server.asUser(ALICE.userId, ALICE.password);
    expect((await owner(`/cpns/v1/entities/${entity.entityId}`, { method: "DELETE" })).status).toBe(
      200,
    );
    const tap = new RecordTap();
    const outcome = await open(server, entity, tap).catch((err: unknown) => err);
    expect(outcome).toMatchObject({ status: 401 });
    expect(tap.records).toBe(0);
  });

  it("[CHMODEL-NO-DATA-BEFORE-AUTH] the server takes no record for a channel it never opened: a well-formed record under a made-up session id is 404 and reaches no route", async () => {
    const entity = await device(server);
    const tap = new RecordTap();
    const channel = await open(server, entity, tap);
    expect((await channel.fetch("/cpns/v1/whoami")).status).toBe(200);
    const genuine = tap.last();
    const forged = genuine.url.replace(/[A-Za-z0-9_-]{22}$/, "A".repeat(22));
    await expectProblem(await post(genuine, forged), 404, "ERR_CHANNEL_UNKNOWN");
  });
});

describe("[CHMODEL-NO-REPLAY][CHANNEL-REPLAY] no record accepted twice", () => {
  it("[CHMODEL-NO-REPLAY][CHANNEL-REPLAY] a record swallowed on the way and then sent 20 times at once is accepted exactly once", async () => {
    const entity = await device(server);
    const tap = new RecordTap();
    const channel = await open(server, entity, tap);
    tap.swallowNext = true;
    await expect(channel.fetch("/cpns/v1/whoami")).rejects.toMatchObject({ status: 502 });
    const held = tap.held();
    const answers = await Promise.all(Array.from({ length: 20 }, () => post(held)));
    const statuses = answers.map((res) => res.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
  });

  it("[CHMODEL-NO-REPLAY][CHANNEL-REPLAY] a restart, or a second instance on the same data, takes no captured record (channels live in one process)", async () => {
    const first = await setUp();
    const entity = await device(first);
    const tap = new RecordTap();
    const channel = await open(first, entity, tap);
    tap.swallowNext = true;
    await expect(channel.fetch("/cpns/v1/whoami")).rejects.toMatchObject({ status: 502 });
    const held = tap.held();
    const path = new URL(held.url).pathname;
    const second = await startTestServer({ storage: first.storage, masterKey: first.masterKey });
    try {
      await expectProblem(
        await second.fetch(path, {
          method: "POST",
          headers: { "content-type": CHANNEL_MEDIA_TYPE },
          body: held.body as BodyInit,
        }),
        404,
        "ERR_CHANNEL_UNKNOWN",
      );
    } finally {
      await second.close();
      await first.close();
    }
  });
});

describe("[CHMODEL-NO-RECORD-AFTER-END][CHANNEL-CLOSE] no record accepted after close or expiry, at either end", () => {
  it("[CHMODEL-NO-RECORD-AFTER-END][CHANNEL-CLOSE] after close, a record captured before it is refused by the server and the client sends nothing more", async () => {
    const entity = await device(server);
    const tap = new RecordTap();
    const channel = await open(server, entity, tap);
    // The record is lost on the way; the client, unable to know its fate, closes (and the close
    // gets through this time).
    tap.swallowNext = true;
    tap.dropTheClose = false;
    await expect(channel.fetch("/cpns/v1/whoami")).rejects.toMatchObject({ status: 502 });
    const held = tap.held();
    expect(channel.state).toBe("closed");
    expect((await post(held)).status).toBe(404);
    const carried = tap.records;
    await expect(channel.fetch("/cpns/v1/whoami")).rejects.toMatchObject({
      code: "ERR_CHANNEL_CLOSED",
    });
    expect(tap.records).toBe(carried);
  });

  it("[CHMODEL-NO-RECORD-AFTER-END][CHANNEL-CLOSE] past the server's expiry a captured record is 410 and the channel is gone; past the client's, the client sends nothing", async () => {
    const local = await setUp({ channelLifetimeSeconds: 60 });
    try {
      const entity = await device(local);
      const tap = new RecordTap();
      const clientClock = { now: local.clock.now };
      const channel = await open(local, entity, tap, { now: () => clientClock.now });
      tap.swallowNext = true;
      await expect(channel.fetch("/cpns/v1/whoami")).rejects.toMatchObject({ status: 502 });
      const held = tap.held();
      local.clock.now += 60_000;
      await expectProblem(await post(held), 410, "ERR_CHANNEL_CLOSED");
      await expectProblem(await post(held), 404, "ERR_CHANNEL_UNKNOWN");
      // The client's own expiry, on a channel of its own (the first one closed itself when its
      // record was lost).
      clientClock.now = local.clock.now;
      const second = await open(local, entity, tap, { now: () => clientClock.now });
      clientClock.now += 60_000;
      const carried = tap.records;
      await expect(second.fetch("/cpns/v1/whoami")).rejects.toMatchObject({
        code: "ERR_CHANNEL_CLOSED",
      });
      expect(second.state).toBe("expired");
      expect(tap.records).toBe(carried);
      expect(channel.state).not.toBe("open");
    } finally {
      await local.close();
    }
  });

  it("[CHMODEL-NO-RECORD-AFTER-END][CHANNEL-CLOSE] the client refuses a response that arrives after its expiry, though the server sent it in time", async () => {
    const entity = await device(server);
    const clientClock = { now: server.clock.now };
    let late = false;
    const tap = new RecordTap();
    const delaying: FetchLike = async (request) => {
      const answer = await tap.fetch(request);
      // The answer is held on the way back until the client's clock passed the expiry.
      if (late) clientClock.now += 10 * 60_000;
      return answer;
    };
    const channel = await ServerChannel.open({
      agent: entity.agent,
      store: entity.store,
      entityId: entity.entityId,
      serverUrl: server.url,
      fetch: delaying,
      now: () => clientClock.now,
    });
    late = true;
    await expect(channel.fetch("/cpns/v1/whoami")).rejects.toMatchObject({
      code: "ERR_CHANNEL_CLOSED",
    });
    expect(channel.state).toBe("expired");
  });
});

describe("[CHMODEL-NO-OLD-EPOCH][CHANNEL-REKEY] after a re-key no record of an older epoch is accepted", () => {
  it("[CHMODEL-NO-OLD-EPOCH][CHANNEL-REKEY] a record of epoch 0 held back while the client moved on to later epochs is refused by the server", async () => {
    const entity = await device(server);
    const tap = new RecordTap();
    const channel = await open(server, entity, tap, { limits: { maxRecordsPerEpoch: 1 } });
    // The path holds the first record back (its answer pending) while later ones go through.
    tap.holdNext = true;
    const first = channel.fetch("/cpns/v1/whoami").then(
      (res) => res.status,
      (err: unknown) => err,
    );
    while (tap.swallowed.length === 0) await new Promise((r) => setTimeout(r, 5));
    const held = tap.held();
    expect(decodeHeader(held.body)?.epoch).toBe(0);
    for (let i = 0; i < 3; i++) expect((await channel.fetch("/cpns/v1/whoami")).status).toBe(200);
    expect(decodeHeader(tap.last().body)?.epoch).toBe(3);
    await expectProblem(await post(held), 400, "ERR_CHANNEL_RECORD");
    // The held request's answer is lost: the client learns it, and ends the channel.
    tap.release(new Response("lost", { status: 502 }));
    expect(await first).toMatchObject({ status: 502 });
    expect(channel.state).toBe("closed");
  });
});

describe("[CHMODEL-USED-UP] a channel whose epochs are used up answers with a problem, never a 500", () => {
  it("[CHMODEL-USED-UP][CHANNEL-REKEY] the server cannot seal its close answer (no epoch left): 410 ERR_CHANNEL_CLOSED and the channel is gone", async () => {
    const local = await setUp({ channelLimits: { maxRecordsPerEpoch: 1, maxEpoch: 0 } });
    try {
      const entity = await device(local);
      const tap = new RecordTap();
      const channel = await open(local, entity, tap);
      expect((await channel.fetch("/cpns/v1/whoami")).status).toBe(200);
      await expect(channel.close()).rejects.toMatchObject({
        status: 410,
        code: "ERR_CHANNEL_CLOSED",
      });
      await expectProblem(await post(tap.last()), 404, "ERR_CHANNEL_UNKNOWN");
    } finally {
      await local.close();
    }
  });

  it("[CHMODEL-USED-UP][CHANNEL-REKEY] the client refuses to send a record that needs an epoch past its last, and sends nothing", async () => {
    const entity = await device(server);
    const tap = new RecordTap();
    const channel = await open(server, entity, tap, {
      limits: { maxRecordsPerEpoch: 1, maxEpoch: 1 },
    });
    expect((await channel.fetch("/cpns/v1/whoami")).status).toBe(200);
    expect((await channel.fetch("/cpns/v1/whoami")).status).toBe(200);
    const carried = tap.records;
    await expect(channel.fetch("/cpns/v1/whoami")).rejects.toMatchObject({
      code: "ERR_CHANNEL_CLOSED",
    });
    expect(tap.records).toBe(carried);
  });
});
