/**
 * How busy one core was between samples, from /proc/stat. Compared with the SFU process's own
 * CPU on its core, it shows whether anything else ran there during a window (another test run
 * on the same machine would skew a benchmark: it is printed, not hidden).
 */
import { readFileSync } from 'node:fs';

function coreTicks(core: number): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`cpu${core} `));
  if (!line) throw new Error(`no cpu${core} in /proc/stat`);
  // user nice system idle iowait irq softirq steal …
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export class CoreLoadMeter {
  readonly #core: number;
  #last: { busy: number; total: number };

  constructor(core: number) {
    this.#core = core;
    this.#last = coreTicks(core);
  }

  /** Busy share of the core (1 = fully busy) since the previous sample. */
  sample(): number {
    const now = coreTicks(this.#core);
    const share = (now.busy - this.#last.busy) / Math.max(1, now.total - this.#last.total);
    this.#last = now;
    return share;
  }
}
