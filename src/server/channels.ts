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
import { ChannelEndpoint, ChannelError } from "../channel/endpoint.ts";
import { innerToRequest, readRecord, recordResponse, responseToInner } from "../channel/http.ts";
import { CHANNEL_SUITE } from "../channel/keys.ts";
import { toBase64url } from "../crypto/bytes.ts";
import { randomBytes } from "../crypto/provider.ts";
import { CpnsError, problemResponse } from "../errors.ts";
import type { CredentialData, ServerEnv, ServerParts } from "./context.ts";
import { currentEukeyOf } from "./credentials.ts";
import { logTlsRefusal, tlsRequirement } from "./tls-declaration.ts";

type EntityPrincipal = Extract<CredentialData, { entityId: string }>;

interface OpenChannel {
  endpoint: ChannelEndpoint;
  principal: EntityPrincipal;
  expiresAtMs: number;
}

export const CHANNELS_PATH = "/cpns/v1/channels";
const DEFAULT_LIFETIME_SECONDS = 600;
const MAX_PER_ENTITY = 8;
const MAX_TOTAL = 10_000;

/** Open channels by session id; oldest first within an entity, so the oldest goes when one is too many. */
export class ChannelRegistry {
  readonly #channels = new Map<string, OpenChannel>();

  constructor(private readonly now: () => number) {}

  get size(): number {
    return this.#channels.size;
  }

  add(sessionId: string, channel: OpenChannel): void {
    const nowMs = this.now();
    if (this.#channels.size >= MAX_TOTAL) {
      for (const [id, open] of this.#channels)
        if (open.expiresAtMs <= nowMs) this.#channels.delete(id);
    }
    const mine = [...this.#channels].filter(
      ([, open]) => open.principal.entityId === channel.principal.entityId,
    );
    for (const [id] of mine.slice(0, Math.max(0, mine.length - MAX_PER_ENTITY + 1))) {
      this.#channels.delete(id);
    }
    if (this.#channels.size >= MAX_TOTAL) {
      this.#channels.delete(this.#channels.keys().next().value as string);
    }
    this.#channels.set(sessionId, channel);
  }

  get(sessionId: string): OpenChannel | undefined {
    return this.#channels.get(sessionId);
  }

  delete(sessionId: string): void {
    this.#channels.delete(sessionId);
  }
}

function channelProblem(err: ChannelError): CpnsError {
  if (err.reason === "replay") return new CpnsError("ERR_CHANNEL_REPLAY");
  if (err.reason === "record") return new CpnsError("ERR_CHANNEL_RECORD");
  return new CpnsError("ERR_CHANNEL_CLOSED");
}

/**
 * `dispatch` runs an inner request through the server's routes as `principal`
 * (src/server/app.ts builds it over the same handlers and policy table).
 */
export function channelHandlers(
  parts: ServerParts,
  dispatch: (request: Request, principal: EntityPrincipal) => Promise<Response>,
) {
  const { entities, config } = parts;
  const registry = new ChannelRegistry(parts.now);
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
      registry.add(sessionId, { endpoint, principal, expiresAtMs });
    } finally {
      eukey.fill(0);
    }
    return c.json(
      { sessionId, expiresAt: Math.floor(expiresAtMs / 1000), suite: CHANNEL_SUITE },
      201,
    );
  }

  async function send(c: Context<ServerEnv>) {
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
    const { endpoint } = channel;
    let opened: Awaited<ReturnType<ChannelEndpoint["openRequest"]>>;
    try {
      opened = await endpoint.openRequest(record, place);
    } catch (err) {
      if (!(err instanceof ChannelError)) throw err;
      if (err.reason === "closed" || err.reason === "expired") registry.delete(sessionId);
      throw channelProblem(err);
    }
    if (opened.request === "close") {
      // Closed either way: answered, or unable to answer (no epoch left for the close record).
      try {
        return recordResponse(await endpoint.sealResponse("close", place, opened.binding));
      } catch (err) {
        if (err instanceof ChannelError) throw channelProblem(err);
        throw err;
      } finally {
        registry.delete(sessionId);
      }
    }
    const inner = opened.request;
    const answer =
      inner.target === CHANNELS_PATH || inner.target.startsWith(`${CHANNELS_PATH}/`)
        ? problemResponse("ERR_CHANNEL_NESTED")
        : await dispatch(innerToRequest(inner, "http://cpns.channel"), channel.principal);
    try {
      return recordResponse(
        await endpoint.sealResponse(await responseToInner(answer), place, opened.binding),
      );
    } catch (err) {
      if (!(err instanceof ChannelError)) throw err;
      // This end can send nothing more (expired, or no epoch left): the channel is gone.
      if (err.reason === "closed" || err.reason === "expired") registry.delete(sessionId);
      throw channelProblem(err);
    }
  }

  return { open, send, registry };
}
