/**
 * What the room relay adds per request. Two compiled nodes share one redis-server (all on loopback);
 * a room is hosted on node A. One client sits on node A (its requests are local), another on node B
 * (its requests are relayed to A over Redis pub/sub and answered back). Both send the same cheap
 * request (`restartIce`: one worker round trip, no media) one at a time, interleaved, `--requests`
 * times each, and the latencies are compared. Redis's own PING round trip from this process is
 * measured too: the relay should add about one such round trip (two publishes and two deliveries).
 * Appends to bench/results/relay.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { SignalingClient } from '../client/sdk/signalingClient.js';
import { fetchDevToken } from '../client/sdk/devToken.js';
import { nodeWebSocketFactory } from '../bot/engine/webSocketFactory.js';
import { distribution, type Distribution } from '../bot/stats/percentiles.js';
import { signalingUrl } from '../bot/targetUrl.js';
import { buildServer } from './lib/buildServer.js';
import { parseFlags, runBench, table, waitForQuietMachine } from './lib/cli.js';
import { appendResult } from './lib/results.js';
import { freePort, ServiceProcess } from './lib/serviceProcess.js';

const flags = parseFlags(
  {
    requests: { default: 500, min: 10, max: 100_000, help: 'requests measured on each path' },
    warmup: { default: 50, min: 0, max: 10_000, help: 'requests sent first on each path, not measured' },
    'time-limit': { default: 240, min: 30, max: 3600, help: 'hard limit for the whole run, seconds' },
  },
  'npm run bench:relay -- [flags]',
);

async function startRedis(): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-relay-redis-'));
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stop = (): void => {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 15_000);
    child.once('error', reject);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
  }).catch((err: unknown) => {
    stop();
    throw err;
  });
  return { url: `redis://127.0.0.1:${port}`, stop };
}

interface RelayResult {
  requests: number;
  localMs: Distribution | undefined;
  relayedMs: Distribution | undefined;
  /** relayed − local, at the median and the 95th percentile. */
  addedMs: { p50: number; p95: number };
  redisPingMs: Distribution | undefined;
}

runBench(flags['time-limit'], async (signal) => {
  const busyAtStart = await waitForQuietMachine([0, 1], 60);
  const redis = await startRedis();
  const nodes: ServiceProcess[] = [];
  const clients: SignalingClient[] = [];
  const ping = new Redis(redis.url);
  try {
    const entry = await buildServer();
    // One secret, so a token from one node is valid on the other.
    const env = {
      REDIS_URL: redis.url,
      JWT_SECRET: randomBytes(32).toString('base64url'),
      DATABASE_URL: 'memory:',
    };
    for (const nodeId of ['bench-relay-a', 'bench-relay-b']) {
      nodes.push(await ServiceProcess.start({ host: '127.0.0.1', entry, env: { ...env, NODE_ID: nodeId } }));
    }
    const [a, b] = nodes as [ServiceProcess, ServiceProcess];
    const connect = async (node: ServiceProcess, name: string): Promise<SignalingClient> => {
      const { token } = await fetchDevToken(a.url, name);
      const client = await SignalingClient.connect(signalingUrl(new URL(node.url)), token, {
        factory: nodeWebSocketFactory,
      });
      clients.push(client);
      return client;
    };
    const local = await connect(a, 'Local');
    const relayed = await connect(b, 'Relayed');
    const room = `bench-relay-${randomBytes(3).toString('hex')}`;
    await local.request('join', { room });
    const { invite } = await local.request('roomInvite', {});
    await relayed.request('join', { room, invite });
    const localTransport = (await local.request('createTransport', { direction: 'recv' })).id;
    const relayedTransport = (await relayed.request('createTransport', { direction: 'recv' })).id;

    const timed = async (client: SignalingClient, transportId: string): Promise<number> => {
      const t0 = performance.now();
      await client.request('restartIce', { transportId });
      return performance.now() - t0;
    };
    const timedPing = async (): Promise<number> => {
      const t0 = performance.now();
      await ping.ping();
      return performance.now() - t0;
    };
    for (let i = 0; i < flags.warmup && !signal.aborted; i++) {
      await timed(local, localTransport);
      await timed(relayed, relayedTransport);
      await timedPing();
    }
    // Interleaved, so a slow moment of the machine costs both paths alike.
    const samples = { local: [] as number[], relayed: [] as number[], ping: [] as number[] };
    for (let i = 0; i < flags.requests && !signal.aborted; i++) {
      samples.local.push(await timed(local, localTransport));
      samples.relayed.push(await timed(relayed, relayedTransport));
      samples.ping.push(await timedPing());
    }
    const localMs = distribution(samples.local);
    const relayedMs = distribution(samples.relayed);
    const result: RelayResult = {
      requests: samples.local.length,
      localMs,
      relayedMs,
      addedMs: {
        p50: (relayedMs?.p50 ?? Number.NaN) - (localMs?.p50 ?? Number.NaN),
        p95: (relayedMs?.p95 ?? Number.NaN) - (localMs?.p95 ?? Number.NaN),
      },
      redisPingMs: distribution(samples.ping),
    };
    const ms = (d: Distribution | undefined, k: 'p50' | 'p95' | 'p99' | 'mean'): string =>
      d ? d[k].toFixed(3) : '-';
    console.log(
      table(
        ['path', 'requests', 'mean ms', 'p50 ms', 'p95 ms', 'p99 ms'],
        [
          [
            'local (socket on the host)',
            result.requests,
            ms(localMs, 'mean'),
            ms(localMs, 'p50'),
            ms(localMs, 'p95'),
            ms(localMs, 'p99'),
          ],
          [
            'relayed (socket on node B)',
            result.requests,
            ms(relayedMs, 'mean'),
            ms(relayedMs, 'p50'),
            ms(relayedMs, 'p95'),
            ms(relayedMs, 'p99'),
          ],
          [
            'redis PING (reference)',
            result.requests,
            ms(result.redisPingMs, 'mean'),
            ms(result.redisPingMs, 'p50'),
            ms(result.redisPingMs, 'p95'),
            ms(result.redisPingMs, 'p99'),
          ],
        ],
      ),
    );
    console.log(
      `relay adds ${result.addedMs.p50.toFixed(3)} ms at p50, ${result.addedMs.p95.toFixed(3)} ms at p95`,
    );
    console.log(`busy at start: ${busyAtStart.map((b) => `${(b * 100).toFixed(0)}%`).join(', ')}`);
    console.log(`results appended to ${await appendResult('relay', { ...result, busyAtStart })}`);
  } finally {
    for (const c of clients) c.close();
    ping.disconnect();
    await Promise.all(nodes.map((n) => n.stop()));
    redis.stop();
  }
});
