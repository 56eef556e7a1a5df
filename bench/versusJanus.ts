/**
 * Side by side with Janus: the same replay bots, the same rooms, the same hold, in one run —
 * first against our service, then against Janus's VideoRoom (event_loops = 1, its best
 * setting; with --janus-default 1 also its default thread per handle). Each SFU runs alone on
 * core 0 inside a network namespace the benchmark creates (Janus gathers no ICE candidates on
 * loopback); the bots and our Node.js process run on core 1, bound to the host end of the veth.
 * Both SFUs negotiate SRTP with the bots (node-datachannel), and the profile each used is
 * read back and printed. With `--quota` (a share of one core) each SFU runs in a CPU-quota cgroup
 * (bench/lib/cpuQuota.ts) and the load is ramped, the same way for both (bench/lib/saturationRamp.ts),
 * until loss exceeds 0.5% or the quota is used up: streams per core is then measured at saturation
 * (streams / quota), not projected from a core the bots could not fill. Appends the run to
 * bench/results/janus.json.
 */
import { randomBytes } from 'node:crypto';
import type { EngineFactory } from '../bot/engine/botEngine.js';
import { JanusEngine } from '../bot/engine/janus/janusEngine.js';
import { prepareEngine } from '../bot/engine/prepareEngine.js';
import { DEFAULT_MEDIA_SPEC, ensureMediaFiles } from '../bot/media/generateMedia.js';
import { loadReplayClip } from '../bot/media/replayClip.js';
import { sleep } from '../bot/runner/backoff.js';
import { signalingUrl } from '../bot/targetUrl.js';
import { JanusProcess } from './janus/janusProcess.js';
import { BotFleet, windowLossPct } from './lib/botFleet.js';
import { CpuQuota, DEFAULT_PERIOD_MS } from './lib/cpuQuota.js';
import { rampToSaturation, type RampResult } from './lib/saturationRamp.js';
import { parseFlags, runBench, runBenchSetup, table, waitForQuietMachine } from './lib/cli.js';
import { BENCH_NETNS, createNetns, deleteNetns } from './lib/netns.js';
import { coreSplit, pinProcess } from './lib/pin.js';
import { CoreLoadMeter } from './lib/coreLoad.js';
import { CpuMeter, SelfCpuMeter } from './lib/procCpu.js';
import { appendResult } from './lib/results.js';
import { buildServer } from './lib/buildServer.js';
import { ServiceProcess } from './lib/serviceProcess.js';

const flags = parseFlags(
  {
    rooms: { default: 20, min: 1, max: 200, help: 'rooms, on each SFU' },
    'per-room': { default: 4, min: 2, max: 10, help: 'bots per room' },
    'join-rate': { default: 20, min: 1, max: 200, help: 'joins per second' },
    settle: { default: 5, min: 0, max: 60, help: 'seconds between the last join and the window' },
    window: { default: 20, min: 2, max: 300, help: 'seconds measured on each SFU' },
    'video-kbps': { default: 800, min: 50, max: 5000, help: 'bitrate of the replayed VP8 clip' },
    'janus-default': { default: 0, min: 0, max: 1, help: '1: also run Janus with one thread per handle' },
    quota: {
      default: 0,
      min: 0,
      max: 1,
      help: 'CPU quota of each SFU, share of one core: ramp to saturation instead of a fixed load (0: fixed --rooms)',
    },
    'quota-period-ms': {
      default: DEFAULT_PERIOD_MS,
      min: 1,
      max: 1000,
      help: 'the quota is granted per this period (the kernel default is 100)',
    },
    'step-rooms': { default: 3, min: 1, max: 50, help: 'rooms added per step when ramping (--quota)' },
    'max-rooms': { default: 60, min: 1, max: 400, help: 'stop the ramp after this many rooms (--quota)' },
    'max-loss': { default: 0.5, min: 0, max: 100, help: 'loss % that ends the ramp (--quota)' },
    'time-limit': { default: 300, min: 30, max: 3600, help: 'hard limit for the whole run, seconds' },
  },
  'npm run bench:janus -- [flags]',
);

/** Busy share of the SFU core beyond the SFU's own that means another job ran there. */
const FOREIGN_LOAD = 0.25;
const MAX_RETRIES = 3;

interface PhaseResult {
  sfu: string;
  bots: number;
  joined: number;
  failed: number;
  /** Streams the bots received packets on (audio + video), counted the same way for both SFUs. */
  streams: number;
  videoStreams: number;
  lossPct: number;
  sfuCpu: number;
  /** The SFU core's total busy share: above sfuCpu when something else ran there. */
  sfuCoreBusy: number;
  botsCpu: number;
  streamsPerCore: number;
  srtpProfiles: Record<string, number>;
  /** With --quota: the ramp to saturation (streamsPerCore is then streams at saturation / quota). */
  ramp?: RampResult;
}

interface Phase {
  sfu: string;
  baseUrl: URL;
  signalingUrl: string;
  sfuPid: number;
  sfuCore: number;
  createEngine: EngineFactory;
  getToken?: () => Promise<string>;
  srtpProfiles: () => Promise<Record<string, number>>;
}

async function measure(phase: Phase, signal: AbortSignal): Promise<PhaseResult> {
  const fleet = new BotFleet({
    baseUrl: phase.baseUrl,
    signalingUrl: phase.signalingUrl,
    bindAddress: BENCH_NETNS.hostAddress,
    createEngine: phase.createEngine,
    perRoom: flags['per-room'],
    roomPrefix: `vs-${randomBytes(3).toString('hex')}`,
    ...(phase.getToken ? { getToken: phase.getToken } : {}),
  });
  try {
    if (flags.quota > 0) return await rampPhase(phase, fleet, signal);
    console.log(`${phase.sfu}: ${flags.rooms} rooms × ${flags['per-room']} bots joining…`);
    await fleet.addRooms(flags.rooms, flags['join-rate'], signal);
    await fleet.settled(30_000);
    await sleep(flags.settle * 1000, signal);
    const sfu = new CpuMeter(phase.sfuPid);
    const self = new SelfCpuMeter();
    const core = new CoreLoadMeter(phase.sfuCore);
    const measureWindow = async (): Promise<PhaseResult> => {
      const before = fleet.totals();
      sfu.sample();
      self.sample();
      core.sample();
      await sleep(flags.window * 1000, signal);
      const after = fleet.totals();
      const sfuCpu = sfu.sample();
      return {
        sfu: phase.sfu,
        bots: after.bots,
        joined: after.joined,
        failed: after.failed,
        streams: after.streams,
        videoStreams: after.videoStreams,
        lossPct: windowLossPct(before, after),
        sfuCpu,
        sfuCoreBusy: core.sample(),
        botsCpu: self.sample(),
        streamsPerCore: after.streams / Math.max(0.01, sfuCpu),
        srtpProfiles: {},
      };
    };
    let result = await measureWindow();
    // Another job on the machine took the SFU core during the window: measure again (bounded).
    for (let retry = 0; retry < MAX_RETRIES && !signal.aborted; retry++) {
      if (result.sfuCoreBusy - result.sfuCpu <= FOREIGN_LOAD) break;
      console.log(
        `  (the SFU core was ${(result.sfuCoreBusy * 100).toFixed(0)}% busy with the SFU at ${(result.sfuCpu * 100).toFixed(0)}%: another job ran there; measuring again)`,
      );
      result = await measureWindow();
    }
    result.srtpProfiles = await phase.srtpProfiles();
    console.log(
      `${phase.sfu}: ${result.streams} streams, SFU ${(result.sfuCpu * 100).toFixed(1)}% of a core (core busy ${(result.sfuCoreBusy * 100).toFixed(1)}%), loss ${result.lossPct.toFixed(3)}%, SRTP ${JSON.stringify(result.srtpProfiles)}`,
    );
    return result;
  } finally {
    await fleet.stop();
  }
}

/** --quota: the SFU in a CPU-quota group, rooms added until it saturates (same ramp for both SFUs). */
async function rampPhase(phase: Phase, fleet: BotFleet, signal: AbortSignal): Promise<PhaseResult> {
  const cap = CpuQuota.create(flags.quota, flags['quota-period-ms']);
  try {
    cap.add(phase.sfuPid);
    console.log(
      `${phase.sfu}: in a cgroup ${cap.version} group with ${(flags.quota * 100).toFixed(0)}% of a core per ${cap.periodMs} ms; ramping ${flags['step-rooms']} rooms × ${flags['per-room']} bots per step`,
    );
    const ramp = await rampToSaturation({
      fleet,
      sfuPid: phase.sfuPid,
      sfuCore: phase.sfuCore,
      quota: cap,
      stepRooms: flags['step-rooms'],
      maxRooms: flags['max-rooms'],
      joinRate: flags['join-rate'],
      settleSeconds: flags.settle,
      windowSeconds: flags.window,
      maxLoss: flags['max-loss'],
      signal,
      // Counted the same way for both SFUs: streams the bots receive packets on.
      streams: (after) => Promise.resolve(after.streams),
      onStep: (st) =>
        console.log(
          `  ${st.rooms} rooms: ${st.streams} streams, SFU ${(st.sfuCpu * 100).toFixed(1)}% (throttled ${(st.throttled * 100).toFixed(0)}% of periods), loss ${st.lossPct.toFixed(3)}%`,
        ),
    });
    const best = ramp.best;
    const srtpProfiles = await phase.srtpProfiles();
    console.log(
      `${phase.sfu}: stopped: ${ramp.stopReason}; at saturation ${best?.streams ?? 0} streams => ${ramp.streamsPerCore === null ? 'not saturated' : `${Math.round(ramp.streamsPerCore)} streams per core`}`,
    );
    return {
      sfu: phase.sfu,
      bots: best?.bots ?? 0,
      joined: best?.joined ?? 0,
      failed: fleet.totals().failed,
      streams: best?.streams ?? 0,
      videoStreams: 0,
      lossPct: best?.lossPct ?? 0,
      sfuCpu: best?.sfuCpu ?? 0,
      sfuCoreBusy: best?.sfuCoreBusy ?? 0,
      botsCpu: best?.botsCpu ?? 0,
      streamsPerCore: ramp.streamsPerCore ?? 0,
      srtpProfiles,
      ramp,
    };
  } finally {
    cap.remove();
  }
}

async function ourService(
  signal: AbortSignal,
  createEngine: EngineFactory,
  cores: { sfu: number; bots: number },
) {
  // mediasoup logs the SRTP suite each DTLS handshake chose (debug level, dtls tag only: no
  // per-packet logging), which is how the profile is read back.
  const suites: Record<string, number> = {};
  const service = await ServiceProcess.start({
    host: BENCH_NETNS.nsAddress,
    port: 3000,
    netns: BENCH_NETNS.name,
    cores: [cores.bots],
    // Compiled, as `npm start` runs it (see buildServer.ts).
    entry: await buildServer(),
    env: {
      MEDIASOUP_NUM_WORKERS: '1',
      MEDIASOUP_LOG_LEVEL: 'debug',
      MEDIASOUP_LOG_TAGS: 'dtls',
      DEBUG: 'mediasoup:Channel',
    },
    onLine: (line) => {
      const m = /chosen SRTP crypto suite: (\S+)/.exec(line);
      if (m) suites[m[1]!] = (suites[m[1]!] ?? 0) + 1;
    },
  });
  try {
    const [workerPid] = await service.workerPids();
    if (workerPid === undefined) throw new Error('the service reports no worker');
    pinProcess(workerPid, [cores.sfu]);
    const base = new URL(service.url);
    return await measure(
      {
        sfu: 'calling-service (mediasoup 3.27.1, 1 worker)',
        baseUrl: base,
        signalingUrl: signalingUrl(base),
        sfuPid: workerPid,
        sfuCore: cores.sfu,
        createEngine,
        // Each DTLS handshake logs once per transport; a copy keeps the count at measuring time.
        srtpProfiles: () => Promise.resolve({ ...suites }),
      },
      signal,
    );
  } finally {
    await service.stop();
  }
}

async function janus(
  signal: AbortSignal,
  createEngine: EngineFactory,
  cores: { sfu: number },
  eventLoops: number,
): Promise<PhaseResult> {
  const process = await JanusProcess.start({
    netns: BENCH_NETNS.name,
    address: BENCH_NETNS.nsAddress,
    iface: BENCH_NETNS.nsIf,
    eventLoops,
    cores: [cores.sfu],
  });
  try {
    return await measure(
      {
        sfu: `Janus 1.1.2 VideoRoom (${eventLoops > 0 ? `event_loops = ${eventLoops}` : 'thread per handle'})`,
        baseUrl: new URL(`http://${BENCH_NETNS.nsAddress}`),
        signalingUrl: process.wsUrl,
        sfuPid: process.pid,
        sfuCore: cores.sfu,
        createEngine,
        getToken: () => Promise.resolve(''),
        srtpProfiles: () => process.srtpProfiles(),
      },
      signal,
    );
  } finally {
    await process.stop();
  }
}

runBench(flags['time-limit'], async (signal) => {
  runBenchSetup({ janus: true });
  const cores = coreSplit();
  const busyAtStart = await waitForQuietMachine([cores.sfu, cores.bots]);
  pinProcess(process.pid, [cores.bots]);
  createNetns();
  const results: PhaseResult[] = [];
  try {
    const video = { width: 640, height: 480, fps: 20 };
    const replay = await prepareEngine({
      engine: 'replay',
      video,
      videoKbps: flags['video-kbps'],
      simulcast: false,
    });
    const clip = await loadReplayClip(
      await ensureMediaFiles({ ...DEFAULT_MEDIA_SPEC, ...video, videoKbps: flags['video-kbps'] }),
    );
    const onJanus: EngineFactory = (ctx) => new JanusEngine(ctx, { clip, maxPublishers: flags['per-room'] });
    results.push(await ourService(signal, replay, cores));
    if (!signal.aborted) results.push(await janus(signal, onJanus, cores, 1));
    if (!signal.aborted && flags['janus-default'] === 1) results.push(await janus(signal, onJanus, cores, 0));
  } finally {
    deleteNetns();
  }

  console.log(
    `\n${table(
      [
        'SFU',
        'bots',
        'joined',
        'streams',
        'SFU CPU %',
        'core 0 %',
        'streams/core',
        'CPU µs/stream·s',
        'loss %',
        'SRTP',
      ],
      results.map((r) => [
        r.sfu,
        r.bots,
        r.joined,
        r.streams,
        (r.sfuCpu * 100).toFixed(1),
        (r.sfuCoreBusy * 100).toFixed(1),
        Math.round(r.streamsPerCore),
        Math.round((r.sfuCpu / Math.max(1, r.streams)) * 1e6),
        r.lossPct.toFixed(3),
        Object.keys(r.srtpProfiles).join(' '),
      ]),
    )}`,
  );
  const [ours, theirs] = results;
  const ratio =
    ours && theirs && theirs.streamsPerCore > 0 ? ours.streamsPerCore / theirs.streamsPerCore : undefined;
  if (ratio !== undefined)
    console.log(
      `\nstreams per core, ours / Janus (event_loops = 1): ${ratio.toFixed(2)}×` +
        (flags.quota > 0 ? ` (both at saturation under a ${(flags.quota * 100).toFixed(0)}% quota)` : ''),
    );
  const file = await appendResult('janus', {
    busyAtStart,
    flags,
    split: 'each SFU alone on core 0 (in a network namespace); bots and our Node.js process on core 1',
    results,
    ratio: ratio ?? null,
  });
  console.log(`appended to ${file}`);
});
