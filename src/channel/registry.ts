/**
 * spec/channel.md §6 (a channel lives at most as long as its session): the open
 * channels of one serving end, by channel session id, bounded per owner and in
 * total so that no client can grow the map without limit. The CPNS Server keys
 * owners by Entity ID; a PN GW by peer session, so one peer session holds only a
 * few channels and a closed session takes its channels with it.
 *
 * Implements: PEERCH-ONE-PER-SESSION
 */
import type { ChannelEndpoint } from "./endpoint.ts";

export interface RegisteredChannel {
  endpoint: ChannelEndpoint;
  /** Whose channel it is: the bound applies per owner. */
  owner: string;
  expiresAtMs: number;
}

export interface ChannelRegistryLimits {
  perOwner: number;
  total: number;
}

/** Oldest first within an owner, so the oldest goes when one is too many. */
export class ChannelRegistry<T extends RegisteredChannel = RegisteredChannel> {
  readonly #channels = new Map<string, T>();
  /** Each owner's channel ids, oldest first: an opening costs O(perOwner), not O(total). */
  readonly #byOwner = new Map<string, string[]>();

  constructor(
    private readonly now: () => number,
    private readonly limits: ChannelRegistryLimits = { perOwner: 8, total: 10_000 },
  ) {}

  get size(): number {
    return this.#channels.size;
  }

  add(sessionId: string, channel: T): void {
    if (this.#channels.size >= this.limits.total) {
      const nowMs = this.now();
      for (const [id, open] of this.#channels) if (open.expiresAtMs <= nowMs) this.delete(id);
    }
    const mine = this.#byOwner.get(channel.owner) ?? [];
    while (mine.length >= this.limits.perOwner) {
      const oldest = mine.shift() as string;
      this.#channels.delete(oldest);
    }
    if (this.#channels.size >= this.limits.total) {
      this.delete(this.#channels.keys().next().value as string);
    }
    this.#channels.set(sessionId, channel);
    mine.push(sessionId);
    this.#byOwner.set(channel.owner, mine);
  }

  get(sessionId: string): T | undefined {
    return this.#channels.get(sessionId);
  }

  delete(sessionId: string): void {
    const channel = this.#channels.get(sessionId);
    if (!channel) return;
    this.#channels.delete(sessionId);
    const mine = this.#byOwner.get(channel.owner);
    const at = mine?.indexOf(sessionId) ?? -1;
    if (mine && at >= 0) mine.splice(at, 1);
    if (mine?.length === 0) this.#byOwner.delete(channel.owner);
  }

  /** Drops every channel of `owner` (its session or key ended). */
  deleteOwner(owner: string): void {
    for (const id of this.#byOwner.get(owner) ?? []) this.#channels.delete(id);
    this.#byOwner.delete(owner);
  }
}
