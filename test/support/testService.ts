import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { startCallingService, type CallingService } from '../../server/callingService.js';
import { createLogger } from '../../lib/logger.js';
import { postgresDatabaseUrl, tempDataDir } from './testDatabases.js';

export type Backend = 'memory' | 'redis';
export const backends: Backend[] = ['memory', 'redis'];

/**
 * A real service on loopback with free ports. 'memory' is the embedded deployment: ephemeral state
 * in memory, accounts in SQLite in a temp DATA_DIR (removed at close). 'redis' is the multi-node
 * one: Redis under a key prefix of its own and a PostgreSQL database named after that prefix, so
 * services started with the same keyPrefix share both. `env` may name a database of its own.
 */
/** The JWT secret of every test service (tests that sign what the service would sign use it). */
export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export async function startTestService(
  backend: Backend,
  env: Record<string, string> = {},
  opts: { keyPrefix?: string } = {},
): Promise<CallingService & { keyPrefix: string; databaseEnv: Record<string, string> }> {
  const keyPrefix = opts.keyPrefix ?? `test-${randomUUID().slice(0, 8)}:`;
  let removeDataDir: (() => void) | undefined;
  let databaseEnv: Record<string, string> = {};
  if (env.DATABASE_URL === undefined && env.DATA_DIR === undefined) {
    if (backend === 'redis') {
      databaseEnv = { DATABASE_URL: await postgresDatabaseUrl(keyPrefix) };
    } else {
      const data = tempDataDir();
      removeDataDir = data.remove;
      databaseEnv = { DATA_DIR: data.dir };
    }
  } else {
    databaseEnv = Object.fromEntries(
      (['DATABASE_URL', 'DATA_DIR'] as const).flatMap((k) => (env[k] !== undefined ? [[k, env[k]]] : [])),
    );
  }
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    RTC_LISTEN_IP: '127.0.0.1',
    RTC_ANNOUNCED_ADDRESS: '127.0.0.1',
    RTC_PORT_BASE: '0',
    MEDIASOUP_NUM_WORKERS: '1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    JWT_SECRET: TEST_JWT_SECRET,
    STATE_TTL_SECONDS: '30',
    ...(backend === 'redis' ? { REDIS_URL: inject('redisUrl') } : {}),
    ...(process.env.MEDIASOUP_WORKER_BIN ? { MEDIASOUP_WORKER_BIN: process.env.MEDIASOUP_WORKER_BIN } : {}),
    ...(process.env.MEDIASOUP_LOG_LEVEL ? { MEDIASOUP_LOG_LEVEL: process.env.MEDIASOUP_LOG_LEVEL } : {}),
    ...(process.env.MEDIASOUP_LOG_TAGS ? { MEDIASOUP_LOG_TAGS: process.env.MEDIASOUP_LOG_TAGS } : {}),
    ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
    ...(process.env.XDG_CACHE_HOME ? { XDG_CACHE_HOME: process.env.XDG_CACHE_HOME } : {}),
    ...databaseEnv,
    ...env,
  });
  const log = createLogger(config.logLevel, { test: true });
  let service: CallingService;
  try {
    service = await startCallingService(config, log, { stateKeyPrefix: keyPrefix });
  } catch (err) {
    removeDataDir?.();
    throw err;
  }
  const close = service.close.bind(service);
  return Object.assign(service, {
    keyPrefix,
    databaseEnv,
    close: async () => {
      try {
        await close();
      } finally {
        removeDataDir?.();
      }
    },
  });
}
