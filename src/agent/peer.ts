/**
 * Seed 5.x.2, second bullet, the peer's side (a PNE over CPNS-1/6, or a PN GW
 * over CPNS-3): with an OTK fetched from the CPNS Server, authenticate to the
 * PN GW that created it with Digest (username = own Entity ID, secret =
 * base64url(OTK), realm "cpns-gw:<gatewayId>") and REQUIRE the PN GW's rspauth:
 * only a PN GW that knows the OTK can produce it, so the authentication is
 * mutual. The session that opens carries its traffic under Digest with a
 * per-session secret (spec/otk.md), and can relay this entity's own requests
 * to the CPNS Server through the PN GW (Proxy-Authorization), leaving their
 * end-to-end Authorization to the server untouched.
 *
 * Every step asks the peerSession machine (machines/peer-session.ts) first.
 *
 * Implements: SEED-5.x.2-2, SEED-5.x.2-3, SEED-5.x.2-6, SEED-5.x.2-7, PEER-DIGEST, PEER-SESSION, AGENT-REQUIRE-RSPAUTH, AGENT-NO-DOWNGRADE
 * Implements: OTK-TLS-PIN, TLS-IMPOSTOR, PEER-SESSION-PRIMED
 */

import type { SnapshotFrom } from "xstate";
import { type PeerSessionEvent, peerSessionMachine } from "../../machines/peer-session.ts";
import { toBase64url } from "../crypto/bytes.ts";
import type { CryptoProvider } from "../crypto/provider.ts";
import { digestExchangeOf, type FetchLike, STRONG_ALGORITHMS } from "../digest/index.ts";
import { CpnsError, errorCodeOf } from "../errors.ts";
import { machineBridge } from "../machine-gate/bridge.ts";
import { peerSessionSecret } from "../protocol/otk-transport.ts";
import { type PeerMessageResponse, peerSessionViewSchema } from "../protocol/schemas.ts";
import { problemOf } from "./agent.ts";
import { agentDigestFetch, primedAgentDigestFetch } from "./digest-fetch.ts";
import type { ReceivedOtk } from "./otk-client.ts";
import { PEER_CHANNELS_PATH, PeerChannel } from "./peer-channel.ts";
import { openingAnswer } from "./record-channel.ts";

type PeerSnapshot = SnapshotFrom<typeof peerSessionMachine>;

const bridge = machineBridge(peerSessionMachine);

/** Problem codes a PN GW's relay answers with itself (src/gateway/gateway.ts). */
const GATEWAY_REFUSALS = new Set(["ERR_FORBIDDEN", "ERR_PEER_SESSION_GONE", "ERR_RELAY_UPSTREAM"]);

export interface OpenPeerSessionOptions {
  /** This entity's id: the Digest username towards the PN GW. */
  entityId: string;
  /** The OTK as fetched from the server (src/agent/otk-client.ts). */
  received: ReceivedOtk;
  /** Where the PN GW listens. Default: the endpoint the PN GW deposited with the OTK. */
  gatewayUrl?: string;
  fetch?: FetchLike;
  /** Epoch milliseconds. Default Date.now. */
  now?: () => number;
  crypto?: CryptoProvider;
}

export class PeerSession {
  #snapshot: PeerSnapshot;
  readonly #gatewayUrl: string;
  readonly #now: () => number;
  #sessionFetch: ((input: RequestInfo | URL, init?: RequestInit) => Promise<Response>) | undefined;
  #proxyFetch: ((input: RequestInfo | URL, init?: RequestInit) => Promise<Response>) | undefined;
  /** The per-session secret, kept for the secure channel's keys; zeroed when the session ends. */
  #secret: Uint8Array | undefined;
  #transport: FetchLike | undefined;
  #crypto: CryptoProvider | undefined;

  private constructor(snapshot: PeerSnapshot, gatewayUrl: string, now: () => number) {
    this.#snapshot = snapshot;
    this.#gatewayUrl = gatewayUrl.replace(/\/+$/, "");
    this.#now = now;
  }

  get state(): string {
    return String(this.#snapshot.value);
  }

  get sessionId(): string | null {
    return this.#snapshot.context.sessionId;
  }

  get expiresAt(): number | null {
    return this.#snapshot.context.sessionExpiresAt;
  }

  get gatewayId(): string {
    return this.#snapshot.context.gatewayId;
  }

  #seconds(): number {
    return Math.floor(this.#now() / 1000);
  }

  #advance(event: PeerSessionEvent): boolean {
    const next = bridge.step(this.#snapshot, event);
    if (!next) return false;
    this.#snapshot = next;
    return true;
  }

  /** Session traffic only while the session lives; past its expiry it is over for good. */
  #requireLive(event: "MESSAGE" | "RELAY"): void {
    const now = this.#seconds();
    // Expiry first: past it the session is over for good.
    if (!this.#advance({ type: "EXPIRE", now }) && this.#advance({ type: event })) return;
    throw new CpnsError("ERR_PEER_SESSION_GONE");
  }

  /**
   * Opens a session with the PN GW that created the OTK. The OTK is tried
   * once: whatever happens, it is zeroed before this returns.
   */
  static async open(options: OpenPeerSessionOptions): Promise<PeerSession> {
    const { view, otk } = options.received;
    const gatewayUrl = options.gatewayUrl ?? view.endpoint;
    if (!gatewayUrl) {
      otk.fill(0);
      throw new CpnsError("ERR_CONFIG", "no address for the PN GW");
    }
    // The OTK names the PN GW's TLS key (OTK-TLS-PIN): never speak to it in clear. Pinning the
    // key itself is the transport's (the runtime's trusted fetch, given that pin).
    if (view.tlsPin && new URL(gatewayUrl).protocol !== "https:") {
      otk.fill(0);
      throw new CpnsError(
        "ERR_TLS_UNTRUSTED",
        `the OTK names a TLS key for ${view.issuerId}, but ${gatewayUrl} is not https`,
      );
    }
    const now = options.now ?? Date.now;
    const session = new PeerSession(
      bridge.initial({
        entityId: options.entityId,
        gatewayId: view.issuerId,
        otkId: view.otkId,
        otkExpiresAt: view.expiresAt,
      }),
      gatewayUrl,
      now,
    );
    try {
      await session.#open(options, otk);
      return session;
    } finally {
      otk.fill(0);
    }
  }

  async #open(options: OpenPeerSessionOptions, otk: Uint8Array): Promise<void> {
    const at = this.#seconds();
    if (this.#advance({ type: "EXPIRE", now: at }) || !this.#advance({ type: "OPEN" })) {
      throw new CpnsError("ERR_OTK_GONE");
    }
    const withOtk = agentDigestFetch({
      username: options.entityId,
      password: toBase64url(otk),
      requireRspauth: true,
      // The PN GW's answer (session id, expiry) is then covered by its rspauth too;
      // never less, whatever a path attacker leaves of the challenge (issue #9 item 1).
      qop: "auth-int",
      minimumQop: "auth-int",
      algorithms: STRONG_ALGORITHMS,
      userhash: false,
      fetch: options.fetch,
      crypto: options.crypto,
    });
    let res: Response;
    try {
      res = await withOtk(`${this.#gatewayUrl}/cpns-gw/v1/sessions`, { method: "POST" });
    } catch (err) {
      this.#advance(
        errorCodeOf(err) === "ERR_DIGEST_SERVER_UNAUTHENTICATED"
          ? { type: "GATEWAY_UNPROVEN" }
          : { type: "REJECTED" },
      );
      throw err;
    }
    if (res.status !== 201) {
      this.#advance({ type: "REJECTED" });
      throw await problemOf(res);
    }
    const exchange = digestExchangeOf(res);
    // The realm names the PN GW the OTK came from; anything else is not that PN GW.
    if (!exchange || exchange.realm !== `cpns-gw:${this.gatewayId}`) {
      this.#advance({ type: "GATEWAY_UNPROVEN" });
      await res.body?.cancel();
      throw new CpnsError(
        "ERR_DIGEST_SERVER_UNAUTHENTICATED",
        "not the PN GW that created the OTK",
      );
    }
    const parsed = peerSessionViewSchema.safeParse(await res.json().catch(() => undefined));
    if (
      !parsed.success ||
      parsed.data.peerId !== options.entityId ||
      parsed.data.gatewayId !== this.gatewayId
    ) {
      this.#advance({ type: "GATEWAY_UNPROVEN" });
      throw new CpnsError(
        "ERR_DIGEST_SERVER_UNAUTHENTICATED",
        "the PN GW's answer is not a session",
      );
    }
    const view = parsed.data;
    this.#secret = await peerSessionSecret(otk, exchange, options.crypto);
    this.#transport = options.fetch;
    this.#crypto = options.crypto;
    const secret = toBase64url(this.#secret);
    this.#advance({
      type: "GATEWAY_PROVED",
      sessionId: view.sessionId,
      sessionExpiresAt: view.expiresAt,
    });
    const credentials = {
      username: view.sessionId,
      password: secret,
      requireRspauth: true,
      qop: "auth-int" as const,
      minimumQop: "auth-int" as const,
      algorithms: STRONG_ALGORITHMS,
      userhash: false,
      fetch: options.fetch,
      crypto: options.crypto,
    };
    // The session routes' first challenge comes with the opening too (PEER-SESSION-PRIMED).
    this.#sessionFetch = primedAgentDigestFetch(credentials, {
      challenge: res.headers.get("www-authenticate"),
      origin: new URL(this.#gatewayUrl).origin,
    });
    // The relay's first challenge comes with the session (see src/gateway/gateway.ts).
    const relayChallenge = res.headers.get("proxy-authenticate");
    this.#proxyFetch = agentDigestFetch({
      ...credentials,
      proxy: true,
      ...(relayChallenge ? { primeWith: { challenge: relayChallenge } } : {}),
    });
  }

  /** Session traffic: a message the PN GW echoes, both ways authenticated. */
  async send(message: string): Promise<PeerMessageResponse> {
    this.#requireLive("MESSAGE");
    const res = await this.#sessionFetch?.(
      `${this.#gatewayUrl}/cpns-gw/v1/sessions/${this.sessionId}/messages`,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ message }),
      },
    );
    if (!res) throw new CpnsError("ERR_PEER_SESSION_GONE");
    if (!res.ok) {
      // The PN GW ended the session (its clock, or it closed it): so is ours.
      if (res.status === 410) this.#end();
      throw await problemOf(res);
    }
    return (await res.json()) as PeerMessageResponse;
  }

  /** Raw bytes the PN GW echoes as they came (up to 64 KiB), under the session's Digest (auth-int). */
  async sendBytes(bytes: Uint8Array): Promise<Uint8Array> {
    this.#requireLive("MESSAGE");
    const res = await this.#sessionFetch?.(
      `${this.#gatewayUrl}/cpns-gw/v1/sessions/${this.sessionId}/messages`,
      {
        method: "POST",
        headers: { "content-type": "application/octet-stream" },
        body: bytes as BodyInit,
      },
    );
    if (!res) throw new CpnsError("ERR_PEER_SESSION_GONE");
    if (!res.ok) {
      if (res.status === 410) this.#end();
      throw await problemOf(res);
    }
    return new Uint8Array(await res.arrayBuffer());
  }

  /**
   * A transport for this entity's own requests to the CPNS Server (an
   * EntityAgent's `fetch`): each request goes to the PN GW instead, with the
   * session's Proxy-Authorization, as to an HTTP proxy; its path, body and
   * Authorization are left as they are, so the server sees what the entity sent.
   */
  relayTransport(): FetchLike {
    return async (request) => {
      this.#requireLive("RELAY");
      const original = new URL(request.url);
      const body =
        request.method === "GET" || request.method === "HEAD"
          ? undefined
          : new Uint8Array(await request.arrayBuffer());
      const relayed = new Request(`${this.#gatewayUrl}${original.pathname}${original.search}`, {
        method: request.method,
        headers: request.headers,
        body: body as BodyInit | undefined,
        redirect: "manual",
      });
      if (!this.#proxyFetch) throw new CpnsError("ERR_PEER_SESSION_GONE");
      let res: Response;
      try {
        res = await this.#proxyFetch(relayed);
      } catch (err) {
        // The PN GW's hop failed its own proof: say so, rather than let the
        // entity's agent take it for the CPNS Server's failure.
        if (errorCodeOf(err) === "ERR_DIGEST_SERVER_UNAUTHENTICATED") {
          throw new CpnsError("ERR_GATEWAY_UNAUTHENTICATED");
        }
        if (errorCodeOf(err)) throw err;
        // fetch() reports the PN GW's 407 (session unknown to it) as a network
        // error, indistinguishable from an unreachable PN GW.
        throw new CpnsError(
          "ERR_PEER_SESSION_GONE",
          "the PN GW refused the relay or is unreachable",
        );
      }
      await this.#refusedByGateway(res);
      return res;
    };
  }

  /**
   * The PN GW's own refusal of a relayed request is reported as the PN GW's
   * problem, not handed to the entity's agent as if the server had said it.
   * Its own: the PN GW proved itself (Proxy-Authentication-Info), the answer
   * carries no Authentication-Info of the server's (which the server sends with
   * every 403 it gives an authenticated entity), and the code is one only the
   * PN GW gives (the relay's refusals, spec/otk.md §6).
   */
  async #refusedByGateway(res: Response): Promise<void> {
    if (
      res.ok ||
      !res.headers.has("proxy-authentication-info") ||
      res.headers.has("authentication-info") ||
      !(res.headers.get("content-type") ?? "").startsWith("application/problem+json")
    ) {
      return;
    }
    const problem = await problemOf(res.clone());
    if (!GATEWAY_REFUSALS.has(problem.code)) return;
    await res.body?.cancel();
    if (res.status === 410) this.#end();
    throw problem;
  }

  /**
   * Opens the CPNS secure channel with the PN GW under this session (seed
   * 5.x.4; src/agent/peer-channel.ts): one Digest request with the session's
   * credentials (auth-int, rspauth required), whose nonce and cnonce salt the
   * channel's keys. The session's traffic can then go as records.
   */
  async openChannel(): Promise<PeerChannel> {
    this.#requireLive("MESSAGE");
    const res = await this.#sessionFetch?.(`${this.#gatewayUrl}${PEER_CHANNELS_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    if (!res || !this.#secret) throw new CpnsError("ERR_PEER_SESSION_GONE");
    if (res.status !== 201) {
      if (res.status === 410) this.#end();
      throw await problemOf(res);
    }
    // The session fetch verified rspauth over this answer: the channel id is the PN GW's.
    const exchange = digestExchangeOf(res);
    if (!exchange) throw new CpnsError("ERR_DIGEST_SERVER_UNAUTHENTICATED");
    const { sessionId, expiresAtMs } = await openingAnswer(res);
    return PeerChannel.create(this, {
      context: {
        secret: this.#secret,
        nonce: exchange.nonce,
        cnonce: exchange.cnonce,
        clientId: this.#snapshot.context.entityId,
        serverId: this.gatewayId,
        sessionId,
      },
      expiresAtMs,
      now: this.#now,
      ...(this.#crypto ? { crypto: this.#crypto } : {}),
      recordUrl: `${this.#gatewayUrl}${PEER_CHANNELS_PATH}/${sessionId}`,
      transport: this.#transport ?? ((request) => fetch(request)),
    });
  }

  /** The PN GW says the session is over: so is ours. */
  #end(): void {
    this.#advance({ type: "CLOSE" });
    this.#sessionFetch = undefined;
    this.#proxyFetch = undefined;
    this.#secret?.fill(0);
    this.#secret = undefined;
  }

  async close(): Promise<void> {
    if (this.#snapshot.value !== "open") return;
    const res = await this.#sessionFetch?.(
      `${this.#gatewayUrl}/cpns-gw/v1/sessions/${this.sessionId}`,
      { method: "DELETE" },
    );
    this.#end();
    if (res && res.status !== 204) throw await problemOf(res);
  }
}
