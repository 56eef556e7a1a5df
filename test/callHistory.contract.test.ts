/**
 * One contract for call history and missed-call counters, on every CallStore: history in SQLite
 * and PostgreSQL (live call state in memory or Redis next to it) and, as before, in memory and
 * Redis alone. History shows each call as last saved, newest first, bounded; live state stays live.
 */
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { applyCallEvent, newCall } from '../calls/callStateMachine.js';
import type { CallRecord } from '../calls/callRecord.js';
import { HISTORY_LIMIT, type CallStore } from '../state/callStore.js';
import { MemoryCallStore } from '../state/memoryCallStore.js';
import { RedisCallStore } from '../state/redisCallStore.js';
import { TestRedis } from './support/redisConnections.js';
import { clusterForThisFile } from './support/clusterProcess.js';
import { SqlCallHistory } from '../state/sql/sqlCallHistory.js';
import { freshDatabase, type SqlKind } from './support/testDatabases.js';

interface Made {
  store: CallStore;
  close: () => Promise<void>;
}

const redis = new TestRedis(inject('redisUrl'));
afterAll(() => redis.close());
/** The same store against a real 3-primary Redis Cluster: every multi-key script must stay in one slot. */
const cluster = await clusterForThisFile();

const redisLive = (): RedisCallStore => new RedisCallStore(redis.open('hist'));

const sql = (kind: SqlKind, live: () => CallStore) => async (): Promise<Made> => {
  const { db, close } = await freshDatabase(kind);
  const store = new SqlCallHistory({ db, live: live() });
  return {
    store,
    close: async () => {
      await store.close();
      await close();
    },
  };
};

const makers: Record<string, () => Promise<Made>> = {
  'sqlite + memory': sql('sqlite', () => new MemoryCallStore()),
  'postgres + redis': sql('postgres', redisLive),
  memory: async () => {
    const store = new MemoryCallStore();
    return { store, close: () => store.close() };
  },
  redis: async () => {
    const store = redisLive();
    return { store, close: () => store.close() };
  },
  'redis cluster': async () => {
    const store = new RedisCallStore(cluster.open('hist'));
    return { store, close: () => store.close() };
  },
};

function call(callId: string, callerId: string, calleeId: string): CallRecord {
  return newCall({
    callId,
    callerId,
    callerDeviceId: `${callerId}-dev`,
    calleeIds: [calleeId],
    busyUserIds: new Set(),
    media: 'audio',
    now: Date.now(),
    ringTimeoutMs: 45_000,
  }).call;
}

/** Places a call the way CallService does: first write, then history for everyone in it. */
async function place(s: CallStore, c: CallRecord): Promise<void> {
  expect(await s.saveCall(c, 0, [])).toBe(true);
  await s.addToHistory(c.order, c.callId);
}

describe.each(Object.keys(makers))('call history contract: %s', (kind) => {
  const made: Made[] = [];
  const make = async (): Promise<CallStore> => {
    const m = await makers[kind]!();
    made.push(m);
    return m.store;
  };
  afterEach(async () => {
    await Promise.all(made.splice(0).map((m) => m.close()));
  });

  it('lists calls newest first with their latest state, and keeps live pointers live', async () => {
    const s = await make();
    const c1 = call('c1', 'alice', 'bob');
    await place(s, c1);
    expect(await s.currentCalls(['alice', 'bob'])).toEqual(
      new Map([
        ['alice', 'c1'],
        ['bob', 'c1'],
      ]),
    );
    const ended = applyCallEvent(c1, { type: 'decline', userId: 'bob' }, Date.now()).call;
    expect(await s.saveCall(ended, c1.version, [])).toBe(true);
    // A write based on a stale version is refused, and history keeps the accepted one.
    expect(await s.saveCall({ ...c1, version: c1.version + 1 }, c1.version, [])).toBe(false);
    expect(await s.currentCalls(['alice', 'bob'])).toEqual(new Map());
    const c2 = call('c2', 'carol', 'alice');
    await place(s, c2);

    const alice = await s.history('alice', 10);
    expect(alice.map((c) => c.callId)).toEqual(['c2', 'c1']);
    expect(alice[1]).toEqual(ended);
    expect((await s.history('bob', 10)).map((c) => [c.callId, c.state])).toEqual([['c1', 'ended']]);
    expect(await s.history('alice', 1)).toHaveLength(1);
    expect(await s.history('nobody', 10)).toEqual([]);
    expect(await s.getCall('c1')).toEqual(ended);
  });

  it('keeps at most HISTORY_LIMIT calls per user', async () => {
    const s = await make();
    for (let i = 0; i < HISTORY_LIMIT + 3; i++) await place(s, call(`k${i}`, 'dan', `peer${i}`));
    const list = await s.history('dan', HISTORY_LIMIT + 10);
    expect(list).toHaveLength(HISTORY_LIMIT);
    expect(list[0]!.callId).toBe(`k${HISTORY_LIMIT + 2}`);
    expect(list.at(-1)!.callId).toBe('k3');
  });

  it('counts missed calls until they are seen', async () => {
    const s = await make();
    expect(await s.missedUnseen('erin')).toBe(0);
    await Promise.all([s.addMissed('erin'), s.addMissed('erin'), s.addMissed('erin')]);
    expect(await s.missedUnseen('erin')).toBe(3);
    await s.clearMissed('erin');
    expect(await s.missedUnseen('erin')).toBe(0);
    await s.addMissed('erin');
    expect(await s.missedUnseen('erin')).toBe(1);
  });
});
