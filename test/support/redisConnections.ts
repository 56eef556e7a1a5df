/**
 * Redis connections for tests that build stores directly (contract suites): one registry per test
 * file, each store on a connection of its own, all closed by `close()` in the file's afterAll.
 */
import { randomUUID } from 'node:crypto';
import { createLogger, type LogLevel } from '../../lib/logger.js';
import { RedisConnections, type RedisTarget } from '../../state/redisConnections.js';
import { redisKeys, type RedisKeys } from '../../state/redisKeys.js';

export class TestRedis {
  readonly #connections: RedisConnections;
  #count = 0;

  /** A URL, or any target (a cluster started by test/support/clusterProcess.ts). */
  constructor(target: string | RedisTarget) {
    const level = (process.env.TEST_LOG_LEVEL ?? 'warn') as LogLevel;
    const log = createLogger(level, { test: true });
    this.#connections = new RedisConnections(
      typeof target === 'string' ? { url: target, log } : { target, log },
    );
  }

  /** A new connection and a key space no other test shares. */
  open(label: string): { redis: ReturnType<RedisConnections['open']>; keys: RedisKeys } {
    const redis = this.#connections.open(`${label}-${++this.#count}`);
    return { redis, keys: redisKeys(`${label}-${randomUUID()}:`) };
  }

  close(): Promise<void> {
    return this.#connections.close();
  }
}
