/** The summary as aligned plain text, for stdout and CI logs. */
import type { Distribution } from '../stats/percentiles.js';
import type { BotReport } from './buildReport.js';

export function fmt(n: number | undefined, digits = 0): string {
  return n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits);
}

export function distributionRows(report: BotReport): [string, Distribution | undefined, number][] {
  const s = report.summary;
  return [
    ['join (connect → joined) ms', s.joinMs, 0],
    ['publish (joined → producing) ms', s.publishMs, 0],
    ['joined → first packet ms', s.joinToFirstPacketMs, 0],
    ['consume → first packet ms', s.streamFirstPacketMs, 0],
    ['joined → first frame ms', s.joinToFirstFrameMs, 0],
    ['consume → first frame ms', s.streamFirstFrameMs, 0],
    ['loss per stream %', s.streamLossPct, 2],
    ['jitter audio ms', s.streamJitterMs.audio, 2],
    ['jitter video ms', s.streamJitterMs.video, 2],
  ];
}

export function summaryTable(report: BotReport): string {
  const s = report.summary;
  const r = report.run;
  const header = ['metric', 'p50', 'p95', 'p99', 'max', 'n'];
  const rows = distributionRows(report)
    .filter(([, d]) => d !== undefined)
    .map(([name, d, digits]) => [
      name,
      fmt(d!.p50, digits),
      fmt(d!.p95, digits),
      fmt(d!.p99, digits),
      fmt(d!.max, digits),
      String(d!.count),
    ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);
  return [
    `bot run: ${r.engine} engine, ${r.rooms} room(s) × ${r.perRoom}, ramp ${r.rampPerSecond}/s, hold ${r.durationSeconds}s → ${r.url}${r.aborted ? '  (stopped early)' : ''}`,
    `bots: ${s.joined}/${s.bots} joined, ${s.failed} failed, ${s.reconnects} reconnects, ${s.resumes} resumes, ${s.errors} errors` +
      (Object.keys(s.errorCodes).length
        ? ` (${Object.entries(s.errorCodes)
            .map(([c, n]) => `${c}×${n}`)
            .join(', ')})`
        : ''),
    `coverage: ${s.coverage.audio}/${s.coverage.pairs} pairs with audio, ${s.coverage.video}/${s.coverage.pairs} with video`,
    `received: ${s.packetsReceived} packets, ${mb(s.bytesReceived)} MB on ${s.streams} streams; sent ${s.packetsSent} packets, ${mb(s.bytesSent)} MB`,
    `loss: ${fmt(s.lossPct, 3)}% overall; freezes: ${s.freezes.count} (${fmt(s.freezes.totalMs)} ms) on ${s.freezes.videoStreamsWithFreezes}/${s.freezes.videoStreams} video streams` +
      (s.framesDecoded !== undefined ? `; frames decoded: ${s.framesDecoded}` : ''),
    `bot CPU: ${fmt(s.cpu.pctOfOneCore, 1)}% of one core (${fmt(s.cpu.perBotPctOfOneCore, 2)}% per bot)`,
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ].join('\n');
}
