/**
 * `npm run bench:accounts -- [--ops 1000] [--accounts 100000]`: what moving accounts from Redis to a
 * database costs and saves.
 *
 * 1. Latency per account operation, store level (what one HTTP request adds on top of its own
 *    work), sequential, each backend on its own production settings: SQLite (WAL, synchronous=FULL),
 *    PostgreSQL (fsync on), Redis (appendonly yes, appendfsync everysec):
 *      register = createUser + createDevice; sign-in = phone lookup + getUser + createDevice;
 *      refresh = rotateRefresh.
 * 2. Where 100,000 accounts with profile photos (real WebP from the service's photo pipeline)
 *    live: Redis holds them in RAM (used_memory); the databases hold them on disk (file / database
 *    size) and keep only their caches in RAM.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { processProfilePhoto } from '../accounts/profilePhotos.js';
import type { AccountStore } from '../state/accountStore.js';
import { RedisAccountStore } from '../state/redisAccountStore.js';
import { redisKeys } from '../state/redisKeys.js';
import { openDatabase } from '../state/sql/openDatabase.js';
import { SqlAccountStore } from '../state/sql/sqlAccountStore.js';
import type { SqlDatabase } from '../state/sql/sqlDatabase.js';
import { PostgresProcess, createDatabase } from '../test/support/postgresProcess.js';
import { RedisProcess } from '../test/support/redisProcess.js';
import { appendResult } from './lib/results.js';

const { values } = parseArgs({
  options: { ops: { type: 'string', default: '1000' }, accounts: { type: 'string', default: '100000' } },
  strict: true,
});
const OPS = Number(values.ops);
const ACCOUNTS = Number(values.accounts);

interface Latency {
  p50Ms: number;
  p95Ms: number;
  meanMs: number;
}

function summarize(samples: number[]): Latency {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  const round = (v: number): number => Math.round(v * 1000) / 1000;
  return {
    p50Ms: round(at(0.5)),
    p95Ms: round(at(0.95)),
    meanMs: round(s.reduce((a, b) => a + b, 0) / s.length),
  };
}

async function timed(n: number, op: (i: number) => Promise<void>): Promise<Latency> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await op(i);
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return summarize(samples);
}

const device = (deviceId: string, userId: string) => ({
  deviceId,
  userId,
  label: 'phone',
  createdAt: Date.now(),
  lastSeenAt: Date.now(),
  refreshHash: `h-${deviceId}`,
  rotatedHashes: [],
  refreshExpiresAt: Date.now() + 86_400_000,
});

async function latencies(store: AccountStore): Promise<Record<string, Latency>> {
  const phone = (i: number): string => `+1999${String(i).padStart(7, '0')}`;
  const register = await timed(OPS, async (i) => {
    const u = await store.createUser({
      userId: `u${i}`,
      phone: phone(i),
      name: `U ${i}`,
      createdAt: 1,
      photoEtag: null,
    });
    await store.createDevice(device(`d${i}`, u.userId));
  });
  const signIn = await timed(OPS, async (i) => {
    const id = await store.getUserIdByPhone(phone(i));
    const u = id ? await store.getUser(id) : null;
    if (!u) throw new Error('user missing');
    await store.createDevice(device(`s${i}`, u.userId));
  });
  const refresh = await timed(OPS, async (i) => {
    const r = await store.rotateRefresh(`d${i}`, `h-d${i}`, {
      newHash: `n${i}`,
      sealed: 'x',
      refreshExpiresAt: Date.now() + 86_400_000,
      graceMs: 10_000,
    });
    if (r !== 'rotated') throw new Error(`rotation: ${JSON.stringify(r)}`);
  });
  return { register, signIn, refresh };
}

/** A photo-like upload (smooth colours plus grain) through the service's own pipeline. */
async function samplePhoto(): Promise<{ etag: string; full: Buffer; thumb: Buffer }> {
  const img = await sharp({
    create: {
      width: 1024,
      height: 1024,
      channels: 3,
      background: '#000',
      noise: { type: 'gaussian', mean: 128, sigma: 60 },
    },
  })
    .blur(1.2)
    .png()
    .toBuffer();
  return processProfilePhoto(img);
}

async function fillRedis(url: string, photo: { etag: string; full: Buffer; thumb: Buffer }): Promise<number> {
  const redis = new Redis(url);
  const store = new RedisAccountStore({ redis, keys: redisKeys('mem:') });
  try {
    const before = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
    const CONCURRENCY = 64;
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < ACCOUNTS; i = next++) {
          const userId = randomUUID();
          await store.createUser({
            userId,
            phone: `+1888${String(i).padStart(7, '0')}`,
            name: `User ${i}`,
            createdAt: Date.now(),
            photoEtag: null,
          });
          await store.setPhoto(userId, photo);
          await store.createDevice(device(randomUUID(), userId));
        }
      }),
    );
    const after = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
    return after - before;
  } finally {
    await store.close();
    redis.disconnect();
  }
}

/** Bulk load (1,000 accounts per transaction) through the same SQL the stores use. */
async function fillDatabase(
  db: SqlDatabase,
  photo: { etag: string; full: Buffer; thumb: Buffer },
): Promise<void> {
  for (let start = 0; start < ACCOUNTS; start += 1000) {
    await db.transaction(async (tx) => {
      for (let i = start; i < Math.min(ACCOUNTS, start + 1000); i++) {
        const userId = randomUUID();
        await tx.run(
          'INSERT INTO users (user_id, phone, name, created_at, photo_etag) VALUES ($1, $2, $3, $4, $5)',
          [userId, `+1888${String(i).padStart(7, '0')}`, `User ${i}`, Date.now(), photo.etag],
        );
        await tx.run('INSERT INTO photos (user_id, etag, full_webp, thumb_webp) VALUES ($1, $2, $3, $4)', [
          userId,
          photo.etag,
          photo.full,
          photo.thumb,
        ]);
        const d = device(randomUUID(), userId);
        await tx.run(
          `INSERT INTO devices (device_id, user_id, label, created_at, last_seen_at, refresh_hash, rotated_hashes,
             refresh_expires_at, last_rotation) VALUES ($1, $2, $3, $4, $5, $6, '[]', $7, NULL)`,
          [d.deviceId, userId, d.label, d.createdAt, d.lastSeenAt, d.refreshHash, d.refreshExpiresAt],
        );
      }
    });
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-accounts-'));
  const pgServer = await PostgresProcess.start({ fsync: true });
  const redisServer = await RedisProcess.start(['--appendonly', 'yes', '--appendfsync', 'everysec']);
  try {
    const sqliteFile = path.join(dir, 'latency.db');
    const sqlite = await openDatabase({ kind: 'sqlite', file: sqliteFile });
    const pgUrl = await createDatabase(pgServer.url, 'bench_latency');
    const pgDb = await openDatabase({ kind: 'postgres', url: pgUrl });
    const redisConnection = new Redis(redisServer.url);
    const redisStore = new RedisAccountStore({ redis: redisConnection, keys: redisKeys('lat:') });
    const latency = {
      sqlite: await latencies(new SqlAccountStore(sqlite)),
      postgres: await latencies(new SqlAccountStore(pgDb)),
      redis: await latencies(redisStore),
    };
    await Promise.all([sqlite.close(), pgDb.close(), redisConnection.quit()]);
    console.log(`latency over ${OPS} sequential operations each (ms):`);
    console.table(
      Object.fromEntries(
        Object.entries(latency).flatMap(([kind, ops]) =>
          Object.entries(ops).map(([op, l]) => [`${kind} ${op}`, l]),
        ),
      ),
    );

    const photo = await samplePhoto();
    console.log(
      `filling ${ACCOUNTS} accounts, photo ${photo.full.length} + ${photo.thumb.length} bytes each`,
    );
    const redisBytes = await fillRedis(redisServer.url, photo);
    const memFile = path.join(dir, 'accounts.db');
    const memSqlite = await openDatabase({ kind: 'sqlite', file: memFile });
    await fillDatabase(memSqlite, photo);
    await memSqlite.close();
    const memPgUrl = await createDatabase(pgServer.url, 'bench_memory');
    const memPg = await openDatabase({ kind: 'postgres', url: memPgUrl });
    await fillDatabase(memPg, photo);
    const pgBytes = Number(
      (await memPg.query<{ size: string }>('SELECT pg_database_size(current_database()) AS size'))[0]!.size,
    );
    await memPg.close();
    const mb = (b: number): number => Math.round(b / 1e5) / 10;
    const memory = {
      accounts: ACCOUNTS,
      photoBytes: { full: photo.full.length, thumb: photo.thumb.length },
      redisUsedMemoryMB: mb(redisBytes),
      sqliteFileMB: mb(statSync(memFile).size),
      postgresDatabaseMB: mb(pgBytes),
    };
    console.log(
      `${ACCOUNTS} accounts with photos: Redis RAM +${memory.redisUsedMemoryMB} MB; ` +
        `on disk instead: SQLite ${memory.sqliteFileMB} MB, PostgreSQL ${memory.postgresDatabaseMB} MB`,
    );
    const file = await appendResult('accounts', { ops: OPS, latency, memory });
    console.log(`results appended to ${file}`);
  } finally {
    await Promise.all([pgServer.destroy(), redisServer.destroy()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
