// The CPNS secure channel's record layer (spec/channel.md §4-§6) from the attacker's side: a relay
// or path attacker that reads, flips, truncates, reorders, replays, reflects, moves records to
// another session or endpoint, or swaps responses, and what re-keying and close do to all that.
// Every refused record must also leave the receiving end unchanged.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ChannelEndpoint,
  ChannelError,
  type ChannelOptions,
  type ChannelEndpoint as Endpoint,
} from "../../src/channel/endpoint.ts";
import type { InnerRequest } from "../../src/channel/inner.ts";
import { type ChannelContext, deriveDirectionKeys } from "../../src/channel/keys.ts";
import { openRecord, sealRecord } from "../../src/channel/record.ts";
import { fromUtf8, toHex, utf8 } from "../../src/crypto/bytes.ts";

const SECRET = new Uint8Array(32).map((_, i) => i * 7 + 1);
const CONTEXT: ChannelContext = {
  secret: SECRET,
  nonce: "AAABk5nJ6wCqu8zd7v8AEQ3Gx4xQbF0U0xYn2oKvH7A",
  cnonce: "5f4dcc3b5aa765d61d8327deb882cf99",
  clientId: "pne-1",
  serverId: "cpns",
  sessionId: "c2Vzc2lvbi0xLTAwMDAwMDA",
};
const PLACE = {
  sessionId: CONTEXT.sessionId,
  method: "POST",
  path: `/cpns/v1/channels/${CONTEXT.sessionId}`,
};
const SECRET_PAYLOAD = "the-plaintext-a-relay-must-never-see";

function request(body = SECRET_PAYLOAD): InnerRequest {
  return {
    method: "POST",
    target: "/cpns/v1/otks",
    headers: [["content-type", "application/json"]],
    body: utf8(JSON.stringify({ note: body })),
  };
}

async function pair(options: ChannelOptions = {}, context: ChannelContext = CONTEXT) {
  return {
    client: await ChannelEndpoint.open("client", context, options),
    server: await ChannelEndpoint.open("server", context, options),
  };
}

async function refused(promise: Promise<unknown>, reason: string): Promise<void> {
  await expect(promise).rejects.toBeInstanceOf(ChannelError);
  await promise.catch((err: ChannelError) => expect(err.reason).toBe(reason));
}

/** One request through the channel and its answer; returns the plaintext the server saw. */
async function exchange(client: Endpoint, server: Endpoint, body = SECRET_PAYLOAD) {
  const sent = await client.sealRequest(request(body), PLACE);
  const opened = await server.openRequest(sent.record, PLACE);
  if (opened.request === "close") throw new Error("unexpected close");
  const answer = await server.sealResponse(
    { status: 200, headers: [], body: opened.request.body },
    PLACE,
    opened.binding,
  );
  const response = await client.openResponse(answer, PLACE, sent.binding);
  if (response === "closed") throw new Error("unexpected close");
  return fromUtf8(response.body);
}

describe("[CHANNEL-KEYS][CHANNEL-BINDING] the payload arrives intact and the carrier sees only ciphertext", () => {
  it("[CHANNEL-KEYS] request and response round-trip; neither record contains the plaintext", async () => {
    const { client, server } = await pair();
    const sent = await client.sealRequest(request(), PLACE);
    const hexPayload = toHex(utf8(SECRET_PAYLOAD));
    expect(toHex(sent.record)).not.toContain(hexPayload);
    expect(toHex(sent.record)).not.toContain(toHex(utf8("/cpns/v1/otks")));
    const opened = await server.openRequest(sent.record, PLACE);
    if (opened.request === "close") throw new Error("unexpected close");
    expect(opened.request.target).toBe("/cpns/v1/otks");
    const answer = await server.sealResponse(
      { status: 201, headers: [["x-echo", "1"]], body: utf8(SECRET_PAYLOAD) },
      PLACE,
      opened.binding,
    );
    expect(toHex(answer)).not.toContain(hexPayload);
    const response = await client.openResponse(answer, PLACE, sent.binding);
    if (response === "closed") throw new Error("unexpected close");
    expect(response.status).toBe(201);
    expect(fromUtf8(response.body)).toBe(SECRET_PAYLOAD);
  });

  it("[CHANNEL-KEYS] 64 KiB bodies round-trip", async () => {
    const { client, server } = await pair();
    const big = "x".repeat(64 * 1024);
    expect(await exchange(client, server, big)).toContain(big);
  });
});

describe("[CHANNEL-REPLAY] replay, reordering and the window", () => {
  it("[CHANNEL-REPLAY] a request replayed is refused; the next genuine one still opens", async () => {
    const { client, server } = await pair();
    const sent = await client.sealRequest(request(), PLACE);
    await server.openRequest(sent.record, PLACE);
    await refused(server.openRequest(sent.record, PLACE), "replay");
    expect(await exchange(client, server)).toContain(SECRET_PAYLOAD);
  });

  it("[CHANNEL-REPLAY] reordered within the window: each accepted once; older than the window: refused", async () => {
    const { client, server } = await pair();
    const records = [];
    for (let i = 0; i < 40; i++)
      records.push((await client.sealRequest(request(`m${i}`), PLACE)).record);
    await server.openRequest(records[39] as Uint8Array, PLACE);
    await server.openRequest(records[10] as Uint8Array, PLACE); // 29 behind: inside the window of 32
    await refused(server.openRequest(records[10] as Uint8Array, PLACE), "replay");
    await refused(server.openRequest(records[2] as Uint8Array, PLACE), "replay"); // 37 behind
  });

  it("[CHANNEL-REPLAY] dropped, then replayed later: accepted once if still in the window, never twice", async () => {
    const { client, server } = await pair();
    const dropped = await client.sealRequest(request("dropped"), PLACE);
    for (let i = 0; i < 5; i++) await exchange(client, server);
    const late = await server.openRequest(dropped.record, PLACE);
    expect(late.binding.seq).toBe(0);
    await refused(server.openRequest(dropped.record, PLACE), "replay");
  });

  it("[CHANNEL-REPLAY] ten concurrent copies of one record: exactly one is accepted", async () => {
    const { client, server } = await pair();
    const sent = await client.sealRequest(request(), PLACE);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, () => server.openRequest(sent.record, PLACE)),
    );
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
  });

  it("[CHANNEL-REPLAY] a record sent back the other way (reflection) is refused", async () => {
    const { client } = await pair();
    const sent = await client.sealRequest(request(), PLACE);
    // The client's own request handed back to it as if it were the server's answer.
    await refused(client.openResponse(sent.record, PLACE, sent.binding), "record");
    const server = await ChannelEndpoint.open("server", CONTEXT);
    const otherServer = await ChannelEndpoint.open("server", CONTEXT);
    const opened = await server.openRequest(sent.record, PLACE);
    const answer = await server.sealResponse(
      { status: 200, headers: [], body: new Uint8Array(0) },
      PLACE,
      opened.binding,
    );
    // A server's response offered to a server as a request.
    await refused(otherServer.openRequest(answer, PLACE), "record");
  });

  it("[CHANNEL-REPLAY] a record replayed into another session (same secret, other session id or nonces) is refused", async () => {
    const { client } = await pair();
    const sent = await client.sealRequest(request(), PLACE);
    for (const other of [
      { ...CONTEXT, sessionId: "b3RoZXItc2Vzc2lvbi0wMDAw" },
      { ...CONTEXT, cnonce: "00000000000000000000000000000000" },
      { ...CONTEXT, clientId: "pne-2" },
    ]) {
      const server = await ChannelEndpoint.open("server", other);
      await refused(
        server.openRequest(sent.record, { ...PLACE, sessionId: other.sessionId }),
        "record",
      );
      await refused(server.openRequest(sent.record, PLACE), "record");
    }
  });
});

describe("[CHANNEL-BINDING] place and request binding", () => {
  it("[CHANNEL-BINDING] a record moved to another path or method is refused", async () => {
    const { client, server } = await pair();
    const sent = await client.sealRequest(request(), PLACE);
    await refused(
      server.openRequest(sent.record, { ...PLACE, path: "/cpns/v1/channels/x" }),
      "record",
    );
    await refused(server.openRequest(sent.record, { ...PLACE, method: "PUT" }), "record");
    await server.openRequest(sent.record, PLACE);
  });

  it("[CHANNEL-BINDING] responses swapped between two requests are refused", async () => {
    const { client, server } = await pair();
    const first = await client.sealRequest(request("first"), PLACE);
    const second = await client.sealRequest(request("second"), PLACE);
    const openedFirst = await server.openRequest(first.record, PLACE);
    const openedSecond = await server.openRequest(second.record, PLACE);
    const answerFirst = await server.sealResponse(
      { status: 200, headers: [], body: utf8("for first") },
      PLACE,
      openedFirst.binding,
    );
    const answerSecond = await server.sealResponse(
      { status: 200, headers: [], body: utf8("for second") },
      PLACE,
      openedSecond.binding,
    );
    await refused(client.openResponse(answerFirst, PLACE, second.binding), "record");
    const ok = await client.openResponse(answerSecond, PLACE, second.binding);
    expect(ok !== "closed" && fromUtf8(ok.body)).toBe("for second");
  });

  it("[CHANNEL-BINDING][CHANNEL-REPLAY] every single-byte change, truncation or extension of a record is refused and changes nothing", async () => {
    const { client, server } = await pair();
    const sent = await client.sealRequest(request(), PLACE);
    for (let i = 0; i < sent.record.length; i++) {
      const flipped = sent.record.slice();
      flipped[i] = (flipped[i] as number) ^ 0x01;
      await expect(server.openRequest(flipped, PLACE)).rejects.toBeInstanceOf(ChannelError);
    }
    for (const length of [0, 1, 13, 14, 29, sent.record.length - 1]) {
      await expect(
        server.openRequest(sent.record.subarray(0, length), PLACE),
      ).rejects.toBeInstanceOf(ChannelError);
    }
    const extended = new Uint8Array(sent.record.length + 1);
    extended.set(sent.record);
    await expect(server.openRequest(extended, PLACE)).rejects.toBeInstanceOf(ChannelError);
    // Nothing above moved the window: the genuine record still opens, once.
    await server.openRequest(sent.record, PLACE);
  });

  it("[CHANNEL-BINDING] fast-check: any mutation of a genuine record is refused", async () => {
    const { client, server } = await pair();
    const sent = await client.sealRequest(request(), PLACE);
    const genuine = sent.record;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: genuine.length - 1 }), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.nat({ max: genuine.length }),
        fc.uint8Array({ maxLength: 8 }),
        async (flips, cut, tail) => {
          const mutated = new Uint8Array([...genuine.subarray(0, cut), ...tail]);
          for (const [index, mask] of flips) {
            if (index < mutated.length) mutated[index] = (mutated[index] as number) ^ mask;
          }
          if (toHex(mutated) === toHex(genuine)) return;
          await expect(server.openRequest(mutated, PLACE)).rejects.toBeInstanceOf(ChannelError);
        },
      ),
      { numRuns: 300 },
    );
    await server.openRequest(genuine, PLACE);
  });
});

describe("[CHANNEL-REKEY] re-keying before the limits", () => {
  it("[CHANNEL-REKEY] the sender moves to a new epoch every N records; the receiver follows; old epochs are refused after", async () => {
    const { client, server } = await pair({ maxRecordsPerEpoch: 3 });
    const kept = [];
    for (let i = 0; i < 10; i++) {
      const sent = await client.sealRequest(request(`r${i}`), PLACE);
      kept.push(sent);
      // A relay holds back record 7 (epoch 2) and delivers everything else.
      if (i !== 7) await server.openRequest(sent.record, PLACE);
    }
    expect(client.sendEpoch).toBe(3);
    expect(kept.map((s) => s.binding.epoch)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3]);
    // Epoch 3 is current at the server now: the held-back epoch-2 record is refused.
    await refused(server.openRequest(kept[7]?.record as Uint8Array, PLACE), "record");
  });

  it("[CHANNEL-REKEY] a byte budget re-keys too; an epoch that skips ahead is refused", async () => {
    const { client, server } = await pair({ maxBytesPerEpoch: 200 });
    const first = await client.sealRequest(request("a".repeat(120)), PLACE);
    const second = await client.sealRequest(request("b".repeat(120)), PLACE);
    const third = await client.sealRequest(request("c".repeat(120)), PLACE);
    expect([first.binding.epoch, second.binding.epoch, third.binding.epoch]).toEqual([0, 1, 2]);
    await refused(server.openRequest(third.record, PLACE), "record"); // epoch 2 while at 0
    await server.openRequest(first.record, PLACE);
    await server.openRequest(second.record, PLACE);
    await server.openRequest(third.record, PLACE);
  });
});

describe("[CHANNEL-CLOSE] close and expiry", () => {
  it("[CHANNEL-CLOSE] after close neither end accepts a record, not even one sent before the close", async () => {
    const { client, server } = await pair();
    const early = await client.sealRequest(request("sent before close"), PLACE);
    const closing = await client.sealClose(PLACE);
    const opened = await server.openRequest(closing.record, PLACE);
    expect(opened.request).toBe("close");
    const bye = await server.sealResponse("close", PLACE, opened.binding);
    expect(await client.openResponse(bye, PLACE, closing.binding)).toBe("closed");
    expect(server.state).toBe("closed");
    expect(client.state).toBe("closed");
    await refused(server.openRequest(early.record, PLACE), "closed");
    await refused(client.sealRequest(request(), PLACE), "closed");
    await expect(
      server.sealResponse(
        { status: 200, headers: [], body: new Uint8Array(0) },
        PLACE,
        opened.binding,
      ),
    ).rejects.toBeInstanceOf(ChannelError);
  });

  it("[CHANNEL-CLOSE] past its expiry a channel neither sends nor accepts", async () => {
    let now = 1_000;
    const { client, server } = await pair({ expiresAtMs: 2_000, now: () => now });
    const sent = await client.sealRequest(request(), PLACE);
    now = 2_000;
    await refused(server.openRequest(sent.record, PLACE), "expired");
    await refused(client.sealRequest(request(), PLACE), "expired");
  });
});

/**
 * Fault injection for races: a WebCrypto whose first decryption finishes only when released,
 * so a test can let another record overtake it deterministically.
 */
function holdFirstDecryption(): { crypto: Crypto; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let held = false;
  const subtle = globalThis.crypto.subtle;
  const crypto = {
    getRandomValues: <T extends ArrayBufferView>(array: T) =>
      globalThis.crypto.getRandomValues(array),
    subtle: new Proxy(subtle, {
      get(target, name) {
        if (name === "decrypt") {
          return async (...args: Parameters<SubtleCrypto["decrypt"]>) => {
            // Which call is held is decided when it starts, not when it ends: the two
            // decryptions run concurrently in the crypto thread pool and may finish in
            // either order, and holding the second one instead would deadlock the test.
            const isFirst = !held;
            held = true;
            const result = await target.decrypt(...args);
            if (isFirst) await gate;
            return result;
          };
        }
        const value = Reflect.get(target, name);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }),
  } as unknown as Crypto;
  return { crypto, release };
}

describe("[CHANNEL-REPLAY][CHANNEL-BINDING] second layers behind the direction keys", () => {
  it("[CHANNEL-REPLAY] a record of the old epoch still decrypting when the receiver moves on is refused (no cross-epoch window)", async () => {
    // Fault injection: hold the first decryption until we release it, so an epoch-0 record
    // passes the epoch check, then the receiver moves to epoch 1, then the decryption ends.
    const { crypto: delaying, release } = holdFirstDecryption();
    const client = await ChannelEndpoint.open("client", CONTEXT, { maxRecordsPerEpoch: 2 });
    const server = await ChannelEndpoint.open("server", CONTEXT, { crypto: delaying });
    const old0 = await client.sealRequest(request("epoch 0 seq 0"), PLACE);
    await client.sealRequest(request("epoch 0 seq 1"), PLACE);
    const new0 = await client.sealRequest(request("epoch 1 seq 0"), PLACE);
    expect(new0.binding.epoch).toBe(1);
    const slow = server.openRequest(old0.record, PLACE); // held inside decrypt
    await server.openRequest(new0.record, PLACE); // moves the server to epoch 1
    release();
    await refused(slow, "record");
  });

  it("[CHANNEL-BINDING] a record whose type does not belong to its direction is refused", async () => {
    const { server } = await pair();
    const keys = await deriveDirectionKeys(CONTEXT, "c2s", 0);
    // Someone holding the client's keys sends a "response" towards the server.
    const odd = await sealRecord(
      keys,
      { type: "response", epoch: 0, seq: 0 },
      PLACE,
      new Uint8Array(4),
    );
    await refused(server.openRequest(odd, PLACE), "record");
  });

  it("[CHANNEL-BINDING] with the same keys, a record carried for another session id does not open", async () => {
    const keys = await deriveDirectionKeys(CONTEXT, "c2s", 0);
    const header = { type: "request" as const, epoch: 0, seq: 0 };
    const record = await sealRecord(keys, header, PLACE, utf8("x"));
    expect(await openRecord(keys, record, header, PLACE)).toBeDefined();
    expect(
      await openRecord(keys, record, header, { ...PLACE, sessionId: "other" }),
    ).toBeUndefined();
  });

  it("[CHANNEL-CLOSE] a request still decrypting when the close is accepted is refused", async () => {
    const { crypto: delaying, release } = holdFirstDecryption();
    const client = await ChannelEndpoint.open("client", CONTEXT);
    const server = await ChannelEndpoint.open("server", CONTEXT, { crypto: delaying });
    const late = await client.sealRequest(request("in flight"), PLACE);
    const closing = await client.sealClose(PLACE);
    const slow = server.openRequest(late.record, PLACE); // held inside decrypt
    const opened = await server.openRequest(closing.record, PLACE);
    await server.sealResponse("close", PLACE, opened.binding);
    release();
    await refused(slow, "closed");
  });
});

describe("[CHANNEL-REKEY][CHANNEL-CLOSE] close at the re-key limit", () => {
  it("[CHANNEL-REKEY][CHANNEL-CLOSE] with one record per epoch, the close and its answer each re-key and still close both ends", async () => {
    const { client, server } = await pair({ maxRecordsPerEpoch: 1 });
    expect(await exchange(client, server)).toContain(SECRET_PAYLOAD);
    const closing = await client.sealClose(PLACE);
    expect(closing.binding.epoch).toBe(1);
    const opened = await server.openRequest(closing.record, PLACE);
    const bye = await server.sealResponse("close", PLACE, opened.binding);
    expect(await client.openResponse(bye, PLACE, closing.binding)).toBe("closed");
    expect([client.state, server.state]).toEqual(["closed", "closed"]);
  });
});
