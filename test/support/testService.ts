import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { loadConfig } from '../../server/config.js';
import { startCallingService, type CallingService } from '../../server/callingService.js';
import { createLogger } from '../../lib/logger.js';

export type Backend = 'memory' | 'redis';
export const backends: Backend[] = ['memory', 'redis'];

/** A real service on loopback with free ports; Redis-backed runs get a key prefix of their own. */
export async function startTestService(
  backend: Backend,
  env: Record<string, string> = {},
  opts: { keyPrefix?: string } = {},
): Promise<CallingService & { keyPrefix: string }> {
  const keyPrefix = opts.keyPrefix ?? `test-${randomUUID().slice(0, 8)}:`;
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: '0',
    RTC_LISTEN_IP: '127.0.0.1',
    RTC_ANNOUNCED_ADDRESS: '127.0.0.1',
    RTC_PORT_BASE: '0',
    MEDIASOUP_NUM_WORKERS: '1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256-0123456789',
    STATE_TTL_SECONDS: '30',
    ...(backend === 'redis' ? { REDIS_URL: inject('redisUrl') } : {}),
    ...(process.env.MEDIASOUP_WORKER_BIN ? { MEDIASOUP_WORKER_BIN: process.env.MEDIASOUP_WORKER_BIN } : {}),
    ...(process.env.MEDIASOUP_LOG_LEVEL ? { MEDIASOUP_LOG_LEVEL: process.env.MEDIASOUP_LOG_LEVEL } : {}),
    ...(process.env.MEDIASOUP_LOG_TAGS ? { MEDIASOUP_LOG_TAGS: process.env.MEDIASOUP_LOG_TAGS } : {}),
    ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
    ...(process.env.XDG_CACHE_HOME ? { XDG_CACHE_HOME: process.env.XDG_CACHE_HOME } : {}),
    ...env,
  });
  const log = createLogger(config.logLevel, { test: true });
  const service = await startCallingService(config, log, { stateKeyPrefix: keyPrefix });
  return Object.assign(service, { keyPrefix });
}
