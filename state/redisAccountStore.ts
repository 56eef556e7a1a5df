/**
 * Accounts in Redis: the AccountStore contract. Keys are listed in state/redisKeys.ts (users,
 * phones, photos and devices have no TTL: production Redis must persist, appendonly yes); the
 * connection comes from state/redisConnections.ts.
 */
import type { RedisClient } from './redisConnections.js';
import {
  DeviceExistsError,
  type AccountStore,
  type AddBlockResult,
  type BlockRecord,
  type CodeRecord,
  type DeviceRecord,
  type PhotoRecord,
  type RotateResult,
  type UserRecord,
} from './accountStore.js';
import type { RedisKeys } from './redisKeys.js';
import type { VerificationStore } from './verificationStore.js';

const CREATE_USER = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('SET', KEYS[2], ARGV[2])
  return ARGV[2]
end
local existing = redis.call('GET', KEYS[1])
return redis.call('GET', ARGV[3] .. existing)`;

// Registration: the device key is checked first, so a taken device id writes nothing at all. The
// owner's id is known only inside the script (a racing registration may own the phone), so the
// device JSON gets it here. KEYS: phone, user, device. ARGV: userId, user JSON, user prefix,
// device JSON, refresh expiry (ms), suffix of the devices set after the user key.
const CREATE_USER_WITH_DEVICE = `
if redis.call('EXISTS', KEYS[3]) == 1 then return false end
local owner = ARGV[1]
local userRaw = ARGV[2]
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('SET', KEYS[2], ARGV[2])
else
  owner = redis.call('GET', KEYS[1])
  userRaw = redis.call('GET', ARGV[3] .. owner)
end
local d = cjson.decode(ARGV[4])
d.userId = owner
redis.call('SET', KEYS[3], cjson.encode(d), 'PXAT', ARGV[5])
redis.call('SADD', ARGV[3] .. owner .. ARGV[6], d.deviceId)
return userRaw`;

// KEYS: the blocker's set. ARGV: blocked id, when (ms), bound.
const ADD_BLOCK = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 'exists' end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 'full' end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return 'added'`;

const UPDATE_USER_FIELD = `
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local u = cjson.decode(raw)
u[ARGV[1]] = ARGV[2]
local out = cjson.encode(u)
redis.call('SET', KEYS[1], out)
return out`;

const SET_PHOTO = `
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3])
local u = cjson.decode(raw)
u.photoEtag = ARGV[1]
local out = cjson.encode(u)
redis.call('SET', KEYS[1], out)
return out`;

const ADD_ATTEMPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HINCRBY', KEYS[1], 'attempts', 1)`;

const ROTATE = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 'unknown' end
local d = cjson.decode(raw)
local now = tonumber(ARGV[4])
local rotated = d.rotatedHashes
if type(rotated) ~= 'table' then rotated = {} end
if d.refreshHash == ARGV[1] then
  table.insert(rotated, ARGV[1])
  while #rotated > 20 do table.remove(rotated, 1) end
  d.rotatedHashes = rotated
  d.refreshHash = ARGV[2]
  d.refreshExpiresAt = tonumber(ARGV[3])
  d.lastSeenAt = now
  d.lastRotation = { fromHash = ARGV[1], sealed = ARGV[5], at = now }
  redis.call('SET', KEYS[1], cjson.encode(d), 'PXAT', ARGV[3])
  return 'rotated'
end
local last = d.lastRotation
if type(last) == 'table' and last.fromHash == ARGV[1] and now - last.at < tonumber(ARGV[6]) then
  return 'replay:' .. last.sealed
end
for _, h in ipairs(rotated) do
  if h == ARGV[1] then return 'reused' end
end
return 'unknown'`;

const TOUCH = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local d = cjson.decode(raw)
d.lastSeenAt = tonumber(ARGV[1])
redis.call('SET', KEYS[1], cjson.encode(d), 'KEEPTTL')
return 1`;

/** Sets the label of the device record in place (atomic with concurrent touches and rotations). */
const RENAME = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local d = cjson.decode(raw)
d.label = ARGV[1]
redis.call('SET', KEYS[1], cjson.encode(d), 'KEEPTTL')
return 1`;

function parseUser(raw: string): UserRecord {
  const u = JSON.parse(raw) as UserRecord;
  // Lua's cjson turns JSON null into a sentinel it writes back as null; keep the type exact.
  const { externalId, ...rest } = u;
  return {
    ...rest,
    photoEtag: typeof u.photoEtag === 'string' ? u.photoEtag : null,
    // Present only on external accounts, as in the other stores.
    ...(typeof externalId === 'string' ? { externalId } : {}),
  };
}

function parseDevice(raw: string): DeviceRecord {
  const d = JSON.parse(raw) as DeviceRecord;
  // cjson encodes an empty Lua table as {}: restore the array.
  return { ...d, rotatedHashes: Array.isArray(d.rotatedHashes) ? d.rotatedHashes : [] };
}

export class RedisAccountStore implements AccountStore, VerificationStore {
  readonly #redis: RedisClient;
  readonly #keys: RedisKeys;

  /** `redis` belongs to the caller (a RedisConnections registry), which closes it. */
  constructor(opts: { redis: RedisClient; keys: RedisKeys }) {
    this.#redis = opts.redis;
    this.#keys = opts.keys;
  }

  async createUser(user: UserRecord): Promise<UserRecord> {
    const raw = (await this.#redis.eval(
      CREATE_USER,
      2,
      this.#keys.phone(user.phone),
      this.#keys.user(user.userId),
      user.userId,
      JSON.stringify(user),
      this.#keys.userPrefix,
    )) as string;
    return parseUser(raw);
  }

  async createUserWithDevice(user: UserRecord, device: DeviceRecord): Promise<UserRecord> {
    return this.#createIndexedUser(this.#keys.phone(user.phone), user, device);
  }

  async createExternalUserWithDevice(
    user: UserRecord & { externalId: string },
    device: DeviceRecord,
  ): Promise<UserRecord> {
    return this.#createIndexedUser(this.#keys.external(user.externalId), user, device);
  }

  /**
   * The registration script: user, first device and the unique index that finds the user (the phone
   * number, or an embedder's external id) written at once, or nothing if the index is taken.
   */
  async #createIndexedUser(indexKey: string, user: UserRecord, device: DeviceRecord): Promise<UserRecord> {
    const raw = (await this.#redis.eval(
      CREATE_USER_WITH_DEVICE,
      3,
      indexKey,
      this.#keys.user(user.userId),
      this.#keys.device(device.deviceId),
      user.userId,
      JSON.stringify(user),
      this.#keys.userPrefix,
      JSON.stringify(device),
      String(device.refreshExpiresAt),
      this.#keys.userDevicesSuffix,
    )) as string | null;
    if (raw === null) throw new DeviceExistsError(device.deviceId);
    return parseUser(raw);
  }

  async getUserIdByExternalId(externalId: string): Promise<string | null> {
    return this.#redis.get(this.#keys.external(externalId));
  }

  async getUser(userId: string): Promise<UserRecord | null> {
    const raw = await this.#redis.get(this.#keys.user(userId));
    return raw ? parseUser(raw) : null;
  }

  async getUsers(userIds: readonly string[]): Promise<Map<string, UserRecord>> {
    const out = new Map<string, UserRecord>();
    if (userIds.length === 0) return out;
    const raws = await this.#redis.mget(...userIds.map((id) => this.#keys.user(id)));
    userIds.forEach((id, i) => {
      const raw = raws[i];
      if (raw) out.set(id, parseUser(raw));
    });
    return out;
  }

  async getUserIdByPhone(phone: string): Promise<string | null> {
    return this.#redis.get(this.#keys.phone(phone));
  }

  async getUsersByPhones(phones: readonly string[]): Promise<Map<string, UserRecord>> {
    const out = new Map<string, UserRecord>();
    if (phones.length === 0) return out;
    const ids = await this.#redis.mget(...phones.map((p) => this.#keys.phone(p)));
    const found = phones
      .map((phone, i) => [phone, ids[i]] as const)
      .filter((e): e is [string, string] => !!e[1]);
    if (found.length === 0) return out;
    const users = await this.#redis.mget(...found.map(([, id]) => this.#keys.user(id)));
    found.forEach(([phone], i) => {
      const raw = users[i];
      if (raw) out.set(phone, parseUser(raw));
    });
    return out;
  }

  async updateUserName(userId: string, name: string): Promise<UserRecord | null> {
    const raw = (await this.#redis.eval(UPDATE_USER_FIELD, 1, this.#keys.user(userId), 'name', name)) as
      string | null;
    return raw ? parseUser(raw) : null;
  }

  async setPhoto(userId: string, photo: PhotoRecord): Promise<UserRecord | null> {
    const raw = (await this.#redis.eval(
      SET_PHOTO,
      3,
      this.#keys.user(userId),
      this.#keys.photo(userId, 'full'),
      this.#keys.photo(userId, 'thumb'),
      photo.etag,
      photo.full,
      photo.thumb,
    )) as string | null;
    return raw ? parseUser(raw) : null;
  }

  async getPhoto(userId: string, size: 'full' | 'thumb'): Promise<{ etag: string; data: Buffer } | null> {
    const [data, userRaw] = await Promise.all([
      this.#redis.getBuffer(this.#keys.photo(userId, size)),
      this.#redis.get(this.#keys.user(userId)),
    ]);
    const etag = userRaw ? parseUser(userRaw).photoEtag : null;
    return data && etag ? { etag, data } : null;
  }

  async putCode(phone: string, code: CodeRecord, ttlSeconds: number): Promise<void> {
    const key = this.#keys.code(phone);
    await this.#redis
      .multi()
      .del(key)
      .hset(key, { hash: code.hash, expiresAt: String(code.expiresAt), attempts: String(code.attempts) })
      .expire(key, ttlSeconds)
      .exec();
  }

  async getCode(phone: string): Promise<CodeRecord | null> {
    const h = await this.#redis.hgetall(this.#keys.code(phone));
    if (!h.hash) return null;
    return { hash: h.hash, expiresAt: Number(h.expiresAt), attempts: Number(h.attempts) };
  }

  async addCodeAttempt(phone: string): Promise<number> {
    return (await this.#redis.eval(ADD_ATTEMPT, 1, this.#keys.code(phone))) as number;
  }

  async deleteCode(phone: string): Promise<void> {
    await this.#redis.del(this.#keys.code(phone));
  }

  async putRegistrationTicket(ticketId: string, phone: string, ttlSeconds: number): Promise<void> {
    await this.#redis.set(this.#keys.registrationTicket(ticketId), phone, 'EX', ttlSeconds);
  }

  async takeRegistrationTicket(ticketId: string): Promise<string | null> {
    return this.#redis.getdel(this.#keys.registrationTicket(ticketId));
  }

  async createDevice(device: DeviceRecord): Promise<void> {
    await this.#redis
      .multi()
      .set(this.#keys.device(device.deviceId), JSON.stringify(device), 'PXAT', device.refreshExpiresAt)
      .sadd(this.#keys.userDevices(device.userId), device.deviceId)
      .exec();
  }

  async getDevice(deviceId: string): Promise<DeviceRecord | null> {
    const raw = await this.#redis.get(this.#keys.device(deviceId));
    return raw ? parseDevice(raw) : null;
  }

  async listDevices(userId: string): Promise<DeviceRecord[]> {
    const setKey = this.#keys.userDevices(userId);
    const ids = await this.#redis.smembers(setKey);
    if (ids.length === 0) return [];
    const raws = await this.#redis.mget(...ids.map((id) => this.#keys.device(id)));
    const expired = ids.filter((_, i) => !raws[i]);
    // Devices whose refresh token expired vanish by TTL; drop them from the index too.
    if (expired.length > 0) await this.#redis.srem(setKey, ...expired);
    return raws.filter((r): r is string => !!r).map(parseDevice);
  }

  async deleteDevice(deviceId: string): Promise<void> {
    const device = await this.getDevice(deviceId);
    const tx = this.#redis.multi().del(this.#keys.device(deviceId));
    if (device) tx.srem(this.#keys.userDevices(device.userId), deviceId);
    await tx.exec();
  }

  async renameDevice(deviceId: string, label: string): Promise<boolean> {
    return (await this.#redis.eval(RENAME, 1, this.#keys.device(deviceId), label)) === 1;
  }

  async touchDevice(deviceId: string, lastSeenAt: number): Promise<void> {
    await this.#redis.eval(TOUCH, 1, this.#keys.device(deviceId), String(lastSeenAt));
  }

  async rotateRefresh(
    deviceId: string,
    presentedHash: string,
    rotation: { newHash: string; sealed: string; refreshExpiresAt: number; graceMs: number },
  ): Promise<RotateResult> {
    const result = (await this.#redis.eval(
      ROTATE,
      1,
      this.#keys.device(deviceId),
      presentedHash,
      rotation.newHash,
      String(rotation.refreshExpiresAt),
      String(Date.now()),
      rotation.sealed,
      String(rotation.graceMs),
    )) as string;
    if (result.startsWith('replay:')) return { replay: result.slice('replay:'.length) };
    return result as 'rotated' | 'reused' | 'unknown';
  }

  async addBlock(
    userId: string,
    blockedUserId: string,
    createdAt: number,
    maxBlocks: number,
  ): Promise<AddBlockResult> {
    return (await this.#redis.eval(
      ADD_BLOCK,
      1,
      this.#keys.userBlocks(userId),
      blockedUserId,
      String(createdAt),
      String(maxBlocks),
    )) as AddBlockResult;
  }

  async removeBlock(userId: string, blockedUserId: string): Promise<boolean> {
    return (await this.#redis.zrem(this.#keys.userBlocks(userId), blockedUserId)) > 0;
  }

  async listBlocks(userId: string): Promise<BlockRecord[]> {
    const flat = await this.#redis.zrange(this.#keys.userBlocks(userId), 0, -1, 'WITHSCORES');
    const out: BlockRecord[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2)
      out.push({ userId: flat[i]!, createdAt: Number(flat[i + 1]) });
    return out;
  }

  async blockersOf(callerId: string, userIds: readonly string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    const pipeline = this.#redis.pipeline();
    for (const id of userIds) pipeline.zscore(this.#keys.userBlocks(id), callerId);
    const results = (await pipeline.exec()) ?? [];
    const out = new Set<string>();
    results.forEach(([err, score], i) => {
      if (err) throw err;
      if (score !== null) out.add(userIds[i]!);
    });
    return out;
  }

  async ping(): Promise<void> {
    await this.#redis.ping();
  }

  async close(): Promise<void> {
    // The connection is closed by the registry that opened it.
  }
}
