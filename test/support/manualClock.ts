/**
 * A clock whose time moves only when a test says so. `advance()` runs the timers that fall due,
 * in order, and awaits the work each returns, so a test sees the outcome of a timeout as soon as
 * `advance()` resolves — no real waiting, no races with the scheduler.
 */
import type { Clock, TimerHandle } from '../../calls/clock.js';

interface Timer {
  id: number;
  at: number;
  fn: () => unknown;
}

const MAX_TIMERS_PER_ADVANCE = 10_000;

export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, Timer>();

  constructor(start = 1_764_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => unknown, delayMs: number): TimerHandle {
    const id = ++this.#seq;
    this.#timers.set(id, { id, at: this.#now + Math.max(0, delayMs), fn });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }

  /** Timers armed and not yet run. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, running (and awaiting) every timer due by then, earliest first. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (let i = 0; i < MAX_TIMERS_PER_ADVANCE; i++) {
      const due = [...this.#timers.values()]
        .filter((t) => t.at <= target)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.#timers.delete(due.id);
      this.#now = due.at;
      await due.fn();
    }
    this.#now = target;
  }
}
