/**
 * When to try again after a connection or a session was lost, and when to give up: the one retry
 * policy of the SDK (signaling connection, room re-entry) and the bot. Shaped like LiveKit's
 * `ReconnectPolicy`: the policy is asked for the delay before each attempt and answers `null` to stop,
 * so an app can plug in its own (e.g. "retry forever while the tab is visible").
 */

export interface ReconnectContext {
  /** Attempts that failed so far (0 before the first one). */
  readonly retryCount: number;
  /** Since the connection was lost. */
  readonly elapsedMs: number;
  /** Why the last attempt failed (undefined before the first one). */
  readonly retryReason?: unknown;
}

export interface ReconnectPolicy {
  /** Milliseconds to wait before the next attempt, or `null` to stop retrying. */
  nextRetryDelayInMs(context: ReconnectContext): number | null;
}

export interface BackoffOptions {
  /** Attempts in all (default 6). */
  maxAttempts?: number;
  /** The delay the doubling starts from (default 500 ms). */
  baseDelayMs?: number;
  /** No delay is longer than this (default 8 s). */
  maxDelayMs?: number;
  /** Stop once this long has passed since the loss (default: no limit besides maxAttempts). */
  maxElapsedMs?: number;
  /**
   * Make the first attempt at once (default true): a socket that dropped because of a server blip or
   * an expired token usually comes back on the first try. The bot turns this off so that a room's
   * worth of bots does not reconnect in the same millisecond.
   */
  firstAttemptImmediate?: boolean;
  /** For tests: a source of randomness in [0, 1). */
  random?: () => number;
}

/**
 * Doubling delays with "equal jitter" (each delay is uniformly drawn from the upper half of its
 * ceiling), capped, bounded in attempts and optionally in time. Jitter keeps many clients that lost
 * the same server from coming back in lockstep; the lower half bound keeps the delays growing.
 */
export class DefaultReconnectPolicy implements ReconnectPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxElapsedMs: number;
  readonly #immediate: boolean;
  readonly #random: () => number;

  constructor(opts: BackoffOptions = {}) {
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? 6);
    this.baseDelayMs = Math.max(0, opts.baseDelayMs ?? 500);
    this.maxDelayMs = Math.max(this.baseDelayMs, opts.maxDelayMs ?? 8_000);
    this.maxElapsedMs = opts.maxElapsedMs ?? Number.POSITIVE_INFINITY;
    this.#immediate = opts.firstAttemptImmediate ?? true;
    this.#random = opts.random ?? Math.random;
  }

  nextRetryDelayInMs({ retryCount, elapsedMs }: ReconnectContext): number | null {
    if (retryCount >= this.maxAttempts || elapsedMs >= this.maxElapsedMs) return null;
    if (this.#immediate && retryCount === 0) return 0;
    const step = this.#immediate ? retryCount - 1 : retryCount;
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** step);
    return Math.round(ceiling / 2 + (this.#random() * ceiling) / 2);
  }
}

/** A policy that never retries: a connection that belongs to one room entry, replaced on loss. */
export const NO_RECONNECT: ReconnectPolicy = { nextRetryDelayInMs: () => null };

/**
 * Errors that no retry can cure: the token source refused for good (signed out, device revoked,
 * refresh token reused: any 4xx from the accounts API but 408 and 429), or the error says so itself
 * (`fatal: true`, e.g. a connection the server refused with "token invalid").
 */
export function isFatalError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if ((err as { fatal?: unknown }).fatal === true) return true;
  const status = (err as { status?: unknown }).status;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 408 && status !== 429;
}

/** Raised when a retry loop was stopped from outside (the connection or session was closed). */
export class RetryAbortedError extends Error {
  readonly fatal = true;
  constructor(message = 'stopped') {
    super(message);
    this.name = 'RetryAbortedError';
  }
}

export interface RetryOptions {
  policy: ReconnectPolicy;
  /** Default `isFatalError`. */
  isFatal?: (err: unknown) => boolean;
  /** Stops waiting and retrying (the loop then rejects with RetryAbortedError). */
  signal?: AbortSignal;
  /** Before each attempt, after its delay. */
  onAttempt?: (context: ReconnectContext) => void;
}

/**
 * Runs `attempt` until it succeeds, the policy says stop, an error is fatal, or `signal` aborts.
 * Rejects with the last attempt's error (or RetryAbortedError). The one retry loop of the SDK.
 */
export async function retryWithPolicy<T>(
  attempt: (context: ReconnectContext) => Promise<T>,
  opts: RetryOptions,
): Promise<T> {
  const started = Date.now();
  const isFatal = opts.isFatal ?? isFatalError;
  let retryReason: unknown;
  for (let retryCount = 0; ; retryCount++) {
    const context: ReconnectContext = { retryCount, elapsedMs: Date.now() - started, retryReason };
    const delay = opts.policy.nextRetryDelayInMs(context);
    if (delay === null) throw retryReason ?? new RetryAbortedError('the reconnect policy allows no attempt');
    if (!(await sleep(delay, opts.signal))) throw new RetryAbortedError();
    opts.onAttempt?.(context);
    try {
      return await attempt(context);
    } catch (err) {
      if (opts.signal?.aborted) throw new RetryAbortedError();
      if (isFatal(err)) throw err;
      retryReason = err;
    }
  }
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
