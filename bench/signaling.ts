/**
 * Signaling without media, on one node (the compiled service, as in production): (1) concurrent authenticated WebSockets and the
 * service's heap per connection (after a forced GC, before and after opening them); (2) room
 * join+leave round trips per second; (3) 1:1 call setups per second (callInvite → the callee's
 * callIncoming → callAccept answered), between test phone numbers. The service runs as a child
 * process on core 0 with its mediasoup worker; this process (the clients) on core 1. Appends to
 * bench/results/signaling.json.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { SignalingClient } from '../client/sdk/signalingClient.js';
import { nodeWebSocketFactory } from '../bot/engine/webSocketFactory.js';
import { sleep } from '../bot/runner/backoff.js';
import { distribution, type Distribution } from '../bot/stats/percentiles.js';
import { signalingUrl } from '../bot/targetUrl.js';
import { signalingProtocols } from '../protocol/wsAuth.js';
import { parseFlags, runBench, table } from './lib/cli.js';
import { startBenchRun } from './lib/benchRun.js';
import { scrapeMetrics } from './lib/metricsScrape.js';
import { CpuMeter } from './lib/procCpu.js';
import { appendResult } from './lib/results.js';
import type { ServiceProcess } from './lib/serviceProcess.js';
import { signInTestAccounts, type TestAccount } from './lib/testAccounts.js';

const flags = parseFlags(
  {
    connections: { default: 10_000, min: 1, max: 19_000, help: 'WebSockets held at once' },
    'open-concurrency': { default: 200, min: 1, max: 2000, help: 'WebSockets being opened at a time' },
    clients: { default: 50, min: 1, max: 1000, help: 'concurrent clients in the join+leave loops' },
    pairs: { default: 20, min: 1, max: 50, help: 'caller/callee pairs in the call setup loop' },
    duration: { default: 10, min: 1, max: 600, help: 'seconds per loop' },
    'time-limit': { default: 240, min: 30, max: 3600, help: 'hard limit for the whole run, seconds' },
  },
  'npm run bench:signaling -- [flags]',
);

/** Preloaded into the service: a full GC on SIGUSR2, so a heap sample holds live objects only. */
const GC_ON_SIGUSR2 = "process.on('SIGUSR2', () => globalThis.gc())";

interface HeapSample {
  heapUsedBytes: number;
  rssBytes: number;
}

/** Forces a GC in the service (GC_ON_SIGUSR2), then reads its heap from /metrics. */
async function heapAfterGc(service: ServiceProcess): Promise<HeapSample> {
  service.child.kill('SIGUSR2');
  await sleep(500);
  const m = await scrapeMetrics(service.url, service.metricsToken);
  return {
    heapUsedBytes: m.get('calling_node_nodejs_heap_size_used_bytes') ?? Number.NaN,
    rssBytes: m.get('calling_node_process_resident_memory_bytes') ?? Number.NaN,
  };
}

interface HoldResult {
  requested: number;
  open: number;
  serverCount: number;
  openSeconds: number;
  heapBefore: HeapSample;
  heapAfter: HeapSample;
  heapPerConnectionBytes: number;
  rssPerConnectionBytes: number;
}

async function holdConnections(
  service: ServiceProcess,
  accounts: TestAccount[],
  signal: AbortSignal,
): Promise<HoldResult> {
  const url = signalingUrl(new URL(service.url));
  const heapBefore = await heapAfterGc(service);
  const sockets: WebSocket[] = [];
  const started = performance.now();
  let next = 0;
  let failed = 0;
  const openOne = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const token = accounts[i % accounts.length]!.accessToken;
      const ws = new WebSocket(url, signalingProtocols(token));
      ws.once('open', () => {
        sockets.push(ws);
        resolve();
      });
      ws.once('error', () => {
        failed++;
        resolve();
      });
    });
  await Promise.all(
    Array.from({ length: flags['open-concurrency'] }, async () => {
      while (next < flags.connections && !signal.aborted) await openOne(next++);
    }),
  );
  const openSeconds = (performance.now() - started) / 1000;
  await sleep(2_000, signal);
  const heapAfter = await heapAfterGc(service);
  const serverCount =
    (await scrapeMetrics(service.url, service.metricsToken)).get('calling_websocket_connections') ?? 0;
  for (const ws of sockets) ws.terminate();
  if (failed > 0) console.log(`${failed} WebSockets failed to open`);
  const n = Math.max(1, sockets.length);
  return {
    requested: flags.connections,
    open: sockets.length,
    serverCount,
    openSeconds,
    heapBefore,
    heapAfter,
    heapPerConnectionBytes: (heapAfter.heapUsedBytes - heapBefore.heapUsedBytes) / n,
    rssPerConnectionBytes: (heapAfter.rssBytes - heapBefore.rssBytes) / n,
  };
}

interface LoopResult {
  name: string;
  completed: number;
  failed: number;
  perSecond: number;
  latencyMs: Distribution | undefined;
  errors: Record<string, number>;
  /** The service's Node.js process during the loop, in share of one core (1 = saturated). */
  serviceCpu: number;
}

/** The service's Node.js process; set once it runs, read by every loop. */
let serviceMeter: CpuMeter | undefined;

/** Runs `workers` loops of `once` for `flags.duration` seconds; `once` resolves with its latency. */
async function loop(
  name: string,
  workers: number,
  once: (worker: number) => Promise<number>,
  signal: AbortSignal,
): Promise<LoopResult> {
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let failed = 0;
  const deadline = performance.now() + flags.duration * 1000;
  const started = performance.now();
  serviceMeter?.sample();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (performance.now() < deadline && !signal.aborted) {
        try {
          latencies.push(await once(w));
        } catch (err) {
          failed++;
          const code = (err as { code?: string }).code ?? (err as Error).message;
          errors[code] = (errors[code] ?? 0) + 1;
          await sleep(50);
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    name,
    completed: latencies.length,
    failed,
    perSecond: latencies.length / seconds,
    latencyMs: distribution(latencies),
    errors,
    serviceCpu: serviceMeter?.sample() ?? Number.NaN,
  };
}

async function connectAll(url: string, accounts: TestAccount[]): Promise<SignalingClient[]> {
  return Promise.all(
    accounts.map((a) => SignalingClient.connect(url, a.accessToken, { factory: nodeWebSocketFactory })),
  );
}

async function joinLeave(url: string, accounts: TestAccount[], signal: AbortSignal): Promise<LoopResult[]> {
  const clients = await connectAll(
    url,
    Array.from({ length: flags.clients }, (_, i) => accounts[i % accounts.length]!),
  );
  const resident = await SignalingClient.connect(url, accounts[0]!.accessToken, {
    factory: nodeWebSocketFactory,
  });
  const prefix = `sig-${randomBytes(3).toString('hex')}`;
  try {
    let n = 0;
    const fresh = await loop(
      'join+leave, a new room each time (router created and closed)',
      clients.length,
      async (w) => {
        const t0 = performance.now();
        await clients[w]!.request('join', { room: `${prefix}-new-${n++}` });
        await clients[w]!.request('leave', {});
        return performance.now() - t0;
      },
      signal,
    );
    // One member stays in each of a few rooms, so joins find the room (and its router) already there.
    const rooms = Array.from({ length: 10 }, (_, i) => `${prefix}-kept-${i}`);
    const residents = await connectAll(
      url,
      rooms.map((_, i) => accounts[i % accounts.length]!),
    );
    await Promise.all(residents.map((c, i) => c.request('join', { room: rooms[i]! })));
    // Each resident created its room; the others join with its invite (and are members from then on).
    const invites = await Promise.all(residents.map((c) => c.request('roomInvite', {})));
    const existing = await loop(
      'join+leave, a room that already exists',
      clients.length,
      async (w) => {
        const t0 = performance.now();
        await clients[w]!.request('join', {
          room: rooms[w % rooms.length]!,
          invite: invites[w % rooms.length]!.invite,
        });
        await clients[w]!.request('leave', {});
        return performance.now() - t0;
      },
      signal,
    );
    for (const c of residents) c.close();
    return [fresh, existing];
  } finally {
    for (const c of clients) c.close();
    resident.close();
  }
}

async function callSetups(url: string, accounts: TestAccount[], signal: AbortSignal): Promise<LoopResult> {
  const callers = await connectAll(url, accounts.slice(0, flags.pairs));
  const callees = await connectAll(url, accounts.slice(flags.pairs, flags.pairs * 2));
  // callIncoming may reach the callee before callInvite's answer reaches the caller, so each
  // callee keeps the calls that rang until the loop asks for them.
  const rang = callees.map(() => new Map<string, () => void>());
  const rangEarly = callees.map(() => new Set<string>());
  callees.forEach((c, i) =>
    c.on('callIncoming', ({ call }) => {
      const waiter = rang[i]!.get(call.callId);
      if (waiter) waiter();
      else rangEarly[i]!.add(call.callId);
    }),
  );
  const ringsAt = (p: number, callId: string): Promise<void> => {
    if (rangEarly[p]!.delete(callId)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        rang[p]!.delete(callId);
        reject(new Error('no callIncoming within 10 s'));
      }, 10_000);
      rang[p]!.set(callId, () => {
        clearTimeout(timer);
        rang[p]!.delete(callId);
        resolve();
      });
    });
  };
  try {
    return await loop(
      'call setup: callInvite → callIncoming → callAccept answered',
      flags.pairs,
      async (p) => {
        const caller = callers[p]!;
        const callee = callees[p]!;
        const calleeId = accounts[flags.pairs + p]!.userId;
        const t0 = performance.now();
        const { call } = await caller.request('callInvite', { userIds: [calleeId], media: 'audio' });
        await ringsAt(p, call.callId);
        await callee.request('callAccept', { callId: call.callId });
        const ms = performance.now() - t0;
        // Not timed: ending the call so the pair is free for the next one.
        await caller.request('callHangup', { callId: call.callId });
        return ms;
      },
      signal,
    );
  } finally {
    for (const c of [...callers, ...callees]) c.close();
  }
}

runBench(flags['time-limit'], async (signal) => {
  const { busyAtStart, service } = await startBenchRun({
    serviceCore: 'sfu',
    env: {
      MEDIASOUP_NUM_WORKERS: '1',
      WS_MAX_CONNECTIONS: String(flags.connections + 1000),
      // The loop calls the same callees over and over: the anti-spam limit would refuse it.
      CALL_INVITES_PER_CALLEE: '1000',
      CALL_INVITES_PER_CALLEE_WINDOW_SECONDS: '1',
    },
    // SIGUSR2 forces a full GC, so heap per connection counts live objects only.
    nodeArgs: ['--expose-gc', `--import=data:text/javascript,${encodeURIComponent(GC_ON_SIGUSR2)}`],
  });
  let hold: HoldResult;
  let loops: LoopResult[];
  try {
    serviceMeter = new CpuMeter(service.pid);
    const accounts = await signInTestAccounts(service.url, Math.max(flags.pairs * 2, 10));
    const url = signalingUrl(new URL(service.url));
    console.log(`holding ${flags.connections} WebSockets (${accounts.length} test accounts' tokens)…`);
    hold = await holdConnections(service, accounts, signal);
    await sleep(2_000, signal);
    console.log(`join+leave loops, ${flags.clients} clients, ${flags.duration} s each…`);
    loops = await joinLeave(url, accounts, signal);
    console.log(`call setups, ${flags.pairs} pairs, ${flags.duration} s…`);
    loops.push(await callSetups(url, accounts, signal));
  } finally {
    await service.stop();
  }
  const kb = (b: number): string => (b / 1024).toFixed(1);
  console.log(
    `\nWebSockets: ${hold.open}/${hold.requested} open (server counted ${hold.serverCount}), opened in ${hold.openSeconds.toFixed(1)} s; ` +
      `heap ${kb(hold.heapBefore.heapUsedBytes)} → ${kb(hold.heapAfter.heapUsedBytes)} KB = ${kb(hold.heapPerConnectionBytes)} KB per connection ` +
      `(RSS ${kb(hold.rssPerConnectionBytes)} KB per connection)`,
  );
  const f = (v: number | undefined): string => (v === undefined ? '–' : v.toFixed(1));
  console.log(
    `\n${table(
      ['loop', 'per second', 'done', 'failed', 'p50 ms', 'p95 ms', 'p99 ms', 'service CPU %'],
      loops.map((l) => [
        l.name,
        l.perSecond.toFixed(0),
        l.completed,
        l.failed,
        f(l.latencyMs?.p50),
        f(l.latencyMs?.p95),
        f(l.latencyMs?.p99),
        (l.serviceCpu * 100).toFixed(0),
      ]),
    )}`,
  );
  for (const l of loops) if (l.failed > 0) console.log(`${l.name}: errors ${JSON.stringify(l.errors)}`);
  const file = await appendResult('signaling', {
    busyAtStart,
    flags,
    split: 'service (Node.js and its mediasoup worker) on core 0; clients on core 1',
    connections: hold,
    loops,
  });
  console.log(`appended to ${file}`);
});
