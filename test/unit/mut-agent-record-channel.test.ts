/**
 * Issue #9 (mutation testing of src/agent): the client end of an open secure
 * channel (src/agent/record-channel.ts, spec/channel.md §2-§6), from the
 * attacker's side. The first run (main at 8e7d0c4) left its refusals of a
 * hostile serving end or path undetected: an opening answer without a valid
 * session id, a 4xx or a 200 that is not a record, a 5xx that must abandon the
 * channel (500 exactly, with a close record) while a 4xx must not, the body of
 * a refused close left unread, a replayed or tampered answer, a close record
 * answering a request, a response answering a close.
 *
 * Both ends are the real ChannelEndpoint (src/channel/endpoint.ts) in process:
 * the serving end opens each record the client posts and seals its answer; a
 * fault wrapper around it plays the path or a misbehaving server.
 */

import { describe, expect, it } from "vitest";
import {
  openingAnswer,
  RecordChannel,
  type RecordChannelPlace,
  type RecordChannelSetup,
} from "../../src/agent/record-channel.ts";
import { ChannelEndpoint } from "../../src/channel/endpoint.ts";
import type { InnerRequest, InnerResponse } from "../../src/channel/inner.ts";
import type { ChannelContext } from "../../src/channel/keys.ts";
import { CHANNEL_MEDIA_TYPE, decodeHeader } from "../../src/channel/record.ts";
import type { FetchLike } from "../../src/digest/index.ts";
import { spyingCrypto } from "../spying-crypto.ts";

const SESSION = "Ses5ion_id-of-22-chars";
const RECORD_URL = `http://cpns.test/cpns/v1/channels/${SESSION}`;
const SECRET = new Uint8Array(32).fill(0x5a);
const text = new TextEncoder();

function context(): ChannelContext {
  return {
    secret: SECRET.slice(),
    nonce: "server-nonce-1",
    cnonce: "client-cnonce-1",
    clientId: "pne-rc-1",
    serverId: "cpns-realm",
    sessionId: SESSION,
  };
}

/** RecordChannel's constructor is for its subclasses: this one opens on a given context. */
class TestChannel extends RecordChannel {
  static async make(setup: RecordChannelSetup, place: RecordChannelPlace): Promise<TestChannel> {
    return new TestChannel(await RecordChannel.endpointOf(setup), place);
  }
}

const placeOf = (request: Request) => ({
  sessionId: SESSION,
  method: "POST",
  path: new URL(request.url).pathname,
});

/** The honest serving end's answer to an inner request: what it received, as JSON. */
function echo(inner: InnerRequest): InnerResponse {
  const seen = {
    method: inner.method,
    target: inner.target,
    body: new TextDecoder().decode(inner.body),
  };
  return {
    status: 200,
    headers: [["content-type", "application/json"]],
    body: text.encode(JSON.stringify(seen)),
  };
}

function recordResponse(record: Uint8Array, status = 200): Response {
  return new Response(record as BodyInit, {
    status,
    headers: { "content-type": CHANNEL_MEDIA_TYPE },
  });
}

/** What the serving end does with one posted record (an honest answer unless a test says otherwise). */
async function honest(
  server: ChannelEndpoint,
  request: Request,
  record: Uint8Array,
): Promise<Response> {
  const place = placeOf(request);
  const opened = await server.openRequest(record, place);
  const answer =
    opened.request === "close"
      ? await server.sealResponse("close", place, opened.binding)
      : await server.sealResponse(echo(opened.request), place, opened.binding);
  return recordResponse(answer);
}

type Fault = (request: Request, record: Uint8Array) => Promise<Response | undefined>;

/** A client channel and its serving end; `wire` lists the record types the client put on the wire. */
async function pair() {
  const server = await ChannelEndpoint.open("server", context());
  const wire: string[] = [];
  const faults: Fault[] = [];
  const transport: FetchLike = async (request) => {
    const record = new Uint8Array(await request.arrayBuffer());
    wire.push(decodeHeader(record)?.type ?? "garbage");
    const fault = faults.shift();
    const injected = fault ? await fault(request, record) : undefined;
    return injected ?? honest(server, request, record);
  };
  const channel = await TestChannel.make(
    { context: context() },
    { sessionId: SESSION, serverId: "cpns-realm", recordUrl: RECORD_URL, transport },
  );
  return { channel, server, wire, faults };
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error, "the call should have been refused").toBeDefined();
  return (error as { code?: string }).code;
}

describe("openingAnswer: the serving end's answer to an opening", () => {
  const answer = (body: unknown) =>
    new Response(typeof body === "string" ? body : JSON.stringify(body), {
      status: 201,
      headers: { "content-type": "application/json" },
    });

  // Answers record-channel.ts:25 (ConditionalExpression false, LogicalOperator &&, typeof check
  // false, both anchors of the regex dropped) and :25-26 (the refusal's block and strings).
  it("[CHMODEL-NO-DATA-BEFORE-AUTH] an answer without a well-formed session id is refused as ERR_CHANNEL_RECORD", async () => {
    const hostile: unknown[] = [
      {},
      { sessionId: 12 },
      // Not a string, though String() of it would match the pattern.
      { sessionId: ["A".repeat(22)] },
      { sessionId: "A".repeat(21) },
      { sessionId: `../${"A".repeat(22)}` },
      { sessionId: `${"A".repeat(22)}/close` },
      { sessionId: `${"A".repeat(21)}=` },
      "not json at all",
    ];
    for (const body of hostile) {
      const error = await openingAnswer(answer(body)).then(
        (value) => value,
        (err: unknown) => err,
      );
      expect(error, JSON.stringify(body)).toMatchObject({ code: "ERR_CHANNEL_RECORD" });
      expect((error as Error).message, JSON.stringify(body)).toMatch(/session id/);
    }
  });

  // Answers record-channel.ts:30 (ConditionalExpression true: an expiry that is no number).
  it("[CHANNEL-CLOSE] an expiry that is not a number is ignored; a number is taken in seconds", async () => {
    expect(await openingAnswer(answer({ sessionId: SESSION }))).toEqual({ sessionId: SESSION });
    const odd = await openingAnswer(answer({ sessionId: SESSION, expiresAt: "1750000000" }));
    expect(odd).toEqual({ sessionId: SESSION });
    expect("expiresAtMs" in odd).toBe(false);
    expect(await openingAnswer(answer({ sessionId: SESSION, expiresAt: 1_750_000_000 }))).toEqual({
      sessionId: SESSION,
      expiresAtMs: 1_750_000_000_000,
    });
  });
});

describe("RecordChannel against a hostile path or serving end", () => {
  it("[SEED-5.x.4-1] an honest serving end answers each request through the channel", async () => {
    const { channel, wire } = await pair();
    const res = await channel.fetch("/cpns/v1/echo?x=1", { method: "POST", body: "hello" });
    expect(await res.json()).toEqual({
      method: "POST",
      target: "/cpns/v1/echo?x=1",
      body: "hello",
    });
    const get = await channel.fetch("/cpns/v1/whoami");
    expect(await get.json()).toEqual({ method: "GET", target: "/cpns/v1/whoami", body: "" });
    expect(wire).toEqual(["request", "request"]);
  });

  // Answers record-channel.ts:131 (EqualityOperator `res.status > 500`).
  it("[PEERCH-ABANDON] a 500 in clear abandons the channel: a close record goes out and nothing after it", async () => {
    const { channel, wire, faults } = await pair();
    faults.push(async () => new Response("boom", { status: 500 }));
    const error = await channel.fetch("/cpns/v1/whoami").then(
      () => undefined,
      (err: unknown) => err as { status?: number; code?: string },
    );
    expect(error).toMatchObject({ status: 500, code: "HTTP_500" });
    expect(wire).toEqual(["request", "close"]);
    expect(channel.state).toBe("closed");
    expect(await codeOf(channel.fetch("/cpns/v1/whoami"))).toBe("ERR_CHANNEL_CLOSED");
    expect(wire).toEqual(["request", "close"]);
  });

  it("[PEERCH-ABANDON] a 4xx in clear does not abandon the channel: the next request goes through", async () => {
    const { channel, wire, faults } = await pair();
    faults.push(async () => Response.json({ code: "ERR_RATE_LIMITED" }, { status: 429 }));
    expect(await codeOf(channel.fetch("/cpns/v1/whoami"))).toBe("ERR_RATE_LIMITED");
    expect(wire).toEqual(["request"]);
    expect(channel.state).toBe("open");
    expect((await channel.fetch("/cpns/v1/whoami")).status).toBe(200);
  });

  // Answers record-channel.ts:162 (the else block emptied) and :159 (`res.status === 200` true):
  // a refused close's body is released unread (cancelled: the connection it holds is given back),
  // never read as if it were a record (a path that holds that body open would hang the abandon).
  it("[PEERCH-ABANDON] when the abandoning close is refused too, its answer's body is released unread", async () => {
    const { channel, wire, faults } = await pair();
    let cancelled = false;
    let read = false;
    const held = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          read = true;
          controller.close();
        },
        cancel() {
          cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    faults.push(async () => new Response("gone", { status: 503 }));
    faults.push(async () => new Response(held, { status: 502 }));
    expect(await codeOf(channel.fetch("/cpns/v1/whoami"))).toBe("HTTP_503");
    expect(wire).toEqual(["request", "close"]);
    expect(read).toBe(false);
    expect(cancelled).toBe(true);
    // This end is closing whatever the path did with its close: it sends nothing more.
    expect(channel.state).toBe("closing");
    expect(await codeOf(channel.fetch("/cpns/v1/whoami"))).toBe("ERR_CHANNEL_CLOSED");
    expect(wire).toEqual(["request", "close"]);
  });

  // Answers record-channel.ts:128 (LogicalOperator &&, and `res.status !== 200` false): a refusal
  // that claims the record media type is still a refusal, never opened as an answer.
  it("[CHANNEL-BINDING] a 4xx labelled as a record is reported as the refusal it is", async () => {
    const { channel, faults } = await pair();
    faults.push(async () => recordResponse(new Uint8Array(64).fill(1), 403));
    const error = await channel.fetch("/cpns/v1/whoami").then(
      () => undefined,
      (err: unknown) => err as { status?: number; code?: string },
    );
    expect(error).toMatchObject({ status: 403, code: "HTTP_403" });
    expect(channel.state).toBe("open");
  });

  // Answers record-channel.ts:128 (LogicalOperator &&, and the content-type check false): a 200
  // that is not a record (a captive portal, a proxy's page) is not opened as one.
  it("[CHANNEL-BINDING] a 200 that is not a record is reported as what it is, not opened", async () => {
    const { channel, faults } = await pair();
    faults.push(
      async () =>
        new Response("<html>welcome</html>", {
          status: 200,
          headers: { "content-type": "text/html" },
        }),
    );
    const error = await channel.fetch("/cpns/v1/whoami").then(
      () => undefined,
      (err: unknown) => err as { status?: number; code?: string },
    );
    expect(error).toMatchObject({ status: 200, code: "HTTP_200" });
    expect(channel.state).toBe("open");
  });

  // The counterpart of the replay below: a record that does not open is ERR_CHANNEL_RECORD.
  it("[CHANNEL-BINDING] a tampered answer is refused as ERR_CHANNEL_RECORD", async () => {
    const { channel, server, faults } = await pair();
    faults.push(async (request, record) => {
      const answer = new Uint8Array(await (await honest(server, request, record)).arrayBuffer());
      answer[answer.length - 1] = (answer.at(-1) ?? 0) ^ 1;
      return recordResponse(answer);
    });
    expect(await codeOf(channel.fetch("/cpns/v1/whoami"))).toBe("ERR_CHANNEL_RECORD");
  });

  // Answers record-channel.ts:177 (`err.reason === "replay"` false, its string, the code's
  // string). A second instance of the serving end with the same keys (a restart, a clone)
  // answers with a sequence number the client already took: it opens, but is refused as a replay.
  it("[CHANNEL-REPLAY] an answer whose sequence number was already used is refused as ERR_CHANNEL_REPLAY", async () => {
    const { channel, faults } = await pair();
    expect((await channel.fetch("/cpns/v1/whoami")).status).toBe(200);
    const clone = await ChannelEndpoint.open("server", context());
    faults.push((request, record) => honest(clone, request, record));
    expect(await codeOf(channel.fetch("/cpns/v1/whoami"))).toBe("ERR_CHANNEL_REPLAY");
  });

  // Answers record-channel.ts:176 (`!(err instanceof ChannelError)` false): a request this end
  // cannot even encode is its caller's fault, not a closed channel; the channel stays usable.
  it("[CHANNEL-CLOSE] an oversized request target is refused here, nothing is sent, and the channel is not reported closed", async () => {
    const { channel, wire } = await pair();
    const error = await channel.fetch(`/cpns/v1/whoami?q=${"a".repeat(70_000)}`).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(RangeError);
    expect((error as { code?: string }).code).toBeUndefined();
    expect(wire).toEqual([]);
    expect(channel.state).toBe("open");
    expect((await channel.fetch("/cpns/v1/whoami")).status).toBe(200);
  });

  // Answers record-channel.ts:74 (the crypto provider dropped from the endpoint's options).
  it("[CHANNEL-KEYS] the channel derives and seals with the crypto provider it was given", async () => {
    const used: string[] = [];
    const provider = spyingCrypto((name) => {
      used.push(name);
    });
    const server = await ChannelEndpoint.open("server", context());
    const channel = await TestChannel.make(
      { context: context(), crypto: provider },
      {
        sessionId: SESSION,
        serverId: "cpns-realm",
        recordUrl: RECORD_URL,
        transport: async (request) =>
          honest(server, request, new Uint8Array(await request.arrayBuffer())),
      },
    );
    expect(used).toContain("deriveBits");
    used.length = 0;
    expect((await channel.fetch("/cpns/v1/whoami")).status).toBe(200);
    expect(used).toContain("encrypt");
    expect(used).toContain("decrypt");
  });

  // Answers record-channel.ts:102 (`answer === "closed"` false, and its code's string): a close
  // record bound to a request is no response (it would read as an empty 200).
  it("[CHANNEL-CLOSE] a close record answering a request is refused as ERR_CHANNEL_CLOSED, never an empty 200", async () => {
    const { channel, wire, faults } = await pair();
    // The serving end's clone is made to close by a close record of another client end with the
    // same keys, and answers the real request with that close, bound to the request.
    const clone = await ChannelEndpoint.open("server", context());
    const otherClient = await ChannelEndpoint.open("client", context());
    // The client closes once its request is on the wire; the request is answered only once that
    // close is on the wire too (the client is closing then, where a close answer is what it waits
    // for); the close itself is held meanwhile.
    let requestArrived!: () => void;
    const requestSent = new Promise<void>((resolve) => {
      requestArrived = resolve;
    });
    let closeArrived!: () => void;
    const closeSent = new Promise<void>((resolve) => {
      closeArrived = resolve;
    });
    let releaseClose!: () => void;
    const closeHeld = new Promise<void>((resolve) => {
      releaseClose = resolve;
    });
    const hostile: Fault = async (request, record) => {
      const header = decodeHeader(record);
      if (!header) throw new Error("no header");
      if (header.type === "close") {
        closeArrived();
        await closeHeld;
        return new Response("late", { status: 504 });
      }
      requestArrived();
      await closeSent;
      const place = placeOf(request);
      const otherClose = await otherClient.sealClose(place);
      await clone.openRequest(otherClose.record, place);
      const binding = { epoch: header.epoch, seq: header.seq };
      return recordResponse(await clone.sealResponse("close", place, binding));
    };
    faults.push(hostile, hostile);
    const pending = channel.fetch("/cpns/v1/whoami").then(
      () => "answered",
      (err: { code?: string }) => err.code,
    );
    await requestSent;
    const closing = channel.close().catch(() => undefined);
    expect(await pending).toBe("ERR_CHANNEL_CLOSED");
    expect(wire).toEqual(["request", "close"]);
    releaseClose();
    await closing;
  });

  // Answers record-channel.ts:110 (`answer !== "closed"` false, and its strings): a response
  // bound to the close record is not a close answer.
  it("[CHANNEL-CLOSE] a response answering a close is refused as ERR_CHANNEL_RECORD", async () => {
    const { channel, faults } = await pair();
    const clone = await ChannelEndpoint.open("server", context());
    faults.push(async (request, record) => {
      const header = decodeHeader(record);
      if (!header) throw new Error("no header");
      const ok: InnerResponse = { status: 200, headers: [], body: new Uint8Array(0) };
      return recordResponse(
        await clone.sealResponse(ok, placeOf(request), { epoch: header.epoch, seq: header.seq }),
      );
    });
    const error = await channel.close().then(
      () => undefined,
      (err: unknown) => err as { code?: string; message?: string },
    );
    expect(error?.code).toBe("ERR_CHANNEL_RECORD");
    expect(error?.message).toMatch(/close answer/);
  });
});
