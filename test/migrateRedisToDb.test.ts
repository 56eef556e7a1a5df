/**
 * The one-shot copy from a Redis deployment into the database: a real redis-server filled by the
 * Redis stores the service used before, copied by the real command (dry run first, then twice for
 * idempotence) into SQLite, and by the same code into PostgreSQL; read back through the database
 * stores the service uses now.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { applyCallEvent, newCall } from '../calls/callStateMachine.js';
import { SQLITE_FILE_NAME } from '../server/config.js';
import { MemoryCallStore } from '../state/memoryCallStore.js';
import { RedisAccountStore } from '../state/redisAccountStore.js';
import { RedisCallStore } from '../state/redisCallStore.js';
import { RedisConnections } from '../state/redisConnections.js';
import { redisKeys } from '../state/redisKeys.js';
import { createLogger } from '../lib/logger.js';
import { openDatabase } from '../state/sql/openDatabase.js';
import { copyRedisToDatabase } from '../state/sql/redisToDatabase.js';
import { SqlAccountStore } from '../state/sql/sqlAccountStore.js';
import { SqlCallHistory } from '../state/sql/sqlCallHistory.js';
import type { SqlDatabase } from '../state/sql/sqlDatabase.js';
import { freshDatabase, tempDataDir } from './support/testDatabases.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USERS = 30;
const prefix = `mig-${randomUUID().slice(0, 8)}:`;
const full = Buffer.from([0, 1, 2, 255, 254, 0, 7]);
const thumb = Buffer.from([9, 0, 9]);
const exp = Date.now() + 3_600_000;

/** Fills Redis the way the service did: users, a photo, devices (one rotated), calls, a missed call. */
async function fillRedis(): Promise<void> {
  const connections = new RedisConnections({ url: inject('redisUrl'), log: createLogger('warn') });
  const keys = redisKeys(prefix);
  const accounts = new RedisAccountStore({ redis: connections.open('accounts'), keys });
  const calls = new RedisCallStore({ redis: connections.open('calls'), keys });
  try {
    for (let i = 0; i < USERS; i++) {
      await accounts.createUser({
        userId: `u${i}`,
        phone: `+1201555${String(i).padStart(4, '0')}`,
        name: `User ${i}`,
        createdAt: 1_700_000_000_000 + i,
        photoEtag: null,
      });
      await accounts.createDevice({
        deviceId: `d${i}`,
        userId: `u${i}`,
        label: 'phone',
        createdAt: 1,
        lastSeenAt: 2,
        refreshHash: `h${i}`,
        rotatedHashes: [],
        refreshExpiresAt: exp,
      });
    }
    await accounts.setPhoto('u0', { etag: 'etag0', full, thumb });
    expect(
      await accounts.rotateRefresh('d0', 'h0', {
        newHash: 'h0b',
        sealed: 's',
        refreshExpiresAt: exp,
        graceMs: 0,
      }),
    ).toBe('rotated');
    const now = Date.now();
    for (const [n, callee] of [
      [1, 'u1'],
      [2, 'u2'],
    ] as const) {
      const c = newCall({
        callId: `c${n}`,
        callerId: 'u0',
        callerDeviceId: 'd0',
        calleeIds: [callee],
        busyUserIds: new Set(),
        media: 'audio',
        now: now + n,
        ringTimeoutMs: 45_000,
      }).call;
      expect(await calls.saveCall(c, 0, [])).toBe(true);
      await calls.addToHistory(c.order, c.callId);
      const ended = applyCallEvent(c, { type: 'cancel', userId: 'u0' }, now + n + 1).call;
      expect(await calls.saveCall(ended, c.version, [])).toBe(true);
    }
    await calls.addMissed('u1');
    expect(await accounts.addBlock('u1', 'u0', 1_700_000_000_500, 1000)).toBe('added');
  } finally {
    await Promise.all([accounts.close(), calls.close()]);
    await connections.close();
  }
}

/** What the copy must hold, read through the stores the service uses on a database. */
async function expectCopied(db: SqlDatabase): Promise<void> {
  const accounts = new SqlAccountStore(db);
  const history = new SqlCallHistory({ db, live: new MemoryCallStore() });
  expect((await accounts.getUsers(Array.from({ length: USERS }, (_, i) => `u${i}`))).size).toBe(USERS);
  expect(await accounts.getUser('u0')).toEqual({
    userId: 'u0',
    phone: '+12015550000',
    name: 'User 0',
    createdAt: 1_700_000_000_000,
    photoEtag: 'etag0',
  });
  expect(await accounts.getUserIdByPhone('+12015550007')).toBe('u7');
  expect((await accounts.getPhoto('u0', 'full'))?.data.equals(full)).toBe(true);
  expect(await accounts.getPhoto('u0', 'thumb')).toEqual({ etag: 'etag0', data: thumb });
  expect((await accounts.listDevices('u3')).map((d) => d.deviceId)).toEqual(['d3']);
  expect(await accounts.listBlocks('u1')).toEqual([{ userId: 'u0', createdAt: 1_700_000_000_500 }]);
  expect(await accounts.blockersOf('u0', ['u1', 'u2'])).toEqual(new Set(['u1']));
  // The rotated device keeps its current hash and recognises the old one as reuse.
  expect(
    await accounts.rotateRefresh('d0', 'h0', {
      newHash: 'x',
      sealed: 's',
      refreshExpiresAt: exp,
      graceMs: 0,
    }),
  ).toBe('reused');
  expect(
    await accounts.rotateRefresh('d0', 'h0b', {
      newHash: 'h0c',
      sealed: 's',
      refreshExpiresAt: exp,
      graceMs: 0,
    }),
  ).toBe('rotated');
  const h = await history.history('u0', 10);
  expect(h.map((c) => [c.callId, c.state])).toEqual([
    ['c2', 'ended'],
    ['c1', 'ended'],
  ]);
  expect((await history.history('u1', 10)).map((c) => c.callId)).toEqual(['c1']);
  expect(await history.missedUnseen('u1')).toBe(1);
}

describe('migrate:redis-to-db', () => {
  beforeAll(fillRedis);
  const data = tempDataDir();
  afterAll(() => data.remove());

  const command = (...args: string[]) =>
    run(
      process.execPath,
      [
        '--import',
        'tsx',
        'state/sql/cli/migrateRedisToDb.ts',
        '--redis',
        inject('redisUrl'),
        '--prefix',
        prefix,
        ...args,
      ],
      { cwd: ROOT, env: { ...process.env } },
    );
  const expected = `users ${USERS}, photos 1, devices ${USERS}, calls 2, history entries 4, missed counters 1, blocks 1`;

  it('counts in a dry run, copies into SQLite, and copies nothing twice', async () => {
    const dry = await command('--data-dir', data.dir, '--dry-run');
    expect(dry.stdout).toContain(`dry run, would copy: ${expected}`);
    // A dry run writes nothing: not even the database file.
    expect(existsSync(path.join(data.dir, SQLITE_FILE_NAME))).toBe(false);

    const first = await command('--data-dir', data.dir);
    expect(first.stdout).toContain(`copied: ${expected}`);
    expect(first.stderr).toContain(`… users ${USERS},`);
    expect(first.stdout).toContain('already in the database (left unchanged): 0 rows');
    const second = await command('--data-dir', data.dir);
    // users + photo + devices + calls + history entries + missed counter + block: all present already.
    expect(second.stdout).toContain(
      `already in the database (left unchanged): ${USERS + 1 + USERS + 2 + 4 + 1 + 1} rows`,
    );

    const db = await openDatabase({ kind: 'sqlite', file: path.join(data.dir, SQLITE_FILE_NAME) });
    try {
      await expectCopied(db);
    } finally {
      await db.close();
    }
  });

  it('copies into PostgreSQL', async () => {
    const { db, close } = await freshDatabase('postgres');
    try {
      const counts = await copyRedisToDatabase({ redisUrl: inject('redisUrl'), keyPrefix: prefix, db });
      expect(counts).toMatchObject({ users: USERS, photos: 1, devices: USERS, blocks: 1, alreadyPresent: 0 });
      await expectCopied(db);
    } finally {
      await close();
    }
  });
});
