/**
 * Minimal SVG charts (line and scatter) for the HTML report: axes with round-number ticks, a
 * legend, nothing external. Output is a standalone <svg> string; all text is escaped.
 */

export interface Series {
  name: string;
  color: string;
  points: readonly (readonly [number, number])[];
}

export interface ChartSpec {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  kind: 'line' | 'scatter';
  /** Lower bound of the y axis range (charts of counts and percentages start at 0). */
  yMin?: number;
}

const W = 720;
const H = 260;
const PAD = { left: 56, right: 16, top: 28, bottom: 40 };

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** About `count` ticks at 1/2/5 × 10^n steps covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0];
  if (max <= min) max = min + 1;
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const ticks: number[] = [];
  // At most count*3 ticks, whatever rounding does.
  for (let v = Math.floor(min / step) * step, i = 0; v <= max + step / 2 && i < count * 3; v += step, i++) {
    ticks.push(Number(v.toPrecision(12)));
  }
  return ticks;
}

function formatTick(v: number): string {
  if (Math.abs(v) >= 1000) return `${Number((v / 1000).toPrecision(3))}k`;
  return String(Number(v.toPrecision(3)));
}

export function renderChart(spec: ChartSpec): string {
  const all = spec.series.flatMap((s) => s.points);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const xTicks = niceTicks(xs.length ? Math.min(...xs) : 0, xs.length ? Math.max(...xs) : 1);
  const yTicks = niceTicks(spec.yMin ?? (ys.length ? Math.min(...ys) : 0), ys.length ? Math.max(...ys) : 1);
  const [x0, x1] = [xTicks[0]!, xTicks[xTicks.length - 1]!];
  const [y0, y1] = [yTicks[0]!, yTicks[yTicks.length - 1]!];
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const sx = (x: number): number => PAD.left + ((x - x0) / (x1 - x0 || 1)) * plotW;
  const sy = (y: number): number => PAD.top + plotH - ((y - y0) / (y1 - y0 || 1)) * plotH;
  const f = (n: number): string => n.toFixed(1);

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" id="${escapeXml(spec.id)}" class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeXml(spec.title)}">`,
    `<text x="${PAD.left}" y="18" class="title">${escapeXml(spec.title)}</text>`,
  ];
  for (const t of yTicks) {
    parts.push(
      `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${f(sy(t))}" y2="${f(sy(t))}" class="grid"/>`,
      `<text x="${PAD.left - 6}" y="${f(sy(t) + 4)}" text-anchor="end" class="tick">${formatTick(t)}</text>`,
    );
  }
  for (const t of xTicks) {
    parts.push(
      `<text x="${f(sx(t))}" y="${H - PAD.bottom + 16}" text-anchor="middle" class="tick">${formatTick(t)}</text>`,
    );
  }
  parts.push(
    `<line x1="${PAD.left}" x2="${PAD.left}" y1="${PAD.top}" y2="${PAD.top + plotH}" class="axis"/>`,
    `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${PAD.top + plotH}" y2="${PAD.top + plotH}" class="axis"/>`,
    `<text x="${PAD.left + plotW / 2}" y="${H - 6}" text-anchor="middle" class="label">${escapeXml(spec.xLabel)}</text>`,
    `<text transform="translate(14 ${PAD.top + plotH / 2}) rotate(-90)" text-anchor="middle" class="label">${escapeXml(spec.yLabel)}</text>`,
  );
  spec.series.forEach((s, i) => {
    const color = escapeXml(s.color);
    if (spec.kind === 'line' && s.points.length > 0) {
      const d = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${f(sx(p[0]))} ${f(sy(p[1]))}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2" class="series"/>`);
    } else {
      for (const p of s.points) {
        parts.push(`<circle cx="${f(sx(p[0]))}" cy="${f(sy(p[1]))}" r="3" fill="${color}" class="point"/>`);
      }
    }
    const lx = W - PAD.right - 150;
    const ly = PAD.top + 4 + i * 16;
    parts.push(
      `<rect x="${lx}" y="${ly}" width="10" height="10" fill="${color}"/>`,
      `<text x="${lx + 14}" y="${ly + 9}" class="legend">${escapeXml(s.name)}</text>`,
    );
  });
  if (all.length === 0) {
    parts.push(
      `<text x="${PAD.left + plotW / 2}" y="${PAD.top + plotH / 2}" text-anchor="middle" class="label">no data</text>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
}
