/** One contract, two implementations: the embedded call store and Redis must behave the same. */
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { CallRecord } from '../calls/callRecord.js';
import { HISTORY_LIMIT, type CallStore } from '../state/callStore.js';
import { MemoryCallStore } from '../state/memoryCallStore.js';
import { RedisCallStore } from '../state/redisCallStore.js';
import { TestRedis } from './support/redisConnections.js';
import { clusterForThisFile } from './support/clusterProcess.js';

const redis = new TestRedis(inject('redisUrl'));
afterAll(() => redis.close());
/** The same store against a real 3-primary Redis Cluster: every multi-key script must stay in one slot. */
const cluster = await clusterForThisFile();

const makers: Record<string, () => CallStore> = {
  memory: () => new MemoryCallStore(),
  redis: () => new RedisCallStore(redis.open('calls')),
  'redis cluster': () => new RedisCallStore(cluster.open('calls')),
};

/** A call from `a` to the others, as the state machine would write it (caller calling, others ringing). */
function ringing(callId: string, a: string, ...others: string[]): CallRecord {
  const p = (state: CallRecord['participants'][string]['state'], deviceId: string | null = null) => ({
    state,
    deviceId,
    ringingDevices: [],
    joinedAt: null,
    leftAt: null,
    mediaJoinedAt: null,
  });
  return {
    callId,
    callerId: a,
    media: 'audio',
    state: 'ringing',
    createdAt: 1_764_000_000_000,
    ringDeadline: 1_764_000_030_000,
    answeredAt: null,
    endedAt: null,
    endReason: null,
    participants: Object.fromEntries([[a, p('calling', 'd-a')], ...others.map((o) => [o, p('ringing')])]),
    order: [a, ...others],
    version: 1,
  };
}

/** The next version of `call` with `change` applied, as a state-machine transition would produce it. */
function next(call: CallRecord, change: (c: CallRecord) => void): CallRecord {
  const c = structuredClone(call);
  change(c);
  c.version = call.version + 1;
  return c;
}
const ended = (call: CallRecord): CallRecord =>
  next(call, (c) => {
    c.state = 'ended';
    c.endReason = 'cancelled';
    c.endedAt = c.createdAt + 1000;
    for (const p of Object.values(c.participants)) p.state = p.state === 'ringing' ? 'missed' : 'left';
  });

describe.each(Object.keys(makers))('CallStore contract: %s', (kind) => {
  const make = (): CallStore => makers[kind]!();

  it('creates a call only once and reads it back as written', async () => {
    const s = make();
    const call = ringing('c1', 'a', 'b');
    expect(await s.getCall('c1')).toBeNull();
    expect(await s.saveCall(call, 0, [])).toBe(true);
    expect(await s.getCall('c1')).toEqual(call);
    // A second create of the same id (expected version 0) must lose.
    expect(await s.saveCall({ ...call, media: 'video' }, 0, [])).toBe(false);
    expect((await s.getCall('c1'))?.media).toBe('audio');
  });

  it('writes only on the version it holds (compare-and-set)', async () => {
    const s = make();
    const v1 = ringing('c1', 'a', 'b');
    await s.saveCall(v1, 0, []);
    const v2 = next(v1, (c) => c.participants.b!.ringingDevices.push('d-b'));
    expect(await s.saveCall(v2, 1, [])).toBe(true);
    // A writer that read version 1 and lost the race is refused.
    const stale = next(v1, (c) => (c.media = 'video'));
    expect(await s.saveCall(stale, 1, [])).toBe(false);
    expect(await s.getCall('c1')).toEqual(v2);
  });

  it('points everyone holding the call at it and clears pointers when they stop holding it', async () => {
    const s = make();
    const call = ringing('c1', 'a', 'b', 'c');
    await s.saveCall(call, 0, [
      { userId: 'a', callId: null },
      { userId: 'b', callId: null },
      { userId: 'c', callId: null },
    ]);
    expect(Object.fromEntries(await s.currentCalls(['a', 'b', 'c', 'nobody']))).toEqual({
      a: 'c1',
      b: 'c1',
      c: 'c1',
    });
    const declined = next(call, (c) => (c.participants.c!.state = 'declined'));
    expect(await s.saveCall(declined, 1, [])).toBe(true);
    expect(Object.fromEntries(await s.currentCalls(['a', 'b', 'c']))).toEqual({ a: 'c1', b: 'c1' });
    expect(await s.saveCall(ended(declined), 2, [])).toBe(true);
    expect((await s.currentCalls(['a', 'b', 'c'])).size).toBe(0);
    expect((await s.currentCalls([])).size).toBe(0);
  });

  it('refuses a write whose pointer expectations no longer hold (two calls racing for one person)', async () => {
    const s = make();
    expect(await s.saveCall(ringing('c1', 'a', 'b'), 0, [{ userId: 'b', callId: null }])).toBe(true);
    // c2 was prepared when b had no call: it must not go through now that b is rung by c1.
    expect(await s.saveCall(ringing('c2', 'x', 'b'), 0, [{ userId: 'b', callId: null }])).toBe(false);
    expect(await s.getCall('c2')).toBeNull();
    expect((await s.currentCalls(['x'])).size).toBe(0);
    // Expecting the pointer as it is goes through.
    expect(await s.saveCall(ringing('c3', 'y', 'z'), 0, [{ userId: 'z', callId: null }])).toBe(true);
  });

  it("ending a call never clears a pointer to someone's other call", async () => {
    const s = make();
    const c1 = ringing('c1', 'a', 'b');
    await s.saveCall(c1, 0, []);
    // b declines c1, then takes a call from x; c1 ends later.
    const declined = next(c1, (c) => (c.participants.b!.state = 'declined'));
    await s.saveCall(declined, 1, []);
    await s.saveCall(ringing('c2', 'x', 'b'), 0, [{ userId: 'b', callId: null }]);
    await s.saveCall(ended(declined), 2, []);
    expect(Object.fromEntries(await s.currentCalls(['a', 'b', 'x']))).toEqual({ b: 'c2', x: 'c2' });
  });

  it('keeps history newest first, without duplicates, bounded', async () => {
    const s = make();
    for (const id of ['h1', 'h2', 'h3']) await s.saveCall(ringing(id, 'a', 'b'), 0, []);
    await s.addToHistory(['a', 'b'], 'h1');
    await s.addToHistory(['a', 'b'], 'h2');
    await s.addToHistory(['a'], 'h3');
    await s.addToHistory(['a'], 'h1'); // moves to the front, not listed twice
    expect((await s.history('a', 10)).map((c) => c.callId)).toEqual(['h1', 'h3', 'h2']);
    expect((await s.history('a', 2)).map((c) => c.callId)).toEqual(['h1', 'h3']);
    expect((await s.history('b', 10)).map((c) => c.callId)).toEqual(['h2', 'h1']);
    expect(await s.history('nobody', 10)).toEqual([]);
    // Entries whose call record is gone are skipped, not returned as holes.
    await s.addToHistory(['a'], 'never-saved');
    expect((await s.history('a', 10)).map((c) => c.callId)).toEqual(['h1', 'h3', 'h2']);
  });

  it(`keeps at most ${HISTORY_LIMIT} history entries per person`, async () => {
    const s = make();
    const ids = Array.from({ length: HISTORY_LIMIT + 5 }, (_, i) => `b${i}`);
    for (const id of ids) {
      await s.saveCall(ringing(id, 'a', 'b'), 0, []);
      await s.addToHistory(['a'], id);
    }
    const all = await s.history('a', HISTORY_LIMIT + 50);
    expect(all).toHaveLength(HISTORY_LIMIT);
    expect(all[0]?.callId).toBe(ids.at(-1));
    expect(all.at(-1)?.callId).toBe(ids[5]);
  });

  it('counts missed calls until they are seen', async () => {
    const s = make();
    expect(await s.missedUnseen('b')).toBe(0);
    await s.addMissed('b');
    await s.addMissed('b');
    expect(await s.missedUnseen('b')).toBe(2);
    expect(await s.missedUnseen('a')).toBe(0);
    await s.clearMissed('b');
    expect(await s.missedUnseen('b')).toBe(0);
  });
});
