/**
 * Measurements of one impaired call, read from the impaired page's own WebRTC stats and presented
 * frames (networkPage.ts): shared by the impairment suite (which asserts bounds) and
 * `bench:networks` (which repeats them for percentiles). Every wait is bounded.
 */
import type { Page } from 'playwright-core';
import type { PageReport, VideoIn } from './networkPage.js';
import { untilValue } from './poll.js';

export function pageReport(page: Page): Promise<PageReport> {
  return page.evaluate(() => window.net.report());
}

/** Waits until remote video decodes steadily; returns its inbound stats at that point. */
export async function waitForFlowingVideo(page: Page, timeoutMs = 30_000): Promise<VideoIn> {
  const r = await untilValue(
    () => pageReport(page),
    (r) => (r.video?.framesDecoded ?? 0) > 40 && r.frames.count > 20,
    { what: 'remote video decoding', timeoutMs, intervalMs: 250 },
  );
  return r.video!;
}

/** Time from the start of the join to the first presented remote frame, ms. */
export async function timeToFirstFrame(page: Page, startedAt: number, timeoutMs = 30_000): Promise<number> {
  const r = await untilValue(
    () => pageReport(page),
    (r) => r.frames.firstAt !== null,
    { what: 'first remote frame', timeoutMs, intervalMs: 100 },
  );
  return Math.round(r.frames.firstAt! - startedAt);
}

export interface LossMeasurement {
  /** Frames decoded per second over the window. */
  fps: number;
  freezeCount: number;
  freezeSeconds: number;
  /** Longest gap between two presented frames, ms. */
  maxFrameGapMs: number;
  nacks: number;
  plis: number;
  /** Video packets lost as the receiver counts them (after the SFU's retransmissions), 0–1. */
  videoLoss: number;
  audioPackets: number;
  /** Concealed audio samples / samples received (0–1). */
  audioConcealedRatio: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Measures the remote stream over a fixed window: the window is the measurement itself (how the
 * stream fares for `windowMs` under the profile), not a wait for a condition.
 */
export async function measureLoss(page: Page, windowMs: number): Promise<LossMeasurement> {
  await page.evaluate(() => window.net.resetGaps());
  const a = await pageReport(page);
  await sleep(windowMs);
  const b = await pageReport(page);
  const v0 = a.video!;
  const v1 = b.video!;
  const lost = v1.packetsLost - v0.packetsLost;
  const got = v1.packetsReceived - v0.packetsReceived;
  const au0 = a.audio!;
  const au1 = b.audio!;
  const samples = au1.totalSamplesReceived - au0.totalSamplesReceived;
  return {
    fps: Math.round(((v1.framesDecoded - v0.framesDecoded) / windowMs) * 1000 * 10) / 10,
    freezeCount: v1.freezeCount - v0.freezeCount,
    freezeSeconds: Math.round((v1.totalFreezesDuration - v0.totalFreezesDuration) * 100) / 100,
    maxFrameGapMs: Math.round(b.frames.maxGapMs),
    nacks: v1.nackCount - v0.nackCount,
    plis: v1.pliCount - v0.pliCount,
    videoLoss: got + lost > 0 ? Math.round((lost / (got + lost)) * 1000) / 1000 : 0,
    audioPackets: au1.packetsReceived - au0.packetsReceived,
    audioConcealedRatio:
      samples > 0 ? Math.round(((au1.concealedSamples - au0.concealedSamples) / samples) * 1000) / 1000 : 1,
  };
}

export interface ThinLinkMeasurement {
  /** From the rate limit until the receiver decodes the lowest layer (≤ 160 px wide); null: never. */
  lowestLayerAfterMs: number | null;
  /** From the rate limit until this client's own quality reads `poor`; null: never. */
  poorAfterMs: number | null;
  /** Audio concealed over `audioWindowMs` after the switch (0–1). */
  audioConcealedRatio: number;
  audioPackets: number;
  fpsOnLowestLayer: number;
}

/** Polls every 250 ms (at most `timeoutMs`) for the layer switch and the quality, then measures audio. */
export async function measureThinLink(
  page: Page,
  timeoutMs: number,
  audioWindowMs = 8000,
): Promise<ThinLinkMeasurement> {
  const start = Date.now();
  let lowest: number | null = null;
  let poor: number | null = null;
  while (Date.now() - start < timeoutMs && (lowest === null || poor === null)) {
    const r = await pageReport(page);
    const t = Date.now() - start;
    if (lowest === null && r.video && r.video.frameWidth > 0 && r.video.frameWidth <= 160) lowest = t;
    if (poor === null && r.quality[r.peerId] === 'poor') poor = t;
    await sleep(250);
  }
  const a = await pageReport(page);
  await sleep(audioWindowMs);
  const b = await pageReport(page);
  const samples = b.audio!.totalSamplesReceived - a.audio!.totalSamplesReceived;
  return {
    lowestLayerAfterMs: lowest,
    poorAfterMs: poor,
    audioConcealedRatio:
      samples > 0
        ? Math.round(((b.audio!.concealedSamples - a.audio!.concealedSamples) / samples) * 1000) / 1000
        : 1,
    audioPackets: b.audio!.packetsReceived - a.audio!.packetsReceived,
    fpsOnLowestLayer:
      Math.round(((b.video!.framesDecoded - a.video!.framesDecoded) / audioWindowMs) * 1000 * 10) / 10,
  };
}

export interface RecoveryMeasurement {
  /**
   * From the disruption's end (the network change itself, or the moment an outage was lifted)
   * until remote frames flowed again: the end of the last stall over 500 ms, ms (0: no stall).
   */
  mediaBackMs: number;
  /** Longest gap between presented frames from the disruption's start until media was back, ms. */
  maxFrameGapMs: number;
}

/** Frames count as flowing when none is more than this apart. */
const STALL_MS = 500;

/**
 * Disrupts (`disrupt`), lifts it after `liftAfterMs` with `lift` if given, then polls every 200 ms
 * (at most `timeoutMs`) until remote frames have flowed without a stall for `settleMs` after that
 * moment. Waiting for steady frames, not for the first one: right after a network change a few
 * frames already in flight are still presented before the stall, and must not end the measurement.
 */
export async function measureRecovery(
  page: Page,
  disrupt: () => void,
  opts: { lift?: () => void; liftAfterMs?: number; timeoutMs: number; settleMs?: number },
): Promise<RecoveryMeasurement> {
  const settleMs = opts.settleMs ?? 2000;
  await page.evaluate(() => window.net.resetGaps());
  const startedAt = Date.now();
  disrupt();
  if (opts.lift) {
    await sleep(opts.liftAfterMs ?? 0);
    opts.lift();
  }
  const liftedAt = Date.now();
  // One frame from before the disruption, so the first gap is measured from the last frame seen.
  const since = startedAt - 2000;
  const analyse = (times: number[]): { backAt: number; maxGap: number; steadyFor: number } => {
    let backAt = times.find((t) => t > liftedAt) ?? Number.POSITIVE_INFINITY;
    let maxGap = 0;
    let stallEnd: number | undefined;
    for (let i = 1; i < times.length; i++) {
      const gap = times[i]! - times[i - 1]!;
      if (times[i]! <= startedAt) continue;
      maxGap = Math.max(maxGap, gap);
      if (gap > STALL_MS) stallEnd = times[i]!;
    }
    if (stallEnd !== undefined && stallEnd > liftedAt) backAt = stallEnd;
    const last = times.at(-1) ?? 0;
    const flowing = Date.now() - last < STALL_MS;
    return { backAt, maxGap, steadyFor: flowing ? last - Math.max(backAt, liftedAt) : 0 };
  };
  const times = await untilValue(
    () => page.evaluate((t) => window.net.framesSince(t), since),
    (ts) => analyse(ts).steadyFor >= settleMs,
    { what: 'remote frames flowing again after the disruption', timeoutMs: opts.timeoutMs, intervalMs: 200 },
  );
  const { backAt, maxGap } = analyse(times);
  return { mediaBackMs: Math.round(Math.max(0, backAt - liftedAt)), maxFrameGapMs: Math.round(maxGap) };
}
