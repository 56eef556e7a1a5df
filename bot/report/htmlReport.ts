/**
 * The HTML report: one self-contained file (inline CSS and SVG, no scripts, nothing fetched)
 * with the summary table and charts over time of participants, loss and join time.
 */
import type { BotReport } from './buildReport.js';
import { renderChart, escapeXml } from './svgChart.js';
import { distributionRows, fmt, summaryTable } from './summaryTable.js';

const CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d232a; max-width: 980px; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; } td, th { padding: 3px 10px; border-bottom: 1px solid #dde2e8; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.chart { width: 100%; max-width: 720px; height: auto; display: block; margin: 8px 0 16px; }
.chart .title { font-weight: 600; font-size: 13px; } .chart .tick, .chart .legend { font-size: 11px; fill: #4a5560; }
.chart .label { font-size: 11px; fill: #4a5560; } .chart .grid { stroke: #eef1f4; } .chart .axis { stroke: #8a96a3; }
pre { background: #f5f7f9; padding: 10px; overflow-x: auto; font-size: 12px; }
.bad { color: #b3261e; }
`;

export function renderHtmlReport(report: BotReport): string {
  const s = report.summary;
  const sec = (ms: number): number => ms / 1000;
  const participants = renderChart({
    id: 'chart-participants',
    title: 'Participants over time',
    xLabel: 'time (s)',
    yLabel: 'bots',
    kind: 'line',
    yMin: 0,
    series: [
      { name: 'joined', color: '#1f77b4', points: report.timeline.map((t) => [sec(t.tMs), t.states.joined]) },
      {
        name: 'joining / reconnecting',
        color: '#ff7f0e',
        points: report.timeline.map((t) => [sec(t.tMs), t.states.joining + t.states.reconnecting]),
      },
      { name: 'failed', color: '#d62728', points: report.timeline.map((t) => [sec(t.tMs), t.states.failed]) },
    ],
  });
  const loss = renderChart({
    id: 'chart-loss',
    title: 'Packet loss over time (all received streams)',
    xLabel: 'time (s)',
    yLabel: 'loss %',
    kind: 'line',
    yMin: 0,
    series: [
      { name: 'loss %', color: '#d62728', points: report.timeline.map((t) => [sec(t.tMs), t.lossPct]) },
    ],
  });
  const joins = renderChart({
    id: 'chart-join-time',
    title: 'Join time (connect → joined) by time of join',
    xLabel: 'time (s)',
    yLabel: 'join ms',
    kind: 'scatter',
    yMin: 0,
    series: [{ name: 'join ms', color: '#2ca02c', points: report.joins.map((j) => [sec(j.tMs), j.joinMs]) }],
  });
  const bitrate = renderChart({
    id: 'chart-bitrate',
    title: 'Received bitrate over time (all bots)',
    xLabel: 'time (s)',
    yLabel: 'kbit/s',
    kind: 'line',
    yMin: 0,
    series: [
      {
        name: 'received kbit/s',
        color: '#9467bd',
        points: report.timeline.map((t) => [sec(t.tMs), t.kbpsReceived]),
      },
    ],
  });
  const cpu = renderChart({
    id: 'chart-cpu',
    title: 'Bot process CPU over time',
    xLabel: 'time (s)',
    yLabel: '% of one core',
    kind: 'line',
    yMin: 0,
    series: [
      { name: 'bot CPU %', color: '#8c564b', points: report.timeline.map((t) => [sec(t.tMs), t.cpuPct]) },
    ],
  });

  const distRows = distributionRows(report)
    .map(
      ([name, d, digits]) =>
        `<tr><td>${escapeXml(name)}</td><td>${fmt(d?.p50, digits)}</td><td>${fmt(d?.p95, digits)}</td><td>${fmt(d?.p99, digits)}</td><td>${fmt(d?.max, digits)}</td><td>${d?.count ?? 0}</td></tr>`,
    )
    .join('\n');
  const botRows = report.bots
    .map((b) => {
      const lost = b.streams.reduce((n, x) => n + x.lost, 0);
      const expected = b.streams.reduce((n, x) => n + x.expected, 0);
      const freezes = b.streams.reduce((n, x) => n + x.freezes, 0);
      const cls = b.state === 'failed' ? ' class="bad"' : '';
      return `<tr${cls}><td>${escapeXml(b.id)}</td><td>${b.state}</td><td>${fmt(b.joinMs)}</td><td>${fmt(b.joinToFirstPacketMs)}</td><td>${b.streams.filter((x) => x.packets > 0).length}/${b.streams.length}</td><td>${fmt(expected ? (lost / expected) * 100 : 0, 2)}</td><td>${freezes}</td><td>${b.reconnects}</td><td>${b.errorCount}</td></tr>`;
    })
    .join('\n');
  const missing = s.coverage.missing.length
    ? `<p class="bad">Missing media: ${s.coverage.missing.map(escapeXml).join('; ')}</p>`
    : '';

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Bot load test — ${escapeXml(report.run.engine)} — ${escapeXml(report.run.startedAt)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>Bot load test</h1>
<pre>${escapeXml(summaryTable(report))}</pre>
${missing}
<h2>Charts</h2>
${participants}
${loss}
${joins}
${bitrate}
${cpu}
<h2>Distributions</h2>
<table>
<tr><th>metric</th><th>p50</th><th>p95</th><th>p99</th><th>max</th><th>n</th></tr>
${distRows}
</table>
<h2>Bots</h2>
<table>
<tr><th>bot</th><th>state</th><th>join ms</th><th>→ 1st packet ms</th><th>streams receiving</th><th>loss %</th><th>freezes</th><th>reconnects</th><th>errors</th></tr>
${botRows}
</table>
<p>Generated ${escapeXml(report.generatedAt)} · schema ${escapeXml(report.schema)} · the same data is in report.json.</p>
</body>
</html>
`;
}
