/**
 * One process-wide timer that drives every bot's media sender, instead of two timers per bot: with
 * hundreds of bots that is a few hundred wakeups per second instead of tens of thousands.
 * The timer runs only while someone is subscribed.
 */

export interface Tickable {
  tick(nowMs: number): void;
}

/** What a media source needs from the ticker (tests drive sources with a manual one). */
export interface TickerLike {
  add(subscriber: Tickable): void;
  remove(subscriber: Tickable): void;
}

const TICK_MS = 10;

export class MediaTicker implements TickerLike {
  readonly #subscribers = new Set<Tickable>();
  #timer: ReturnType<typeof setInterval> | undefined;

  add(subscriber: Tickable): void {
    this.#subscribers.add(subscriber);
    this.#timer ??= setInterval(() => this.#tick(), TICK_MS);
  }

  remove(subscriber: Tickable): void {
    this.#subscribers.delete(subscriber);
    if (this.#subscribers.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #tick(): void {
    const now = performance.now();
    for (const s of this.#subscribers) {
      try {
        s.tick(now);
      } catch (err) {
        // A broken sender must not stop everyone else's media.
        console.error('media sender failed', err);
      }
    }
  }
}

export const sharedTicker = new MediaTicker();
