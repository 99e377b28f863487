/**
 * Seed 5.x.4, the entity's side of the CPNS secure channel with the CPNS
 * Server (spec/channel.md): open it with one Digest request as the entity
 * (EUKey, qop=auth-int, the server's rspauth required: the exchange is the
 * handshake), then send requests as records (record-channel.ts). Give it the
 * PN GW relay's transport and the PNE's traffic crosses the PN GW as
 * ciphertext only: the PN GW sees a session id and record sizes, never a
 * route, a header or a body.
 *
 * The lifecycle is the secureChannelClient machine's (machines/secure-channel.ts),
 * through the one gate (src/machine-gate/bridge.ts): while the opening exchange is under
 * way the channel is `establishing` here, and a failed opening is that machine's
 * SERVER_UNPROVEN or REFUSED; once the server proved itself, the endpoint
 * (src/channel/endpoint.ts) takes the channel from AUTHENTICATED on.
 *
 * Implements: SEED-5.x.4-1, SEED-5.x.4-2, SEED-5.x.4-3, FFS-NO-TLS, GATEWAY-RELAY-E2E
 * Implements: CHMODEL-NO-DATA-BEFORE-AUTH
 */
import { secureChannelClientMachine } from "../../machines/secure-channel.ts";
import type { ChannelLimits } from "../channel/endpoint.ts";
import { fromBase64url } from "../crypto/bytes.ts";
import type { CryptoProvider } from "../crypto/provider.ts";
import { digestExchangeOf, type FetchLike } from "../digest/index.ts";
import { CpnsError, errorCodeOf } from "../errors.ts";
import { machineBridge } from "../machine-gate/bridge.ts";
import { AgentError, type EntityAgent, problemOf } from "./agent.ts";
import type { DeviceKeyStore } from "./keystore.ts";
import { openingAnswer, RecordChannel } from "./record-channel.ts";

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
  const code = err instanceof AgentError ? err.code : (errorCodeOf(err) ?? "");
  return code === "ERR_DIGEST_SERVER_UNAUTHENTICATED" ? "SERVER_UNPROVEN" : "REFUSED";
}

export class ServerChannel extends RecordChannel {
  static async open(options: ServerChannelOptions): Promise<ServerChannel> {
    const device = await options.store.get(options.entityId);
    if (!device?.eukey)
      throw new CpnsError("ERR_ENTITY_STATE", `${options.entityId} holds no EUKey`);
    // The channel has no id before the server's answer: the machine knows it as establishing.
    const establishing = gate.initial({ sessionId: "", expiresAtMs: Number.MAX_SAFE_INTEGER });
    let exchange: NonNullable<ReturnType<typeof digestExchangeOf>>;
    let opening: Awaited<ReturnType<typeof openingAnswer>>;
    try {
      const res = await options.agent.fetchAsEntity(options.entityId, CHANNELS_PATH, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      if (res.status !== 201) throw await problemOf(res);
      // fetchAsEntity verified rspauth (over this body, qop=auth-int): the session id is the server's.
      const proven = digestExchangeOf(res);
      if (!proven) throw new CpnsError("ERR_DIGEST_SERVER_UNAUTHENTICATED");
      exchange = proven;
      opening = await openingAnswer(res);
    } catch (err) {
      // No endpoint, no keys: the machine's failed state is all that is left of this channel
      // (what it asked is what the model tests watch; nothing is kept, nothing was sent).
      gate.step(establishing, { type: openingFailure(err) });
      throw err;
    }
    const { sessionId, expiresAtMs } = opening;
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
        ...(options.limits ? { limits: options.limits } : {}),
        ...(options.now ? { now: options.now } : {}),
        ...(options.crypto ? { crypto: options.crypto } : {}),
      });
      // The expiry the server gave is already past by this end's clock: nothing can be sent.
      if (endpoint.state !== "open") {
        throw new CpnsError("ERR_CHANNEL_CLOSED", "the channel expired before it opened");
      }
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
