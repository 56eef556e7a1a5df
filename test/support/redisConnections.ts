/**
 * Redis connections for tests that build stores directly (contract suites): one registry per test
 * file, each store on a connection of its own, all closed by `close()` in the file's afterAll.
 */
import { randomUUID } from 'node:crypto';
import { createLogger, type LogLevel } from '../../lib/logger.js';
import { RedisConnections } from '../../state/redisConnections.js';
import { redisKeys, type RedisKeys } from '../../state/redisKeys.js';

export class TestRedis {
  readonly #connections: RedisConnections;
  #count = 0;

  constructor(url: string) {
    const level = (process.env.TEST_LOG_LEVEL ?? 'warn') as LogLevel;
    this.#connections = new RedisConnections({ url, log: createLogger(level, { test: true }) });
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
