/**
 * One contract, every implementation: accounts behave the same in SQLite, PostgreSQL, memory and
 * (as before the database) Redis; the verification records (codes, locks, tickets) the same in
 * memory and Redis, where they stay.
 */
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { DeviceExistsError, type AccountStore, type DeviceRecord } from '../state/accountStore.js';
import { MemoryAccountStore } from '../state/memoryAccountStore.js';
import { RedisAccountStore } from '../state/redisAccountStore.js';
import { SqlAccountStore } from '../state/sql/sqlAccountStore.js';
import type { VerificationStore } from '../state/verificationStore.js';
import { freshDatabase } from './support/testDatabases.js';
import { TestRedis } from './support/redisConnections.js';
import { clusterForThisFile } from './support/clusterProcess.js';

const redis = new TestRedis(inject('redisUrl'));
afterAll(() => redis.close());
/** The same store against a real 3-primary Redis Cluster: every multi-key script must stay in one slot. */
const cluster = await clusterForThisFile();

interface Made<T> {
  store: T;
  close: () => Promise<void>;
}

const redisStore = (): RedisAccountStore => new RedisAccountStore(redis.open('acct'));
const clusterStore = (): RedisAccountStore => new RedisAccountStore(cluster.open('acct'));

const accountMakers: Record<string, () => Promise<Made<AccountStore>>> = {
  sqlite: async () => {
    const { db, close } = await freshDatabase('sqlite');
    return { store: new SqlAccountStore(db), close };
  },
  postgres: async () => {
    const { db, close } = await freshDatabase('postgres');
    return { store: new SqlAccountStore(db), close };
  },
  memory: async () => {
    const store = new MemoryAccountStore();
    return { store, close: () => store.close() };
  },
  redis: async () => {
    const store = redisStore();
    return { store, close: () => store.close() };
  },
  'redis cluster': async () => {
    const store = clusterStore();
    return { store, close: () => store.close() };
  },
};

const verificationMakers: Record<string, () => Promise<Made<VerificationStore>>> = {
  memory: async () => ({ store: new MemoryAccountStore(), close: async () => undefined }),
  redis: async () => {
    const store = redisStore();
    return { store, close: () => store.close() };
  },
  'redis cluster': async () => {
    const store = clusterStore();
    return { store, close: () => store.close() };
  },
};

/** Makes stores for one test and closes them after it, even when it fails. */
function storesOf<T>(makers: Record<string, () => Promise<Made<T>>>, kind: string): () => Promise<T> {
  const made: Made<T>[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((m) => m.close()));
  });
  return async () => {
    const m = await makers[kind]!();
    made.push(m);
    return m.store;
  };
}

const user = (userId: string, phone: string) => ({
  userId,
  phone,
  name: `N ${userId}`,
  createdAt: 1_764_000_000_123,
  photoEtag: null,
});
const device = (deviceId: string, userId: string, refreshHash: string): DeviceRecord => ({
  deviceId,
  userId,
  label: 'l',
  createdAt: 1,
  lastSeenAt: 1,
  refreshHash,
  rotatedHashes: [],
  refreshExpiresAt: Date.now() + 60_000,
});

describe.each(Object.keys(verificationMakers))('VerificationStore contract: %s', (kind) => {
  const make = storesOf(verificationMakers, kind);

  it('counts code attempts, forgets deleted codes, and locks numbers', async () => {
    const s = await make();
    await s.putCode('+1', { hash: 'h', expiresAt: Date.now() + 1000, attempts: 0 }, 60);
    expect(await s.addCodeAttempt('+1')).toBe(1);
    expect(await s.addCodeAttempt('+1')).toBe(2);
    expect((await s.getCode('+1'))?.attempts).toBe(2);
    await s.deleteCode('+1');
    expect(await s.getCode('+1')).toBeNull();
    expect(await s.addCodeAttempt('+1')).toBe(0);
  });

  it('hands out a registration ticket exactly once', async () => {
    const s = await make();
    await s.putRegistrationTicket('t1', '+12015550100', 60);
    const taken = await Promise.all([s.takeRegistrationTicket('t1'), s.takeRegistrationTicket('t1')]);
    expect(taken.filter((p) => p !== null)).toEqual(['+12015550100']);
  });
});

describe.each(Object.keys(accountMakers))('AccountStore contract: %s', (kind) => {
  const make = storesOf(accountMakers, kind);

  it('keeps one user per phone, even when two registrations race', async () => {
    const s = await make();
    const [a, b] = await Promise.all([
      s.createUser(user('u1', '+12015550100')),
      s.createUser(user('u2', '+12015550100')),
    ]);
    expect(a.userId).toBe(b.userId);
    expect(await s.getUserIdByPhone('+12015550100')).toBe(a.userId);
    expect(await s.getUser(a.userId)).toEqual(user(a.userId, '+12015550100'));
    expect(await s.getUser(a.userId === 'u1' ? 'u2' : 'u1')).toBeNull();
  });

  it('looks users up by many phones, renames, and stores photos byte for byte', async () => {
    const s = await make();
    await s.createUser(user('u1', '+12015550101'));
    await s.createUser(user('u2', '+12015550102'));
    expect([...(await s.getUsers(['u2', 'nobody', 'u1'])).keys()].sort()).toEqual(['u1', 'u2']);
    expect(await s.getUsers([])).toEqual(new Map());
    const found = await s.getUsersByPhones(['+12015550101', '+12015550102', '+12015550109']);
    expect([...found.keys()].sort()).toEqual(['+12015550101', '+12015550102']);
    expect((await s.updateUserName('u1', 'Ünïcode 名前'))?.name).toBe('Ünïcode 名前');
    expect(await s.updateUserName('nobody', 'x')).toBeNull();
    const full = Buffer.from([0, 255, 1, 254, 0, 0, 10, 13]);
    const updated = await s.setPhoto('u1', { etag: 'e1', full, thumb: Buffer.from([7]) });
    expect(updated).toMatchObject({ photoEtag: 'e1', name: 'Ünïcode 名前', createdAt: 1_764_000_000_123 });
    expect((await s.getPhoto('u1', 'full'))?.data.equals(full)).toBe(true);
    expect((await s.getPhoto('u1', 'thumb'))?.data.equals(Buffer.from([7]))).toBe(true);
    expect(await s.getPhoto('u2', 'full')).toBeNull();
  });

  it('rotates refresh hashes atomically, replays the last rotation briefly, and recognises reuse', async () => {
    const s = await make();
    await s.createDevice(device('d1', 'u1', 'h0'));
    const exp = Date.now() + 120_000;
    const rot = (newHash: string, graceMs = 10_000) => ({
      newHash,
      sealed: `sealed-${newHash}`,
      refreshExpiresAt: exp,
      graceMs,
    });
    const racing = await Promise.all([
      s.rotateRefresh('d1', 'h0', rot('h1')),
      s.rotateRefresh('d1', 'h0', rot('h1b')),
    ]);
    // One wins; the other, inside the grace, gets the winner's sealed token back.
    const winner = racing.includes('rotated') ? (await s.getDevice('d1'))!.refreshHash : '';
    expect(racing).toContainEqual('rotated');
    expect(racing).toContainEqual({ replay: `sealed-${winner}` });
    expect((await s.getDevice('d1'))?.rotatedHashes).toEqual(['h0']);
    // Outside the grace the old token is reuse.
    expect(await s.rotateRefresh('d1', 'h0', rot('h2', 0))).toBe('reused');
    // After another rotation, h0 is no longer the last one replaced: reuse even within the grace.
    expect(await s.rotateRefresh('d1', winner, rot('h3'))).toBe('rotated');
    expect(await s.rotateRefresh('d1', 'h0', rot('h4'))).toBe('reused');
    expect(await s.rotateRefresh('d1', 'never', rot('h5'))).toBe('unknown');
    expect(await s.rotateRefresh('nope', 'h0', rot('h5'))).toBe('unknown');
  });

  it('lists, touches and deletes devices per user', async () => {
    const s = await make();
    await s.createDevice(device('d1', 'u1', 'a'));
    await s.createDevice(device('d2', 'u1', 'b'));
    await s.createDevice(device('d3', 'u2', 'c'));
    expect((await s.listDevices('u1')).map((d) => d.deviceId).sort()).toEqual(['d1', 'd2']);
    await s.touchDevice('d1', 42);
    expect((await s.getDevice('d1'))?.lastSeenAt).toBe(42);
    await s.deleteDevice('d1');
    expect((await s.listDevices('u1')).map((d) => d.deviceId)).toEqual(['d2']);
    expect(await s.getDevice('d1')).toBeNull();
  });

  it('registers a user and the first device in one step, attaching racers to the phone owner', async () => {
    const s = await make();
    const created = await s.createUserWithDevice(user('u1', '+12015550110'), device('d1', '', 'h1'));
    expect(created).toEqual(user('u1', '+12015550110'));
    expect(await s.getDevice('d1')).toMatchObject({ deviceId: 'd1', userId: 'u1', refreshHash: 'h1' });
    expect((await s.listDevices('u1')).map((d) => d.deviceId)).toEqual(['d1']);
    // Two registrations of one number racing: one user, each registration's device on it.
    const [a, b] = await Promise.all([
      s.createUserWithDevice(user('u2', '+12015550111'), device('d2', '', 'h2')),
      s.createUserWithDevice(user('u3', '+12015550111'), device('d3', '', 'h3')),
    ]);
    expect(a.userId).toBe(b.userId);
    expect((await s.listDevices(a.userId)).map((d) => d.deviceId).sort()).toEqual(['d2', 'd3']);
    expect(await s.getUser(a.userId === 'u2' ? 'u3' : 'u2')).toBeNull();
  });

  it('writes no user when the first device cannot be written (duplicate device id)', async () => {
    const s = await make();
    await s.createUserWithDevice(user('u1', '+12015550120'), device('d1', '', 'h1'));
    await expect(
      s.createUserWithDevice(user('u2', '+12015550121'), device('d1', '', 'other')),
    ).rejects.toBeInstanceOf(DeviceExistsError);
    expect(await s.getUser('u2')).toBeNull();
    expect(await s.getUserIdByPhone('+12015550121')).toBeNull();
    expect(await s.listDevices('u2')).toEqual([]);
    // The device that held the id is untouched, and the number can still register afterwards.
    expect(await s.getDevice('d1')).toMatchObject({ userId: 'u1', refreshHash: 'h1' });
    expect((await s.createUserWithDevice(user('u2', '+12015550121'), device('d2', '', 'h2'))).userId).toBe(
      'u2',
    );
  });

  it('keeps a bounded block list per user and answers who blocked a caller', async () => {
    const s = await make();
    expect(await s.addBlock('u1', 'u2', 1000, 3)).toBe('added');
    expect(await s.addBlock('u1', 'u2', 1001, 3)).toBe('exists');
    expect(await s.addBlock('u1', 'u3', 1002, 3)).toBe('added');
    expect(await s.addBlock('u4', 'u2', 1003, 3)).toBe('added');
    expect(await s.listBlocks('u1')).toEqual([
      { userId: 'u2', createdAt: 1000 },
      { userId: 'u3', createdAt: 1002 },
    ]);
    expect(await s.listBlocks('nobody')).toEqual([]);
    expect([...(await s.blockersOf('u2', ['u1', 'u3', 'u4', 'u5']))].sort()).toEqual(['u1', 'u4']);
    expect(await s.blockersOf('u2', [])).toEqual(new Set());
    expect(await s.blockersOf('u3', ['u4'])).toEqual(new Set());
    // The bound holds even when additions race.
    const raced = await Promise.all(['a', 'b', 'c', 'd'].map((id, i) => s.addBlock('u1', id, 2000 + i, 3)));
    expect(raced.filter((r) => r === 'added')).toHaveLength(1);
    expect(raced.filter((r) => r === 'full')).toHaveLength(3);
    expect(await s.listBlocks('u1')).toHaveLength(3);
    expect(await s.removeBlock('u1', 'u2')).toBe(true);
    expect(await s.removeBlock('u1', 'u2')).toBe(false);
    expect(await s.blockersOf('u2', ['u1', 'u4'])).toEqual(new Set(['u4']));
    expect((await s.listBlocks('u1')).map((b) => b.userId)).not.toContain('u2');
  });

  it('lets a device session expire with its refresh token', async () => {
    const s = await make();
    await s.createDevice({ ...device('d9', 'u9', 'x'), refreshExpiresAt: Date.now() + 300 });
    expect(await s.getDevice('d9')).not.toBeNull();
    const deadline = Date.now() + 5000;
    while ((await s.getDevice('d9')) !== null && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(await s.getDevice('d9')).toBeNull();
    expect(await s.listDevices('u9')).toEqual([]);
  });
});
