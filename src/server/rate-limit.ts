/**
 * Limits failed password attempts per username and per client address (issue
 * #3): after `maxFailures` failures inside `windowSeconds`, further attempts
 * get 429 with Retry-After until the window that started with the first
 * failure has passed. A success clears the username's count (not the
 * address's: one address guessing many usernames stays limited).
 *
 * In-process memory: one instance of the server. Several instances behind a
 * balancer would each keep their own count; a shared store is future work.
 */
export interface RateLimitOptions {
  maxFailures: number;
  windowSeconds: number;
  now?: () => number;
}

interface Window {
  startedAtMs: number;
  failures: number;
}

/** Bound on tracked keys, so a flood of distinct usernames cannot grow memory without limit. */
const MAX_TRACKED = 100_000;

export class FailureLimiter {
  readonly #windows = new Map<string, Window>();
  readonly #now: () => number;
  readonly #windowMs: number;

  constructor(private readonly options: RateLimitOptions) {
    this.#now = options.now ?? Date.now;
    this.#windowMs = options.windowSeconds * 1000;
  }

  #live(key: string, now: number): Window | undefined {
    const window = this.#windows.get(key);
    if (window && now - window.startedAtMs >= this.#windowMs) {
      this.#windows.delete(key);
      return undefined;
    }
    return window;
  }

  /** Seconds until the key may try again, or 0 when it may try now. */
  retryAfter(keys: readonly string[]): number {
    const now = this.#now();
    let wait = 0;
    for (const key of keys) {
      const window = this.#live(key, now);
      if (window && window.failures >= this.options.maxFailures) {
        wait = Math.max(wait, Math.ceil((window.startedAtMs + this.#windowMs - now) / 1000));
      }
    }
    return wait;
  }

  recordFailure(keys: readonly string[]): void {
    const now = this.#now();
    for (const key of keys) {
      const window = this.#live(key, now);
      if (window) window.failures += 1;
      else {
        if (this.#windows.size >= MAX_TRACKED) {
          this.#windows.delete(this.#windows.keys().next().value as string);
        }
        this.#windows.set(key, { startedAtMs: now, failures: 1 });
      }
    }
  }

  isEmpty(): boolean {
    return this.#windows.size === 0;
  }

  clear(key: string): void {
    this.#windows.delete(key);
  }
}
