/**
 * The report of a run, as written to report.json: the run's settings, a summary (distributions
 * with p50/p95/p99), coverage (did every bot get audio and video from every other bot in its
 * room), the timeline, every join, and every bot's own numbers.
 */
import type { LoadTestResult, TimelineSample } from '../runner/loadTest.js';
import type { BotSnapshot } from '../runner/botController.js';
import { distribution, type Distribution } from '../stats/percentiles.js';

export const REPORT_SCHEMA = 'calling-service/bot-report@1';
const MAX_MISSING_LISTED = 50;

export interface Coverage {
  /** Ordered (receiver, sender) pairs of bots that were both in the same room. */
  pairs: number;
  audio: number;
  video: number;
  /** Pairs missing audio or video, e.g. "room-1/2 ← room-1/3: video" (first few only). */
  missing: string[];
}

export interface ReportSummary {
  bots: number;
  joined: number;
  failed: number;
  reconnects: number;
  /** Signaling drops the server gave the same session back for (same peer), over all bots. */
  resumes: number;
  errors: number;
  errorCodes: Record<string, number>;
  joinMs: Distribution | undefined;
  publishMs: Distribution | undefined;
  joinToFirstPacketMs: Distribution | undefined;
  streamFirstPacketMs: Distribution | undefined;
  joinToFirstFrameMs: Distribution | undefined;
  streamFirstFrameMs: Distribution | undefined;
  coverage: Coverage;
  streams: number;
  packetsReceived: number;
  bytesReceived: number;
  packetsSent: number;
  bytesSent: number;
  /** Lost / expected over every stream. */
  lossPct: number;
  streamLossPct: Distribution | undefined;
  streamJitterMs: { audio: Distribution | undefined; video: Distribution | undefined };
  freezes: { count: number; totalMs: number; videoStreams: number; videoStreamsWithFreezes: number };
  framesDecoded: number | undefined;
  cpu: { userMs: number; systemMs: number; pctOfOneCore: number; perBotPctOfOneCore: number };
}

export interface BotReport {
  schema: typeof REPORT_SCHEMA;
  generatedAt: string;
  run: LoadTestResult['options'] & { startedAt: string; durationMs: number; aborted: boolean };
  summary: ReportSummary;
  timeline: TimelineSample[];
  joins: { tMs: number; joinMs: number }[];
  bots: BotSnapshot[];
}

export function buildReport(result: LoadTestResult, now: Date = new Date()): BotReport {
  const bots = result.bots;
  const streams = bots.flatMap((b) => b.streams);
  const received = streams.filter((s) => s.packets > 0);
  const video = streams.filter((s) => s.kind === 'video');
  const lost = streams.reduce((n, s) => n + s.lost, 0);
  const expected = streams.reduce((n, s) => n + s.expected, 0);
  const defined = (xs: (number | undefined)[]): number[] => xs.filter((x): x is number => x !== undefined);
  const errorCodes: Record<string, number> = {};
  for (const b of bots) for (const e of b.errors) errorCodes[e.code] = (errorCodes[e.code] ?? 0) + 1;
  const cpuMs = result.cpu.userMs + result.cpu.systemMs;
  const pctOfOneCore = result.durationMs > 0 ? (cpuMs / result.durationMs) * 100 : 0;
  const framesDecoded = video.some((s) => s.framesDecoded !== undefined)
    ? video.reduce((n, s) => n + (s.framesDecoded ?? 0), 0)
    : undefined;

  return {
    schema: REPORT_SCHEMA,
    generatedAt: now.toISOString(),
    run: {
      ...result.options,
      startedAt: result.startedAt,
      durationMs: result.durationMs,
      aborted: result.aborted,
    },
    summary: {
      bots: bots.length,
      joined: bots.filter((b) => b.joinedAtMs !== undefined).length,
      failed: bots.filter((b) => b.state === 'failed').length,
      reconnects: bots.reduce((n, b) => n + b.reconnects, 0),
      resumes: bots.reduce((n, b) => n + b.resumes, 0),
      errors: bots.reduce((n, b) => n + b.errorCount, 0),
      errorCodes,
      joinMs: distribution(defined(bots.map((b) => b.joinMs))),
      publishMs: distribution(defined(bots.map((b) => b.publishMs))),
      joinToFirstPacketMs: distribution(defined(bots.map((b) => b.joinToFirstPacketMs))),
      streamFirstPacketMs: distribution(defined(streams.map((s) => s.firstPacketMs))),
      joinToFirstFrameMs: distribution(defined(bots.map((b) => b.joinToFirstFrameMs))),
      streamFirstFrameMs: distribution(defined(streams.map((s) => s.firstFrameMs))),
      coverage: coverage(bots),
      streams: streams.length,
      packetsReceived: streams.reduce((n, s) => n + s.packets, 0),
      bytesReceived: streams.reduce((n, s) => n + s.bytes, 0),
      packetsSent: bots.reduce((n, b) => n + b.sent.packets, 0),
      bytesSent: bots.reduce((n, b) => n + b.sent.bytes, 0),
      lossPct: expected > 0 ? (lost / expected) * 100 : 0,
      streamLossPct: distribution(received.map((s) => s.lossRatio * 100)),
      streamJitterMs: {
        audio: distribution(received.filter((s) => s.kind === 'audio').map((s) => s.jitterMs)),
        video: distribution(received.filter((s) => s.kind === 'video').map((s) => s.jitterMs)),
      },
      freezes: {
        count: video.reduce((n, s) => n + s.freezes, 0),
        totalMs: video.reduce((n, s) => n + s.freezeMs, 0),
        videoStreams: video.length,
        videoStreamsWithFreezes: video.filter((s) => s.freezes > 0).length,
      },
      framesDecoded,
      cpu: {
        userMs: result.cpu.userMs,
        systemMs: result.cpu.systemMs,
        pctOfOneCore,
        perBotPctOfOneCore: bots.length > 0 ? pctOfOneCore / bots.length : 0,
      },
    },
    timeline: result.timeline,
    joins: bots
      .filter((b) => b.joinedAtMs !== undefined && b.joinMs !== undefined)
      .map((b) => ({ tMs: b.joinedAtMs!, joinMs: b.joinMs! }))
      .sort((a, b) => a.tMs - b.tMs),
    bots,
  };
}

/** For every ordered pair of joined bots in a room: did the receiver get the sender's audio and video? */
export function coverage(bots: readonly BotSnapshot[]): Coverage {
  const out: Coverage = { pairs: 0, audio: 0, video: 0, missing: [] };
  const joined = bots.filter((b) => b.peerIds.length > 0);
  for (const receiver of joined) {
    for (const sender of joined) {
      if (sender === receiver || sender.room !== receiver.room) continue;
      out.pairs++;
      const from = receiver.streams.filter((s) => sender.peerIds.includes(s.peerId) && s.packets > 0);
      const hasAudio = from.some((s) => s.kind === 'audio');
      const hasVideo = from.some((s) => s.kind === 'video');
      if (hasAudio) out.audio++;
      if (hasVideo) out.video++;
      if ((!hasAudio || !hasVideo) && out.missing.length < MAX_MISSING_LISTED) {
        const what = [hasAudio ? '' : 'audio', hasVideo ? '' : 'video'].filter(Boolean).join('+');
        out.missing.push(`${receiver.id} ← ${sender.id}: ${what}`);
      }
    }
  }
  return out;
}
