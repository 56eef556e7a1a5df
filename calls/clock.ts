/**
 * Time as the call service sees it: the current time and one-shot timers. Injected so ring, media
 * and reconnect timeouts can be tested with a manual clock instead of waiting in real time.
 */
export interface Clock {
  now(): number;
  /**
   * Runs `fn` once after `delayMs`. `fn` may return a promise (the timer's work); a manual clock
   * awaits it, the system clock does not. Timers never keep the process alive.
   */
  setTimeout(fn: () => unknown, delayMs: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Opaque to callers: only the clock that made it can clear it. */
export type TimerHandle = unknown;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, delayMs) => {
    const t = setTimeout(fn, delayMs);
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
