/**
 * What every benchmark entry point shares: flags parsed with node:util and range-checked, a
 * hard time limit, Ctrl-C that stops early but still cleans up, and the bench setup script.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sleep } from '../../bot/runner/backoff.js';
import { CoreLoadMeter } from './coreLoad.js';

export type FlagSpec = Record<string, { default: number; min: number; max: number; help: string }>;
export type FlagValues<S extends FlagSpec> = { [K in keyof S]: number };

export function parseFlags<S extends FlagSpec>(
  spec: S,
  usage: string,
  argv = process.argv.slice(2),
): FlagValues<S> {
  const options = Object.fromEntries(Object.keys(spec).map((k) => [k, { type: 'string' as const }]));
  const help = `${usage}\n\n${Object.entries(spec)
    .map(([k, s]) => `  --${k.padEnd(18)} ${s.help} (default ${s.default})`)
    .join('\n')}`;
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${help}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(help);
    process.exit(0);
  }
  const out: Record<string, number> = {};
  for (const [k, s] of Object.entries(spec)) {
    const raw = values[k];
    const n = typeof raw === 'string' ? Number(raw) : s.default;
    if (!Number.isFinite(n) || n < s.min || n > s.max) {
      console.error(`--${k} must be a number from ${s.min} to ${s.max}, got "${String(raw)}"\n\n${help}`);
      process.exit(2);
    }
    out[k] = n;
  }
  return out as FlagValues<S>;
}

/** bench/setup.sh: socket buffer sysctls, taskset, iproute2 (and janus with `janus: true`). */
export function runBenchSetup(opts: { janus?: boolean } = {}): void {
  const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../setup.sh');
  execFileSync('bash', [script, ...(opts.janus ? ['--janus'] : [])], { stdio: 'inherit' });
}

/** Above this busy share, a core is not idle enough to start measuring on. */
const QUIET_BUSY = 0.15;

/**
 * Waits (bounded) until no core is busier than 15% over 2 s: another job on the machine (a test
 * run, a build) would skew every number. Returns each core's busy share at the start, which the
 * result records; after `maxWaitSeconds` it goes on with a warning rather than never running.
 * BENCH_QUIET_WAIT_SECONDS overrides the default (a shared machine that is never quiet: 0).
 */
export async function waitForQuietMachine(
  cores: number[],
  maxWaitSeconds = Number(process.env.BENCH_QUIET_WAIT_SECONDS ?? 180),
): Promise<number[]> {
  const deadline = performance.now() + maxWaitSeconds * 1000;
  for (;;) {
    const meters = cores.map((c) => new CoreLoadMeter(c));
    await sleep(2_000);
    const busy = meters.map((m) => m.sample());
    if (busy.every((b) => b < QUIET_BUSY)) return busy;
    const shown = busy.map((b, i) => `core ${cores[i]} ${(b * 100).toFixed(0)}%`).join(', ');
    if (performance.now() > deadline) {
      console.log(`WARNING: the machine is still busy (${shown}); measuring anyway, numbers will be skewed`);
      return busy;
    }
    console.log(`waiting for the machine to be quiet (${shown})…`);
    await sleep(5_000);
  }
}

/**
 * Runs `body` with an AbortSignal that fires on Ctrl-C/SIGTERM or after `limitSeconds`; the body
 * must stop at the signal and clean up. Exits the process with the body's outcome.
 */
export function runBench(limitSeconds: number, body: (signal: AbortSignal) => Promise<void>): void {
  const stop = new AbortController();
  const limit = setTimeout(() => {
    console.log(`time limit of ${limitSeconds} s reached: stopping`);
    stop.abort();
  }, limitSeconds * 1000);
  limit.unref();
  const onSignal = (): void => {
    if (stop.signal.aborted) process.exit(130);
    console.log('stopping (Ctrl-C again to quit at once)…');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  body(stop.signal).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}

/** Fixed-width table for the numbers a benchmark prints. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}
