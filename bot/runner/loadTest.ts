/**
 * A load test run: starts bots at `rampPerSecond` into `rooms` rooms of `perRoom` bots, holds
 * for `durationSeconds` after the last bot started, samples a timeline along the way, then
 * takes final measurements and makes every bot leave. An abort (Ctrl-C) skips straight to the
 * end: what was measured so far is still returned.
 */
import { randomBytes } from 'node:crypto';
import type { EngineFactory, EngineKind } from '../engine/botEngine.js';
import { defaultBindAddress, parseTargetUrl, signalingUrl } from '../targetUrl.js';
import { DEFAULT_BACKOFF, sleep, type BackoffPolicy } from './backoff.js';
import { BotController, type BotSnapshot, type BotState } from './botController.js';
import { RoomInviteRelay } from './roomInviteRelay.js';

export interface LoadTestOptions {
  url: string;
  rooms: number;
  perRoom: number;
  durationSeconds: number;
  rampPerSecond: number;
  engine: EngineKind;
  /** Rooms are `${roomPrefix}-1` … ; a fresh random prefix keeps runs from meeting each other. */
  roomPrefix?: string;
  backoff?: BackoffPolicy;
}

export interface TimelineSample {
  /** Since the start of the run. */
  tMs: number;
  states: Record<BotState, number>;
  /** Cumulative over all bots and streams. */
  packetsReceived: number;
  bytesReceived: number;
  /** Loss over the interval since the previous sample. */
  lossPct: number;
  kbpsReceived: number;
  /** This process (all bots) over the interval, in % of one core. */
  cpuPct: number;
}

export interface LoadTestResult {
  options: Required<Omit<LoadTestOptions, 'backoff'>> & { backoff: BackoffPolicy };
  startedAt: string;
  durationMs: number;
  aborted: boolean;
  bots: BotSnapshot[];
  timeline: TimelineSample[];
  cpu: { userMs: number; systemMs: number };
}

export interface LoadTestHooks {
  createEngine: EngineFactory;
  signal?: AbortSignal;
  onSample?: (sample: TimelineSample, total: number) => void;
  /** Called once the hold is over, while every bot is still in its room (tests assert here). */
  beforeStop?: () => Promise<void> | void;
  /** Overrides how tokens are fetched (tests); defaults to bot/auth.ts. */
  getToken?: (baseUrl: string, displayName: string) => Promise<string>;
}

/** Hundreds of samples at most, whatever the duration. */
function sampleIntervalMs(durationSeconds: number): number {
  return Math.max(1_000, Math.ceil((durationSeconds * 1000) / 600));
}

export async function runLoadTest(options: LoadTestOptions, hooks: LoadTestHooks): Promise<LoadTestResult> {
  const opts = {
    ...options,
    roomPrefix: options.roomPrefix ?? `bot-${randomBytes(3).toString('hex')}`,
    backoff: options.backoff ?? DEFAULT_BACKOFF,
  };
  const base = parseTargetUrl(opts.url);
  const total = opts.rooms * opts.perRoom;
  const runStart = performance.now();
  const startedAt = new Date().toISOString();
  const cpuStart = process.cpuUsage();
  const signal = hooks.signal;

  const bots: BotController[] = [];
  // Each room's first bot creates it and hands its invite to the others (the server admits members only).
  const invites = new RoomInviteRelay();
  const timeline: TimelineSample[] = [];
  const sampler = new TimelineSampler(runStart);
  const takeSample = (): void => {
    const now = performance.now();
    const sample = sampler.sample(
      now,
      bots.map((b) => b.snapshot(now)),
    );
    timeline.push(sample);
    try {
      hooks.onSample?.(sample, total);
    } catch (err) {
      // Thrown inside a timer it would kill the process with every bot still in its room.
      console.error('onSample hook failed', err);
    }
  };
  takeSample(); // t=0: everyone pending, so the charts start at the start
  const timer = setInterval(takeSample, sampleIntervalMs(opts.durationSeconds));

  try {
    // Ramp: one bot every 1/ramp seconds, rooms filled round-robin so they grow together.
    const gapMs = 1000 / opts.rampPerSecond;
    for (let k = 0; k < total && !signal?.aborted; k++) {
      const room = `${opts.roomPrefix}-${(k % opts.rooms) + 1}`;
      const member = Math.floor(k / opts.rooms) + 1;
      const bot = new BotController({
        id: `${room}/${member}`,
        room,
        displayName: `bot ${(k % opts.rooms) + 1}-${member}`,
        engine: opts.engine,
        baseUrl: base,
        signalingUrl: signalingUrl(base),
        bindAddress: defaultBindAddress(base),
        createEngine: hooks.createEngine,
        backoff: opts.backoff,
        runStartMs: runStart,
        invites: { relay: invites, role: member === 1 ? 'creator' : 'guest' },
        ...(hooks.getToken ? { getToken: hooks.getToken } : {}),
      });
      bots.push(bot);
      void bot.start();
      if (k < total - 1) await sleep(gapMs, signal);
    }
    await sleep(opts.durationSeconds * 1000, signal);
  } finally {
    clearInterval(timer);
  }

  // The bots leave even if the hook fails; its error is rethrown after that.
  const hookFailed = await Promise.resolve()
    .then(() => hooks.beforeStop?.())
    .then(
      () => undefined,
      (err: unknown) => ({ err }),
    );
  // Measure before anyone leaves: a departing bot closes the others' streams.
  takeSample();
  const end = performance.now();
  const snapshots = bots.map((b) => b.snapshot(end));
  await Promise.all(bots.map((b) => b.stop()));
  if (hookFailed) throw hookFailed.err;
  const cpu = process.cpuUsage(cpuStart);
  return {
    options: opts,
    startedAt,
    durationMs: end - runStart,
    aborted: signal?.aborted ?? false,
    bots: snapshots,
    timeline,
    cpu: { userMs: cpu.user / 1000, systemMs: cpu.system / 1000 },
  };
}

/** Turns cumulative bot snapshots into per-interval rates. */
class TimelineSampler {
  readonly #runStart: number;
  #last = { at: 0, lost: 0, expected: 0, bytes: 0, cpu: process.cpuUsage() };

  constructor(runStart: number) {
    this.#runStart = runStart;
    this.#last.at = runStart;
  }

  sample(now: number, snapshots: BotSnapshot[]): TimelineSample {
    const states: Record<BotState, number> = {
      pending: 0,
      joining: 0,
      joined: 0,
      reconnecting: 0,
      failed: 0,
      stopped: 0,
    };
    let packets = 0;
    let bytes = 0;
    let lost = 0;
    let expected = 0;
    for (const s of snapshots) {
      states[s.state]++;
      for (const st of s.streams) {
        packets += st.packets;
        bytes += st.bytes;
        lost += st.lost;
        expected += st.expected;
      }
    }
    const cpu = process.cpuUsage();
    const elapsedMs = Math.max(1, now - this.#last.at);
    const dExpected = expected - this.#last.expected;
    const dLost = lost - this.#last.lost;
    const cpuMs = (cpu.user + cpu.system - this.#last.cpu.user - this.#last.cpu.system) / 1000;
    const sample: TimelineSample = {
      tMs: now - this.#runStart,
      states,
      packetsReceived: packets,
      bytesReceived: bytes,
      lossPct: dExpected > 0 ? Math.max(0, (dLost / dExpected) * 100) : 0,
      kbpsReceived: Math.max(0, ((bytes - this.#last.bytes) * 8) / elapsedMs),
      cpuPct: (cpuMs / elapsedMs) * 100,
    };
    this.#last = { at: now, lost, expected, bytes, cpu };
    return sample;
  }
}
