/**
 * The worker pool replaces a worker that stops answering on its channel (here: a real worker frozen
 * with SIGSTOP), not only one that exits: its routers close (so rooms tell their clients to
 * rejoin), the slot is empty (so /healthz is degraded) until a new worker runs, and the new worker
 * serves requests.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { types } from 'mediasoup';
import { loadConfig } from '../server/config.js';
import { createLogger } from '../lib/logger.js';
import { mediaCodecs } from '../sfu/mediaCodecs.js';
import { WorkerPool, type MediaWorker } from '../sfu/workerPool.js';

const config = loadConfig({ ...process.env, NODE_ENV: 'test' });

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('worker pool health', () => {
  let pool: WorkerPool | undefined;
  const frozen: number[] = [];
  afterEach(() => {
    pool?.close();
    pool = undefined;
    for (const pid of frozen.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone (the pool killed it)
      }
    }
  });

  async function createPool(healthCheckIntervalMs: number): Promise<WorkerPool> {
    pool = await WorkerPool.create(
      {
        numWorkers: 1,
        workerBin: config.mediasoup.workerBin,
        logLevel: 'error',
        logTags: [],
        listenIp: '127.0.0.1',
        announcedAddress: '127.0.0.1',
        portBase: 0,
        socketBufferBytes: 1 << 20,
        respawnDelayMs: 100,
        healthCheckIntervalMs,
        healthCheckTimeoutMs: 500,
      },
      createLogger('silent'),
    );
    return pool;
  }

  it("removes mediasoup's per-Worker SIGINT/SIGTERM handlers, so a signal cannot close workers before the drain", async () => {
    const listeners = () => ({
      SIGINT: process.listeners('SIGINT').length,
      SIGTERM: process.listeners('SIGTERM').length,
    });
    const before = listeners();
    const p = await createPool(0);
    expect(listeners()).toEqual(before);
    const worker = p.pick().worker;
    // What mediasoup would do without the pool's removal: close the worker on the signal.
    expect(worker.closed).toBe(false);
    // A replacement (spawned later, at runtime) is treated the same way.
    const died = new Promise<void>((resolve) => p.once('workerDied', () => resolve()));
    process.kill(worker.pid, 'SIGKILL');
    await died;
    const replacement = await until('a replacement worker', () => p.workers[0]);
    expect(replacement.worker.pid).not.toBe(worker.pid);
    expect(listeners()).toEqual(before);
  });

  it('replaces a worker whose channel stops answering, closing its routers', async () => {
    const p = await createPool(0);
    const original = p.pick();
    const router = await original.worker.createRouter({ mediaCodecs });
    const routerClosed = new Promise<void>((resolve) => router.once('workerclose', () => resolve()));
    const died = new Promise<[MediaWorker, Error]>((resolve) => p.once('workerDied', (...a) => resolve(a)));

    process.kill(original.worker.pid, 'SIGSTOP');
    frozen.push(original.worker.pid);
    // What the service does after a failed media request (and the timer does periodically).
    p.checkHealth();

    const [which, error] = await died;
    expect(which).toBe(original);
    expect(error.message).toMatch(/no answer/);
    await routerClosed;
    expect(p.workers).toHaveLength(0);

    const replacement = await until('a replacement worker', () => p.workers[0]);
    expect(replacement.worker.pid).not.toBe(original.worker.pid);
    expect(replacement.index).toBe(original.index);
    const fresh = await replacement.worker.createRouter({ mediaCodecs });
    expect(fresh.closed).toBe(false);
  });

  it('finds a frozen worker by itself on the periodic check', async () => {
    const p = await createPool(200);
    const original = p.pick();
    process.kill(original.worker.pid, 'SIGSTOP');
    frozen.push(original.worker.pid);
    const replacement = await until('a replacement worker', () =>
      p.workers.find((w) => w.worker.pid !== original.worker.pid),
    );
    expect((await replacement.worker.getResourceUsage()).ru_maxrss).toBeGreaterThan(0);
  });

  it('leaves healthy workers alone', async () => {
    const p = await createPool(100);
    const original = p.pick();
    let died: types.Worker | undefined;
    p.on('workerDied', (mw) => (died = mw.worker));
    for (let i = 0; i < 20; i++) p.checkHealth();
    // Ten periodic checks' worth of time, each answered.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(died).toBeUndefined();
    expect(p.pick()).toBe(original);
  });
});
