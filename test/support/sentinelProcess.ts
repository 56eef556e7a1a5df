/**
 * A Redis deployment watched by Sentinel, for failover tests: a primary, one replica and three
 * `redis-sentinel` processes, all on free loopback ports with temp dirs of their own. `failover()`
 * asks a sentinel to promote the replica (SENTINEL FAILOVER) and waits until every sentinel names
 * the new primary; `destroy()` stops every process and removes the dirs (call it in afterAll, it is
 * safe after a failed start too).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './freePort.js';
import { RedisProcess } from './redisProcess.js';
import { until } from './poll.js';

export const SENTINEL_MASTER_NAME = 'mymaster';
const START_TIMEOUT_MS = 20_000;

/** One redis-sentinel process with its own config file (Sentinel rewrites it, so it needs a dir). */
class SentinelServer {
  readonly port: number;
  readonly #dir: string;
  readonly #child: ChildProcess;

  private constructor(port: number, dir: string, child: ChildProcess) {
    this.port = port;
    this.#dir = dir;
    this.#child = child;
  }

  static async start(primaryPort: number): Promise<SentinelServer> {
    const port = await freePort();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'calling-sentinel-'));
    const conf = path.join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${primaryPort} 2`,
        // Short times so that a killed primary is failed over within seconds in a test.
        `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 1000`,
        `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 5000`,
        `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
        '',
      ].join('\n'),
    );
    const child = spawn('redis-sentinel', [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    const sentinel = new SentinelServer(port, dir, child);
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(
          () => reject(new Error(`redis-sentinel did not start:\n${out}`)),
          START_TIMEOUT_MS,
        );
        child.once('error', (err) => {
          clearTimeout(timer);
          reject(
            new Error(`cannot run redis-sentinel (scripts/setup.sh --test installs it): ${err.message}`),
          );
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`redis-sentinel exited (${code}):\n${out}`));
        });
        child.stdout!.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('+monitor master')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    } catch (err) {
      await sentinel.destroy();
      throw err;
    }
    return sentinel;
  }

  async destroy(): Promise<void> {
    const child = this.#child;
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      });
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

export class SentinelDeployment {
  readonly #servers: RedisProcess[];
  readonly #sentinels: SentinelServer[];
  /** One admin connection per port, reused by the polling loops. */
  readonly #admins = new Map<number, Redis>();

  private constructor(servers: RedisProcess[], sentinels: SentinelServer[]) {
    this.#servers = servers;
    this.#sentinels = sentinels;
  }

  /** Starts the primary, its replica (in sync) and three sentinels that all see both and each other. */
  static async start(): Promise<SentinelDeployment> {
    const d = new SentinelDeployment([], []);
    try {
      const primary = await RedisProcess.start();
      d.#servers.push(primary);
      const replica = await RedisProcess.start(['--replicaof', '127.0.0.1', String(primary.port)]);
      d.#servers.push(replica);
      await until(
        async () => /master_link_status:up/.test(await d.#admin(replica.port).info('replication')),
        {
          timeoutMs: START_TIMEOUT_MS,
          what: 'the replica to sync with the primary',
        },
      );
      for (let i = 0; i < 3; i++) d.#sentinels.push(await SentinelServer.start(primary.port));
      // A sentinel learns of the replica from the primary's INFO and of other sentinels from their
      // hello messages (every 2 s): until then it could neither fail over nor reach a quorum.
      await until(
        async () => {
          for (const s of d.#sentinels) {
            const admin = d.#admin(s.port);
            const replicas = (await admin.call('SENTINEL', 'REPLICAS', SENTINEL_MASTER_NAME)) as unknown[];
            const others = (await admin.call('SENTINEL', 'SENTINELS', SENTINEL_MASTER_NAME)) as unknown[];
            if (replicas.length < 1 || others.length < 2) return false;
          }
          return true;
        },
        {
          timeoutMs: START_TIMEOUT_MS,
          what: 'every sentinel to see the replica and the other sentinels',
          intervalMs: 100,
        },
      );
    } catch (err) {
      await d.destroy();
      throw err;
    }
    return d;
  }

  /** REDIS_SENTINELS for the service. */
  get sentinelsEnv(): string {
    return this.#sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
  }

  /** The port of the server the sentinels currently name as primary. */
  async primaryPort(): Promise<number> {
    const [, port] = (await this.#admin(this.#sentinels[0]!.port).call(
      'SENTINEL',
      'GET-MASTER-ADDR-BY-NAME',
      SENTINEL_MASTER_NAME,
    )) as [string, string];
    return Number(port);
  }

  /** A plain connection to the current primary (for a test's own reads). */
  async primary(): Promise<Redis> {
    return this.#admin(await this.primaryPort());
  }

  /**
   * Promotes the replica (SENTINEL FAILOVER, as an operator would before maintenance) and waits until
   * every sentinel names it and it answers as a primary. Returns the new primary's port.
   */
  async failover(opts: { timeoutMs?: number } = {}): Promise<number> {
    const before = await this.primaryPort();
    await this.#admin(this.#sentinels[0]!.port).call('SENTINEL', 'FAILOVER', SENTINEL_MASTER_NAME);
    return this.#awaitNewPrimary(before, opts.timeoutMs ?? START_TIMEOUT_MS);
  }

  /** Kills the primary (SIGKILL): the sentinels detect it (1 s) and elect the replica. */
  async killPrimary(opts: { timeoutMs?: number } = {}): Promise<number> {
    const before = await this.primaryPort();
    const server = this.#servers.find((s) => s.port === before);
    if (!server) throw new Error(`no server on port ${before}`);
    server.kill();
    return this.#awaitNewPrimary(before, opts.timeoutMs ?? START_TIMEOUT_MS);
  }

  async #awaitNewPrimary(before: number, timeoutMs: number): Promise<number> {
    let after = before;
    await until(
      async () => {
        const named = new Set<number>();
        for (const s of this.#sentinels) {
          const reply = (await this.#admin(s.port)
            .call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER_NAME)
            .catch(() => null)) as [string, string] | null;
          if (reply) named.add(Number(reply[1]));
        }
        if (named.size !== 1 || named.has(before)) return false;
        after = [...named][0]!;
        const role = (await this.#admin(after)
          .call('ROLE')
          .catch(() => null)) as unknown[] | null;
        return role?.[0] === 'master';
      },
      { timeoutMs, what: 'the sentinels to agree on a new primary', intervalMs: 50 },
    );
    return after;
  }

  #admin(port: number): Redis {
    let r = this.#admins.get(port);
    if (!r) {
      r = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, commandTimeout: 2000 });
      // A server killed on purpose must not crash the test through an unhandled 'error' event.
      r.on('error', () => undefined);
      this.#admins.set(port, r);
    }
    return r;
  }

  async destroy(): Promise<void> {
    for (const r of this.#admins.values()) r.disconnect();
    this.#admins.clear();
    await Promise.all(this.#sentinels.map((s) => s.destroy()));
    await Promise.all(this.#servers.map((s) => s.destroy()));
  }
}
