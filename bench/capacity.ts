/**
 * Capacity at saturation: one mediasoup worker pinned to one core, replay bots (rooms of 4) on the
 * other core, added a few rooms at a time (bench/lib/saturationRamp.ts). On this 2-core machine the
 * bots' core saturates before the worker's, so the first run caps the worker with a CPU quota
 * (bench/lib/cpuQuota.ts, `--quota` of a core, default 0.3) and ramps until loss exceeds 0.5% or the
 * quota is used up: streams per core = streams at saturation / quota. A second run without the quota
 * (`--uncapped 1`) ramps until a core saturates, and its CPU per stream beside the capped run's shows
 * whether the cost scales linearly. Streams are consumer streams (audio + video) as the server counts
 * them. Appends the run to bench/results/capacity.json.
 */
import { randomBytes } from 'node:crypto';
import { prepareEngine } from '../bot/engine/prepareEngine.js';
import type { EngineFactory } from '../bot/engine/botEngine.js';
import { signalingUrl } from '../bot/targetUrl.js';
import { BotFleet } from './lib/botFleet.js';
import { parseFlags, runBench, table } from './lib/cli.js';
import { startBenchRun } from './lib/benchRun.js';
import { CpuQuota, DEFAULT_PERIOD_MS } from './lib/cpuQuota.js';
import { scrapeMetrics } from './lib/metricsScrape.js';
import { pinProcess } from './lib/pin.js';
import { CpuMeter } from './lib/procCpu.js';
import { appendResult } from './lib/results.js';
import { rampToSaturation, type RampResult, type RampStep } from './lib/saturationRamp.js';
import type { ServiceProcess } from './lib/serviceProcess.js';

const flags = parseFlags(
  {
    'step-rooms': { default: 5, min: 1, max: 50, help: 'rooms added per step' },
    'per-room': { default: 4, min: 2, max: 10, help: 'bots per room' },
    'max-rooms': { default: 80, min: 1, max: 400, help: 'stop after this many rooms' },
    quota: {
      default: 0.3,
      min: 0,
      max: 1,
      help: 'CPU quota of the worker in the capped run, share of one core (0: no capped run)',
    },
    'quota-period-ms': {
      default: DEFAULT_PERIOD_MS,
      min: 1,
      max: 1000,
      help: 'the quota is granted per this period (the kernel default is 100)',
    },
    'quota-step-rooms': { default: 3, min: 1, max: 50, help: 'rooms added per step in the capped run' },
    uncapped: { default: 1, min: 0, max: 1, help: '1: also ramp the worker without a quota' },
    'join-rate': { default: 20, min: 1, max: 200, help: 'joins per second while a step ramps' },
    window: { default: 8, min: 2, max: 120, help: 'seconds measured per step' },
    settle: { default: 3, min: 0, max: 60, help: 'seconds between the last join of a step and its window' },
    'max-loss': { default: 0.5, min: 0, max: 100, help: 'loss % that ends the ramp' },
    'video-kbps': { default: 800, min: 50, max: 5000, help: 'bitrate of the replayed VP8 clip' },
    'time-limit': { default: 300, min: 30, max: 3600, help: 'hard limit for the whole run, seconds' },
  },
  'npm run bench:capacity -- [flags]',
);

const HEADER = [
  'rooms',
  'bots',
  'joined',
  'consumers',
  'receiving',
  'loss %',
  'worker %',
  'throttled %',
  'core 0 %',
  'bots %',
  'node %',
  'streams/CPU',
];

function row(step: RampStep): (string | number)[] {
  return [
    step.rooms,
    step.bots,
    step.joined,
    step.streams,
    step.receiving,
    step.lossPct.toFixed(3),
    (step.sfuCpu * 100).toFixed(1),
    (step.throttled * 100).toFixed(0),
    (step.sfuCoreBusy * 100).toFixed(1),
    (step.botsCpu * 100).toFixed(1),
    (step.otherBotsCoreCpu * 100).toFixed(1),
    Math.round(step.streamsPerCpu),
  ];
}

/** One ramp on the running service with a fresh fleet of bots, the worker capped when `quota` > 0. */
async function ramp(
  service: ServiceProcess,
  workerPid: number,
  sfuCore: number,
  createEngine: EngineFactory,
  quota: number,
  signal: AbortSignal,
): Promise<RampResult> {
  const base = new URL(service.url);
  const fleet = new BotFleet({
    baseUrl: base,
    signalingUrl: signalingUrl(base),
    bindAddress: '127.0.0.1',
    createEngine,
    perRoom: flags['per-room'],
    roomPrefix: `cap-${randomBytes(3).toString('hex')}`,
  });
  const cap = quota > 0 ? CpuQuota.create(quota, flags['quota-period-ms']) : undefined;
  const serverNode = new CpuMeter(service.pid);
  try {
    if (cap) {
      cap.add(workerPid);
      console.log(
        `\ncapped run: worker in a cgroup ${cap.version} group with ${(quota * 100).toFixed(0)}% of a core per ${cap.periodMs} ms`,
      );
    } else console.log('\nuncapped run: the worker may use its whole core');
    console.log(table(HEADER, []));
    const result = await rampToSaturation({
      fleet,
      sfuPid: workerPid,
      sfuCore,
      quota: cap,
      stepRooms: cap ? flags['quota-step-rooms'] : flags['step-rooms'],
      maxRooms: flags['max-rooms'],
      joinRate: flags['join-rate'],
      settleSeconds: flags.settle,
      windowSeconds: flags.window,
      maxLoss: flags['max-loss'],
      signal,
      streams: async () =>
        (await scrapeMetrics(service.url, service.metricsToken)).get('calling_consumers') ?? 0,
      otherBotsCoreLoad: () => serverNode.sample(),
      onStep: (step) =>
        console.log(
          table(HEADER, [row(step)])
            .split('\n')
            .slice(2)
            .join('\n'),
        ),
    });
    console.log(`stopped: ${result.stopReason}`);
    return result;
  } finally {
    await fleet.stop();
    cap?.remove();
  }
}

runBench(flags['time-limit'], async (signal) => {
  const { cores, busyAtStart, service } = await startBenchRun({
    serviceCore: 'bots',
    env: { MEDIASOUP_NUM_WORKERS: '1' },
  });
  const runs: RampResult[] = [];
  try {
    const [workerPid] = await service.workerPids();
    if (workerPid === undefined) throw new Error('the service reports no worker');
    pinProcess(workerPid, [cores.sfu]);
    console.log(
      `service ${service.url}: node pid ${service.pid} and the bots on core ${cores.bots}; mediasoup worker pid ${workerPid} alone on core ${cores.sfu}`,
    );
    const createEngine = await prepareEngine({
      engine: 'replay',
      video: { width: 640, height: 480, fps: 20 },
      videoKbps: flags['video-kbps'],
      simulcast: false,
    });
    if (flags.quota > 0)
      runs.push(await ramp(service, workerPid, cores.sfu, createEngine, flags.quota, signal));
    if (flags.uncapped === 1 && !signal.aborted)
      runs.push(await ramp(service, workerPid, cores.sfu, createEngine, 0, signal));
  } finally {
    await service.stop();
  }

  console.log('');
  for (const r of runs) {
    const what = r.quota ? `capped at ${(r.quota * 100).toFixed(0)}% of a core` : 'uncapped';
    if (!r.best) {
      console.log(`${what}: no step stayed under the loss limit (${r.stopReason})`);
      continue;
    }
    const b = r.best;
    console.log(
      `${what}: ${b.streams} consumer streams at ${b.lossPct.toFixed(3)}% loss, worker ${(b.sfuCpu * 100).toFixed(1)}% of a core ` +
        `(${Math.round(b.streamsPerCpu)} streams per core of CPU used); stopped: ${r.stopReason}`,
    );
    if (r.streamsPerCore !== null)
      console.log(
        `  => at saturation: ${Math.round(r.streamsPerCore)} forwarded consumer streams per worker core (streams / ${r.quota ?? 1} core)`,
      );
    else console.log('  => not at saturation (the bots or a limit stopped the ramp): no per-core figure');
  }
  const [capped, uncapped] = flags.quota > 0 ? [runs[0], runs[1]] : [undefined, runs[0]];
  if (capped?.best && uncapped?.best)
    console.log(
      `CPU per stream, uncapped / capped: ${(uncapped.best.streamsPerCpu / capped.best.streamsPerCpu).toFixed(2)} ` +
        '(1.00 = the cost per stream is the same at both loads: linear scaling)',
    );
  const file = await appendResult('capacity', {
    busyAtStart,
    flags,
    split:
      'mediasoup worker alone on core 0 (in a CPU-quota cgroup for the capped run); bots and the service node process on core 1',
    runs,
  });
  console.log(`appended to ${file}`);
});
