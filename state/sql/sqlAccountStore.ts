/**
 * Accounts in the database (SQLite or PostgreSQL): users with their unique phone, photos as
 * BLOB/bytea next to them, and device sessions with their refresh-token hashes. Writes that must
 * agree (a photo and the user's etag; a refresh rotation and its replay record) happen in one
 * transaction; the rotation reads its device row under a lock so two racing refreshes serialise.
 */
import {
  DeviceExistsError,
  staleTokenVerdict,
  type AccountStore,
  type AddBlockResult,
  type BlockRecord,
  type DeviceRecord,
  type PhotoRecord,
  type RotateResult,
  type UserRecord,
} from '../accountStore.js';
import {
  toBuffer,
  toNumber,
  type SqlDatabase,
  type SqlExecutor,
  type SqlRow,
  type SqlValue,
} from './sqlDatabase.js';

/** As many rotated-away hashes as the Redis store keeps: enough to recognise a stolen token. */
const MAX_ROTATED_HASHES = 20;

/** First key of PostgreSQL's two-key advisory locks taken per blocker (see addBlock). */
const BLOCKS_LOCK_SPACE = 7_340_015;

const USER_COLUMNS = 'user_id, phone, name, created_at, photo_etag, external_id';

/**
 * What the phone column holds for a user. Migration 1 made it NOT NULL UNIQUE, and SQLite cannot relax
 * that without rebuilding the table, so an external account (no phone) stores `external:<externalId>`
 * there: unique like the external id, and never an E.164 number, so no phone lookup can match it.
 * userFrom maps it back to ''.
 */
export function storedPhone(user: Pick<UserRecord, 'phone' | 'externalId'>): string {
  return user.externalId ? `external:${user.externalId}` : user.phone;
}
const DEVICE_COLUMNS =
  'device_id, user_id, label, created_at, last_seen_at, refresh_hash, rotated_hashes, refresh_expires_at, last_rotation';

function userFrom(r: SqlRow): UserRecord {
  const external = r.external_id === null || r.external_id === undefined ? null : String(r.external_id);
  return {
    userId: String(r.user_id),
    phone: external === null ? String(r.phone) : '',
    name: String(r.name),
    createdAt: toNumber(r.created_at),
    photoEtag: r.photo_etag === null || r.photo_etag === undefined ? null : String(r.photo_etag),
    ...(external === null ? {} : { externalId: external }),
  };
}

function userParams(user: UserRecord): SqlValue[] {
  return [user.userId, storedPhone(user), user.name, user.createdAt, user.photoEtag, user.externalId ?? null];
}

function deviceFrom(r: SqlRow): DeviceRecord {
  return {
    deviceId: String(r.device_id),
    userId: String(r.user_id),
    label: String(r.label),
    createdAt: toNumber(r.created_at),
    lastSeenAt: toNumber(r.last_seen_at),
    refreshHash: String(r.refresh_hash),
    rotatedHashes: JSON.parse(String(r.rotated_hashes)) as string[],
    refreshExpiresAt: toNumber(r.refresh_expires_at),
    lastRotation:
      r.last_rotation === null || r.last_rotation === undefined
        ? null
        : (JSON.parse(String(r.last_rotation)) as { fromHash: string; sealed: string; at: number }),
  };
}

/** `$from, $from+1, …` for an IN list. */
function placeholders(n: number, from = 1): string {
  return Array.from({ length: n }, (_, i) => `$${from + i}`).join(', ');
}

function deviceParams(device: DeviceRecord): SqlValue[] {
  return [
    device.deviceId,
    device.userId,
    device.label,
    device.createdAt,
    device.lastSeenAt,
    device.refreshHash,
    JSON.stringify(device.rotatedHashes),
    device.refreshExpiresAt,
    device.lastRotation ? JSON.stringify(device.lastRotation) : null,
  ];
}

export class SqlAccountStore implements AccountStore {
  readonly #db: SqlDatabase;

  constructor(db: SqlDatabase) {
    this.#db = db;
  }

  async createUser(user: UserRecord): Promise<UserRecord> {
    // The UNIQUE phone decides a race: the loser's insert does nothing and it reads the winner.
    await this.#db.run(
      `INSERT INTO users (${USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (phone) DO NOTHING`,
      userParams(user),
    );
    const rows = await this.#db.query(`SELECT ${USER_COLUMNS} FROM users WHERE phone = $1`, [user.phone]);
    return userFrom(rows[0]!);
  }

  async createUserWithDevice(user: UserRecord, device: DeviceRecord): Promise<UserRecord> {
    return this.#db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO users (${USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (phone) DO NOTHING`,
        userParams(user),
      );
      const rows = await tx.query(`SELECT ${USER_COLUMNS} FROM users WHERE phone = $1`, [storedPhone(user)]);
      const owner = userFrom(rows[0]!);
      // A plain INSERT (no upsert, unlike createDevice): a taken id must fail the whole registration.
      const inserted = await tx.run(
        `INSERT INTO devices (${DEVICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (device_id) DO NOTHING`,
        deviceParams({ ...device, userId: owner.userId }),
      );
      // Throwing rolls the transaction back, user row included.
      if (inserted === 0) throw new DeviceExistsError(device.deviceId);
      return owner;
    });
  }

  async createExternalUserWithDevice(
    user: UserRecord & { externalId: string },
    device: DeviceRecord,
  ): Promise<UserRecord> {
    // The stored phone is derived from the external id (storedPhone), so the phone's UNIQUE decides
    // a race between two first sign-ins exactly as it does for registrations.
    return this.createUserWithDevice(user, device);
  }

  async getUserIdByExternalId(externalId: string): Promise<string | null> {
    const rows = await this.#db.query('SELECT user_id FROM users WHERE external_id = $1', [externalId]);
    return rows[0] ? String(rows[0].user_id) : null;
  }

  async getUser(userId: string): Promise<UserRecord | null> {
    const rows = await this.#db.query(`SELECT ${USER_COLUMNS} FROM users WHERE user_id = $1`, [userId]);
    return rows[0] ? userFrom(rows[0]) : null;
  }

  async getUsers(userIds: readonly string[]): Promise<Map<string, UserRecord>> {
    const out = new Map<string, UserRecord>();
    if (userIds.length === 0) return out;
    const rows = await this.#db.query(
      `SELECT ${USER_COLUMNS} FROM users WHERE user_id IN (${placeholders(userIds.length)})`,
      userIds,
    );
    for (const r of rows) out.set(String(r.user_id), userFrom(r));
    return out;
  }

  async getUserIdByPhone(phone: string): Promise<string | null> {
    // external_id IS NULL: an external account's placeholder in the phone column is not a number.
    const rows = await this.#db.query('SELECT user_id FROM users WHERE phone = $1 AND external_id IS NULL', [
      phone,
    ]);
    return rows[0] ? String(rows[0].user_id) : null;
  }

  async getUsersByPhones(phones: readonly string[]): Promise<Map<string, UserRecord>> {
    const out = new Map<string, UserRecord>();
    if (phones.length === 0) return out;
    const rows = await this.#db.query(
      `SELECT ${USER_COLUMNS} FROM users WHERE phone IN (${placeholders(phones.length)}) AND external_id IS NULL`,
      phones,
    );
    for (const r of rows) out.set(String(r.phone), userFrom(r));
    return out;
  }

  async updateUserName(userId: string, name: string): Promise<UserRecord | null> {
    const rows = await this.#db.query(
      `UPDATE users SET name = $2 WHERE user_id = $1 RETURNING ${USER_COLUMNS}`,
      [userId, name],
    );
    return rows[0] ? userFrom(rows[0]) : null;
  }

  async setPhoto(userId: string, photo: PhotoRecord): Promise<UserRecord | null> {
    return this.#db.transaction(async (tx) => {
      const rows = await tx.query(
        `UPDATE users SET photo_etag = $2 WHERE user_id = $1 RETURNING ${USER_COLUMNS}`,
        [userId, photo.etag],
      );
      if (!rows[0]) return null;
      await tx.run(
        `INSERT INTO photos (user_id, etag, full_webp, thumb_webp) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id) DO UPDATE SET etag = excluded.etag, full_webp = excluded.full_webp,
           thumb_webp = excluded.thumb_webp`,
        [userId, photo.etag, photo.full, photo.thumb],
      );
      return userFrom(rows[0]);
    });
  }

  async getPhoto(userId: string, size: 'full' | 'thumb'): Promise<{ etag: string; data: Buffer } | null> {
    const column = size === 'full' ? 'full_webp' : 'thumb_webp';
    const rows = await this.#db.query(`SELECT etag, ${column} AS data FROM photos WHERE user_id = $1`, [
      userId,
    ]);
    return rows[0] ? { etag: String(rows[0].etag), data: toBuffer(rows[0].data) } : null;
  }

  async createDevice(device: DeviceRecord): Promise<void> {
    await this.#db.run(
      `INSERT INTO devices (${DEVICE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (device_id) DO UPDATE SET user_id = excluded.user_id, label = excluded.label,
         created_at = excluded.created_at, last_seen_at = excluded.last_seen_at,
         refresh_hash = excluded.refresh_hash, rotated_hashes = excluded.rotated_hashes,
         refresh_expires_at = excluded.refresh_expires_at, last_rotation = excluded.last_rotation`,
      deviceParams(device),
    );
  }

  async getDevice(deviceId: string): Promise<DeviceRecord | null> {
    const rows = await this.#db.query(
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE device_id = $1 AND refresh_expires_at > $2`,
      [deviceId, Date.now()],
    );
    return rows[0] ? deviceFrom(rows[0]) : null;
  }

  async listDevices(userId: string): Promise<DeviceRecord[]> {
    const now = Date.now();
    // A session whose refresh token expired is gone, as it expires by TTL in Redis.
    await this.#db.run('DELETE FROM devices WHERE user_id = $1 AND refresh_expires_at <= $2', [userId, now]);
    const rows = await this.#db.query(
      `SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = $1 AND refresh_expires_at > $2 ORDER BY created_at, device_id`,
      [userId, now],
    );
    return rows.map(deviceFrom);
  }

  async deleteDevice(deviceId: string): Promise<void> {
    await this.#db.run('DELETE FROM devices WHERE device_id = $1', [deviceId]);
  }

  async renameDevice(deviceId: string, label: string): Promise<boolean> {
    const changed = await this.#db.run(
      'UPDATE devices SET label = $2 WHERE device_id = $1 AND refresh_expires_at > $3',
      [deviceId, label, Date.now()],
    );
    return changed > 0;
  }

  async touchDevice(deviceId: string, lastSeenAt: number): Promise<void> {
    await this.#db.run(
      'UPDATE devices SET last_seen_at = $2 WHERE device_id = $1 AND refresh_expires_at > $3',
      [deviceId, lastSeenAt, Date.now()],
    );
  }

  async rotateRefresh(
    deviceId: string,
    presentedHash: string,
    rotation: { newHash: string; sealed: string; refreshExpiresAt: number; graceMs: number },
  ): Promise<RotateResult> {
    return this.#db.transaction(async (tx: SqlExecutor) => {
      const now = Date.now();
      const rows = await tx.query(
        `SELECT ${DEVICE_COLUMNS} FROM devices WHERE device_id = $1 AND refresh_expires_at > $2${this.#db.forUpdate}`,
        [deviceId, now],
      );
      if (!rows[0]) return 'unknown';
      const d = deviceFrom(rows[0]);
      if (d.refreshHash === presentedHash) {
        const rotated = [...d.rotatedHashes, presentedHash].slice(-MAX_ROTATED_HASHES);
        await tx.run(
          `UPDATE devices SET refresh_hash = $2, rotated_hashes = $3, refresh_expires_at = $4,
             last_seen_at = $5, last_rotation = $6 WHERE device_id = $1`,
          [
            deviceId,
            rotation.newHash,
            JSON.stringify(rotated),
            rotation.refreshExpiresAt,
            now,
            JSON.stringify({ fromHash: presentedHash, sealed: rotation.sealed, at: now }),
          ],
        );
        return 'rotated';
      }
      return staleTokenVerdict(d, presentedHash, now, rotation.graceMs);
    });
  }

  async addBlock(
    userId: string,
    blockedUserId: string,
    createdAt: number,
    maxBlocks: number,
  ): Promise<AddBlockResult> {
    return this.#db.transaction(async (tx) => {
      // Racing additions for one blocker count one after the other: SQLite's transactions are
      // exclusive already; PostgreSQL takes a lock named for the blocker until this transaction ends.
      if (this.#db.dialect === 'postgres')
        await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [BLOCKS_LOCK_SPACE, userId]);
      const exists = await tx.query('SELECT 1 AS x FROM blocks WHERE user_id = $1 AND blocked_user_id = $2', [
        userId,
        blockedUserId,
      ]);
      if (exists.length > 0) return 'exists';
      const counted = await tx.query<{ n: unknown }>('SELECT COUNT(*) AS n FROM blocks WHERE user_id = $1', [
        userId,
      ]);
      if (toNumber(counted[0]?.n ?? 0) >= maxBlocks) return 'full';
      await tx.run('INSERT INTO blocks (user_id, blocked_user_id, created_at) VALUES ($1, $2, $3)', [
        userId,
        blockedUserId,
        createdAt,
      ]);
      return 'added';
    });
  }

  async removeBlock(userId: string, blockedUserId: string): Promise<boolean> {
    return (
      (await this.#db.run('DELETE FROM blocks WHERE user_id = $1 AND blocked_user_id = $2', [
        userId,
        blockedUserId,
      ])) > 0
    );
  }

  async listBlocks(userId: string): Promise<BlockRecord[]> {
    const rows = await this.#db.query(
      'SELECT blocked_user_id, created_at FROM blocks WHERE user_id = $1 ORDER BY created_at, blocked_user_id',
      [userId],
    );
    return rows.map((r) => ({ userId: String(r.blocked_user_id), createdAt: toNumber(r.created_at) }));
  }

  async blockersOf(callerId: string, userIds: readonly string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    const rows = await this.#db.query(
      `SELECT user_id FROM blocks WHERE blocked_user_id = $1 AND user_id IN (${placeholders(userIds.length, 2)})`,
      [callerId, ...userIds],
    );
    return new Set(rows.map((r) => String(r.user_id)));
  }

  async ping(): Promise<void> {
    await this.#db.query('SELECT 1 AS ok');
  }

  /** The database is shared with the call history: whoever opened it closes it. */
  async close(): Promise<void> {}
}
