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
 * The PN GW offers OTKs with `offer(peerId)`: it creates the OTK, deposits it at
 * the server, and waits for the peer. When the peer proves the OTK, the PN GW
 * asks the server to consume it (so a rotated or revoked issuer key cuts
 * through) before the session opens. Every step is a gatewaySession machine
 * event (machines/gateway-session.ts); a refused event changes nothing.
 *
 * Implements: SEED-5.x.2-3, SEED-5.x.2-4, SEED-5.x.2-6, SEED-5.x.2-7, PEER-DIGEST, PEER-SESSION
 */
import { type Context, Hono } from "hono";
import type { EntityAgent } from "../agent/agent.ts";
import type { DeviceKeyStore } from "../agent/keystore.ts";
import { OtkClient } from "../agent/otk-client.ts";
import { MAX_RECORD_BYTES } from "../channel/http.ts";
import { toBase64url } from "../crypto/bytes.ts";
import { type CryptoProvider, randomBytes } from "../crypto/provider.ts";
import {
  type CredentialLookup,
  createDigestVerifier,
  type DigestEnv,
  type DigestPrincipal,
  digestAuth,
  type FetchLike,
  MemoryReplayLedger,
} from "../digest/index.ts";
import { CpnsError } from "../errors.ts";
import { shellApp, withShellErrors } from "../protocol/app-shell.ts";
import { readJson } from "../protocol/body.ts";
import { peerSessionSecret } from "../protocol/otk-transport.ts";
import {
  type GatewayInfo,
  type PeerMessageResponse,
  type PeerSessionView,
  peerMessageSchema,
} from "../protocol/schemas.ts";
import { GATEWAY_CHANNELS_PATH, gatewayChannelHandlers } from "./channels.ts";
import { relayToServer } from "./relay.ts";
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

type GatewayEnv = DigestEnv<GatewaySessionEntry>;

/** Set only by the channel handler when it dispatches an inner request: unforgeable from outside. */
const CHANNEL_SESSION = Symbol("cpns-gw.channel.session");
type InnerEnv = { Bindings: { [CHANNEL_SESSION]: GatewaySessionEntry } };

/**
 * 64 KiB of payload, plus room for what a secure channel record adds around it
 * (14-byte header, 16-byte tag, the inner method, target and headers), so the
 * same payload crosses the relay inside a channel as in clear.
 */
const DEFAULT_RELAY_BODY_BYTES = 64 * 1024 + 1024;

/** Session traffic may also be raw bytes, echoed as they came (at most this many). */
const MAX_BINARY_MESSAGE = 64 * 1024;
const BINARY = "application/octet-stream";

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

  #buildApp(): Hono {
    const { options } = this;
    const book = this.#book;
    const secret = options.digestSecret ?? randomBytes(32, options.crypto);
    const common = {
      realm: this.realm,
      secret,
      // Peer and session ids are no secret to the gateway; plain usernames keep lookups direct.
      userhash: false,

      crypto: options.crypto,
      now: this.#now,
    };
    const offerLookup: CredentialLookup<GatewaySessionEntry> = ({ username }) => {
      const entry = book.offerTo(username);
      return entry?.otk ? { password: toBase64url(entry.otk), data: entry } : undefined;
    };
    const sessionLookup: CredentialLookup<GatewaySessionEntry> = ({ username }) => {
      const entry = book.session(username);
      return entry?.secret ? { password: toBase64url(entry.secret), data: entry } : undefined;
    };
    // The session routes (message bodies) and the relay take auth-int only, so a
    // path attacker has no weaker qop to strip the challenge down to (issue #9
    // item 1). The opening carries no body and keeps both qops, so any Digest
    // client can still be a peer (Python requests knows only auth); our peers
    // insist on auth-int there (src/agent/peer.ts), which covers its answer.
    const authInt = { qop: ["auth-int"] as const };
    const withOtk = digestAuth<GatewaySessionEntry>({ ...common, lookup: offerLookup });
    const withSession = digestAuth<GatewaySessionEntry>({
      ...common,
      ...authInt,
      lookup: sessionLookup,
    });
    // The relay's nonces outlive any session, and the session opening hands the
    // peer its first relay challenge: fetch() turns a 407 into a network error, so
    // a fetch-based peer could never read the challenge of a 407 itself.
    const proxyOptions = {
      ...common,
      // Relayed bodies and answers are bound to the session's hop too.
      ...authInt,
      lookup: sessionLookup,
      // One ledger for the verifier that hands out the first relay challenge and
      // the one that checks the answers: its epoch is in the nonces (issue #9 item 2).
      ledger: new MemoryReplayLedger({ now: this.#now }),
      // A minute beyond the session: a late relay is then answered 410 (session
      // over), not with a stale 407 that a fetch-based peer could not even read.
      nonceLifetimeSeconds: (options.sessionLifetimeSeconds ?? 900) + 60,
    };
    const maxRelayBodyBytes = options.maxRelayBodyBytes ?? DEFAULT_RELAY_BODY_BYTES;
    const asProxy = digestAuth<GatewaySessionEntry>({
      ...proxyOptions,
      proxy: true,
      maxBodyBytes: maxRelayBodyBytes,
    });
    const relayChallenges = createDigestVerifier(proxyOptions);
    const entryOf = (c: Context<GatewayEnv>) => {
      const digest = c.var.digest as DigestPrincipal<GatewaySessionEntry>;
      if (!digest.data) throw new CpnsError("ERR_INTERNAL");
      return { entry: digest.data, username: digest.username, digest };
    };
    const sessionEntryOf = (c: Context<GatewayEnv>) => {
      const { entry } = entryOf(c);
      // The credentials name one session; the path must name the same one.
      if (entry.snapshot.context.sessionId !== c.req.param("sessionId")) {
        throw new CpnsError("ERR_FORBIDDEN");
      }
      return entry;
    };

    // The shared shell (src/protocol/app-shell.ts); its ceiling is the largest body a route reads.
    const app = shellApp<GatewayEnv>({
      maxBodyBytes: Math.max(maxRelayBodyBytes, MAX_BINARY_MESSAGE, MAX_RECORD_BYTES),
    });
    app.get("/health", (c) => c.json({ status: "ok" }));
    app.get("/cpns-gw/v1", (c) => {
      const info: GatewayInfo = {
        service: "cpns-gw",
        version: 1,
        gatewayId: options.gatewayId,
        realm: this.realm,
      };
      return c.json(info);
    });

    app.post("/cpns-gw/v1/sessions", withOtk, async (c) => {
      const { entry, username, digest } = entryOf(c);
      const now = this.#seconds();
      // Expiry first, as for session traffic: an OTK past its time opens nothing.
      if (book.apply(entry, { type: "EXPIRE", now })) throw new CpnsError("ERR_OTK_GONE");
      if (!book.apply(entry, { type: "PEER_PROVED_OTK", peerId: username })) {
        // Another request with the same OTK got here first.
        throw new CpnsError("ERR_PEER_SESSION_REFUSED");
      }
      const otk = entry.otk;
      const { otkId } = entry.snapshot.context;
      try {
        if (!otk) throw new CpnsError("ERR_INTERNAL");
        await this.#otks.consume(options.gatewayId, otkId);
      } catch {
        // The server said no (expired, rotated or revoked issuer key, used) or
        // could not be asked: either way this OTK opens nothing.
        book.apply(entry, { type: "SERVER_REFUSED" });
        throw new CpnsError("ERR_PEER_SESSION_REFUSED");
      }
      const sessionId = toBase64url(randomBytes(16, options.crypto));
      entry.secret = await peerSessionSecret(otk, digest, options.crypto);
      const expiresAt = now + (options.sessionLifetimeSeconds ?? 900);
      book.apply(entry, { type: "SERVER_CONSUMED", sessionId, sessionExpiresAt: expiresAt });
      const view: PeerSessionView = {
        sessionId,
        gatewayId: options.gatewayId,
        peerId: username,
        expiresAt,
      };
      for (const challenge of relayChallenges.challenges()) {
        c.header("Proxy-Authenticate", challenge, { append: true });
      }
      return c.json(view, 201);
    });

    // The session routes, shared by Digest session traffic and the secure channel's inner requests.
    const message = async (c: Context, entry: GatewaySessionEntry) => {
      if ((c.req.header("content-type") ?? "").split(";")[0]?.trim() === BINARY) {
        if (Number(c.req.header("content-length") ?? 0) > MAX_BINARY_MESSAGE) {
          throw new CpnsError("ERR_BODY_TOO_LARGE");
        }
        const bytes = new Uint8Array(await c.req.arrayBuffer());
        if (bytes.length > MAX_BINARY_MESSAGE) throw new CpnsError("ERR_BODY_TOO_LARGE");
        this.#live(entry, "MESSAGE");
        return c.body(bytes, 200, { "content-type": BINARY });
      }
      const { message } = await readJson(c, peerMessageSchema);
      this.#live(entry, "MESSAGE");
      const answer: PeerMessageResponse = {
        sessionId: entry.snapshot.context.sessionId ?? "",
        from: entry.snapshot.context.peerId,
        echo: message,
      };
      return c.json(answer);
    };
    const closeSession = (c: Context, entry: GatewaySessionEntry) => {
      book.apply(entry, { type: "CLOSE" });
      channels.sessionEnded(c.req.param("sessionId") ?? "");
      return c.body(null, 204);
    };

    // What a channel's inner requests reach: the session routes, for the channel's own session.
    const inner = withShellErrors(new Hono<InnerEnv>());
    const innerEntryOf = (c: Context<InnerEnv>) => {
      const entry = c.env[CHANNEL_SESSION];
      if (entry.snapshot.context.sessionId !== c.req.param("sessionId")) {
        throw new CpnsError("ERR_FORBIDDEN");
      }
      return entry;
    };
    inner.post("/cpns-gw/v1/sessions/:sessionId/messages", (c) => message(c, innerEntryOf(c)));
    inner.delete("/cpns-gw/v1/sessions/:sessionId", (c) => closeSession(c, innerEntryOf(c)));
    const channels = gatewayChannelHandlers({
      gatewayId: options.gatewayId,
      now: this.#now,
      crypto: options.crypto,
      lifetimeSeconds: options.channelLifetimeSeconds,
      requireLive: (entry) => this.#live(entry, "MESSAGE"),
      dispatch: async (request, entry) => inner.fetch(request, { [CHANNEL_SESSION]: entry }),
    });

    app.post("/cpns-gw/v1/sessions/:sessionId/messages", withSession, (c) =>
      message(c, sessionEntryOf(c)),
    );

    app.delete("/cpns-gw/v1/sessions/:sessionId", withSession, (c) =>
      closeSession(c, sessionEntryOf(c)),
    );

    app.post(GATEWAY_CHANNELS_PATH, withSession, (c) => channels.open(c, entryOf(c).digest));
    // No Digest here: a record authenticates itself (AEAD under the channel's keys).
    app.post(`${GATEWAY_CHANNELS_PATH}/:channelId`, (c) => channels.send(c));

    app.all("/cpns/v1/*", asProxy, async (c) => {
      const { entry } = entryOf(c);
      this.#live(entry, "RELAY");
      let body: Uint8Array | undefined;
      if (c.req.method !== "GET" && c.req.method !== "HEAD") {
        if (Number(c.req.header("content-length") ?? 0) > maxRelayBodyBytes) {
          throw new CpnsError("ERR_BODY_TOO_LARGE", undefined, { connection: "close" });
        }
        // Through Hono's body cache: the proxy layer may have read it for auth-int.
        body = new Uint8Array(await c.req.arrayBuffer());
        if (body.length > maxRelayBodyBytes) throw new CpnsError("ERR_BODY_TOO_LARGE");
      }
      return relayToServer(c.req.raw, body, {
        serverUrl: options.serverUrl,
        upstream: options.upstream ?? ((request) => fetch(request)),
      });
    });

    return app as unknown as Hono;
  }
}
