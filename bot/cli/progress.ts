/**
 * Progress while a run is going: one line rewritten in place on a terminal, plain lines at a
 * steady pace otherwise (CI logs do not understand carriage returns).
 */
import type { TimelineSample } from '../runner/loadTest.js';

const PLAIN_EVERY_MS = 5_000;

export function progressLine(sample: TimelineSample, total: number): string {
  const s = sample.states;
  return [
    `t=${(sample.tMs / 1000).toFixed(0)}s`,
    `joined ${s.joined}/${total}`,
    `joining ${s.joining}`,
    `reconnecting ${s.reconnecting}`,
    `failed ${s.failed}`,
    `rx ${sample.kbpsReceived.toFixed(0)} kbit/s`,
    `loss ${sample.lossPct.toFixed(2)}%`,
    `cpu ${sample.cpuPct.toFixed(0)}%`,
  ].join(' | ');
}

export class ProgressPrinter {
  readonly #out: NodeJS.WritableStream;
  readonly #tty: boolean;
  #lastPlainAt = Number.NEGATIVE_INFINITY;
  #dirty = false;

  constructor(out: NodeJS.WritableStream, tty: boolean) {
    this.#out = out;
    this.#tty = tty;
  }

  update(sample: TimelineSample, total: number): void {
    const line = progressLine(sample, total);
    if (this.#tty) {
      this.#out.write(`\r\x1b[2K${line}`);
      this.#dirty = true;
    } else if (sample.tMs - this.#lastPlainAt >= PLAIN_EVERY_MS) {
      this.#out.write(`${line}\n`);
      this.#lastPlainAt = sample.tMs;
    }
  }

  /** Writes a message on its own line (ending the in-place progress line first). */
  message(text: string): void {
    this.done();
    this.#out.write(`${text}\n`);
  }

  done(): void {
    if (this.#dirty) this.#out.write('\n');
    this.#dirty = false;
  }
}
