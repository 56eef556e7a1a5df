/**
 * Failover numbers for BENCHMARKS.md: `npm run bench:failover -- --rounds 5`. Three real nodes
 * behind a round-robin proxy (test/support/nodeCluster.ts) with their own redis-server; each round
 * starts replay bots in rooms spread over the nodes, SIGKILLs the host of the first room, and
 * measures detection (kill → the dead node purged from Redis by a live node) and, per affected bot,
 * time to media (kill → first RTP packet of a stream set up after the kill). The killed node is
 * restarted before the next round. Development tokens and in-process accounts: nothing here needs a
 * database.
 */
import { randomUUID } from 'node:crypto';
import { prepareEngine } from '../bot/engine/prepareEngine.js';
import { runLoadTest } from '../bot/runner/loadTest.js';
import { FailoverCluster } from '../test/support/failoverCluster.js';
import { parseFlags, runBench, table } from './lib/cli.js';
import { appendResult } from './lib/results.js';

const flags = parseFlags(
  {
    rounds: { default: 5, min: 1, max: 100, help: 'kill/recover rounds' },
    rooms: { default: 3, min: 1, max: 30, help: 'rooms per round (spread over the three nodes)' },
    'per-room': { default: 2, min: 2, max: 10, help: 'bots per room' },
    'time-limit': { default: 1800, min: 60, max: 86_400, help: 'hard limit for the whole run, seconds' },
  },
  'npm run bench:failover -- [flags]',
);

const NODE_IDS = ['n1', 'n2', 'n3'];
const pct = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
};

runBench(flags['time-limit'], async (signal) => {
  // Bots sign in with development tokens: the nodes share no accounts database here.
  process.env.BOT_AUTH = 'dev';
  const [cluster, createEngine] = await Promise.all([
    FailoverCluster.start({ nodeIds: NODE_IDS, databaseUrl: 'memory:' }),
    prepareEngine({
      engine: 'replay',
      video: { width: 320, height: 240, fps: 15 },
      videoKbps: 300,
      simulcast: false,
    }),
  ]);
  const detections: number[] = [];
  const mediaBack: number[] = [];
  let notBack = 0;
  try {
    for (let round = 1; round <= flags.rounds && !signal.aborted; round++) {
      for (const id of NODE_IDS) if (!cluster.nodes.some((n) => n.nodeId === id)) await cluster.startNode(id);
      const prefix = `bench-failover-${randomUUID().slice(0, 6)}`;
      let killedAt: number | undefined;
      let affected: string[] = [];
      let killing: Promise<void> | undefined;
      const kill = async (): Promise<void> => {
        const rooms = Array.from({ length: flags.rooms }, (_v, i) => `${prefix}-${i + 1}`);
        const hosts = await Promise.all(rooms.map((r) => cluster.hostOf(r)));
        const victim = hosts[0]!.nodeId;
        affected = rooms.filter((_r, i) => hosts[i]?.nodeId === victim);
        killedAt = performance.now();
        cluster.signal(victim, 'SIGKILL');
        const deadline = Date.now() + 20_000;
        while (Date.now() < deadline && (await cluster.liveNodeIds()).includes(victim))
          await new Promise((r) => setTimeout(r, 20));
        detections.push(performance.now() - killedAt);
      };
      const result = await runLoadTest(
        {
          url: cluster.url,
          rooms: flags.rooms,
          perRoom: flags['per-room'],
          durationSeconds: 14,
          rampPerSecond: 6,
          engine: 'replay',
          roomPrefix: prefix,
          backoff: { maxAttempts: 8, baseDelayMs: 200, maxDelayMs: 1000 },
        },
        {
          createEngine,
          signal,
          onSample: (sample, total) => {
            if (!killing && sample.states.joined === total && sample.tMs > 3000) killing = kill();
          },
          beforeStop: async () => {
            await killing;
          },
        },
      );
      if (killedAt === undefined) {
        console.log(`round ${round}: the bots never all joined; skipped`);
        continue;
      }
      for (const bot of result.bots.filter((b) => affected.includes(b.room))) {
        const firsts = bot.streams.flatMap((s) =>
          s.firstArrivalMs !== undefined && s.firstArrivalMs > killedAt! ? [s.firstArrivalMs] : [],
        );
        if (firsts.length === 0) notBack++;
        else mediaBack.push(Math.min(...firsts) - killedAt);
      }
      console.log(
        `round ${round}: detection ${Math.round(detections.at(-1)!)} ms, ${affected.length} room(s) affected`,
      );
    }
  } finally {
    await cluster.close();
  }
  console.log(
    table(
      ['measure', 'n', 'p50 ms', 'p95 ms', 'max ms'],
      [
        [
          'detection (kill → purged)',
          detections.length,
          ...[50, 95, 100].map((p) => Math.round(pct(detections, p))),
        ],
        [
          'media back (kill → first packet)',
          mediaBack.length,
          ...[50, 95, 100].map((p) => Math.round(pct(mediaBack, p))),
        ],
      ],
    ),
  );
  if (notBack > 0) console.log(`${notBack} bot(s) never got media back`);
  const summary = (v: number[]) => ({ n: v.length, p50: pct(v, 50), p95: pct(v, 95), max: pct(v, 100) });
  const file = await appendResult('failover', {
    flags,
    detectionMs: summary(detections),
    mediaBackMs: summary(mediaBack),
    notBack,
    samples: { detectionMs: detections, mediaBackMs: mediaBack },
  });
  console.log(`appended to ${file}`);
});
