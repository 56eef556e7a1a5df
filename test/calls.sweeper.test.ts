/**
 * The call sweeper: calls whose timers died with their node still end. Two CallServices share the
 * stores, as two nodes share Redis: node A places and answers the call and then "dies" (its timers
 * are gone); node B's sweeper finds what is overdue. The lease that lets one node at a time sweep is
 * tested against real Redis, as is the rule that a pointer to a vanished call makes nobody busy.
 */
import { afterAll, afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import type { Identity } from '../auth/accessTokens.js';
import { BlockList } from '../accounts/blockList.js';
import { CallService, type CallTimings } from '../calls/callService.js';
import { CallSweeper } from '../calls/callSweeper.js';
import { NoWebhooks } from '../calls/webhooks.js';
import { createLogger } from '../lib/logger.js';
import type { CallStore } from '../state/callStore.js';
import { LocalLease, RedisLease } from '../state/lease.js';
import { MemoryAccountStore } from '../state/memoryAccountStore.js';
import { MemoryCallStore } from '../state/memoryCallStore.js';
import { RedisCallStore } from '../state/redisCallStore.js';
import { MemoryUserMessageBus } from '../state/userMessageBus.js';
import { ManualClock } from './support/manualClock.js';
import { PhoneNumbers } from './support/phoneNumbers.js';
import { unreachedCallLimits } from './support/rateLimits.js';
import { TestRedis } from './support/redisConnections.js';

const timings: CallTimings = { ringTimeoutMs: 30_000, mediaTimeoutMs: 10_000, reconnectGraceMs: 5_000 };
const log = createLogger('silent');
const redis = new TestRedis(inject('redisUrl'));
afterAll(() => redis.close());

describe('CallSweeper (two nodes on shared stores, manual clock)', () => {
  let clock: ManualClock;
  let calls: CallStore;
  let accounts: MemoryAccountStore;
  let bus: MemoryUserMessageBus;
  let phones: PhoneNumbers;
  let inRoom: Set<string>;
  let nodeA: CallService;
  let nodeB: CallService;
  let sweeper: CallSweeper;
  const services: CallService[] = [];

  const service = (): CallService => {
    const s = new CallService({
      calls,
      accounts,
      bus,
      webhooks: new NoWebhooks(),
      blocks: new BlockList({ store: accounts }),
      limits: unreachedCallLimits(),
      timings,
      log,
      clock,
      isInCallRoom: async (_callId, userId) => inRoom.has(userId),
      closeCallRoom: () => undefined,
    });
    services.push(s);
    return s;
  };

  const setUp = (store: CallStore): void => {
    clock = new ManualClock();
    calls = store;
    accounts = new MemoryAccountStore();
    bus = new MemoryUserMessageBus();
    phones = new PhoneNumbers();
    inRoom = new Set();
    nodeA = service();
    nodeB = service();
    sweeper = new CallSweeper({
      store: calls,
      calls: nodeB,
      lease: new LocalLease(),
      owner: 'node-b',
      intervalMs: 1000,
      timings,
      isInCallRoom: async (_callId, userId) => inRoom.has(userId),
      log,
      clock,
    });
  };
  beforeEach(() => setUp(new MemoryCallStore()));
  afterEach(async () => {
    await sweeper.close();
    for (const s of services.splice(0)) s.close();
    await bus.close();
  });

  async function person(name: string): Promise<Identity> {
    const userId = `u-${name.toLowerCase()}-${phones.next().slice(-4)}`;
    await accounts.createUser({
      userId,
      phone: phones.next(),
      name,
      createdAt: clock.now(),
      photoEtag: null,
    });
    return { userId, displayName: name, deviceId: `d-${userId}`, expiresAt: 0, dev: false };
  }

  /** A connected 1:1 call placed and answered on node A, which then dies with its timers. */
  async function connectedCallOnDeadNode(): Promise<{ callId: string; alice: Identity; bob: Identity }> {
    const alice = await person('Alice');
    const bob = await person('Bob');
    const call = await nodeA.invite(alice, [bob.userId], 'audio');
    await nodeA.accept(bob, call.callId);
    await nodeA.mediaJoined(alice, call.callId);
    await nodeA.mediaJoined(bob, call.callId);
    inRoom.add(alice.userId).add(bob.userId);
    nodeA.close();
    return { callId: call.callId, alice, bob };
  }

  it('ends `failed` a call whose people did not come back within the grace, and frees them', async () => {
    const { callId, alice, bob } = await connectedCallOnDeadNode();
    expect(await sweeper.sweep()).toBe(true);
    expect((await calls.getCall(callId))?.state).toBe('active');
    // Their media node died: neither is in the call's room any more.
    inRoom.clear();
    expect(await sweeper.sweep()).toBe(true);
    await clock.advance(timings.reconnectGraceMs - 1);
    await sweeper.sweep();
    expect((await calls.getCall(callId))?.state).toBe('active');
    await clock.advance(1);
    await sweeper.sweep();
    expect(await calls.getCall(callId)).toMatchObject({ state: 'ended', endReason: 'failed' });
    expect((await calls.currentCalls([alice.userId, bob.userId])).size).toBe(0);
    expect(await calls.openCalls()).toEqual([]);
    // Both can be called again at once.
    const again = await nodeB.invite(alice, [bob.userId], 'audio');
    expect(again.participants.find((p) => p.userId === bob.userId)?.state).toBe('ringing');
  });

  it('keeps a call whose people came back within the grace', async () => {
    const { callId } = await connectedCallOnDeadNode();
    const [a, b] = [...inRoom];
    inRoom.clear();
    await sweeper.sweep();
    await clock.advance(timings.reconnectGraceMs - 1000);
    inRoom.add(a!).add(b!);
    await sweeper.sweep();
    await clock.advance(timings.reconnectGraceMs * 3);
    await sweeper.sweep();
    expect((await calls.getCall(callId))?.state).toBe('active');
    expect(await calls.openCalls()).toEqual([callId]);
  });

  it('applies a ring timeout whose timer died with its node', async () => {
    const alice = await person('Alice');
    const bob = await person('Bob');
    const call = await nodeA.invite(alice, [bob.userId], 'audio');
    nodeA.close();
    await clock.advance(timings.ringTimeoutMs + 1);
    expect((await calls.getCall(call.callId))?.state).toBe('ringing');
    await sweeper.sweep();
    expect(await calls.getCall(call.callId)).toMatchObject({ state: 'ended', endReason: 'missed' });
  });

  it('applies a media timeout whose timer died with its node', async () => {
    const alice = await person('Alice');
    const bob = await person('Bob');
    const call = await nodeA.invite(alice, [bob.userId], 'audio');
    await nodeA.accept(bob, call.callId);
    nodeA.close();
    await clock.advance(timings.mediaTimeoutMs - 1);
    await sweeper.sweep();
    expect((await calls.getCall(call.callId))?.state).toBe('active');
    await clock.advance(1);
    await sweeper.sweep();
    expect(await calls.getCall(call.callId)).toMatchObject({ state: 'ended', endReason: 'failed' });
  });

  it('a pointer left at a vanished call (Redis) makes nobody busy', async () => {
    const { redis: conn, keys } = redis.open('sweeper');
    setUp(new RedisCallStore({ redis: conn, keys }));
    const alice = await person('Alice');
    const bob = await person('Bob');
    const carol = await person('Carol');
    const first = await nodeA.invite(alice, [bob.userId], 'audio');
    expect((await calls.currentCalls([bob.userId])).get(bob.userId)).toBe(first.callId);
    // The record expires (or is lost) while Bob's pointer still names it.
    await conn.del(keys.call(first.callId));
    const second = await nodeB.invite(carol, [bob.userId], 'audio');
    expect(second.participants.find((p) => p.userId === bob.userId)?.state).toBe('ringing');
    expect((await calls.currentCalls([bob.userId])).get(bob.userId)).toBe(second.callId);
    // The sweeper drops the vanished call from its list.
    await sweeper.sweep();
    expect(await calls.openCalls()).toEqual([second.callId]);
  });
});

describe('RedisLease', () => {
  it('one holder at a time; another takes over once the holder stops renewing or releases', async () => {
    const { redis: conn, keys } = redis.open('lease');
    const lease = new RedisLease(conn, keys.lease('job'));
    expect(await lease.hold('a', 300)).toBe(true);
    expect(await lease.hold('b', 300)).toBe(false);
    expect(await lease.hold('a', 300)).toBe(true); // renewed
    const started = Date.now();
    let tookOver = false;
    for (let i = 0; i < 40 && !tookOver; i++) {
      await new Promise((r) => setTimeout(r, 50));
      tookOver = await lease.hold('b', 300);
    }
    expect(tookOver).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    await lease.release('a'); // not a's any more: changes nothing
    expect(await lease.hold('a', 300)).toBe(false);
    await lease.release('b');
    expect(await lease.hold('a', 300)).toBe(true);
  });
});
