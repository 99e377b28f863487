/**
 * Seed 5.x.4, the entity's side of the CPNS secure channel with the CPNS
 * Server (spec/channel.md): open it with one Digest request as the entity
 * (EUKey, qop=auth-int, the server's rspauth required: the exchange is the
 * handshake), then send requests as records. Give it the PN GW relay's
 * transport and the PNE's traffic crosses the PN GW as ciphertext only: the
 * PN GW sees a session id and record sizes, never a route, a header or a body.
 *
 * Implements: SEED-5.x.4-1, SEED-5.x.4-2, SEED-5.x.4-3, FFS-NO-TLS, GATEWAY-RELAY-E2E
 */
import { ChannelEndpoint, ChannelError } from "../channel/endpoint.ts";
import { innerHeaders, innerToResponse } from "../channel/http.ts";
import { CHANNEL_MEDIA_TYPE } from "../channel/record.ts";
import { fromBase64url } from "../crypto/bytes.ts";
import type { CryptoProvider } from "../crypto/provider.ts";
import { digestExchangeOf, type FetchLike } from "../digest/index.ts";
import { CpnsError } from "../errors.ts";
import { type EntityAgent, problemOf } from "./agent.ts";
import type { DeviceKeyStore } from "./keystore.ts";

const CHANNELS_PATH = "/cpns/v1/channels";

export interface ServerChannelOptions {
  /** The entity's agent (its Digest opens the channel); its transport is the one to use. */
  agent: EntityAgent;
  store: DeviceKeyStore;
  entityId: string;
  serverUrl: string;
  /** How records reach the server: the agent's own transport (e.g. a PN GW relay). */
  fetch?: FetchLike;
  now?: () => number;
  crypto?: CryptoProvider;
}

export class ServerChannel {
  private constructor(
    readonly sessionId: string,
    private readonly endpoint: ChannelEndpoint,
    private readonly recordUrl: string,
    private readonly transport: FetchLike,
  ) {}

  static async open(options: ServerChannelOptions): Promise<ServerChannel> {
    const device = await options.store.get(options.entityId);
    if (!device?.eukey)
      throw new CpnsError("ERR_ENTITY_STATE", `${options.entityId} holds no EUKey`);
    const res = await options.agent.fetchAsEntity(options.entityId, CHANNELS_PATH, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    if (res.status !== 201) throw await problemOf(res);
    // fetchAsEntity verified rspauth (over this body, qop=auth-int): the session id is the server's.
    const exchange = digestExchangeOf(res);
    if (!exchange) throw new CpnsError("ERR_DIGEST_SERVER_UNAUTHENTICATED");
    const body = (await res.json()) as { sessionId?: unknown; expiresAt?: unknown };
    if (typeof body.sessionId !== "string" || !/^[A-Za-z0-9_-]{22}$/.test(body.sessionId)) {
      throw new CpnsError("ERR_CHANNEL_RECORD", "the server's channel answer has no session id");
    }
    const eukey = fromBase64url(device.eukey);
    try {
      const endpoint = await ChannelEndpoint.open(
        "client",
        {
          secret: eukey,
          nonce: exchange.nonce,
          cnonce: exchange.cnonce,
          clientId: options.entityId,
          serverId: exchange.realm,
          sessionId: body.sessionId,
        },
        {
          expiresAtMs: typeof body.expiresAt === "number" ? body.expiresAt * 1000 : undefined,
          ...(options.now ? { now: options.now } : {}),
          ...(options.crypto ? { crypto: options.crypto } : {}),
        },
      );
      const base = options.serverUrl.replace(/\/+$/, "");
      return new ServerChannel(
        body.sessionId,
        endpoint,
        `${base}${CHANNELS_PATH}/${body.sessionId}`,
        options.fetch ?? ((request) => fetch(request)),
      );
    } finally {
      eukey.fill(0);
    }
  }

  get state(): string {
    return this.endpoint.state;
  }

  /** One request through the channel; the answer as a Response, as if from the server directly. */
  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const request = new Request(new URL(path, "http://cpns.channel"), init);
    const url = new URL(request.url);
    const body =
      request.method === "GET" || request.method === "HEAD"
        ? new Uint8Array(0)
        : new Uint8Array(await request.arrayBuffer());
    const sealed = await coded(() =>
      this.endpoint.sealRequest(
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

  /** Closes both ends: the server answers the close record with its own. */
  async close(): Promise<void> {
    const sealed = await coded(() => this.endpoint.sealClose(this.#place()));
    const answer = await this.#exchange(sealed.record, sealed.binding);
    if (answer !== "closed") throw new CpnsError("ERR_CHANNEL_RECORD", "no close answer");
  }

  #place() {
    return { sessionId: this.sessionId, method: "POST", path: new URL(this.recordUrl).pathname };
  }

  async #exchange(
    record: Uint8Array,
    binding: { epoch: number; seq: number },
  ): ReturnType<ChannelEndpoint["openResponse"]> {
    const res = await this.transport(
      new Request(this.recordUrl, {
        method: "POST",
        headers: { "content-type": CHANNEL_MEDIA_TYPE },
        body: record as BodyInit,
      }),
    );
    if (res.status !== 200 || res.headers.get("content-type") !== CHANNEL_MEDIA_TYPE) {
      // The server (or something on the way) refused the record in clear: say what it said.
      throw await problemOf(res);
    }
    const answer = new Uint8Array(await res.arrayBuffer());
    return coded(() => this.endpoint.openResponse(answer, this.#place(), binding));
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
