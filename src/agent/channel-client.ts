/**
 * Seed 5.x.4, the entity's side of the CPNS secure channel with the CPNS
 * Server (spec/channel.md): open it with one Digest request as the entity
 * (EUKey, qop=auth-int, the server's rspauth required: the exchange is the
 * handshake), then send requests as records. Give it the PN GW relay's
 * transport and the PNE's traffic crosses the PN GW as ciphertext only: the
 * PN GW sees a session id and record sizes, never a route, a header or a body.
 *
 * The lifecycle is the secureChannelClient machine's (machines/secure-channel.ts),
 * through the one gate (src/model/bridge.ts): while the opening exchange is under
 * way the channel is `establishing` here, and a failed opening is that machine's
 * SERVER_UNPROVEN or REFUSED; once the server proved itself, the endpoint
 * (src/channel/endpoint.ts) takes the channel from AUTHENTICATED on.
 *
 * Implements: SEED-5.x.4-1, SEED-5.x.4-2, SEED-5.x.4-3, FFS-NO-TLS, GATEWAY-RELAY-E2E
 * Implements: CHMODEL-NO-DATA-BEFORE-AUTH
 */
import { secureChannelClientMachine } from "../../machines/secure-channel.ts";
import { ChannelEndpoint, ChannelError, type ChannelLimits } from "../channel/endpoint.ts";
import { innerHeaders, innerToResponse } from "../channel/http.ts";
import { CHANNEL_MEDIA_TYPE } from "../channel/record.ts";
import { fromBase64url } from "../crypto/bytes.ts";
import type { CryptoProvider } from "../crypto/provider.ts";
import { digestExchangeOf, type FetchLike } from "../digest/index.ts";
import { CpnsError } from "../errors.ts";
import { machineBridge } from "../model/bridge.ts";
import { AgentError, type EntityAgent, problemOf } from "./agent.ts";
import type { DeviceKeyStore } from "./keystore.ts";

const CHANNELS_PATH = "/cpns/v1/channels";
const gate = machineBridge(secureChannelClientMachine);

export interface ServerChannelOptions {
  /** The entity's agent (its Digest opens the channel); its transport is the one to use. */
  agent: EntityAgent;
  store: DeviceKeyStore;
  entityId: string;
  serverUrl: string;
  /** How records reach the server: the agent's own transport (e.g. a PN GW relay). */
  fetch?: FetchLike;
  /** This end's re-key limits (spec/channel.md §6). Default: the profile's. */
  limits?: ChannelLimits;
  now?: () => number;
  crypto?: CryptoProvider;
}

/** Why the opening failed, as the machine's event: the server did not prove itself, or said no. */
function openingFailure(err: unknown): "SERVER_UNPROVEN" | "REFUSED" {
  const code = err instanceof CpnsError || err instanceof AgentError ? err.code : "";
  return code === "ERR_DIGEST_SERVER_UNAUTHENTICATED" ? "SERVER_UNPROVEN" : "REFUSED";
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
    // The channel has no id before the server's answer: the machine knows it as establishing.
    const establishing = gate.initial({ sessionId: "", expiresAtMs: Number.MAX_SAFE_INTEGER });
    let exchange: NonNullable<ReturnType<typeof digestExchangeOf>> | undefined;
    let body: { sessionId?: unknown; expiresAt?: unknown };
    try {
      const res = await options.agent.fetchAsEntity(options.entityId, CHANNELS_PATH, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      if (res.status !== 201) throw await problemOf(res);
      // fetchAsEntity verified rspauth (over this body, qop=auth-int): the session id is the server's.
      exchange = digestExchangeOf(res);
      if (!exchange) throw new CpnsError("ERR_DIGEST_SERVER_UNAUTHENTICATED");
      body = (await res.json()) as { sessionId?: unknown; expiresAt?: unknown };
      if (typeof body.sessionId !== "string" || !/^[A-Za-z0-9_-]{22}$/.test(body.sessionId)) {
        throw new CpnsError("ERR_CHANNEL_RECORD", "the server's channel answer has no session id");
      }
    } catch (err) {
      // No endpoint, no keys: the machine's failed state is all that is left of this channel
      // (what it asked is what the model tests watch; nothing is kept, nothing was sent).
      gate.step(establishing, { type: openingFailure(err) });
      throw err;
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
          ...options.limits,
          expiresAtMs: typeof body.expiresAt === "number" ? body.expiresAt * 1000 : undefined,
          ...(options.now ? { now: options.now } : {}),
          ...(options.crypto ? { crypto: options.crypto } : {}),
        },
      );
      // The expiry the server gave is already past by this end's clock: nothing can be sent.
      if (endpoint.state !== "open") {
        throw new CpnsError("ERR_CHANNEL_CLOSED", "the channel expired before it opened");
      }
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
