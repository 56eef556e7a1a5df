/**
 * How rooms/ writes to the state store when it may be down: a deadline for writes a request waits
 * on, and a bounded-backoff retry for writes that must land eventually (a leave, a release).
 */

/** Rejects if `p` has not settled within `ms` (the write itself may still land later). */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`state store did not answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export interface RetryOptions {
  /** Stops retrying (the node is shutting down). */
  signal: AbortSignal;
  /** Checked before every attempt: false stops retrying (the write is no longer wanted). */
  stillWanted: () => boolean;
  onError: (error: unknown, attempt: number) => void;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Runs `write` until it succeeds, with jittered exponential backoff capped at `maxDelayMs`.
 * Never rejects: it resolves when the write landed, or when it is no longer wanted or allowed.
 */
export async function retryUntil(write: () => Promise<void>, opts: RetryOptions): Promise<void> {
  const base = opts.baseDelayMs ?? 100;
  const max = opts.maxDelayMs ?? 2000;
  for (let attempt = 1; !opts.signal.aborted && opts.stillWanted(); attempt++) {
    try {
      await write();
      return;
    } catch (error) {
      opts.onError(error, attempt);
    }
    const wait = Math.min(max, base * 2 ** Math.min(attempt, 10)) * (0.5 + Math.random() / 2);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, wait);
      function done(): void {
        clearTimeout(timer);
        opts.signal.removeEventListener('abort', done);
        resolve();
      }
      opts.signal.addEventListener('abort', done, { once: true });
    });
  }
}
