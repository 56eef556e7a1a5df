/**
 * Capacity: one mediasoup worker pinned to one core, replay bots (rooms of 4) on the other core,
 * added a few rooms at a time until the loss in a measuring window exceeds 0.5%, the worker's
 * core saturates, or the bots' core does. Prints forwarded consumer streams (audio + video, as
 * the server counts them) per SFU core at < 0.5% loss, and appends the run to
 * bench/results/capacity.json.
 */
import { randomBytes } from 'node:crypto';
import { prepareEngine } from '../bot/engine/prepareEngine.js';
import { sleep } from '../bot/runner/backoff.js';
import { signalingUrl } from '../bot/targetUrl.js';
import { BotFleet, windowLossPct } from './lib/botFleet.js';
import { parseFlags, runBench, table } from './lib/cli.js';
import { startBenchRun } from './lib/benchRun.js';
import { scrapeMetrics } from './lib/metricsScrape.js';
import { pinProcess } from './lib/pin.js';
import { CoreLoadMeter } from './lib/coreLoad.js';
import { CpuMeter, SelfCpuMeter } from './lib/procCpu.js';
import { appendResult } from './lib/results.js';

const flags = parseFlags(
  {
    'step-rooms': { default: 5, min: 1, max: 50, help: 'rooms added per step' },
    'per-room': { default: 4, min: 2, max: 10, help: 'bots per room' },
    'max-rooms': { default: 80, min: 1, max: 400, help: 'stop after this many rooms' },
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
  'core 0 %',
  'bots %',
  'node %',
  'streams/core',
];

/** Busy share of the SFU core beyond the worker's own that means another job ran there. */
const FOREIGN_LOAD = 0.25;
const MAX_RETRIES = 3;

/** A core above this share is saturated (scheduling noise keeps a busy core just under 100%). */
const SATURATED = 0.95;

interface Step {
  rooms: number;
  bots: number;
  joined: number;
  /** Consumers on the server (audio + video); half are video in rooms where everyone sends both. */
  consumers: number;
  /** Streams the bots received packets on during the window. */
  receiving: number;
  lossPct: number;
  workerCpu: number;
  botsCpu: number;
  serverNodeCpu: number;
  /** The SFU core's total busy share: above workerCpu when something else ran there. */
  sfuCoreBusy: number;
  streamsPerCore: number;
}

runBench(flags['time-limit'], async (signal) => {
  const { cores, busyAtStart, service } = await startBenchRun({
    serviceCore: 'bots',
    env: { MEDIASOUP_NUM_WORKERS: '1' },
  });
  const steps: Step[] = [];
  let stopReason = 'max rooms reached';
  let fleet: BotFleet | undefined;
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
    const base = new URL(service.url);
    const bots = new BotFleet({
      baseUrl: base,
      signalingUrl: signalingUrl(base),
      bindAddress: '127.0.0.1',
      createEngine,
      perRoom: flags['per-room'],
      roomPrefix: `cap-${randomBytes(3).toString('hex')}`,
    });
    fleet = bots;
    const worker = new CpuMeter(workerPid);
    const serverNode = new CpuMeter(service.pid);
    const self = new SelfCpuMeter();
    const sfuCore = new CoreLoadMeter(cores.sfu);
    const measureWindow = async (): Promise<Step> => {
      const before = bots.totals();
      worker.sample();
      serverNode.sample();
      self.sample();
      sfuCore.sample();
      await sleep(flags.window * 1000, signal);
      const after = bots.totals();
      const metrics = await scrapeMetrics(service.url, service.metricsToken);
      return {
        rooms: bots.rooms,
        bots: after.bots,
        joined: after.joined,
        consumers: metrics.get('calling_consumers') ?? 0,
        receiving: after.streams,
        lossPct: windowLossPct(before, after),
        workerCpu: worker.sample(),
        botsCpu: self.sample(),
        serverNodeCpu: serverNode.sample(),
        sfuCoreBusy: sfuCore.sample(),
        streamsPerCore: 0,
      };
    };
    console.log(table(HEADER, []));
    while (!signal.aborted && bots.rooms < flags['max-rooms']) {
      const add = Math.min(flags['step-rooms'], flags['max-rooms'] - bots.rooms);
      await bots.addRooms(add, flags['join-rate'], signal);
      await bots.settled(20_000);
      await sleep(flags.settle * 1000, signal);
      if (signal.aborted) break;
      let step = await measureWindow();
      // Another job on the machine took the SFU core during the window: its loss and CPU say
      // nothing about the SFU, so the window is measured again (a few times at most).
      for (let retry = 0; retry < MAX_RETRIES && !signal.aborted; retry++) {
        if (step.sfuCoreBusy - step.workerCpu <= FOREIGN_LOAD) break;
        console.log(
          `  (core ${cores.sfu} was ${(step.sfuCoreBusy * 100).toFixed(0)}% busy with the worker at ${(step.workerCpu * 100).toFixed(0)}%: another job ran there; measuring again)`,
        );
        step = await measureWindow();
      }
      if (signal.aborted) break;
      step.streamsPerCore = step.consumers / Math.max(0.01, step.workerCpu);
      steps.push(step);
      console.log(
        table(HEADER, [
          [
            step.rooms,
            step.bots,
            step.joined,
            step.consumers,
            step.receiving,
            step.lossPct.toFixed(3),
            (step.workerCpu * 100).toFixed(1),
            (step.sfuCoreBusy * 100).toFixed(1),
            (step.botsCpu * 100).toFixed(1),
            (step.serverNodeCpu * 100).toFixed(1),
            Math.round(step.streamsPerCore),
          ],
        ])
          .split('\n')
          .slice(2)
          .join('\n'),
      );
      if (step.lossPct > flags['max-loss']) {
        stopReason = `loss ${step.lossPct.toFixed(2)}% > ${flags['max-loss']}%`;
        break;
      }
      if (step.workerCpu >= SATURATED) {
        stopReason = `the SFU core saturated (worker ${(step.workerCpu * 100).toFixed(0)}%)`;
        break;
      }
      if (step.botsCpu + step.serverNodeCpu >= SATURATED) {
        stopReason = `the bots' core saturated (bots ${(step.botsCpu * 100).toFixed(0)}% + service node ${(step.serverNodeCpu * 100).toFixed(0)}%)`;
        break;
      }
    }
    if (signal.aborted) stopReason = 'stopped early (Ctrl-C or time limit)';
  } finally {
    await fleet?.stop();
    await service.stop();
  }

  const good = steps.filter((s) => s.lossPct <= flags['max-loss'] && s.workerCpu < SATURATED);
  const best = good.at(-1);
  console.log(`\nstopped: ${stopReason}`);
  if (best) {
    console.log(
      `highest step at <= ${flags['max-loss']}% loss: ${best.consumers} consumer streams (${best.consumers / 2} video + ${best.consumers / 2} audio) ` +
        `with the worker at ${(best.workerCpu * 100).toFixed(1)}% of its core, loss ${best.lossPct.toFixed(3)}%`,
    );
    console.log(
      `=> ${Math.round(best.streamsPerCore)} forwarded consumer streams per SFU core (audio + video), ` +
        `${Math.round(best.streamsPerCore / 2)} video streams per core` +
        (best.workerCpu < 0.9 ? ' (projected from a core that was not full)' : ''),
    );
  } else console.log('no step stayed under the loss limit');
  const file = await appendResult('capacity', {
    busyAtStart,
    flags,
    split: 'mediasoup worker alone on core 0; bots and the service node process on core 1',
    stopReason,
    best: best ?? null,
    steps,
  });
  console.log(`appended to ${file}`);
});
