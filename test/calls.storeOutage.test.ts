/**
 * Call timers while Redis is unreachable: CallService on a RedisCallStore backed by a redis-server
 * of the test's own, driven by a manual clock. A timeout that falls due during a stall must not be
 * lost (the call would otherwise stay "active" forever): it is retried until the store answers.
 */
import { unreachedCallLimits } from './support/rateLimits.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Identity } from '../auth/accessTokens.js';
import { CallService, type CallTimings } from '../calls/callService.js';
import { NoWebhooks } from '../calls/webhooks.js';
import { BlockList } from '../accounts/blockList.js';
import { createLogger } from '../lib/logger.js';
import { MemoryAccountStore } from '../state/memoryAccountStore.js';
import { RedisCallStore } from '../state/redisCallStore.js';
import { RedisConnections } from '../state/redisConnections.js';
import { redisKeys } from '../state/redisKeys.js';
import { MemoryUserMessageBus } from '../state/userMessageBus.js';
import { ManualClock } from './support/manualClock.js';
import { PhoneNumbers } from './support/phoneNumbers.js';
import { RedisProcess } from './support/redisProcess.js';

const timings: CallTimings = { ringTimeoutMs: 30_000, mediaTimeoutMs: 10_000, reconnectGraceMs: 5_000 };

describe('call timers while the store is unreachable', () => {
  let redis: RedisProcess;
  let connections: RedisConnections;
  let bus: MemoryUserMessageBus;
  let service: CallService;
  let calls: RedisCallStore;
  let accounts: MemoryAccountStore;
  const clock = new ManualClock();
  const phones = new PhoneNumbers();

  beforeAll(async () => {
    redis = await RedisProcess.start();
    connections = new RedisConnections({ url: redis.url, log: createLogger('silent') });
    calls = new RedisCallStore({ redis: connections.open('calls'), keys: redisKeys('outage:') });
    accounts = new MemoryAccountStore();
    bus = new MemoryUserMessageBus();
    service = new CallService({
      calls,
      accounts,
      bus,
      webhooks: new NoWebhooks(),
      blocks: new BlockList({ store: accounts }),
      limits: unreachedCallLimits(),
      timings,
      log: createLogger('silent'),
      clock,
      isInCallRoom: async () => false,
      closeCallRoom: () => undefined,
    });
  });
  afterAll(async () => {
    redis?.resume();
    service?.close();
    await bus?.close();
    await connections?.close();
    await redis?.destroy();
  });

  async function person(name: string): Promise<Identity> {
    const userId = `u-${name.toLowerCase()}`;
    await accounts.createUser({
      userId,
      phone: phones.next(),
      name,
      createdAt: clock.now(),
      photoEtag: null,
    });
    return { userId, displayName: name, deviceId: `d-${userId}`, expiresAt: 0, dev: false };
  }

  it('a media timeout that falls due during a stall still ends the call once Redis answers', async () => {
    const alice = await person('Alice');
    const bob = await person('Bob');
    const call = await service.invite(alice, [bob.userId], 'video');
    await service.accept(bob, call.callId);
    await service.mediaJoined(alice, call.callId); // Bob's media never arrives

    redis.pause();
    try {
      // The timer fires, its read times out (StoreUnavailableError), and it is re-armed.
      await clock.advance(timings.mediaTimeoutMs);
    } finally {
      redis.resume();
    }
    expect((await calls.getCall(call.callId))?.state).toBe('active');
    await clock.advance(1_000);
    expect(await calls.getCall(call.callId)).toMatchObject({ state: 'ended', endReason: 'failed' });
  });
});
