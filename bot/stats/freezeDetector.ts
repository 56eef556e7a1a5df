/**
 * Counts freezes in a stream of arrival times: a gap longer than `gapMs` after the first
 * arrival is one freeze lasting the whole gap. Used for RTP packets and for decoded frames.
 */
export class FreezeDetector {
  readonly gapMs: number;
  #first: number | undefined;
  #last: number | undefined;
  #freezes = 0;
  #frozenMs = 0;

  constructor(gapMs = 500) {
    this.gapMs = gapMs;
  }

  onArrival(nowMs: number): void {
    if (this.#first === undefined) this.#first = nowMs;
    if (this.#last !== undefined) {
      const gap = nowMs - this.#last;
      if (gap > this.gapMs) {
        this.#freezes++;
        this.#frozenMs += gap;
      }
    }
    this.#last = nowMs;
  }

  get firstMs(): number | undefined {
    return this.#first;
  }
  get lastMs(): number | undefined {
    return this.#last;
  }

  /** With `nowMs`, a silence still in progress counts as one more freeze (not stored). */
  result(nowMs?: number): { freezes: number; freezeMs: number } {
    const ongoing = nowMs !== undefined && this.#last !== undefined ? nowMs - this.#last : 0;
    return ongoing > this.gapMs
      ? { freezes: this.#freezes + 1, freezeMs: this.#frozenMs + ongoing }
      : { freezes: this.#freezes, freezeMs: this.#frozenMs };
  }
}
