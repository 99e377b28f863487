/**
 * Seed 5.x.4 at the CPNS Server, where TLS is missing or a PN GW relays a
 * PNE's traffic (our answer to FFS-NO-TLS; spec/channel.md):
 *
 *   POST /cpns/v1/channels             open: Digest with the EUKey (the exchange is the handshake)
 *   POST /cpns/v1/channels/:sessionId  one request record in, one response record out
 *
 * A record is decrypted, its inner request is dispatched to the server's own
 * routes as the entity that opened the channel (the policy table still decides),
 * and the answer goes back sealed and bound to its request. Revocation and
 * rotation cut through: every record first checks that the entity still holds
 * the key version the channel was opened with.
 *
 * Channels live in this process's memory (a restart closes them all: a client
 * opens a new one), bounded per entity and in total.
 *
 * Implements: SEED-5.x.4-1, SEED-5.x.4-2, SEED-5.x.4-3, FFS-NO-TLS, GATEWAY-RELAY-E2E
 * Implements: CHMODEL-USED-UP, CHMODEL-NO-REPLAY
 * Implements: TLSDECL-REFUSE-PLAIN
 */
import type { Context } from "hono";
import { ChannelEndpoint } from "../channel/endpoint.ts";
import { readRecord } from "../channel/http.ts";
import { CHANNEL_SUITE } from "../channel/keys.ts";
import { ChannelRegistry, type RegisteredChannel } from "../channel/registry.ts";
import { answerRecord } from "../channel/serve.ts";
import { toBase64url } from "../crypto/bytes.ts";
import { randomBytes } from "../crypto/provider.ts";
import { CpnsError, problemResponse } from "../errors.ts";
import type { ChannelOpened } from "../protocol/responses.ts";
import type { CredentialData, ServerEnv, ServerParts } from "./context.ts";
import { currentEukeyOf } from "./credentials.ts";
import { logTlsRefusal, tlsRequirement } from "./tls-declaration.ts";

type EntityPrincipal = Extract<CredentialData, { entityId: string }>;

interface OpenChannel extends RegisteredChannel {
  principal: EntityPrincipal;
}

export const CHANNELS_PATH = "/cpns/v1/channels";
const DEFAULT_LIFETIME_SECONDS = 600;
/** Per entity and in total (src/channel/registry.ts). */
const LIMITS = { perOwner: 8, total: 10_000 };

/**
 * `dispatch` runs an inner request through the server's routes as `principal`
 * (src/server/app.ts builds it over the same handlers and policy table).
 */
export function channelHandlers(
  parts: ServerParts,
  dispatch: (request: Request, principal: EntityPrincipal) => Promise<Response>,
) {
  const { entities, config } = parts;
  const registry = new ChannelRegistry<OpenChannel>(parts.now, LIMITS);
  const lifetimeMs = (config.channelLifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS) * 1000;
  const tls = tlsRequirement(config);

  async function open(c: Context<ServerEnv>) {
    const principal = c.var.principal;
    if (principal.kind !== "PNE" && principal.kind !== "PNGW") throw new CpnsError("ERR_FORBIDDEN");
    const eukey = await currentEukeyOf(parts, principal);
    const sessionId = toBase64url(randomBytes(16, config.crypto));
    const expiresAtMs = parts.now() + lifetimeMs;
    try {
      const endpoint = await ChannelEndpoint.open(
        "server",
        {
          secret: eukey,
          nonce: c.var.digest.nonce,
          cnonce: c.var.digest.cnonce,
          clientId: principal.entityId,
          serverId: config.realm,
          sessionId,
        },
        {
          ...config.channelLimits,
          expiresAtMs,
          now: parts.now,
          ...(config.crypto ? { crypto: config.crypto } : {}),
        },
      );
      registry.add(sessionId, { endpoint, principal, owner: principal.entityId, expiresAtMs });
    } finally {
      eukey.fill(0);
    }
    const opened: ChannelOpened = {
      sessionId,
      expiresAt: Math.floor(expiresAtMs / 1000),
      suite: CHANNEL_SUITE,
    };
    return c.json(opened, 201);
  }

  async function send(c: Context<ServerEnv>) {
    // Stryker disable next-line StringLiteral: equivalent: the route's path always holds :sessionId
    const sessionId = c.req.param("sessionId") ?? "";
    const channel = registry.get(sessionId);
    if (!channel) throw new CpnsError("ERR_CHANNEL_UNKNOWN");
    const record = await readRecord(c.req.raw);
    const current = await entities.get(channel.principal.entityId);
    if (
      current?.machine.value !== "active" ||
      current.keyVersion !== channel.principal.keyVersion
    ) {
      // Revoked or rotated since the channel opened: it dies with the key.
      registry.delete(sessionId);
      throw new CpnsError("ERR_CHANNEL_CLOSED");
    }
    // Issue #10 (tls-declare): a channel of an entity that declared TLS (opened over TLS,
    // the guard saw to that) carries no record over plain HTTP. Checked before the record
    // is opened, so a refused record moves no replay window and reaches no route.
    if (tls.refuses(current.tls, c.req.raw, c.env)) {
      logTlsRefusal(parts, c.req.raw, c.env, { entityId: current.entityId });
      throw new CpnsError("ERR_TLS_REQUIRED");
    }
    const place = { sessionId, method: c.req.method, path: new URL(c.req.url).pathname };
    return answerRecord({
      endpoint: channel.endpoint,
      record,
      place,
      dispatch: (request, inner) =>
        inner.target === CHANNELS_PATH || inner.target.startsWith(`${CHANNELS_PATH}/`)
          ? Promise.resolve(problemResponse("ERR_CHANNEL_NESTED"))
          : dispatch(request, channel.principal),
      forget: () => registry.delete(sessionId),
    });
  }

  return { open, send, registry };
}
