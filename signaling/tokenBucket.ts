/**
 * A token bucket: `capacity` requests at once, refilled at `ratePerSecond`. One per socket bounds how
 * fast a client can make the server work, while letting a real client's bursts through (a join is
 * followed by a handful of quick requests).
 */
export class TokenBucket {
  readonly #capacity: number;
  readonly #ratePerMs: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;

  constructor(opts: { capacity: number; ratePerSecond: number; now?: () => number }) {
    this.#capacity = opts.capacity;
    this.#ratePerMs = opts.ratePerSecond / 1000;
    this.#now = opts.now ?? Date.now;
    this.#tokens = opts.capacity;
    this.#last = this.#now();
  }

  /** Takes one token; when none is left, returns how long until one is (ms), else 0. */
  take(): number {
    const now = this.#now();
    this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#last) * this.#ratePerMs);
    this.#last = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - this.#tokens) / this.#ratePerMs);
  }
}
