/**
 * Seed 5.x.4 between peers (SEED-5.x.4-4 PNE–PN GW over CPNS-1/6, SEED-5.x.4-5
 * PN GW–PN GW over CPNS-3; spec/channel.md §1-§2): the peer's end of the CPNS
 * secure channel with the PN GW it holds a peer session with. PeerSession
 * opens it (`session.openChannel()`: one Digest request under the per-session
 * secret, qop=auth-int, the PN GW's rspauth required); from then on the
 * session's traffic goes as records (record-channel.ts), so nothing on the
 * path between the two reads or alters a message. It lives no longer than its
 * session: once the session is over, nothing more is sent.
 *
 * Implements: PEERCH-OPEN, SEED-5.x.4-4
 * Implements: SEED-5.x.4-5
 */
import type { ChannelEndpoint } from "../channel/endpoint.ts";
import type { FetchLike } from "../digest/index.ts";
import { CpnsError } from "../errors.ts";
import type { PeerMessageResponse } from "../protocol/schemas.ts";
import { problemOf } from "./agent.ts";
import type { PeerSession } from "./peer.ts";
import {
  RecordChannel,
  type RecordChannelPlace,
  type RecordChannelSetup,
} from "./record-channel.ts";

export const PEER_CHANNELS_PATH = "/cpns-gw/v1/channels";

export class PeerChannel extends RecordChannel {
  readonly #session: PeerSession;

  private constructor(session: PeerSession, endpoint: ChannelEndpoint, place: RecordChannelPlace) {
    super(endpoint, place);
    this.#session = session;
  }

  /** Called by PeerSession.openChannel once the opening exchange proved the PN GW. */
  static async create(
    session: PeerSession,
    setup: RecordChannelSetup & { recordUrl: string; transport: FetchLike },
  ): Promise<PeerChannel> {
    const endpoint = await RecordChannel.endpointOf(setup);
    return new PeerChannel(session, endpoint, {
      sessionId: setup.context.sessionId,
      serverId: setup.context.serverId,
      recordUrl: setup.recordUrl,
      transport: setup.transport,
    });
  }

  override async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    if (this.#session.state !== "open") throw new CpnsError("ERR_PEER_SESSION_GONE");
    return super.fetch(path, init);
  }

  #messagesPath(): string {
    return `/cpns-gw/v1/sessions/${this.#session.sessionId}/messages`;
  }

  /** A message the PN GW echoes, inside the channel. */
  async send(message: string): Promise<PeerMessageResponse> {
    const res = await this.fetch(this.#messagesPath(), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message }),
    });
    if (!res.ok) throw await problemOf(res);
    return (await res.json()) as PeerMessageResponse;
  }

  /** Raw bytes the PN GW echoes as they came (up to 64 KiB), inside the channel. */
  async sendBytes(bytes: Uint8Array): Promise<Uint8Array> {
    const res = await this.fetch(this.#messagesPath(), {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: bytes as BodyInit,
    });
    if (!res.ok) throw await problemOf(res);
    return new Uint8Array(await res.arrayBuffer());
  }
}
