/**
 * `npm run bench:networks`: the impairment suite's profiles (test/network.*.test.ts) repeated
 * `--runs` times each for p50/p95, on the same rig — a Chromium in a network namespace of its
 * own calling a Chromium on the host through the real service, mediasoup and a coturn:
 * time to first frame (clean, UDP blocked → ICE-TCP, TCP to TURN only → relay), freezes and
 * decode rate at 5 % and 15 % random loss, the switch to the lowest simulcast layer and `poor`
 * quality on a 300 kbit/s link, and media back after a network change and an 8 s outage (these
 * two need resume; a run that does not recover counts as a failure with its reason).
 * Results go to bench/results/networks.json; BENCHMARKS.md "6. Networks" quotes them.
 */
import { distribution, type Distribution } from '../bot/stats/percentiles.js';
import { appendResult } from './lib/results.js';
import { parseFlags, runBench, table } from './lib/cli.js';
import { NetworkRig, type NetworkCall } from '../test/support/networkRig.js';
import {
  measureLoss,
  measureRecovery,
  measureThinLink,
  pageReport,
  timeToFirstFrame,
  waitForFlowingVideo,
} from '../test/support/networkProfiles.js';

const flags = parseFlags(
  {
    runs: { default: 5, min: 1, max: 50, help: 'repetitions of every profile' },
    'loss-window': { default: 15, min: 5, max: 120, help: 'seconds measured under each loss profile' },
    'resume-only': {
      default: 0,
      min: 0,
      max: 1,
      help: '1: only the profiles that need resume (network change, 8 s outage), e.g. for more runs',
    },
    'time-limit': { default: 3600, min: 60, max: 4 * 3600, help: 'hard limit for the whole run, seconds' },
  },
  'npm run bench:networks -- [--runs N] [--loss-window S] [--resume-only 1]',
);

type Samples = Record<string, number[]>;

interface ProfileResult {
  runs: number;
  failures: string[];
  metrics: Record<string, Distribution | undefined>;
}

async function profile(
  name: string,
  signal: AbortSignal,
  body: (samples: Samples) => Promise<void>,
): Promise<ProfileResult> {
  const samples: Samples = {};
  const failures: string[] = [];
  let runs = 0;
  for (let i = 0; i < flags.runs && !signal.aborted; i++) {
    runs++;
    try {
      await body(samples);
    } catch (err) {
      failures.push((err as Error).message.split('\n')[0]!.slice(0, 200));
    }
    process.stdout.write(`\r${name}: ${i + 1}/${flags.runs} (${failures.length} failed)`);
  }
  process.stdout.write('\n');
  const metrics = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, distribution(v)]));
  return { runs, failures, metrics };
}

function add(samples: Samples, values: Record<string, number | null>): void {
  for (const [k, v] of Object.entries(values)) if (v !== null) (samples[k] ??= []).push(v);
}

runBench(flags['time-limit'], async (signal) => {
  const rig = await NetworkRig.start({ links: 2, turn: true });
  const results: Record<string, ProfileResult> = {};
  const withCall = async (
    fn: (call: NetworkCall) => Promise<void>,
    opts: Parameters<NetworkRig['call']>[0] = {},
  ): Promise<void> => {
    const call = await rig.call(opts);
    try {
      await fn(call);
    } finally {
      rig.ns.apply({ kind: 'clear' });
      await rig.hangUp(call);
    }
  };
  const ttff = (
    s: Samples,
    expectPair?: (p: NonNullable<Awaited<ReturnType<typeof pageReport>>['pair']>) => boolean,
  ) =>
    withCall(async (call) => {
      const ms = await timeToFirstFrame(call.impaired, call.impairedStartedAt);
      const { pair } = await pageReport(call.impaired);
      if (expectPair && (!pair || !expectPair(pair)))
        throw new Error(`unexpected pair ${JSON.stringify(pair)}`);
      add(s, { ttffMs: ms });
    });
  try {
    if (!flags['resume-only']) await connectivityAndLoss();
    await resumeProfiles();
  } finally {
    await rig.close();
  }

  async function connectivityAndLoss(): Promise<void> {
    const window = flags['loss-window'] * 1000;
    results.clean = await profile('clean ttff', signal, (s) => ttff(s));
    results.udpBlocked = await profile('UDP blocked', signal, (s) => {
      rig.ns.apply({ kind: 'blockUdp' });
      return ttff(s, (p) => p.protocol === 'tcp' && p.localType !== 'relay');
    });
    results.turnTcpOnly = await profile('TCP to TURN only', signal, (s) => {
      const ports = [rig.turn!.port, Number(new URL(rig.url).port)];
      rig.ns.apply({ kind: 'onlyTcp', address: rig.ns.serverAddress, ports });
      return ttff(s, (p) => p.localType === 'relay' && p.relayProtocol === 'tcp');
    });
    for (const percent of [5, 15]) {
      results[`loss${percent}`] = await profile(`loss ${percent}%`, signal, (s) =>
        withCall(async (call) => {
          await waitForFlowingVideo(call.impaired);
          rig.ns.apply({ kind: 'loss', percent });
          const m = await measureLoss(call.impaired, window);
          add(s, {
            fps: m.fps,
            freezeCount: m.freezeCount,
            freezeSeconds: m.freezeSeconds,
            maxFrameGapMs: m.maxFrameGapMs,
            videoLossAfterRepair: m.videoLoss,
            nacks: m.nacks,
            audioConcealedRatio: m.audioConcealedRatio,
          });
        }),
      );
    }
    results.thin300 = await profile('300 kbit/s', signal, (s) =>
      withCall(
        async (call) => {
          await waitForFlowingVideo(call.impaired);
          rig.ns.apply({ kind: 'thin', kbit: 300 });
          const m = await measureThinLink(call.impaired, 20_000);
          if (m.lowestLayerAfterMs === null) throw new Error('never switched to the lowest layer');
          add(s, {
            lowestLayerAfterMs: m.lowestLayerAfterMs,
            poorAfterMs: m.poorAfterMs,
            audioConcealedRatio: m.audioConcealedRatio,
            fpsOnLowestLayer: m.fpsOnLowestLayer,
          });
        },
        { publish: 'audio' },
      ),
    );
  }

  async function resumeProfiles(): Promise<void> {
    results.networkChange = await profile('network change', signal, (s) =>
      withCall(async (call) => {
        try {
          await waitForFlowingVideo(call.impaired);
          const m = await measureRecovery(call.impaired, () => rig.ns.linkDown(0), { timeoutMs: 20_000 });
          if ((await pageReport(call.impaired)).peerId !== call.impairedPeerId)
            throw new Error('rejoined: new peer id');
          add(s, { maxFrameGapMs: m.maxFrameGapMs, mediaBackMs: m.mediaBackMs });
        } finally {
          rig.ns.linkUp(0);
        }
      }),
    );
    results.outage8s = await profile('8 s outage', signal, (s) =>
      withCall(async (call) => {
        await waitForFlowingVideo(call.impaired);
        const m = await measureRecovery(call.impaired, () => rig.ns.apply({ kind: 'blackhole' }), {
          lift: () => rig.ns.apply({ kind: 'clear' }),
          liftAfterMs: 8000,
          timeoutMs: 20_000,
        });
        if ((await pageReport(call.impaired)).peerId !== call.impairedPeerId)
          throw new Error('rejoined: new peer id');
        add(s, { mediaBackMs: m.mediaBackMs, maxFrameGapMs: m.maxFrameGapMs });
      }),
    );
  }
  const rows: (string | number)[][] = [];
  for (const [name, r] of Object.entries(results)) {
    for (const [metric, d] of Object.entries(r.metrics)) {
      rows.push([
        name,
        metric,
        d?.count ?? 0,
        d ? +d.p50.toFixed(3) : '–',
        d ? +d.p95.toFixed(3) : '–',
        r.failures.length,
      ]);
    }
    if (Object.keys(r.metrics).length === 0) rows.push([name, '–', 0, '–', '–', r.failures.length]);
  }
  console.log(table(['profile', 'metric', 'n', 'p50', 'p95', 'failed runs'], rows));
  for (const [name, r] of Object.entries(results))
    for (const f of r.failures) console.log(`${name} failure: ${f}`);
  const file = await appendResult('networks', {
    runs: flags.runs,
    lossWindowSeconds: flags['loss-window'],
    profiles: results,
  });
  console.log(`recorded in ${file}`);
});
