/** The SDK's one reconnect policy and retry loop: delays bounded, jittered and capped; fatal errors stop. */
import { describe, expect, it } from 'vitest';
import { ApiError } from '../client/sdk/apiError.js';
import {
  DefaultReconnectPolicy,
  RetryAbortedError,
  isFatalError,
  retryWithPolicy,
  type ReconnectPolicy,
} from '../client/sdk/reconnectPolicy.js';
import { SignalingError } from '../client/sdk/signalingClient.js';

const at = (p: ReconnectPolicy, retryCount: number, elapsedMs = 0): number | null =>
  p.nextRetryDelayInMs({ retryCount, elapsedMs });

describe('DefaultReconnectPolicy', () => {
  it('tries at once, then doubles from the base delay up to the cap, and stops after maxAttempts', () => {
    const high = new DefaultReconnectPolicy({
      maxAttempts: 8,
      baseDelayMs: 500,
      maxDelayMs: 4000,
      random: () => 1,
    });
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((n) => at(high, n))).toEqual([
      0, 500, 1000, 2000, 4000, 4000, 4000, 4000,
    ]);
    expect(at(high, 8)).toBeNull();
  });

  it('jitters each delay within the upper half of its ceiling', () => {
    const low = new DefaultReconnectPolicy({ baseDelayMs: 500, random: () => 0 });
    const high = new DefaultReconnectPolicy({ baseDelayMs: 500, random: () => 1 });
    for (let n = 1; n < 6; n++) expect(at(low, n)! * 2).toBe(at(high, n));
    // Real randomness stays inside those bounds and is not constant.
    const real = new DefaultReconnectPolicy({ maxAttempts: 1000, baseDelayMs: 1000, maxDelayMs: 1000 });
    const delays = Array.from({ length: 200 }, (_, i) => at(real, i + 1)!);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(500);
    expect(Math.max(...delays)).toBeLessThanOrEqual(1000);
    expect(new Set(delays).size).toBeGreaterThan(20);
  });

  it('stops once maxElapsedMs has passed, and can wait before the first attempt', () => {
    const p = new DefaultReconnectPolicy({
      maxAttempts: 100,
      maxElapsedMs: 10_000,
      firstAttemptImmediate: false,
      random: () => 0,
    });
    expect(at(p, 0)).toBe(250);
    expect(at(p, 3, 9_999)).not.toBeNull();
    expect(at(p, 3, 10_000)).toBeNull();
  });
});

describe('isFatalError', () => {
  it('treats refused credentials and closed connections as fatal, passing failures as retryable', () => {
    expect(isFatalError(new ApiError(401, 'REFRESH_TOKEN_INVALID', 'revoked'))).toBe(true);
    expect(isFatalError(new ApiError(403, 'FORBIDDEN', 'no'))).toBe(true);
    expect(isFatalError(new ApiError(429, 'RATE_LIMITED', 'later'))).toBe(false);
    expect(isFatalError(new ApiError(408, 'TIMEOUT', 'slow'))).toBe(false);
    expect(isFatalError(new ApiError(503, 'UNAVAILABLE', 'down'))).toBe(false);
    expect(isFatalError(new ApiError(0, 'NETWORK_ERROR', 'offline'))).toBe(false);
    expect(isFatalError(new SignalingError('DISCONNECTED', 'dropped'))).toBe(false);
    expect(isFatalError(new SignalingError('DISCONNECTED', 'closed', {}, { fatal: true }))).toBe(true);
    expect(isFatalError(new Error('boom'))).toBe(false);
  });
});

describe('retryWithPolicy', () => {
  const fast = (maxAttempts: number): ReconnectPolicy =>
    new DefaultReconnectPolicy({ maxAttempts, baseDelayMs: 2, maxDelayMs: 4 });

  it('retries until an attempt succeeds, telling each attempt its context', async () => {
    const seen: number[] = [];
    const result = await retryWithPolicy(
      async ({ retryCount, retryReason }) => {
        seen.push(retryCount);
        if (retryCount > 0) expect(retryReason).toBeInstanceOf(Error);
        if (retryCount < 2) throw new Error(`try ${retryCount}`);
        return 'ok';
      },
      { policy: fast(5) },
    );
    expect(result).toBe('ok');
    expect(seen).toEqual([0, 1, 2]);
  });

  it('gives up after the policy says stop, with the last error', async () => {
    let attempts = 0;
    await expect(
      retryWithPolicy(
        async () => {
          attempts++;
          throw new Error(`failure ${attempts}`);
        },
        { policy: fast(3) },
      ),
    ).rejects.toThrow('failure 3');
    expect(attempts).toBe(3);
  });

  it('stops at the first fatal error', async () => {
    let attempts = 0;
    const refused = new ApiError(401, 'REFRESH_TOKEN_REUSED', 'signed out');
    await expect(
      retryWithPolicy(
        async () => {
          attempts++;
          throw refused;
        },
        { policy: fast(5) },
      ),
    ).rejects.toBe(refused);
    expect(attempts).toBe(1);
  });

  it('stops waiting when aborted', async () => {
    const stop = new AbortController();
    const slow = new DefaultReconnectPolicy({ baseDelayMs: 60_000, maxDelayMs: 60_000 });
    let attempts = 0;
    const run = retryWithPolicy(
      async () => {
        attempts++;
        throw new Error('down');
      },
      { policy: slow, signal: stop.signal },
    );
    // The first attempt is immediate; the loop then waits a minute, which the abort cuts short.
    await expect.poll(() => attempts).toBe(1);
    const started = Date.now();
    stop.abort();
    await expect(run).rejects.toBeInstanceOf(RetryAbortedError);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
