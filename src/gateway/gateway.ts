/**
 * The PN GW as a Hono app (seed 5.x.2, second bullet; reference points CPNS-1/6
 * towards PNEs and CPNS-3 towards other PN GWs), base path /cpns-gw/v1:
 *
 *   POST   /cpns-gw/v1/sessions              a peer opens a session: Digest, realm
 *                                            "cpns-gw:<gatewayId>", username = its Entity ID,
 *                                            secret = base64url(OTK); answered with rspauth
 *   POST   /cpns-gw/v1/sessions/:id/messages session traffic (echo): Digest, username = the
 *                                            session id, secret = the per-session secret
 *   DELETE /cpns-gw/v1/sessions/:id          close
 *   POST   /cpns-gw/v1/channels              the secure channel under the session (channels.ts):
 *   POST   /cpns-gw/v1/channels/:id          records whose inner requests reach the two
 *                                            session routes above, for that session only
 *   ANY    /cpns/v1/*                        relay to the CPNS Server for a PNE with a live
 *                                            session: Proxy-Authorization with the session
 *                                            credentials; the PNE's Authorization passes untouched
 *
 * Built like the server app (issue #11): the routes above are the policy table
 * (src/gateway/policy.ts), each behind its guard (src/gateway/guard.ts) and handler
 * (src/gateway/handlers.ts), inside the shared app shell (src/protocol/app-shell.ts).
 *
 * The PN GW offers OTKs with `offer(peerId)`: it creates the OTK, deposits it at
 * the server, and waits for the peer. When the peer proves the OTK, the PN GW
 * asks the server to consume it (so a rotated or revoked issuer key cuts
 * through) before the session opens. Every step is a gatewaySession machine
 * event (machines/gateway-session.ts); a refused event changes nothing.
 *
 * Implements: SEED-5.x.2-3, SEED-5.x.2-4, SEED-5.x.2-6, SEED-5.x.2-7, PEER-DIGEST, PEER-SESSION
 */
import { Hono, type MiddlewareHandler } from "hono";
import type { EntityAgent } from "../agent/agent.ts";
import type { DeviceKeyStore } from "../agent/keystore.ts";
import { OtkClient } from "../agent/otk-client.ts";
import { MAX_RECORD_BYTES } from "../channel/http.ts";
import { type CryptoProvider, randomBytes } from "../crypto/provider.ts";
import type { FetchLike } from "../digest/index.ts";
import { CpnsError } from "../errors.ts";
import { shellApp, withShellErrors } from "../protocol/app-shell.ts";
import { gatewayChannelHandlers } from "./channels.ts";
import { CHANNEL_SESSION, createGatewayGuard, type GatewayEnv, type InnerEnv } from "./guard.ts";
import { gatewayHandlers, MAX_BINARY_MESSAGE } from "./handlers.ts";
import { gatewayRoutes } from "./policy.ts";
import {
  GatewaySessionBook,
  type GatewaySessionEntry,
  type GatewaySessionState,
} from "./sessions.ts";

export interface PnGatewayOptions {
  /** This PN GW's Entity ID; its EUKey must be in `store`. */
  gatewayId: string;
  /** The CPNS Server: OTK deposits and consumption, and the relay's destination. */
  serverUrl: string;
  agent: EntityAgent;
  store: DeviceKeyStore;
  /** Nonce MAC key of this gateway's Digest realm (>= 16 bytes). Default: random per process. */
  digestSecret?: Uint8Array | string;
  /** Where peers reach this gateway; travels with the OTK so the peer knows where to go. */
  endpoint?: string;
  /** This gateway's TLS key pin (sha256//...), sealed with each OTK so the peer pins it (issue #10). */
  tlsPin?: string;
  /** Default 120 s (the server's maximum is 300 s by default). */
  otkLifetimeSeconds?: number;
  /** Default 900 s. */
  sessionLifetimeSeconds?: number;
  /** Longest life of a secure channel with a peer (never beyond its session). Default 600 s. */
  channelLifetimeSeconds?: number;
  /** How the relay reaches the server. Default: the global fetch. */
  upstream?: FetchLike;
  /** Largest relayed request body. Default 64 KiB and 1 KiB: a 64 KiB payload inside a channel record fits. */
  maxRelayBodyBytes?: number;
  /** Epoch milliseconds. Default Date.now. */
  now?: () => number;
  crypto?: CryptoProvider;
}

export interface OfferResult {
  otkId: string;
  peerId: string;
  peerType: "PNE" | "PNGW";
  expiresAt: number;
}

/**
 * 64 KiB of payload, plus room for what a secure channel record adds around it
 * (14-byte header, 16-byte tag, the inner method, target and headers), so the
 * same payload crosses the relay inside a channel as in clear.
 */
const DEFAULT_RELAY_BODY_BYTES = 64 * 1024 + 1024;

export class PnGateway {
  readonly app: Hono;
  readonly realm: string;
  readonly #book = new GatewaySessionBook();
  readonly #otks: OtkClient;
  readonly #now: () => number;

  constructor(private readonly options: PnGatewayOptions) {
    this.realm = `cpns-gw:${options.gatewayId}`;
    this.#now = options.now ?? Date.now;
    this.#otks = new OtkClient({
      agent: options.agent,
      store: options.store,
      crypto: options.crypto,
      now: this.#now,
    });
    this.app = this.#buildApp();
  }

  #seconds(): number {
    return Math.floor(this.#now() / 1000);
  }

  /** Creates an OTK for `peerId`, deposits it at the server, and waits for the peer. */
  async offer(peerId: string): Promise<OfferResult> {
    const prepared = this.#otks.prepare(this.options.otkLifetimeSeconds ?? 120);
    const entry = this.#book.create({
      gatewayId: this.options.gatewayId,
      peerId,
      otkId: prepared.otkId,
      offerExpiresAt: prepared.expiresAt,
      otk: prepared.otk,
    });
    try {
      const issued = await this.#otks.deposit(this.options.gatewayId, {
        peerId,
        prepared,
        ...(this.options.endpoint ? { endpoint: this.options.endpoint } : {}),
        ...(this.options.tlsPin ? { tlsPin: this.options.tlsPin } : {}),
      });
      this.#book.apply(entry, { type: "DEPOSITED", peerType: issued.peerType });
      return {
        otkId: issued.otkId,
        peerId,
        peerType: issued.peerType,
        expiresAt: issued.expiresAt,
      };
    } catch (err) {
      this.#book.apply(entry, { type: "DEPOSIT_REFUSED" });
      throw err;
    }
  }

  /** Every offer and session this gateway made, with its machine state (no key material). */
  states(): GatewaySessionState[] {
    return this.#book.states();
  }

  /**
   * Session traffic: expiry is settled first (past it the entry is expired for
   * good), then the machine is asked for the traffic itself.
   */
  #live(entry: GatewaySessionEntry, event: "MESSAGE" | "RELAY"): void {
    const now = this.#seconds();
    if (this.#book.apply(entry, { type: "EXPIRE", now })) {
      throw new CpnsError("ERR_PEER_SESSION_GONE");
    }
    if (this.#book.apply(entry, { type: event })) return;
    // Live but not allowed: the relay serves PNEs only.
    throw new CpnsError("ERR_FORBIDDEN");
  }

  /**
   * The routes of the policy table (src/gateway/policy.ts), in its order, each behind its
   * guard (src/gateway/guard.ts) and handler (src/gateway/handlers.ts), inside the shared
   * app shell; a secure channel's inner app gets the table's `inner` routes.
   */
  #buildApp(): Hono {
    const { options } = this;
    const maxRelayBodyBytes = options.maxRelayBodyBytes ?? DEFAULT_RELAY_BODY_BYTES;
    const sessionLifetimeSeconds = options.sessionLifetimeSeconds ?? 900;
    const guard = createGatewayGuard({
      realm: this.realm,
      secret: options.digestSecret ?? randomBytes(32, options.crypto),
      book: this.#book,
      sessionLifetimeSeconds,
      maxRelayBodyBytes,
      now: this.#now,
      crypto: options.crypto,
    });
    const live = (entry: GatewaySessionEntry, event: "MESSAGE" | "RELAY") =>
      this.#live(entry, event);
    const inner = withShellErrors(new Hono<InnerEnv>());
    const channels = gatewayChannelHandlers({
      gatewayId: options.gatewayId,
      now: this.#now,
      crypto: options.crypto,
      lifetimeSeconds: options.channelLifetimeSeconds,
      requireLive: (entry) => live(entry, "MESSAGE"),
      dispatch: async (request, entry) => inner.fetch(request, { [CHANNEL_SESSION]: entry }),
    });
    const handlers = gatewayHandlers({
      gatewayId: options.gatewayId,
      realm: this.realm,
      serverUrl: options.serverUrl,
      upstream: options.upstream ?? ((request) => fetch(request)),
      sessionLifetimeSeconds,
      maxRelayBodyBytes,
      book: this.#book,
      otks: this.#otks,
      channels,
      seconds: () => this.#seconds(),
      live,
      relayChallenges: guard.relayChallenges,
      sessionChallenges: guard.sessionChallenges,
      crypto: options.crypto,
    });

    // The shared shell (src/protocol/app-shell.ts); its ceiling is the largest body a route reads.
    const app = shellApp<GatewayEnv>({
      maxBodyBytes: Math.max(maxRelayBodyBytes, MAX_BINARY_MESSAGE, MAX_RECORD_BYTES),
    });
    for (const [route, policy] of gatewayRoutes()) {
      // One array of middleware and handler: Hono's typed overloads stop at a fixed arity.
      const chain = [...guard.guard(route), handlers[route]] as unknown as [
        MiddlewareHandler<GatewayEnv>,
      ];
      app.on(policy.method, [policy.path], ...chain);
      if (policy.inner) inner.on(policy.method, policy.path, guard.inner(route), handlers[route]);
    }
    return app as unknown as Hono;
  }
}
