/**
 * spec/channel.md §2-§4, the client's end of a CPNS secure channel once it is
 * open, whoever serves it (the CPNS Server: channel-client.ts; a PN GW:
 * peer-channel.ts): requests sealed as records and posted byte for byte to the
 * channel path, answers opened only as the answer to their own request. What
 * differs between the two is only how the channel opens.
 *
 * Implements: PEERCH-ABANDON, FFS-NO-TLS
 */
import { ChannelEndpoint, ChannelError, type ChannelLimits } from "../channel/endpoint.ts";
import { innerHeaders, innerToResponse } from "../channel/http.ts";
import type { ChannelContext } from "../channel/keys.ts";
import { CHANNEL_MEDIA_TYPE } from "../channel/record.ts";
import { INNER_ORIGIN } from "../channel/serve.ts";
import type { CryptoProvider } from "../crypto/provider.ts";
import type { FetchLike } from "../digest/index.ts";
import { CpnsError } from "../errors.ts";
import { problemOf } from "./agent.ts";

/** The serving end's answer to an opening: `{ sessionId, expiresAt }`, checked. */
export async function openingAnswer(
  res: Response,
): Promise<{ sessionId: string; expiresAtMs?: number }> {
  const body = (await res.json().catch(() => ({}))) as { sessionId?: unknown; expiresAt?: unknown };
  if (typeof body.sessionId !== "string" || !/^[A-Za-z0-9_-]{22}$/.test(body.sessionId)) {
    throw new CpnsError("ERR_CHANNEL_RECORD", "the channel answer has no session id");
  }
  return {
    sessionId: body.sessionId,
    ...(typeof body.expiresAt === "number" ? { expiresAtMs: body.expiresAt * 1000 } : {}),
  };
}

export interface RecordChannelSetup {
  context: ChannelContext;
  expiresAtMs?: number;
  /** This end's re-key limits (spec/channel.md §6). Default: the profile's. */
  limits?: ChannelLimits;
  now?: () => number;
  crypto?: CryptoProvider;
}

/** Where an open channel's records go, and whom it was opened with. */
export interface RecordChannelPlace {
  sessionId: string;
  /** The serving end's id: the CPNS Server's realm, or the PN GW's Entity ID. */
  serverId: string;
  /** `<base><channels path>/<sessionId>` */
  recordUrl: string;
  transport: FetchLike;
}

export class RecordChannel {
  readonly sessionId: string;
  readonly serverId: string;
  readonly #endpoint: ChannelEndpoint;
  readonly #recordUrl: string;
  readonly #transport: FetchLike;

  protected constructor(endpoint: ChannelEndpoint, place: RecordChannelPlace) {
    this.sessionId = place.sessionId;
    this.serverId = place.serverId;
    this.#endpoint = endpoint;
    this.#recordUrl = place.recordUrl;
    this.#transport = place.transport;
  }

  /** The client endpoint of `setup` (the caller zeroes its copy of the secret afterwards). */
  protected static endpointOf(setup: RecordChannelSetup): Promise<ChannelEndpoint> {
    return ChannelEndpoint.open("client", setup.context, {
      ...setup.limits,
      ...(setup.expiresAtMs !== undefined ? { expiresAtMs: setup.expiresAtMs } : {}),
      ...(setup.now ? { now: setup.now } : {}),
      ...(setup.crypto ? { crypto: setup.crypto } : {}),
    });
  }

  get state(): string {
    return this.#endpoint.state;
  }

  /** One request through the channel; the answer as a Response, as if from the serving end directly. */
  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const request = new Request(new URL(path, INNER_ORIGIN), init);
    const url = new URL(request.url);
    const body =
      request.method === "GET" || request.method === "HEAD"
        ? new Uint8Array(0)
        : new Uint8Array(await request.arrayBuffer());
    const sealed = await coded(() =>
      this.#endpoint.sealRequest(
        {
          method: request.method,
          target: url.pathname + url.search,
          headers: innerHeaders(request.headers),
          body,
        },
        this.#place(),
      ),
    );
    const answer = await this.#exchange(sealed.record, sealed.binding);
    if (answer === "closed") throw new CpnsError("ERR_CHANNEL_CLOSED");
    return innerToResponse(answer);
  }

  /** Closes both ends: the serving end answers the close record with its own. */
  async close(): Promise<void> {
    const sealed = await coded(() => this.#endpoint.sealClose(this.#place()));
    const answer = await this.#exchange(sealed.record, sealed.binding);
    if (answer !== "closed") throw new CpnsError("ERR_CHANNEL_RECORD", "no close answer");
  }

  #place() {
    return { sessionId: this.sessionId, method: "POST", path: new URL(this.#recordUrl).pathname };
  }

  async #exchange(
    record: Uint8Array,
    binding: { epoch: number; seq: number },
  ): ReturnType<ChannelEndpoint["openResponse"]> {
    let res: Response;
    try {
      res = await this.#post(record);
    } catch (err) {
      await this.#abandon();
      throw err;
    }
    if (res.status !== 200 || res.headers.get("content-type") !== CHANNEL_MEDIA_TYPE) {
      // The serving end (or something on the way) refused the record in clear: say what it said.
      // A 5xx says the record may or may not have arrived: see #abandon.
      if (res.status >= 500) await this.#abandon();
      throw await problemOf(res);
    }
    const answer = new Uint8Array(await res.arrayBuffer());
    return coded(() => this.#endpoint.openResponse(answer, this.#place(), binding));
  }

  async #post(record: Uint8Array): Promise<Response> {
    return this.#transport(
      new Request(this.#recordUrl, {
        method: "POST",
        headers: { "content-type": CHANNEL_MEDIA_TYPE },
        body: record as BodyInit,
      }),
    );
  }

  /**
   * A request whose answer never came may still be held somewhere on the path
   * and delivered later, where the serving end would accept it once (it is
   * fresh in the replay window). So the channel is given up at once: a close
   * record goes out (best effort), after which the serving end forgets the
   * channel and a late record finds nothing; this end sends nothing more either.
   */
  async #abandon(): Promise<void> {
    try {
      const sealed = await this.#endpoint.sealClose(this.#place());
      const res = await this.#post(sealed.record);
      if (res.status === 200) {
        const answer = new Uint8Array(await res.arrayBuffer());
        await this.#endpoint.openResponse(answer, this.#place(), sealed.binding);
      } else {
        await res.body?.cancel();
      }
    } catch {
      // Nothing more to do: this end is closing (it sends no record again) whatever happened.
    }
  }
}

/** The channel's refusals as the stable codes every other CPNS failure carries. */
async function coded<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (!(err instanceof ChannelError)) throw err;
    if (err.reason === "replay") throw new CpnsError("ERR_CHANNEL_REPLAY");
    if (err.reason === "record") throw new CpnsError("ERR_CHANNEL_RECORD");
    throw new CpnsError("ERR_CHANNEL_CLOSED");
  }
}
