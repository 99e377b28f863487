import { describe, expect, it } from "vitest";
import { ServerChannel } from "../../src/agent/channel-client.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import { CHANNEL_MEDIA_TYPE } from "../../src/channel/record.ts";
import { fromBase64url } from "../../src/crypto/bytes.ts";
import type { FetchLike } from "../../src/digest/index.ts";
import { channelHandlers } from "../../src/server/channels.ts";
import { createParts } from "../../src/server/context.ts";
import { type Device, enrollDevice } from "../e2e/peer-helpers.ts";
import { configOf, statusAndCode, T0, type TestServerOptions } from "../e2e/server-helpers.ts";
import { appBehind, GENEROUS_RATE_LIMIT, serverPerTest } from "../server-per-test.ts";
import { isHkdfImport, spyingCrypto } from "../spying-crypto.ts";

const ALICE = { userId: "alice", password: "alice-channel-mut-password-Qk2" };

const startServer = serverPerTest({ rateLimit: GENEROUS_RATE_LIMIT });

async function setup(options: TestServerOptions = {}) {
  const server = await startServer(options);
  await server.createUser(ALICE.userId, ALICE.password);
  const pne = await enrollDevice(server, ALICE, "pne-ch", "PNE");
  /** A channel of `device`; `clientNow` is the device's clock (the server's unless given). */
  const channel = (device: Device, fetch?: FetchLike, clientNow?: () => number) =>
    ServerChannel.open({
      agent: device.agent,
      store: device.store,
      entityId: device.entityId,
      serverUrl: server.url,
      now: clientNow ?? (() => server.clock.now),
      ...(fetch ? { fetch } : {}),
    });
  /** The opening answer itself (sessionId, expiresAt), without a client endpoint. */
  const rawOpen = async (device: Device) => {
    const res = await device.agent.fetchAsEntity(device.entityId, "/cpns/v1/channels", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { sessionId: string; expiresAt: number };
  };
  const owner = server.asUser(ALICE.userId, ALICE.password);
  return { server, pne, channel, rawOpen, owner };
}

/** Awaits a rejection and returns its problem code. */
async function codeOfRejection(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  return (error as { code?: string } | undefined)?.code;
}

describe("channels.ts: opening", () => {
  // Report: channels.ts:61 ConditionalExpression `false`, StringLiteral `""` (NoCoverage).
  it("[SERVER-AUTHZ-POLICY] a CPNS User that reached the opening handler is refused ERR_FORBIDDEN", async () => {
    const { server } = await setup();
    const config = configOf(server, "channel-mut-digest-secret-0123456789abcdef");
    const handlers = channelHandlers(createParts(config), async () => new Response("inner"));
    const app = appBehind({ principal: { kind: "user", userId: ALICE.userId } }, (app) => {
      app.post("/channels", handlers.open);
    });
    expect(await statusAndCode(await app.request("/channels", { method: "POST" }))).toEqual([
      403,
      "ERR_FORBIDDEN",
    ]);
  });

  // Report: channels.ts:56 ArithmeticOperator, LogicalOperator; :89 ArithmeticOperator; :129 ObjectLiteral.
  it("[CHANNEL-CLOSE] the opening answer carries the channel's expiry in seconds: 600 s by default, the configured lifetime otherwise", async () => {
    const byDefault = await setup();
    expect((await byDefault.rawOpen(byDefault.pne)).expiresAt).toBe(T0 / 1000 + 600);
    const configured = await setup({ channelLifetimeSeconds: 120 });
    expect((await configured.rawOpen(configured.pne)).expiresAt).toBe(T0 / 1000 + 120);
  });

  // Report: channels.ts:76 ObjectLiteral.
  it("[CHANNEL-CLOSE] past its lifetime on the server's clock the server's end refuses the channel, whatever the device's clock says", async () => {
    const { server, pne, channel } = await setup({ channelLifetimeSeconds: 120 });
    const ch = await channel(pne, undefined, () => T0);
    expect((await ch.fetch("/cpns/v1/whoami")).status).toBe(200);
    server.clock.now += 121_000;
    expect(await codeOfRejection(ch.fetch("/cpns/v1/whoami"))).toBe("ERR_CHANNEL_CLOSED");
  });
});

describe("channels.ts: the EUKey at the server's end", () => {
  /**
   * A server on a spying WebCrypto provider, and the HKDF imports it saw while
   * `pne` opened one channel: the bytes passed (as the server still holds them
   * now) and a copy taken at the call.
   */
  async function openWatched() {
    const imports: Array<{ held: Uint8Array; atCall: Uint8Array }> = [];
    let watching = false;
    const crypto = spyingCrypto((name, args) => {
      if (!watching || !isHkdfImport(name, args)) return;
      const held = args[1] as Uint8Array;
      imports.push({ held, atCall: held.slice() });
    });
    const { pne, rawOpen } = await setup({ crypto });
    const record = await pne.store.get(pne.entityId);
    if (!record) throw new Error("the device holds no record");
    const eukey = fromBase64url(record.eukey);
    watching = true;
    await rawOpen(pne);
    watching = false;
    const same = (bytes: Uint8Array) =>
      bytes.length === eukey.length && bytes.every((byte, i) => byte === eukey[i]);
    return { fromEukey: imports.filter((seen) => same(seen.atCall)) };
  }

  // Report: channels.ts:80 ObjectLiteral (NoCoverage): `{ crypto }` left out of the endpoint's options.
  it("[SEED-5.x.4-1] the channel keys are derived from the EUKey through the server's configured WebCrypto provider", async () => {
    const { fromEukey } = await openWatched();
    // Both directions' key and IV: four HKDF derivations from the EUKey, all through the provider.
    expect(fromEukey.length).toBeGreaterThanOrEqual(2);
  });

  // Report: channels.ts:84 BlockStatement: `eukey.fill(0)` removed.
  it("[SEED-5.x.4-1] once the channel keys are derived, the unsealed EUKey the handler read is wiped (all zero)", async () => {
    const { fromEukey } = await openWatched();
    expect(fromEukey.length).toBeGreaterThan(0);
    for (const { held } of fromEukey) expect([...held].every((byte) => byte === 0)).toBe(true);
  });
});

describe("channels.ts: records", () => {
  // Report: channels.ts:98 ConditionalExpression `false`, StringLiteral `""`.
  it("[CHANNEL-REPLAY] a record for a session the server never opened is 404 ERR_CHANNEL_UNKNOWN", async () => {
    const { server } = await setup();
    const res = await server.fetch("/cpns/v1/channels/AAAAAAAAAAAAAAAAAAAAAA", {
      method: "POST",
      headers: { "content-type": CHANNEL_MEDIA_TYPE },
      body: new Uint8Array(64),
    });
    expect(await statusAndCode(res)).toEqual([404, "ERR_CHANNEL_UNKNOWN"]);
  });

  // Report: channels.ts:102 LogicalOperator, ConditionalExpression; :103 ConditionalExpression; :104 BlockStatement; :107 StringLiteral.
  it("[OTK-CUT-THROUGH][CHANNEL-CLOSE] a rotation closes an open channel: ERR_CHANNEL_CLOSED", async () => {
    const { pne, channel } = await setup();
    const ch = await channel(pne);
    expect((await ch.fetch("/cpns/v1/whoami")).status).toBe(200);
    await pne.agent.enroll({ ...ALICE, entityId: pne.entityId, type: "PNE" });
    expect(await codeOfRejection(ch.fetch("/cpns/v1/whoami"))).toBe("ERR_CHANNEL_CLOSED");
  });

  // Report: channels.ts:102 (every mutant).
  it("[OTK-CUT-THROUGH][CHANNEL-CLOSE] a revocation closes an open channel: ERR_CHANNEL_CLOSED", async () => {
    const { pne, channel, owner } = await setup();
    const ch = await channel(pne);
    expect((await ch.fetch("/cpns/v1/whoami")).status).toBe(200);
    expect((await owner(`/cpns/v1/entities/${pne.entityId}`, { method: "DELETE" })).status).toBe(
      200,
    );
    expect(await codeOfRejection(ch.fetch("/cpns/v1/whoami"))).toBe("ERR_CHANNEL_CLOSED");
  });

  // Report: channels.ts:102 OptionalChaining.
  it("[CHANNEL-CLOSE] an entity whose record vanished has its channel closed, not a crash", async () => {
    const { server, channel } = await setup();
    const before = new Set(await server.storage.getKeys());
    const gw = await enrollDevice(server, ALICE, "gw-ch", "PNGW");
    const keys = (await server.storage.getKeys()).filter(
      (key) => !before.has(key) && key.startsWith("entity:"),
    );
    expect(keys).toHaveLength(1);
    const ch = await channel(gw);
    expect((await ch.fetch("/cpns/v1/whoami")).status).toBe(200);
    await server.storage.removeItem(keys[0] as string);
    expect(await codeOfRejection(ch.fetch("/cpns/v1/whoami"))).toBe("ERR_CHANNEL_CLOSED");
  });

  // Report: channels.ts:122 (every mutant), :123 StringLiteral.
  it("[SEED-5.x.3-2] an inner request for the channel routes, or any path below them, is ERR_CHANNEL_NESTED", async () => {
    const { pne, channel } = await setup();
    const ch = await channel(pne);
    for (const path of ["/cpns/v1/channels", "/cpns/v1/channels/AAAAAAAAAAAAAAAAAAAAAA"]) {
      const res = await ch.fetch(path, { method: "POST", body: "{}" });
      expect(await statusAndCode(res)).toEqual([400, "ERR_CHANNEL_NESTED"]);
    }
  });

  // Report: channels.ts:125 ArrowFunction.
  it("[CHANNEL-CLOSE] a closed channel is forgotten: a record captured before the close then names an unknown session", async () => {
    const { server, pne, channel } = await setup();
    const sent: Array<{ url: string; body: ArrayBuffer }> = [];
    const recording: FetchLike = async (request) => {
      sent.push({ url: request.url, body: await request.clone().arrayBuffer() });
      return fetch(request);
    };
    const ch = await channel(pne, recording);
    expect((await ch.fetch("/cpns/v1/whoami")).status).toBe(200);
    await ch.close();
    const captured = sent[0];
    if (!captured) throw new Error("no record captured");
    const replay = await fetch(captured.url, {
      method: "POST",
      headers: { "content-type": CHANNEL_MEDIA_TYPE },
      body: captured.body,
    });
    expect(await statusAndCode(replay)).toEqual([404, "ERR_CHANNEL_UNKNOWN"]);
    expect(server.url).toBe(new URL(captured.url).origin);
  });

  // Report: channels.ts:113 ObjectLiteral.
  it("[TLSDECL-REFUSE-PLAIN][SERVER-SECURITY-LOG] a record of a TLS entity's channel sent over plain HTTP is refused and logged with the entity", async () => {
    const server = await startServer({
      requestIsTls: (request) => request.headers.get("x-test-tls") === "1",
    });
    await server.createUser(ALICE.userId, ALICE.password);
    /** Marks every request as arriving over TLS. */
    const overTls: FetchLike = (request) => {
      const marked = new Request(request);
      marked.headers.set("x-test-tls", "1");
      return fetch(marked);
    };
    const store = new MemoryKeyStore();
    const agent = server.agent({ store, fetch: overTls });
    await agent.enroll({ ...ALICE, entityId: "pne-tls", type: "PNE", tls: true });
    const ch = await ServerChannel.open({
      agent,
      store,
      entityId: "pne-tls",
      serverUrl: server.url,
      now: () => server.clock.now,
      fetch: (request) => fetch(request),
    });
    expect(await codeOfRejection(ch.fetch("/cpns/v1/whoami"))).toBe("ERR_TLS_REQUIRED");
    expect(server.events().filter((e) => e.event === "tls.required")).toEqual([
      expect.objectContaining({ entityId: "pne-tls" }),
    ]);
  });
});
