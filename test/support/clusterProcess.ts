/**
 * A real Redis Cluster of three primaries (no replicas) on free loopback ports, for running the store
 * contract suites the way a clustered deployment would serve them: `redis-server --cluster-enabled
 * yes` three times, then `redis-cli --cluster create` to spread the 16384 slots over them. Each node
 * has a temp dir of its own; `destroy()` stops them and removes the dirs (safe after a failed start).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import type { RedisTarget } from '../../state/redisConnections.js';
import { freePort } from './freePort.js';
import { until } from './poll.js';
import { RedisProcess } from './redisProcess.js';
import { TestRedis } from './redisConnections.js';

const run = promisify(execFile);
const START_TIMEOUT_MS = 20_000;

export class ClusterDeployment {
  readonly #nodes: RedisProcess[] = [];

  private constructor() {}

  static async start(): Promise<ClusterDeployment> {
    const c = new ClusterDeployment();
    try {
      for (let i = 0; i < 3; i++) {
        // The cluster bus needs a port of its own; by default port + 10000, which may be taken or
        // out of range, so it is picked free as well.
        const busPort = await freePort();
        c.#nodes.push(
          await RedisProcess.start([
            '--cluster-enabled',
            'yes',
            '--cluster-port',
            String(busPort),
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '2000',
            '--appendonly',
            'no',
          ]),
        );
      }
      await run(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...c.#nodes.map((n) => `127.0.0.1:${n.port}`),
          '--cluster-replicas',
          '0',
          '--cluster-yes',
        ],
        { timeout: START_TIMEOUT_MS },
      );
      // Every node must agree that all slots are served before a client may rely on the slot map.
      for (const n of c.#nodes) {
        const admin = new Redis({ host: '127.0.0.1', port: n.port, maxRetriesPerRequest: 1 });
        admin.on('error', () => undefined);
        try {
          await until(async () => /cluster_state:ok/.test((await admin.call('CLUSTER', 'INFO')) as string), {
            timeoutMs: START_TIMEOUT_MS,
            what: `cluster node ${n.port} to report cluster_state:ok`,
            intervalMs: 100,
          });
        } finally {
          admin.disconnect();
        }
      }
    } catch (err) {
      await c.destroy();
      throw err;
    }
    return c;
  }

  /** The target for RedisConnections (REDIS_CLUSTER_NODES for a service). */
  get target(): RedisTarget {
    return { kind: 'cluster', nodes: this.#nodes.map((n) => ({ host: '127.0.0.1', port: n.port })) };
  }

  get nodesEnv(): string {
    return this.#nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  async destroy(): Promise<void> {
    await Promise.all(this.#nodes.map((n) => n.destroy()));
  }
}

/**
 * A cluster for the calling test file (top-level `await`): started once, closed with its connections
 * in the file's afterAll. Contract suites add it as one more implementation to run against.
 */
export async function clusterForThisFile(): Promise<TestRedis> {
  const cluster = await ClusterDeployment.start();
  const redis = new TestRedis(cluster.target);
  afterAll(async () => {
    await redis.close();
    await cluster.destroy();
  });
  return redis;
}
