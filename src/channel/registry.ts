/**
 * spec/channel.md §6 (a channel lives at most as long as its session): the open
 * channels of one serving end, by channel session id, bounded per owner and in
 * total so that no client can grow the map without limit. The CPNS Server keys
 * owners by Entity ID; a PN GW by peer session, so one peer session holds only a
 * few channels and a closed session takes its channels with it.
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

  constructor(
    private readonly now: () => number,
    private readonly limits: ChannelRegistryLimits = { perOwner: 8, total: 10_000 },
  ) {}

  get size(): number {
    return this.#channels.size;
  }

  add(sessionId: string, channel: T): void {
    const nowMs = this.now();
    if (this.#channels.size >= this.limits.total) {
      for (const [id, open] of this.#channels)
        if (open.expiresAtMs <= nowMs) this.#channels.delete(id);
    }
    const mine = [...this.#channels].filter(([, open]) => open.owner === channel.owner);
    for (const [id] of mine.slice(0, Math.max(0, mine.length - this.limits.perOwner + 1))) {
      this.#channels.delete(id);
    }
    if (this.#channels.size >= this.limits.total) {
      this.#channels.delete(this.#channels.keys().next().value as string);
    }
    this.#channels.set(sessionId, channel);
  }

  get(sessionId: string): T | undefined {
    return this.#channels.get(sessionId);
  }

  delete(sessionId: string): void {
    this.#channels.delete(sessionId);
  }

  /** Drops every channel of `owner` (its session or key ended). */
  deleteOwner(owner: string): void {
    for (const [id, open] of this.#channels) if (open.owner === owner) this.#channels.delete(id);
  }
}
