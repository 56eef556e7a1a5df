/**
 * The bot's receive-side RTP math: loss from sequence numbers (wrap-around, reordering,
 * duplicates, restarts), RFC 3550 interarrival jitter, freezes, and percentiles.
 */
import { describe, expect, it } from 'vitest';
import { FreezeDetector } from '../bot/stats/freezeDetector.js';
import { distribution, percentile } from '../bot/stats/percentiles.js';
import { RtpStreamStats } from '../bot/stats/rtpStreamStats.js';

/** Feeds packets 20 ms apart (audio: 960 ticks at 48 kHz) in the given sequence order. */
function feed(stats: RtpStreamStats, seqs: number[], startMs = 0): void {
  seqs.forEach((seq, i) => stats.onPacket(seq, seq * 960, startMs + i * 20, 100));
}

describe('RtpStreamStats: loss', () => {
  it('counts nothing lost for an in-order stream', () => {
    const s = new RtpStreamStats(48000);
    feed(s, [10, 11, 12, 13, 14]);
    expect(s.snapshot()).toMatchObject({ packets: 5, bytes: 500, expected: 5, lost: 0, lossRatio: 0 });
  });

  it('counts the gap as lost', () => {
    const s = new RtpStreamStats(48000);
    feed(s, [1, 2, 5, 6]);
    expect(s.snapshot()).toMatchObject({ expected: 6, lost: 2 });
    expect(s.snapshot().lossRatio).toBeCloseTo(2 / 6);
  });

  it('handles 16-bit wrap-around without inventing loss', () => {
    const s = new RtpStreamStats(48000);
    feed(s, [65533, 65534, 65535, 0, 1, 2]);
    expect(s.snapshot()).toMatchObject({ expected: 6, lost: 0 });
  });

  it('counts loss across the wrap', () => {
    const s = new RtpStreamStats(48000);
    feed(s, [65534, 65535, 2, 3]); // 0 and 1 missing
    expect(s.snapshot()).toMatchObject({ expected: 6, lost: 2 });
  });

  it('does not count reordered packets as lost, and a late one repairs the count', () => {
    const s = new RtpStreamStats(48000);
    feed(s, [1, 2, 4, 5]);
    expect(s.snapshot().lost).toBe(1);
    s.onPacket(3, 3 * 960, 200, 100);
    expect(s.snapshot()).toMatchObject({ expected: 5, lost: 0, reordered: 1 });
  });

  it('reordering across the wrap', () => {
    const s = new RtpStreamStats(48000);
    feed(s, [65534, 0, 65535, 1]);
    expect(s.snapshot()).toMatchObject({ expected: 4, lost: 0, reordered: 1, duplicates: 0 });
  });

  it('ignores duplicates (they neither hide loss nor count as received twice)', () => {
    const s = new RtpStreamStats(48000);
    feed(s, [1, 2, 2, 4, 4]);
    expect(s.snapshot()).toMatchObject({ packets: 5, expected: 4, lost: 1, duplicates: 2 });
  });

  it('ignores packets from before the first one', () => {
    const s = new RtpStreamStats(48000);
    feed(s, [100, 101, 99]);
    expect(s.snapshot()).toMatchObject({ expected: 2, lost: 0 });
  });

  it('re-bases on a sequence jump once two packets agree, keeping earlier counts', () => {
    const s = new RtpStreamStats(48000);
    feed(s, [1, 2, 3]);
    // The sender restarted with new sequence numbers: one stray packet is not believed…
    s.onPacket(40000, 0, 100, 100);
    expect(s.snapshot()).toMatchObject({ expected: 3, lost: 0 });
    // …two in a row are: a new run starts there.
    s.onPacket(40001, 960, 120, 100);
    s.onPacket(40002, 1920, 140, 100);
    s.onPacket(40004, 3840, 160, 100);
    expect(s.snapshot()).toMatchObject({ expected: 3 + 4, lost: 1 });
  });
});

describe('RtpStreamStats: jitter (RFC 3550)', () => {
  it('is zero when packets arrive exactly on their timestamps', () => {
    const s = new RtpStreamStats(48000);
    for (let i = 0; i < 100; i++) s.onPacket(i, i * 960, i * 20, 100);
    expect(s.snapshot().jitterMs).toBe(0);
  });

  it('converges to the mean deviation when every other packet is 10 ms late', () => {
    const s = new RtpStreamStats(48000);
    for (let i = 0; i < 400; i++) s.onPacket(i, i * 960, i * 20 + (i % 2 ? 10 : 0), 100);
    // |D| is 10 ms for every pair, so J → 10 ms.
    expect(s.snapshot().jitterMs).toBeCloseTo(10, 1);
  });

  it('survives RTP timestamp wrap-around', () => {
    const s = new RtpStreamStats(90000);
    const start = 2 ** 32 - 3 * 4500;
    for (let i = 0; i < 10; i++) s.onPacket(i, (start + i * 4500) >>> 0, i * 50, 1000);
    expect(s.snapshot().jitterMs).toBeCloseTo(0, 6);
  });

  it('uses the first-order filter J += (|D| - J) / 16', () => {
    const s = new RtpStreamStats(1000); // 1 tick = 1 ms, so the numbers are readable
    s.onPacket(0, 0, 0, 1);
    s.onPacket(1, 20, 36, 1); // D = 16 → J = 1
    expect(s.snapshot().jitterMs).toBeCloseTo(1);
    s.onPacket(2, 40, 56, 1); // D = 0 → J = 1 - 1/16
    expect(s.snapshot().jitterMs).toBeCloseTo(15 / 16);
  });
});

describe('freezes', () => {
  it('counts a gap over 500 ms after the first packet as one freeze of that length', () => {
    const s = new RtpStreamStats(90000);
    s.onPacket(1, 0, 0, 1);
    s.onPacket(2, 4500, 50, 1);
    s.onPacket(3, 9000, 750, 1); // 700 ms gap
    s.onPacket(4, 13500, 1200, 1); // 450 ms: not a freeze
    expect(s.snapshot()).toMatchObject({ freezes: 1, freezeMs: 700 });
  });

  it('counts a silence still going on only when asked with a time', () => {
    const s = new RtpStreamStats(90000);
    s.onPacket(1, 0, 0, 1);
    expect(s.snapshot(400).freezes).toBe(0);
    expect(s.snapshot(2000)).toMatchObject({ freezes: 1, freezeMs: 2000 });
    expect(s.snapshot()).toMatchObject({ freezes: 0 });
  });

  it('never freezes before the first arrival, and can be switched off', () => {
    expect(new FreezeDetector(500).result(10_000)).toEqual({ freezes: 0, freezeMs: 0 });
    const audio = new RtpStreamStats(48000, { freezeGapMs: Number.POSITIVE_INFINITY });
    audio.onPacket(1, 0, 0, 1);
    audio.onPacket(2, 960, 5000, 1);
    expect(audio.snapshot(20_000).freezes).toBe(0);
  });
});

describe('percentiles', () => {
  it('uses nearest rank', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 95)).toBe(95);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('summarises unsorted values and skips non-finite ones', () => {
    expect(distribution([3, 1, 2, Number.NaN])).toEqual({
      count: 3,
      min: 1,
      mean: 2,
      p50: 2,
      p95: 3,
      p99: 3,
      max: 3,
    });
    expect(distribution([])).toBeUndefined();
  });
});
