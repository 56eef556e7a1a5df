/**
 * A real service on a redis-server of the test's own, which the test stalls (SIGSTOP) and stops:
 * requests that need the store are answered UNAVAILABLE within about a second — 503 with
 * Retry-After over HTTP, a typed error with details.retryAfterMs over WebSocket — never INTERNAL
 * and never a hang, /healthz reports the outage, and everything works again once Redis is back
 * (a device that subscribed to its messages during the outage included).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import { createLogger } from '../lib/logger.js';
import { RedisConnections } from '../state/redisConnections.js';
import { redisKeys } from '../state/redisKeys.js';
import { RedisUserMessageBus, type UserMessage } from '../state/userMessageBus.js';
import { apiClient, type ApiResponse } from './support/httpApi.js';
import { PhoneNumbers, TEST_PHONE_CODE } from './support/phoneNumbers.js';
import { RawSignaling } from './support/rawSignaling.js';
import { RedisProcess } from './support/redisProcess.js';
import { startTestService } from './support/testService.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

/** An outage answer must come back well before a client would give up on a hung request. */
const FAIL_FAST_MS = 3000;

async function until(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

function expectUnavailable(r: ApiResponse): void {
  expect(r.status).toBe(503);
  expect(r.body).toEqual({
    error: { code: ErrorCode.Unavailable, message: expect.any(String), details: { retryAfterMs: '1000' } },
  });
  expect(r.headers.get('retry-after')).toBe('1');
}

describe('state store outage (redis)', () => {
  let redis: RedisProcess;
  let service: Service;
  let api: ReturnType<typeof apiClient>;
  let token: string;
  const sockets: RawSignaling[] = [];

  beforeAll(async () => {
    // AOF with fsync on every write, so a stop and restart keeps the account signed in below.
    redis = await RedisProcess.start(['--appendonly', 'yes', '--appendfsync', 'always']);
    service = await startTestService('redis', { REDIS_URL: redis.url });
    api = apiClient(service.url);
    const phone = new PhoneNumbers().next();
    await api('POST', '/api/v1/auth/code', { json: { phone } });
    const verified = await api('POST', '/api/v1/auth/verify', {
      json: { phone, code: TEST_PHONE_CODE, deviceLabel: 'outage' },
    });
    const registered = await api('POST', '/api/v1/auth/register', {
      json: { registrationToken: verified.body.registrationToken, name: 'Olga', deviceLabel: 'outage' },
    });
    expect(registered.status).toBe(201);
    token = registered.body.session.accessToken as string;
  });
  afterAll(async () => {
    redis?.resume();
    await Promise.all(sockets.map((s) => s.close()));
    await service?.close();
    await redis?.destroy();
  });

  const healthOk = async (): Promise<boolean> => (await api('GET', '/healthz')).status === 200;

  it.each(['stalled', 'stopped'] as const)(
    'answers HTTP requests UNAVAILABLE with Retry-After while Redis is %s, then recovers',
    async (outage) => {
      expect(await healthOk()).toBe(true);
      if (outage === 'stalled') redis.pause();
      else await redis.stop();
      try {
        // Accounts live in the database, which stays up: the signed-in user is still served.
        expect((await api('GET', '/api/v1/me', { token })).status).toBe(200);

        // Asking for a code needs Redis (codes, rate limits): UNAVAILABLE, not INTERNAL.
        const code = await timed(() =>
          api('POST', '/api/v1/auth/code', { json: { phone: new PhoneNumbers(50).next() } }),
        );
        expectUnavailable(code.value);
        expect(code.ms).toBeLessThan(FAIL_FAST_MS);

        const health = await api('GET', '/healthz');
        expect(health.status).toBe(503);
        // Anonymous callers see the status only (details need the metrics token).
        expect(health.body).toEqual({ status: 'degraded' });
      } finally {
        if (outage === 'stalled') redis.resume();
        else await redis.restart();
      }
      await until(healthOk);
      const again = await api('POST', '/api/v1/auth/code', { json: { phone: new PhoneNumbers(60).next() } });
      expect(again.status).toBe(202);
    },
  );

  it('answers WebSocket requests with a typed UNAVAILABLE carrying retryAfterMs, then recovers', async () => {
    const ws = await RawSignaling.open(service.url, token);
    sockets.push(ws);
    // Live call state stays in Redis (history moved to the database): callGet reads it.
    const unknownCall = { callId: '00000000-0000-4000-8000-000000000000' };
    const before = await ws.request('callGet', unknownCall);
    expect(before).toMatchObject({ ok: false, error: { code: ErrorCode.NotInCall } });

    redis.pause();
    try {
      const during = await timed(() => ws.request('callGet', unknownCall));
      expect(during.value).toMatchObject({
        ok: false,
        error: { code: ErrorCode.Unavailable, details: { retryAfterMs: '1000' } },
      });
      expect(during.ms).toBeLessThan(FAIL_FAST_MS);
    } finally {
      redis.resume();
    }
    await until(async () => {
      const r = await ws.request('callGet', unknownCall);
      return !r.ok && r.error?.code === ErrorCode.NotInCall;
    });
  });

  it('names every connection it opens and closes all of them at shutdown', async () => {
    const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    const names = async (): Promise<string[]> =>
      ((await admin.client('LIST')) as string)
        .split('\n')
        .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '')
        .filter((n) => n !== '')
        .sort();
    try {
      const before = await names();
      const second = await startTestService('redis', { REDIS_URL: redis.url });
      const added = await names();
      for (const n of before) added.splice(added.indexOf(n), 1);
      // Each store, both directions of the user bus and of the node relay, and the rate-limit
      // counters: one named connection each.
      expect(added).toEqual([
        'accounts',
        'bus-pub',
        'bus-sub',
        'calls',
        'rate-limits',
        'relay-pub',
        'relay-sub',
        'rooms',
      ]);
      await second.close();
      // ...and every one of them is gone after close() (the server drops a connection after QUIT).
      await until(async () => JSON.stringify(await names()) === JSON.stringify(before), 5000);
    } finally {
      await admin.quit();
    }
  });

  it('a device subscribed while Redis is down gets its messages once Redis is back', async () => {
    const connections = new RedisConnections({ url: redis.url, log: createLogger('silent') });
    const bus = new RedisUserMessageBus({
      pub: connections.open('bus-pub'),
      sub: connections.open('bus-sub'),
      keys: redisKeys('bus-outage:'),
    });
    const received: UserMessage[] = [];
    const message: UserMessage = { notification: 'callAnsweredElsewhere', data: { callId: 'c1' } };
    try {
      await bus.publish('u1', message); // both connections up before the outage
      await redis.stop();
      try {
        // Resolves (the handler is kept) instead of failing the device's whole session.
        await bus.subscribe('u1', (m) => received.push(m));
      } finally {
        await redis.restart();
      }
      await until(async () => {
        await bus.publish('u1', message).catch(() => 0);
        return received.length > 0;
      });
      expect(received[0]).toEqual(message);
    } finally {
      await bus.close();
      await connections.close();
    }
  });
});
