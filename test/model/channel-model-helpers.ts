/**
 * What the model tests of the two secure-channel machines share (secure-channel-client.model.test.ts,
 * secure-channel-server.model.test.ts; issue #10 "Machines"): a real CPNS Server on loopback, an
 * entity with its agent and ServerChannel (src/agent/channel-client.ts), and the two gated
 * transports through which the channel's transient states are observed from outside:
 *
 * - `Wire` (model-helpers.ts) carries the agent's opening exchange and can hold it in flight, then
 *   send it to the real server or to an impostor: that is `establishing`;
 * - `RecordWire` carries the records: every record reaches the server at once, and its answer can be
 *   held on the way back and released later, one by one (a client that sent its close while an
 *   answer was still on its way, an answer that arrives after the client's expiry).
 *
 * Both record what they carried (the record headers: type, epoch, seq), so a driver can say from
 * outside that nothing was sent, or that a record went out under a new epoch.
 *
 * Implements: CHMODEL-MODEL-TESTS, SPEC-MODEL-TESTS
 */
import { ServerChannel } from "../../src/agent/channel-client.ts";
import type { ChannelLimits } from "../../src/channel/endpoint.ts";
import { CHANNEL_MEDIA_TYPE, decodeHeader, type RecordHeader } from "../../src/channel/record.ts";
import type { FetchLike } from "../../src/digest/index.ts";
import { type Device, enrollDevice } from "../e2e/peer-helpers.ts";
import type { TestServer } from "../e2e/server-helpers.ts";
import { type Outcome, settle, Wire } from "./model-helpers.ts";

export interface CarriedRecord {
  url: string;
  body: Uint8Array;
  header: RecordHeader;
}

/** The record transport: records reach the server at once; answers can be held on the way back. */
export class RecordWire {
  readonly sent: CarriedRecord[] = [];
  /** Answers only: the status of each record's answer, in order. */
  readonly statuses: number[] = [];
  /** The headers of the answers that were records (type, epoch, seq), in order. */
  readonly answerHeaders: RecordHeader[] = [];
  holdAnswers = false;
  readonly #held: Array<{ release: () => void }> = [];
  #waiters: Array<() => void> = [];

  readonly fetch: FetchLike = async (request) => {
    if (request.headers.get("content-type") !== CHANNEL_MEDIA_TYPE) return fetch(request);
    const body = new Uint8Array(await request.arrayBuffer());
    const header = decodeHeader(body);
    if (!header) throw new Error("record wire: the client sent something that is not a record");
    this.sent.push({ url: request.url, body, header });
    const answer = await fetch(request.url, {
      method: "POST",
      headers: { "content-type": CHANNEL_MEDIA_TYPE },
      body: body as BodyInit,
    });
    const bytes = new Uint8Array(await answer.arrayBuffer());
    this.statuses.push(answer.status);
    const answered =
      answer.headers.get("content-type") === CHANNEL_MEDIA_TYPE && decodeHeader(bytes);
    if (answered) this.answerHeaders.push(answered);
    if (this.holdAnswers) {
      await new Promise<void>((release) => {
        this.#held.push({ release });
        for (const waiter of this.#waiters.splice(0)) waiter();
      });
    }
    return new Response(bytes as BodyInit, { status: answer.status, headers: answer.headers });
  };

  get records(): number {
    return this.sent.length;
  }

  get heldAnswers(): number {
    return this.#held.length;
  }

  /** Resolves once `count` answers are held. */
  async heldAtLeast(count: number): Promise<void> {
    while (this.#held.length < count) {
      await new Promise<void>((r) => {
        this.#waiters.push(r);
      });
    }
  }

  /** Lets the oldest held answer go on to the client. */
  releaseOne(): void {
    const held = this.#held.shift();
    if (!held) throw new Error("record wire: no answer held");
    held.release();
  }

  releaseAll(): void {
    this.holdAnswers = false;
    while (this.#held.length > 0) this.releaseOne();
  }

  last(): CarriedRecord {
    const last = this.sent.at(-1);
    if (!last) throw new Error("record wire: nothing carried");
    return last;
  }
}

/** Re-sends a carried record as a path attacker would (raw HTTP, no client involved). */
export function resend(record: CarriedRecord): Promise<Response> {
  return fetch(record.url, {
    method: "POST",
    headers: { "content-type": CHANNEL_MEDIA_TYPE },
    body: record.body as BodyInit,
  });
}

export const OWNER = { userId: "alice", password: "alice-channel-model-1" };

/** One path's entity, its transports, its clock, and the channel once it opened. */
export class ChannelWorld {
  opening: Promise<Outcome<ServerChannel>> | undefined;
  outcome: Outcome<ServerChannel> | undefined;
  channel: ServerChannel | undefined;
  /** Client calls in flight whose answers are held (a fetch, a close). */
  readonly pending: Array<{ kind: "fetch" | "close"; outcome: Promise<Outcome<unknown>> }> = [];

  private constructor(
    readonly server: TestServer,
    readonly entity: Device,
    readonly wire: Wire,
    readonly records: RecordWire,
    readonly clock: { now: number },
    readonly limits: ChannelLimits,
  ) {}

  static async start(
    server: TestServer,
    entityId: string,
    limits: ChannelLimits = {},
  ): Promise<ChannelWorld> {
    const entity = await enrollDevice(server, OWNER, entityId, "PNE");
    return new ChannelWorld(
      server,
      entity,
      new Wire(server.url),
      new RecordWire(),
      { now: server.clock.now },
      limits,
    );
  }

  /** ServerChannel.open with the opening exchange held on the wire; resolves once it is held. */
  async beginOpening(): Promise<void> {
    this.wire.hold();
    const agent = this.server.agent({ store: this.entity.store, fetch: this.wire.fetch });
    const opening = settle(
      ServerChannel.open({
        agent,
        store: this.entity.store,
        entityId: this.entity.entityId,
        serverUrl: this.server.url,
        fetch: this.records.fetch,
        now: () => this.clock.now,
        limits: this.limits,
      }),
    );
    this.opening = opening;
    const early = opening.then((outcome) => {
      throw new Error(`settled before any request: ${JSON.stringify(outcome)}`);
    });
    await Promise.race([this.wire.reached(), early]);
  }

  /** Lets the held opening go to `origin` and waits for its outcome. */
  async finishOpening(origin: string): Promise<Outcome<ServerChannel>> {
    const opening = this.opening;
    if (!opening) throw new Error("no opening in flight");
    this.opening = undefined;
    this.wire.release(origin);
    const outcome = await opening;
    this.outcome = outcome;
    if (outcome.ok) this.channel = outcome.value;
    return outcome;
  }

  /** A channel request whose answer is held on the way back; resolves once it is held. */
  async fetchHeld(path: string): Promise<void> {
    const channel = this.open();
    this.records.holdAnswers = true;
    const held = this.records.heldAnswers;
    this.pending.push({ kind: "fetch", outcome: settle(channel.fetch(path)) });
    await this.records.heldAtLeast(held + 1);
  }

  /** The client's close, its answer held on the way back; resolves once it is held. */
  async closeHeld(): Promise<void> {
    const channel = this.open();
    this.records.holdAnswers = true;
    const held = this.records.heldAnswers;
    this.pending.push({ kind: "close", outcome: settle(channel.close()) });
    await this.records.heldAtLeast(held + 1);
  }

  /** Releases the oldest held answer and returns what the client made of it. */
  async releaseNext(): Promise<{ kind: "fetch" | "close"; outcome: Outcome<unknown> }> {
    const next = this.pending.shift();
    if (!next) throw new Error("nothing pending");
    this.records.releaseOne();
    return { kind: next.kind, outcome: await next.outcome };
  }

  open(): ServerChannel {
    if (!this.channel) throw new Error("no channel");
    return this.channel;
  }

  async drain(): Promise<void> {
    if (this.opening) await this.finishOpening(this.server.url);
    this.records.releaseAll();
    await Promise.all(this.pending.splice(0).map((p) => p.outcome));
  }
}
