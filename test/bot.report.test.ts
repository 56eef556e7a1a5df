/**
 * Report generation from a synthetic run: the JSON shape and its numbers, coverage, the
 * self-contained HTML with its SVG charts, the stdout table, and writing both files.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { StreamStats } from '../bot/engine/botEngine.js';
import { buildReport, coverage, REPORT_SCHEMA } from '../bot/report/buildReport.js';
import { renderHtmlReport } from '../bot/report/htmlReport.js';
import { niceTicks, renderChart } from '../bot/report/svgChart.js';
import { summaryTable } from '../bot/report/summaryTable.js';
import { writeReport } from '../bot/report/writeReport.js';
import type { BotSnapshot } from '../bot/runner/botController.js';
import type { LoadTestResult, TimelineSample } from '../bot/runner/loadTest.js';

function stream(peerId: string, kind: 'audio' | 'video', over: Partial<StreamStats> = {}): StreamStats {
  return {
    consumerId: `c-${peerId}-${kind}`,
    producerId: `p-${peerId}-${kind}`,
    peerId,
    kind,
    packets: 1000,
    bytes: 100_000,
    expected: 1000,
    lost: 0,
    lossRatio: 0,
    duplicates: 0,
    reordered: 0,
    jitterMs: kind === 'audio' ? 1 : 3,
    freezes: 0,
    freezeMs: 0,
    firstArrivalMs: 100,
    lastArrivalMs: 9000,
    firstPacketMs: 40,
    firstFrameMs: undefined,
    framesDecoded: undefined,
    closed: false,
    ...over,
  };
}

function bot(id: string, peer: string, others: string[], over: Partial<BotSnapshot> = {}): BotSnapshot {
  return {
    id,
    room: 'r-1',
    displayName: id,
    engine: 'replay',
    state: 'joined',
    peerIds: [peer],
    joinedAtMs: 100,
    joinMs: 30,
    joinToFirstPacketMs: 120,
    joinToFirstFrameMs: undefined,
    publishMs: 50,
    streams: others.flatMap((o) => [stream(o, 'audio'), stream(o, 'video')]),
    sent: { packets: 2000, bytes: 200_000 },
    reconnects: 0,
    resumes: 0,
    errorCount: 0,
    errors: [],
    ...over,
  };
}

const sample = (tMs: number, joined: number, lossPct: number): TimelineSample => ({
  tMs,
  states: { pending: 0, joining: 3 - joined, joined, reconnecting: 0, failed: 0, stopped: 0 },
  packetsReceived: tMs,
  bytesReceived: tMs * 100,
  lossPct,
  kbpsReceived: 1500,
  cpuPct: 20,
});

function result(): LoadTestResult {
  return {
    options: {
      url: 'http://127.0.0.1:3000',
      rooms: 1,
      perRoom: 3,
      durationSeconds: 10,
      rampPerSecond: 5,
      engine: 'replay',
      roomPrefix: 'r',
      backoff: { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 8000 },
    },
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 10_000,
    aborted: false,
    bots: [
      bot('r-1/1', 'A', ['B', 'C'], { joinMs: 10, joinedAtMs: 0 }),
      // B lost 5% of C's video and had one freeze; it never got A's video.
      bot('r-1/2', 'B', ['A', 'C'], {
        joinMs: 20,
        joinedAtMs: 200,
        reconnects: 1,
        resumes: 2,
        errorCount: 1,
        errors: [{ atMs: 5000, code: 'DISCONNECTED', message: 'signaling closed (1006)' }],
        streams: [
          stream('A', 'audio'),
          stream('A', 'video', { packets: 0, bytes: 0, expected: 0 }),
          stream('C', 'audio'),
          stream('C', 'video', { lost: 50, lossRatio: 0.05, freezes: 1, freezeMs: 800 }),
        ],
      }),
      bot('r-1/3', 'C', ['A', 'B'], { joinMs: 30, joinedAtMs: 400 }),
    ],
    timeline: [sample(1000, 1, 0), sample(2000, 3, 0.5), sample(3000, 3, 0)],
    cpu: { userMs: 1500, systemMs: 500 },
  };
}

describe('buildReport', () => {
  const report = buildReport(result(), new Date('2026-01-01T00:00:11.000Z'));

  it('has the documented top-level shape', () => {
    expect(Object.keys(report).sort()).toEqual([
      'bots',
      'generatedAt',
      'joins',
      'run',
      'schema',
      'summary',
      'timeline',
    ]);
    expect(report.schema).toBe(REPORT_SCHEMA);
    expect(report.run).toMatchObject({
      engine: 'replay',
      rooms: 1,
      perRoom: 3,
      durationMs: 10_000,
      aborted: false,
    });
    expect(JSON.parse(JSON.stringify(report))).toEqual(report); // plain JSON, nothing lost
  });

  it('summarises with p50/p95/p99 and totals', () => {
    const s = report.summary;
    expect(s).toMatchObject({
      bots: 3,
      joined: 3,
      failed: 0,
      reconnects: 1,
      resumes: 2,
      errors: 1,
      errorCodes: { DISCONNECTED: 1 },
    });
    expect(s.joinMs).toMatchObject({ count: 3, p50: 20, p95: 30, p99: 30, min: 10, max: 30 });
    expect(s.streams).toBe(12);
    expect(s.packetsReceived).toBe(11_000);
    expect(s.lossPct).toBeCloseTo((50 / 11_000) * 100);
    expect(s.streamLossPct?.max).toBeCloseTo(5);
    expect(s.streamJitterMs.audio?.p50).toBe(1);
    expect(s.freezes).toEqual({ count: 1, totalMs: 800, videoStreams: 6, videoStreamsWithFreezes: 1 });
    expect(s.cpu.pctOfOneCore).toBeCloseTo(20);
    expect(s.cpu.perBotPctOfOneCore).toBeCloseTo(20 / 3);
    expect(report.joins).toEqual([
      { tMs: 0, joinMs: 10 },
      { tMs: 200, joinMs: 20 },
      { tMs: 400, joinMs: 30 },
    ]);
  });

  it('checks that every bot got audio and video from every other bot in its room', () => {
    expect(report.summary.coverage).toEqual({
      pairs: 6,
      audio: 6,
      video: 5,
      missing: ['r-1/2 ← r-1/1: video'],
    });
    const otherRoom = bot('r-2/1', 'D', [], { room: 'r-2' });
    expect(coverage([...result().bots, otherRoom]).pairs).toBe(6);
  });
});

describe('HTML report', () => {
  const html = renderHtmlReport(buildReport(result()));

  it('contains the charts as inline SVG', () => {
    for (const id of ['chart-participants', 'chart-loss', 'chart-join-time', 'chart-bitrate', 'chart-cpu']) {
      expect(html).toMatch(new RegExp(`<svg[^>]*id="${id}"`));
    }
    expect(html).toContain('Participants over time');
    expect(html).toContain('Packet loss over time');
    expect(html).toContain('Join time');
    expect(html.match(/<circle /g)).toHaveLength(3); // one point per join
    expect(html).toContain('Missing media: r-1/2 ← r-1/1: video');
  });

  it('is self-contained: no scripts, no external resources', () => {
    expect(html).not.toMatch(/<script|<link|<img|@import|url\(/i);
    const urls = html.match(/https?:\/\/[^\s"'<]+/g) ?? [];
    // Only the SVG namespace and the target URL in the summary text.
    expect(new Set(urls)).toEqual(new Set(['http://www.w3.org/2000/svg', 'http://127.0.0.1:3000']));
  });

  it('escapes text from the run', () => {
    const r = result();
    r.bots[0]!.id = '<script>alert(1)</script>';
    expect(renderHtmlReport(buildReport(r))).not.toContain('<script>alert');
  });
});

describe('charts and table', () => {
  it('picks round tick values', () => {
    expect(niceTicks(0, 97)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(0, 0.9)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(5, 5).length).toBeGreaterThan(1);
  });

  it('draws "no data" for an empty chart', () => {
    expect(
      renderChart({ id: 'x', title: 't', xLabel: 'x', yLabel: 'y', kind: 'line', series: [] }),
    ).toContain('no data');
  });

  it('prints the summary table', () => {
    const text = summaryTable(buildReport(result()));
    expect(text).toContain('bots: 3/3 joined, 0 failed, 1 reconnects, 2 resumes, 1 errors (DISCONNECTED×1)');
    expect(text).toContain('coverage: 6/6 pairs with audio, 5/6 with video');
    expect(text).toMatch(/join \(connect → joined\) ms\s+20\s+30\s+30\s+30\s+3/);
  });
});

describe('writeReport', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bot-report-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes report.json and report.html into a new directory', async () => {
    const target = path.join(dir, 'nested', 'run');
    const files = await writeReport(buildReport(result()), target);
    expect(files).toEqual({ json: path.join(target, 'report.json'), html: path.join(target, 'report.html') });
    expect(JSON.parse(readFileSync(files.json, 'utf8')).schema).toBe(REPORT_SCHEMA);
    expect(readFileSync(files.html, 'utf8')).toMatch(/^<!doctype html>/);
  });
});
