// Issue #10 (tls-declare), seed 5.x.4: "If both CPNS Entities support TLS, secure session is
// established by using TLS." An entity declares TLS at enrollment; from then on the server
// refuses it plain HTTP. Played on real loopback sockets: one app behind an HTTPS listener and a
// plain-HTTP listener (tls-declare-helpers.ts), with the Node runtime's own TLS detection (the
// socket). From the attacker's side: the downgrade to the plain listener (fresh requests, and
// requests captured on their way to the HTTPS listener and replayed over plain HTTP), a man in the
// middle stripping the declaration from the enrollment body, a rotation that would drop it, a
// forged "https" in the headers; and the other side: the explicit development mode, and an
// entity that never declared TLS (plain HTTP and its secure channel over it).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EntityAgent } from "../../src/agent/agent.ts";
import { ServerChannel } from "../../src/agent/channel-client.ts";
import { MemoryKeyStore } from "../../src/agent/keystore.ts";
import { OtkClient } from "../../src/agent/otk-client.ts";
import { CHANNEL_MEDIA_TYPE } from "../../src/channel/record.ts";
import { createDigestFetch, type FetchLike } from "../../src/digest/index.ts";
import type { EnrollResponse, EntityView } from "../../src/protocol/schemas.ts";
import { expectProblem, json } from "./server-helpers.ts";
import { type DualServer, plainTransport, startDualServer } from "./tls-declare-helpers.ts";

const ALICE = { userId: "alice", password: "alice-password-tls-1" };

let server: DualServer;
beforeAll(async () => {
  server = await startDualServer();
  await server.createUser(ALICE.userId, ALICE.password);
});
afterAll(() => server.close());

/** Alice's Digest fetch (auth-int, rspauth required) over `transport`. */
function asAlice(transport: FetchLike) {
  return createDigestFetch({
    username: ALICE.userId,
    password: ALICE.password,
    requireRspauth: true,
    qop: "auth-int",
    fetch: transport,
  });
}

/** Enrolls over HTTPS, declaring TLS or not; returns the device's key store. */
async function enrollOverTls(entityId: string, type: "PNE" | "PNGW", tls: boolean) {
  const store = new MemoryKeyStore();
  await server.tlsAgent(store).enroll({ ...ALICE, entityId, type, tls });
  return store;
}

async function viewOf(entityId: string): Promise<EntityView> {
  const res = await asAlice(server.https)(`${server.tlsUrl}/cpns/v1/entities/${entityId}`);
  expect(res.status).toBe(200);
  return (await res.json()) as EntityView;
}

/**
 * A man in the middle on the way to the HTTPS listener (before TLS, e.g. a compromised client
 * library or proxy): it lets the challenge round trip through, keeps the authenticated request
 * and never delivers it, so the server's replay ledger has not seen it.
 */
function capturing(inner: FetchLike) {
  const captured: Request[] = [];
  const transport: FetchLike = async (request) => {
    if (!request.headers.has("authorization")) return inner(request);
    captured.push(request.clone());
    throw new Error("dropped by the man in the middle");
  };
  return { transport, captured };
}

/** The captured request, replayed byte for byte to the plain-HTTP listener. */
async function replayOverPlain(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const headers = new Headers(request.headers);
  headers.delete("host");
  const body = request.method === "GET" ? undefined : await request.arrayBuffer();
  return fetch(`${server.plainUrl}${url.pathname}${url.search}`, {
    method: request.method,
    headers,
    ...(body ? { body } : {}),
  });
}

describe("[SEED-5.x.4-6][TLSDECL-ENROLL] the TLS declaration at enrollment", () => {
  it("[TLSDECL-ENROLL] tls: true over HTTPS is kept in the record, the answer and the view; no field means false, as in older records", async () => {
    await enrollOverTls("decl-gw-1", "PNGW", true);
    expect(await viewOf("decl-gw-1")).toMatchObject({ entityId: "decl-gw-1", tls: true });
    await enrollOverTls("decl-pne-old", "PNE", false);
    expect(await viewOf("decl-pne-old")).toMatchObject({ entityId: "decl-pne-old", tls: false });
    // An entity that did not declare is stored exactly as before the field existed.
    const stored = JSON.stringify(await server.storage.getItem(await recordKey("decl-pne-old")));
    expect(stored).not.toContain('"tls"');
    expect(JSON.stringify(await server.storage.getItem(await recordKey("decl-gw-1")))).toContain(
      '"tls":true',
    );
  });

  it("[TLSDECL-ENROLL][SEED-5.x.4-6] a rotation without the field keeps the declaration; an explicit tls: false is refused and writes nothing", async () => {
    const store = await enrollOverTls("decl-rot-1", "PNGW", true);
    // An older client (no field) rotating: still declared.
    await server.tlsAgent(store).enroll({ ...ALICE, entityId: "decl-rot-1", type: "PNGW" });
    expect(await viewOf("decl-rot-1")).toMatchObject({ keyVersion: 2, tls: true });
    const before = await server.dump();
    const res = await asAlice(server.https)(
      `${server.tlsUrl}/cpns/v1/enrollments`,
      json("POST", { entityId: "decl-rot-1", type: "PNGW", tls: false }),
    );
    await expectProblem(res, 409, "ERR_TLS_DECLARATION_FIXED");
    expect(await server.dump()).toBe(before);
    expect(await viewOf("decl-rot-1")).toMatchObject({ keyVersion: 2, tls: true });
  });
});

/** The store key of an entity record, found by its id (the repository's layout is not ours). */
async function recordKey(entityId: string): Promise<string> {
  for (const key of await server.storage.getKeys()) {
    const item = (await server.storage.getItem(key)) as { entityId?: string; machine?: unknown };
    if (item && typeof item === "object" && item.entityId === entityId && item.machine) return key;
  }
  throw new Error(`no record for ${entityId}`);
}

describe("[SEED-5.x.4-6][TLSDECL-REFUSE-PLAIN] an entity that declared TLS, downgraded to plain HTTP", () => {
  it("[TLSDECL-REFUSE-PLAIN] its own requests over plain HTTP: 403 ERR_TLS_REQUIRED, the same requests over HTTPS pass", async () => {
    const store = await enrollOverTls("down-gw-1", "PNGW", true);
    const whoamiTls = await server.tlsAgent(store).fetchAsEntity("down-gw-1", "/cpns/v1/whoami");
    expect(whoamiTls.status).toBe(200);
    const plain = server.plainAgent(store);
    await expectProblem(
      await plain.fetchAsEntity("down-gw-1", "/cpns/v1/whoami"),
      403,
      "ERR_TLS_REQUIRED",
    );
    await expectProblem(
      await plain.fetchAsEntity("down-gw-1", "/cpns/v1/otks/inbox"),
      403,
      "ERR_TLS_REQUIRED",
    );
    // An OTK deposit over plain HTTP: refused, nothing stored.
    await enrollOverTls("down-pne-peer", "PNE", false);
    const beforeDeposit = await server.dump();
    const otks = new OtkClient({ agent: plain, store, now: () => server.clock.now });
    await expect(
      otks.deposit("down-gw-1", { peerId: "down-pne-peer", lifetimeSeconds: 60 }),
    ).rejects.toMatchObject({ code: "ERR_TLS_REQUIRED", status: 403 });
    expect(await server.dump()).toBe(beforeDeposit);
    // Opening a secure channel over plain HTTP: refused (the channel is no way around TLS).
    await expect(
      ServerChannel.open({
        agent: plain,
        store,
        entityId: "down-gw-1",
        serverUrl: server.plainUrl,
        fetch: plainTransport,
        now: () => server.clock.now,
      }),
    ).rejects.toMatchObject({ code: "ERR_TLS_REQUIRED" });
    // Over HTTPS the same deposit is fine.
    const tlsOtks = new OtkClient({
      agent: server.tlsAgent(store),
      store,
      now: () => server.clock.now,
    });
    await expect(
      tlsOtks.deposit("down-gw-1", { peerId: "down-pne-peer", lifetimeSeconds: 60 }),
    ).resolves.toMatchObject({ peerId: "down-pne-peer" });
  });

  it("[TLSDECL-REFUSE-PLAIN] a request captured on its way to HTTPS and replayed over plain HTTP is refused; nothing changes", async () => {
    const store = await enrollOverTls("cap-gw-1", "PNGW", true);
    await enrollOverTls("cap-pne-peer", "PNE", false);
    const mitm = capturing(server.https);
    const spy = new EntityAgent({
      serverUrl: server.tlsUrl,
      store,
      fetch: mitm.transport,
    });
    const otks = new OtkClient({ agent: spy, store, now: () => server.clock.now });
    await expect(
      otks.deposit("cap-gw-1", { peerId: "cap-pne-peer", lifetimeSeconds: 60 }),
    ).rejects.toThrow();
    expect(mitm.captured).toHaveLength(1);
    const before = await server.dump();
    const res = await replayOverPlain(mitm.captured[0] as Request);
    await expectProblem(res, 403, "ERR_TLS_REQUIRED");
    expect(await server.dump()).toBe(before);
  });

  it("[TLSDECL-REFUSE-PLAIN] an enrollment declaring TLS, captured and replayed over plain HTTP: refused, no entity, no sealed key in the answer", async () => {
    const mitm = capturing(server.https);
    await expect(
      asAlice(mitm.transport)(
        `${server.tlsUrl}/cpns/v1/enrollments`,
        json("POST", { entityId: "cap-enroll-1", type: "PNE", tls: true }),
      ),
    ).rejects.toThrow();
    const before = await server.dump();
    const res = await replayOverPlain(mitm.captured[0] as Request);
    const text = await res.clone().text();
    await expectProblem(res, 403, "ERR_TLS_REQUIRED");
    expect(text).not.toContain("sealedKey");
    expect(await server.dump()).toBe(before);
    // Sent fresh over plain HTTP by the agent: the same refusal, and the device records nothing.
    const store = new MemoryKeyStore();
    await expect(
      server
        .plainAgent(store)
        .enroll({ ...ALICE, entityId: "cap-enroll-1", type: "PNE", tls: true }),
    ).rejects.toMatchObject({ code: "ERR_TLS_REQUIRED" });
    expect(await store.get("cap-enroll-1")).toBeUndefined();
    expect(await server.dump()).toBe(before);
  });

  it("[TLSDECL-REFUSE-PLAIN] a rotation over plain HTTP is refused: the key version and the old key stay", async () => {
    const store = await enrollOverTls("rot-plain-1", "PNE", true);
    const before = await server.dump();
    const copy = new MemoryKeyStore();
    const device = await store.get("rot-plain-1");
    if (device) await copy.put(device);
    await expect(
      server.plainAgent(copy).enroll({ ...ALICE, entityId: "rot-plain-1", type: "PNE" }),
    ).rejects.toMatchObject({ code: "ERR_TLS_REQUIRED" });
    expect(await server.dump()).toBe(before);
    expect(await server.tlsAgent(store).whoami("rot-plain-1")).toMatchObject({ keyVersion: 1 });
  });

  it("[TLSDECL-REFUSE-PLAIN] a channel opened over HTTPS carries no record over plain HTTP; the refused record was not consumed", async () => {
    const store = await enrollOverTls("chan-gw-1", "PNGW", true);
    let downgrade = true;
    const sent: Uint8Array[] = [];
    // A man in the middle that moves the channel's records to the plain-HTTP listener.
    const records: FetchLike = async (request) => {
      if (!downgrade) return server.https(request);
      const body = new Uint8Array(await request.arrayBuffer());
      sent.push(body);
      const url = new URL(request.url);
      return fetch(`${server.plainUrl}${url.pathname}`, {
        method: "POST",
        headers: { "content-type": CHANNEL_MEDIA_TYPE },
        body,
      });
    };
    const channel = await ServerChannel.open({
      agent: server.tlsAgent(store),
      store,
      entityId: "chan-gw-1",
      serverUrl: server.tlsUrl,
      fetch: records,
      now: () => server.clock.now,
    });
    await expect(channel.fetch("/cpns/v1/whoami")).rejects.toMatchObject({
      code: "ERR_TLS_REQUIRED",
    });
    expect(sent).toHaveLength(1);
    // The very same record over HTTPS is accepted: the refusal moved no replay window.
    const again = await server.https(
      new Request(`${server.tlsUrl}/cpns/v1/channels/${channel.sessionId}`, {
        method: "POST",
        headers: { "content-type": CHANNEL_MEDIA_TYPE },
        body: sent[0] as BodyInit,
      }),
    );
    expect(again.status).toBe(200);
    expect(again.headers.get("content-type")).toBe(CHANNEL_MEDIA_TYPE);
    downgrade = false;
    const whoami = await channel.fetch("/cpns/v1/whoami");
    expect(await whoami.json()).toMatchObject({ entityId: "chan-gw-1" });
  });

  it("[TLSDECL-RUNTIME] a plain-HTTP request that claims https (X-Forwarded-Proto, Forwarded, an https Origin) is still plain: Node's detection reads the socket", async () => {
    const store = await enrollOverTls("forge-pne-1", "PNE", true);
    const forging: FetchLike = (request) => {
      const headers = new Headers(request.headers);
      headers.set("x-forwarded-proto", "https");
      headers.set("forwarded", "proto=https");
      headers.set("origin", server.tlsUrl);
      return fetch(new Request(request, { headers }));
    };
    const agent = new EntityAgent({ serverUrl: server.plainUrl, store, fetch: forging });
    await expectProblem(
      await agent.fetchAsEntity("forge-pne-1", "/cpns/v1/whoami"),
      403,
      "ERR_TLS_REQUIRED",
    );
  });
});

describe("[TLSDECL-REFUSE-PLAIN] the security log", () => {
  let fresh: DualServer;
  beforeAll(async () => {
    fresh = await startDualServer();
    await fresh.createUser(ALICE.userId, ALICE.password);
  });
  afterAll(() => fresh.close());

  it("[TLSDECL-REFUSE-PLAIN] a refusal is logged as tls.required with the entity and the address (aggregated per address)", async () => {
    const store = new MemoryKeyStore();
    await fresh.tlsAgent(store).enroll({ ...ALICE, entityId: "log-gw-1", type: "PNGW", tls: true });
    const plain = fresh.plainAgent(store);
    for (let i = 0; i < 3; i++) {
      await expectProblem(
        await plain.fetchAsEntity("log-gw-1", "/cpns/v1/whoami"),
        403,
        "ERR_TLS_REQUIRED",
      );
    }
    const logged = fresh.events().filter((event) => event.event === "tls.required");
    // The first refusal in full; the next ones are counted into the interval's summary line.
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ entityId: "log-gw-1", address: "127.0.0.1" });
  });
});

describe("[SEED-5.x.4-6][TLSDECL-DOWNGRADE-MITM] a man in the middle removing the declaration", () => {
  it("[TLSDECL-DOWNGRADE-MITM] the enrollment body without tls (or with tls: false) no longer matches Alice's auth-int Digest: 401, nothing written", async () => {
    for (const rewrite of [
      (body: Record<string, unknown>) => {
        const { tls: _dropped, ...rest } = body;
        return rest;
      },
      (body: Record<string, unknown>) => ({ ...body, tls: false }),
    ]) {
      const statuses: number[] = [];
      const mitm: FetchLike = async (request) => {
        if (!request.headers.has("authorization")) return fetch(request);
        const body = rewrite((await request.clone().json()) as Record<string, unknown>);
        const res = await fetch(
          new Request(request.url, {
            method: request.method,
            headers: request.headers,
            body: JSON.stringify(body),
          }),
        );
        statuses.push(res.status);
        return res;
      };
      const before = await server.dump();
      await expect(
        asAlice(mitm)(
          `${server.plainUrl}/cpns/v1/enrollments`,
          json("POST", { entityId: "mitm-pne-1", type: "PNE", tls: true }),
        ),
      ).resolves.toMatchObject({ status: 401 });
      expect(statuses[0]).toBe(401);
      expect(await server.dump()).toBe(before);
    }
  });
});

describe("[SEED-5.x.4-6][TLSDECL-DEV-MODE] the explicit development mode", () => {
  let dev: DualServer;
  beforeAll(async () => {
    dev = await startDualServer({ allowPlainHttpForTlsEntities: true });
    await dev.createUser(ALICE.userId, ALICE.password);
  });
  afterAll(() => dev.close());

  it("[TLSDECL-DEV-MODE] a TLS entity enrolls and authenticates over plain HTTP, and stays declared", async () => {
    const store = new MemoryKeyStore();
    const plain = dev.plainAgent(store);
    await plain.enroll({ ...ALICE, entityId: "dev-gw-1", type: "PNGW", tls: true });
    expect(await plain.whoami("dev-gw-1")).toMatchObject({ entityId: "dev-gw-1" });
    const view = await createDigestFetch({ ...asAliceOptions(), fetch: plainTransport })(
      `${dev.plainUrl}/cpns/v1/entities/dev-gw-1`,
    );
    expect(await view.json()).toMatchObject({ tls: true });
  });
});

function asAliceOptions() {
  return { username: ALICE.userId, password: ALICE.password, requireRspauth: true };
}

describe("[FFS-NO-TLS][TLSDECL-UNDECLARED-PLAIN] an entity that did not declare TLS", () => {
  it("[TLSDECL-UNDECLARED-PLAIN][FFS-NO-TLS] enrolls and authenticates over plain HTTP, and its secure channel works over plain HTTP", async () => {
    const store = new MemoryKeyStore();
    const plain = server.plainAgent(store);
    const enrolled = await asAlice(plainTransport)(
      `${server.plainUrl}/cpns/v1/enrollments`,
      json("POST", { entityId: "nodecl-pne-1", type: "PNE" }),
    );
    expect(enrolled.status).toBe(201);
    expect(((await enrolled.json()) as EnrollResponse).tls).toBe(false);
    await plain.enroll({ ...ALICE, entityId: "nodecl-pne-2", type: "PNE" });
    expect(await plain.whoami("nodecl-pne-2")).toMatchObject({ entityId: "nodecl-pne-2" });
    const channel = await ServerChannel.open({
      agent: plain,
      store,
      entityId: "nodecl-pne-2",
      serverUrl: server.plainUrl,
      fetch: plainTransport,
      now: () => server.clock.now,
    });
    const whoami = await channel.fetch("/cpns/v1/whoami");
    expect(await whoami.json()).toMatchObject({ entityId: "nodecl-pne-2", type: "PNE" });
    await channel.close();
  });
});
