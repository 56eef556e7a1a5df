/**
 * Copies the durable records of a Redis deployment (the layout of ../redisAccountStore.ts and
 * ../redisCallStore.ts) into the database: users, photos, devices with their refresh-token hashes,
 * call history, missed-call counters and block lists. Ephemeral keys (codes, locks, tickets, rooms, live call
 * pointers) are left behind: they expire within minutes anyway.
 *
 * Idempotent: every insert is "if absent", so a second run copies only what the first did not
 * (an interrupted run is finished by running it again) and never overwrites a record the service
 * has changed in the database since. Each user is copied in one transaction with their photo,
 * devices and history.
 */
import { DEFAULT_KEY_PREFIX, redisKeys, type RedisKeys } from '../redisKeys.js';
import { Redis } from 'ioredis';
import type { CallRecord } from '../../calls/callRecord.js';
import type { BlockRecord, DeviceRecord, UserRecord } from '../accountStore.js';
import type { SqlDatabase, SqlExecutor } from './sqlDatabase.js';

export interface MigrationCounts {
  users: number;
  photos: number;
  devices: number;
  calls: number;
  historyEntries: number;
  missedCounters: number;
  /** Block-list entries. */
  blocks: number;
  /** Rows already in the database (left as they are). */
  alreadyPresent: number;
}

const BATCH = 200;

interface UserBundle {
  user: UserRecord;
  photo: { full: Buffer; thumb: Buffer } | null;
  devices: DeviceRecord[];
  /** Newest first, as the Redis list holds them. */
  calls: CallRecord[];
  missed: number;
  blocks: BlockRecord[];
}

export async function copyRedisToDatabase(opts: {
  redisUrl: string;
  keyPrefix?: string;
  /** Omitted: a dry run that only counts. */
  db?: SqlDatabase;
  onProgress?: (counts: MigrationCounts) => void;
}): Promise<MigrationCounts> {
  const p = opts.keyPrefix ?? DEFAULT_KEY_PREFIX;
  const keys = redisKeys(p);
  const redis = new Redis(opts.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true });
  redis.on('error', () => undefined);
  await redis.connect();
  const counts: MigrationCounts = {
    users: 0,
    photos: 0,
    devices: 0,
    calls: 0,
    historyEntries: 0,
    missedCounters: 0,
    blocks: 0,
    alreadyPresent: 0,
  };
  const seenCalls = new Set<string>();
  /** A call shared by two users is written with the first of them (not counted as present for the second). */
  const callsWritten = new Set<string>();
  try {
    const userKey = new RegExp(`^${keys.userPrefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([^:]+)$`);
    let cursor = '0';
    // SCAN visits every key present for the whole scan at least once; ends when the cursor is 0.
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${keys.userPrefix}*`, 'COUNT', BATCH);
      cursor = next;
      const ids = found.flatMap((k) => userKey.exec(k)?.[1] ?? []);
      for (const id of ids) {
        const bundle = await readUser(redis, keys, id);
        if (!bundle) continue;
        counts.users += 1;
        if (bundle.photo) counts.photos += 1;
        counts.devices += bundle.devices.length;
        counts.historyEntries += bundle.calls.length;
        for (const c of bundle.calls) {
          if (!seenCalls.has(c.callId)) {
            seenCalls.add(c.callId);
            counts.calls += 1;
          }
        }
        if (bundle.missed > 0) counts.missedCounters += 1;
        counts.blocks += bundle.blocks.length;
        if (opts.db)
          counts.alreadyPresent += await opts.db.transaction((tx) => writeUser(tx, bundle, callsWritten));
        if (counts.users % 500 === 0) opts.onProgress?.({ ...counts });
      }
    } while (cursor !== '0');
    opts.onProgress?.({ ...counts });
    return counts;
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

async function readUser(redis: Redis, keys: RedisKeys, userId: string): Promise<UserBundle | null> {
  const raw = await redis.get(keys.user(userId));
  if (!raw) return null;
  const u = JSON.parse(raw) as UserRecord;
  const user: UserRecord = { ...u, photoEtag: typeof u.photoEtag === 'string' ? u.photoEtag : null };
  const [full, thumb] = user.photoEtag
    ? await Promise.all([
        redis.getBuffer(keys.photo(userId, 'full')),
        redis.getBuffer(keys.photo(userId, 'thumb')),
      ])
    : [null, null];
  const deviceIds = await redis.smembers(keys.userDevices(userId));
  const deviceRaws = deviceIds.length ? await redis.mget(...deviceIds.map((d) => keys.device(d))) : [];
  const devices = deviceRaws
    .filter((r): r is string => !!r)
    .map((r) => {
      const d = JSON.parse(r) as DeviceRecord;
      return { ...d, rotatedHashes: Array.isArray(d.rotatedHashes) ? d.rotatedHashes : [] };
    });
  const callIds = await redis.lrange(keys.userCallHistory(userId), 0, -1);
  const callRaws = callIds.length ? await redis.mget(...callIds.map((c) => keys.call(c))) : [];
  const calls = callRaws.filter((r): r is string => !!r).map((r) => JSON.parse(r) as CallRecord);
  const missed = Number((await redis.get(keys.userMissedCalls(userId))) ?? 0);
  const flat = await redis.zrange(keys.userBlocks(userId), 0, -1, 'WITHSCORES');
  const blocks: BlockRecord[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2)
    blocks.push({ userId: flat[i]!, createdAt: Number(flat[i + 1]) });
  return {
    user,
    photo: user.photoEtag && full && thumb ? { full, thumb } : null,
    devices,
    calls,
    missed,
    blocks,
  };
}

/** Inserts what is absent; returns how many rows were already there. */
async function writeUser(tx: SqlExecutor, b: UserBundle, callsWritten: Set<string>): Promise<number> {
  let present = 0;
  const insert = async (sql: string, params: (string | number | Buffer | null)[]): Promise<void> => {
    if ((await tx.run(`${sql} ON CONFLICT DO NOTHING`, params)) === 0) present += 1;
  };
  const u = b.user;
  await insert(
    'INSERT INTO users (user_id, phone, name, created_at, photo_etag) VALUES ($1, $2, $3, $4, $5)',
    [u.userId, u.phone, u.name, u.createdAt, b.photo ? u.photoEtag : null],
  );
  // The phone may belong to another account registered in the database since: leave this one out.
  if ((await tx.query('SELECT 1 AS one FROM users WHERE user_id = $1', [u.userId])).length === 0)
    return present;
  if (b.photo && u.photoEtag) {
    await insert('INSERT INTO photos (user_id, etag, full_webp, thumb_webp) VALUES ($1, $2, $3, $4)', [
      u.userId,
      u.photoEtag,
      b.photo.full,
      b.photo.thumb,
    ]);
  }
  for (const d of b.devices) {
    await insert(
      `INSERT INTO devices (device_id, user_id, label, created_at, last_seen_at, refresh_hash,
         rotated_hashes, refresh_expires_at, last_rotation) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        d.deviceId,
        d.userId,
        d.label,
        d.createdAt,
        d.lastSeenAt,
        d.refreshHash,
        JSON.stringify(d.rotatedHashes),
        d.refreshExpiresAt,
        d.lastRotation && typeof d.lastRotation === 'object' ? JSON.stringify(d.lastRotation) : null,
      ],
    );
  }
  const n = b.calls.length;
  for (const [i, c] of b.calls.entries()) {
    if (!callsWritten.has(c.callId)) {
      callsWritten.add(c.callId);
      await insert('INSERT INTO calls (call_id, record, version) VALUES ($1, $2, $3)', [
        c.callId,
        JSON.stringify(c),
        c.version,
      ]);
    }
    // Same scale as SqlCallHistory's sequence (ms × 1000); the list order breaks ties.
    await insert('INSERT INTO call_history (user_id, call_id, seq) VALUES ($1, $2, $3)', [
      u.userId,
      c.callId,
      c.createdAt * 1000 + (n - i),
    ]);
  }
  if (b.missed > 0) {
    await insert('INSERT INTO missed_calls (user_id, unseen) VALUES ($1, $2)', [u.userId, b.missed]);
  }
  for (const blocked of b.blocks) {
    await insert('INSERT INTO blocks (user_id, blocked_user_id, created_at) VALUES ($1, $2, $3)', [
      u.userId,
      blocked.userId,
      blocked.createdAt,
    ]);
  }
  return present;
}
