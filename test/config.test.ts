import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../server/config.js';

describe('configuration from the environment', () => {
  it('has defaults that work on one machine', () => {
    const c = loadConfig({});
    expect(c.port).toBe(3000);
    expect(c.redisUrl).toBeUndefined();
    expect(c.devTokens).toBe(true);
    expect(c.jwt.secretIsEphemeral).toBe(true);
    expect(c.mediasoup.numWorkers).toBeGreaterThanOrEqual(1);
    expect(c.mediasoup.portBase).toBe(40000);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET'],
    [{ RTC_LISTEN_IP: 'localhost' }, 'RTC_LISTEN_IP'],
    [{ MEDIASOUP_NUM_WORKERS: '0' }, 'MEDIASOUP_NUM_WORKERS'],
    [{ DEV_TOKENS: 'maybe' }, 'DEV_TOKENS'],
    [{ NODE_ENV: 'production' }, 'JWT_SECRET'],
    [{ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32), DEV_TOKENS: 'true' }, 'DEV_TOKENS'],
  ])('names the bad variable: %o', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(name));
  });

  it('turns development tokens off in production', () => {
    const c = loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) });
    expect(c.devTokens).toBe(false);
    expect(c.jwt.secretIsEphemeral).toBe(false);
  });

  it('announces the listen address when it is specific', () => {
    const c = loadConfig({ RTC_LISTEN_IP: '127.0.0.1' });
    expect(c.mediasoup.announcedAddress).toBe('127.0.0.1');
  });
});
