/**
 * Seed 5.x.4, the entity's side of the CPNS secure channel with the CPNS
 * Server (spec/channel.md): open it with one Digest request as the entity
 * (EUKey, qop=auth-int, the server's rspauth required: the exchange is the
 * handshake), then send requests as records (record-channel.ts). Give it the
 * PN GW relay's transport and the PNE's traffic crosses the PN GW as
 * ciphertext only: the PN GW sees a session id and record sizes, never a
 * route, a header or a body.
 */
import { fromBase64url } from "../crypto/bytes.ts";
import type { CryptoProvider } from "../crypto/provider.ts";
import { digestExchangeOf, type FetchLike } from "../digest/index.ts";
import { CpnsError } from "../errors.ts";
import { type EntityAgent, problemOf } from "./agent.ts";
import type { DeviceKeyStore } from "./keystore.ts";
import { openingAnswer, RecordChannel } from "./record-channel.ts";

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

export class ServerChannel extends RecordChannel {
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
    const { sessionId, expiresAtMs } = await openingAnswer(res);
    const eukey = fromBase64url(device.eukey);
    const base = options.serverUrl.replace(/\/+$/, "");
    const recordUrl = `${base}${CHANNELS_PATH}/${sessionId}`;
    const transport = options.fetch ?? ((request: Request) => fetch(request));
    try {
      const endpoint = await RecordChannel.endpointOf({
        context: {
          secret: eukey,
          nonce: exchange.nonce,
          cnonce: exchange.cnonce,
          clientId: options.entityId,
          serverId: exchange.realm,
          sessionId,
        },
        expiresAtMs,
        ...(options.now ? { now: options.now } : {}),
        ...(options.crypto ? { crypto: options.crypto } : {}),
      });
      return new ServerChannel(endpoint, {
        sessionId,
        serverId: exchange.realm,
        recordUrl,
        transport,
      });
    } finally {
      eukey.fill(0);
    }
  }
}
