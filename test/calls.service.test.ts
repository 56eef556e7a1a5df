/**
 * CallService on the embedded stores with a manual clock: ring, media and reconnect timeouts run
 * the moment the test moves time, and events that change nothing are shown to write nothing (the
 * stored version stays put and no device hears about it).
 */
import { unreachedCallLimits } from './support/rateLimits.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Identity } from '../auth/accessTokens.js';
import { CallService, type CallTimings } from '../calls/callService.js';
import { NoWebhooks } from '../calls/webhooks.js';
import { BlockList } from '../accounts/blockList.js';
import type { CallView } from '../protocol/signaling.js';
import { createLogger } from '../lib/logger.js';
import { MemoryAccountStore } from '../state/memoryAccountStore.js';
import { MemoryCallStore } from '../state/memoryCallStore.js';
import { MemoryUserMessageBus, type UserMessage } from '../state/userMessageBus.js';
import { ManualClock } from './support/manualClock.js';
import { PhoneNumbers } from './support/phoneNumbers.js';

const timings: CallTimings = { ringTimeoutMs: 30_000, mediaTimeoutMs: 10_000, reconnectGraceMs: 5_000 };

/** Lets the bus deliver what was published (it delivers on a microtask, as Redis would, later). */
const delivered = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('CallService (memory stores, manual clock)', () => {
  let clock: ManualClock;
  let calls: MemoryCallStore;
  let accounts: MemoryAccountStore;
  let bus: MemoryUserMessageBus;
  let service: CallService;
  let phones: PhoneNumbers;
  /** Who is in a call's media room, as the rooms layer would report it. */
  let inRoom: Set<string>;
  const closedRooms: string[] = [];
  /** Every message delivered to each user's one device, in order. */
  let inbox: Map<string, UserMessage[]>;

  beforeEach(() => {
    clock = new ManualClock();
    calls = new MemoryCallStore();
    accounts = new MemoryAccountStore();
    bus = new MemoryUserMessageBus();
    phones = new PhoneNumbers();
    inRoom = new Set();
    inbox = new Map();
    closedRooms.length = 0;
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
      isInCallRoom: async (_callId, userId) => inRoom.has(userId),
      closeCallRoom: (callId) => closedRooms.push(callId),
    });
  });
  afterEach(async () => {
    service.close();
    await bus.close();
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
    const identity: Identity = {
      userId,
      displayName: name,
      deviceId: `d-${userId}`,
      expiresAt: 0,
      dev: false,
    };
    const messages: UserMessage[] = [];
    inbox.set(userId, messages);
    await service.attach({ userId, deviceId: identity.deviceId, deliver: (m) => messages.push(m) });
    return identity;
  }
  const stored = async (callId: string) => (await calls.getCall(callId))!;
  const lastView = (who: Identity): CallView | undefined => {
    const m = inbox
      .get(who.userId)!
      .filter((x) => x.notification === 'callUpdated' || x.notification === 'callIncoming')
      .at(-1);
    return m?.data.call;
  };
  const messageCount = (): number => [...inbox.values()].reduce((n, list) => n + list.length, 0);

  it('a call nobody answers is missed exactly at the ring timeout', async () => {
    const alice = await person('Alice');
    const bob = await person('Bob');
    const call = await service.invite(alice, [bob.userId], 'audio');
    await delivered();
    expect(lastView(bob)?.state).toBe('ringing');

    await clock.advance(timings.ringTimeoutMs - 1);
    expect((await stored(call.callId)).state).toBe('ringing');

    await clock.advance(1_000);
    await delivered();
    const ended = await stored(call.callId);
    expect(ended).toMatchObject({ state: 'ended', endReason: 'missed' });
    expect(ended.participants[bob.userId]?.state).toBe('missed');
    expect(lastView(alice)).toMatchObject({ state: 'ended', endReason: 'missed', version: ended.version });
    expect(await calls.missedUnseen(bob.userId)).toBe(1);
    expect(closedRooms).toEqual([call.callId]);
  });

  it('a ring timeout after the answer writes and announces nothing', async () => {
    const alice = await person('Alice');
    const bob = await person('Bob');
    const call = await service.invite(alice, [bob.userId], 'video');
    const answered = await service.accept(bob, call.callId);
    await service.mediaJoined(alice, call.callId);
    await service.mediaJoined(bob, call.callId);
    await delivered();
    const before = await stored(call.callId);
    const heard = messageCount();
    expect(answered.version).toBeLessThan(before.version);

    // Past both the ring and the media deadline: the timers fire and find nothing to do.
    await clock.advance(timings.ringTimeoutMs + timings.mediaTimeoutMs);
    await delivered();
    expect(clock.pendingTimers).toBe(0);
    expect(await stored(call.callId)).toEqual(before);
    expect(messageCount()).toBe(heard);
    expect(await calls.missedUnseen(bob.userId)).toBe(0);
  });

  it('ends an answered call as failed when media never connects', async () => {
    const alice = await person('Alice');
    const bob = await person('Bob');
    const call = await service.invite(alice, [bob.userId], 'video');
    await service.accept(bob, call.callId);
    await service.mediaJoined(alice, call.callId); // only one side connects

    await clock.advance(timings.mediaTimeoutMs - 1);
    expect((await stored(call.callId)).state).toBe('active');
    await clock.advance(1);
    await delivered();
    expect(await stored(call.callId)).toMatchObject({ state: 'ended', endReason: 'failed' });
    expect(lastView(bob)).toMatchObject({ state: 'ended', endReason: 'failed' });
  });

  it('hangs up for a device that dropped out and did not return within the grace period', async () => {
    const alice = await person('Alice');
    const bob = await person('Bob');
    const call = await service.invite(alice, [bob.userId], 'audio');
    await service.accept(bob, call.callId);
    await service.mediaJoined(alice, call.callId);
    await service.mediaJoined(bob, call.callId);

    service.deviceGone(bob, call.callId);
    await clock.advance(timings.reconnectGraceMs - 1);
    expect((await stored(call.callId)).state).toBe('active');
    await clock.advance(1);
    await delivered();
    expect(await stored(call.callId)).toMatchObject({ state: 'ended', endReason: 'hung-up' });
    expect(lastView(alice)).toMatchObject({ state: 'ended', endReason: 'hung-up' });
  });

  it('keeps the call of a device that came back within the grace period, without writing', async () => {
    const alice = await person('Alice');
    const bob = await person('Bob');
    const call = await service.invite(alice, [bob.userId], 'audio');
    await service.accept(bob, call.callId);
    await service.mediaJoined(alice, call.callId);
    await service.mediaJoined(bob, call.callId);
    const before = await stored(call.callId);

    service.deviceGone(bob, call.callId);
    inRoom.add(bob.userId); // reconnected and rejoined the call's room
    await clock.advance(timings.reconnectGraceMs);
    expect(await stored(call.callId)).toEqual(before);
  });

  it('a device confirming it rings twice, or the same media join twice, changes nothing', async () => {
    const alice = await person('Alice');
    const bob = await person('Bob');
    const call = await service.invite(alice, [bob.userId], 'audio');
    await service.ringing(bob, call.callId);
    await delivered();
    const ringing = await stored(call.callId);
    const heard = messageCount();
    await service.ringing(bob, call.callId);
    await delivered();
    expect(await stored(call.callId)).toEqual(ringing);
    expect(messageCount()).toBe(heard);

    await service.accept(bob, call.callId);
    await service.mediaJoined(bob, call.callId);
    await delivered();
    const joined = await stored(call.callId);
    const heardAfterJoin = messageCount();
    await service.mediaJoined(bob, call.callId);
    await delivered();
    expect((await stored(call.callId)).version).toBe(joined.version);
    expect(messageCount()).toBe(heardAfterJoin);
  });

  it('adding someone already ringing writes nothing and answers the current view', async () => {
    const alice = await person('Alice');
    const bob = await person('Bob');
    const call = await service.invite(alice, [bob.userId], 'audio');
    const before = await stored(call.callId);
    const view = await service.addParticipants(alice, call.callId, [bob.userId]);
    expect(view.version).toBe(before.version);
    expect(await stored(call.callId)).toEqual(before);
  });

  it('counts call durations on the injected clock, for history and for each person', async () => {
    const alice = await person('Alice');
    const bob = await person('Bob');
    const call = await service.invite(alice, [bob.userId], 'audio');
    await clock.advance(4_000); // rings for 4 s: not part of the duration
    await service.accept(bob, call.callId);
    await service.mediaJoined(alice, call.callId);
    await service.mediaJoined(bob, call.callId);
    await clock.advance(65_000);
    await service.hangup(bob, call.callId);
    for (const who of [alice, bob]) {
      const { entries } = await service.history(who, 10);
      expect(entries[0]).toMatchObject({ callId: call.callId, durationSeconds: 65, outcome: 'hung-up' });
    }
  });

  it('every announced view carries the version of the stored call, growing with each change', async () => {
    const alice = await person('Alice');
    const bob = await person('Bob');
    const call = await service.invite(alice, [bob.userId], 'audio');
    await service.ringing(bob, call.callId);
    await service.accept(bob, call.callId);
    await service.hangup(alice, call.callId);
    await delivered();
    const versions = inbox
      .get(alice.userId)!
      .filter((m) => m.notification === 'callUpdated')
      .map((m) => m.data.call.version);
    expect(versions).toEqual([1, 2, 3, 4]);
    expect((await stored(call.callId)).version).toBe(4);
  });
});
