/** The per-socket request budget: bursts up to the capacity, then the refill rate. */
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../signaling/tokenBucket.js';

describe('token bucket', () => {
  it('lets a burst through, then refuses with the time until the next token', () => {
    let now = 0;
    const bucket = new TokenBucket({ capacity: 3, ratePerSecond: 10, now: () => now });
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([0, 0, 0]);
    expect(bucket.take()).toBe(100);
    now += 50;
    expect(bucket.take()).toBe(50);
    now += 50;
    expect(bucket.take()).toBe(0);
  });

  it('never holds more than its capacity after a long idle time', () => {
    let now = 0;
    const bucket = new TokenBucket({ capacity: 2, ratePerSecond: 1, now: () => now });
    now += 1_000_000;
    expect([bucket.take(), bucket.take()]).toEqual([0, 0]);
    expect(bucket.take()).toBeGreaterThan(0);
  });
});
