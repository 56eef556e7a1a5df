/**
 * Accounts and sign-in verification records in this process's memory: the embedded
 * VerificationStore, and an AccountStore for tests and benchmarks that want no database.
 */
import {
  DeviceExistsError,
  staleTokenVerdict,
  type AccountStore,
  type AddBlockResult,
  type BlockRecord,
  type CodeRecord,
  type DeviceRecord,
  type PhotoRecord,
  type RotateResult,
  type UserRecord,
} from './accountStore.js';
import type { VerificationStore } from './verificationStore.js';

const MAX_ROTATED_HASHES = 20;

interface Expiring<T> {
  value: T;
  expiresAt: number;
}

export class MemoryAccountStore implements AccountStore, VerificationStore {
  readonly #users = new Map<string, UserRecord>();
  readonly #phones = new Map<string, string>();
  /** externalId → userId (accounts an embedding messenger's backend created). */
  readonly #externals = new Map<string, string>();
  readonly #photos = new Map<string, PhotoRecord>();
  readonly #codes = new Map<string, Expiring<CodeRecord>>();
  readonly #tickets = new Map<string, Expiring<string>>();
  readonly #devices = new Map<string, DeviceRecord>();
  /** userId → (blocked userId → when); a Map keeps insertion order, so lists come oldest first. */
  readonly #blocks = new Map<string, Map<string, number>>();

  #live<T>(map: Map<string, Expiring<T>>, key: string): T | null {
    const e = map.get(key);
    if (!e) return null;
    if (e.expiresAt <= Date.now()) {
      map.delete(key);
      return null;
    }
    return e.value;
  }

  async createUser(user: UserRecord): Promise<UserRecord> {
    const existing = this.#phones.get(user.phone);
    if (existing) return { ...this.#users.get(existing)! };
    this.#phones.set(user.phone, user.userId);
    this.#users.set(user.userId, { ...user });
    return { ...user };
  }

  async createUserWithDevice(user: UserRecord, device: DeviceRecord): Promise<UserRecord> {
    // Checked before anything is written: this process has no partial writes to undo.
    if (this.#liveDevice(device.deviceId)) throw new DeviceExistsError(device.deviceId);
    const owner = await this.createUser(user);
    await this.createDevice({ ...device, userId: owner.userId });
    return owner;
  }

  async createExternalUserWithDevice(
    user: UserRecord & { externalId: string },
    device: DeviceRecord,
  ): Promise<UserRecord> {
    if (this.#liveDevice(device.deviceId)) throw new DeviceExistsError(device.deviceId);
    let ownerId = this.#externals.get(user.externalId);
    if (!ownerId) {
      ownerId = user.userId;
      this.#externals.set(user.externalId, ownerId);
      this.#users.set(ownerId, { ...user });
    }
    await this.createDevice({ ...device, userId: ownerId });
    return { ...this.#users.get(ownerId)! };
  }

  async getUserIdByExternalId(externalId: string): Promise<string | null> {
    return this.#externals.get(externalId) ?? null;
  }

  async getUser(userId: string): Promise<UserRecord | null> {
    const u = this.#users.get(userId);
    return u ? { ...u } : null;
  }

  async getUsers(userIds: readonly string[]): Promise<Map<string, UserRecord>> {
    const out = new Map<string, UserRecord>();
    for (const id of userIds) {
      const u = this.#users.get(id);
      if (u) out.set(id, { ...u });
    }
    return out;
  }

  async getUserIdByPhone(phone: string): Promise<string | null> {
    return this.#phones.get(phone) ?? null;
  }

  async getUsersByPhones(phones: readonly string[]): Promise<Map<string, UserRecord>> {
    const out = new Map<string, UserRecord>();
    for (const phone of phones) {
      const id = this.#phones.get(phone);
      const user = id ? this.#users.get(id) : undefined;
      if (user) out.set(phone, { ...user });
    }
    return out;
  }

  async updateUserName(userId: string, name: string): Promise<UserRecord | null> {
    const u = this.#users.get(userId);
    if (!u) return null;
    u.name = name;
    return { ...u };
  }

  async setPhoto(userId: string, photo: PhotoRecord): Promise<UserRecord | null> {
    const u = this.#users.get(userId);
    if (!u) return null;
    this.#photos.set(userId, {
      etag: photo.etag,
      full: Buffer.from(photo.full),
      thumb: Buffer.from(photo.thumb),
    });
    u.photoEtag = photo.etag;
    return { ...u };
  }

  async getPhoto(userId: string, size: 'full' | 'thumb'): Promise<{ etag: string; data: Buffer } | null> {
    const p = this.#photos.get(userId);
    return p ? { etag: p.etag, data: size === 'full' ? p.full : p.thumb } : null;
  }

  async putCode(phone: string, code: CodeRecord, ttlSeconds: number): Promise<void> {
    this.#codes.set(phone, { value: { ...code }, expiresAt: Date.now() + ttlSeconds * 1000 });
  }

  async getCode(phone: string): Promise<CodeRecord | null> {
    const c = this.#live(this.#codes, phone);
    return c ? { ...c } : null;
  }

  async addCodeAttempt(phone: string): Promise<number> {
    const c = this.#live(this.#codes, phone);
    if (!c) return 0;
    c.attempts += 1;
    return c.attempts;
  }

  async deleteCode(phone: string): Promise<void> {
    this.#codes.delete(phone);
  }

  async putRegistrationTicket(ticketId: string, phone: string, ttlSeconds: number): Promise<void> {
    this.#tickets.set(ticketId, { value: phone, expiresAt: Date.now() + ttlSeconds * 1000 });
  }

  async takeRegistrationTicket(ticketId: string): Promise<string | null> {
    const phone = this.#live(this.#tickets, ticketId);
    this.#tickets.delete(ticketId);
    return phone;
  }

  #liveDevice(deviceId: string): DeviceRecord | undefined {
    const d = this.#devices.get(deviceId);
    if (d && d.refreshExpiresAt <= Date.now()) {
      this.#devices.delete(deviceId);
      return undefined;
    }
    return d;
  }

  async createDevice(device: DeviceRecord): Promise<void> {
    this.#devices.set(device.deviceId, { ...device, rotatedHashes: [...device.rotatedHashes] });
  }

  async getDevice(deviceId: string): Promise<DeviceRecord | null> {
    const d = this.#liveDevice(deviceId);
    return d ? { ...d, rotatedHashes: [...d.rotatedHashes] } : null;
  }

  async listDevices(userId: string): Promise<DeviceRecord[]> {
    return [...this.#devices.keys()]
      .map((id) => this.#liveDevice(id))
      .filter((d): d is DeviceRecord => d !== undefined && d.userId === userId)
      .map((d) => ({ ...d, rotatedHashes: [...d.rotatedHashes] }));
  }

  async deleteDevice(deviceId: string): Promise<void> {
    this.#devices.delete(deviceId);
  }

  async renameDevice(deviceId: string, label: string): Promise<boolean> {
    const d = this.#liveDevice(deviceId);
    if (d) d.label = label;
    return d !== undefined;
  }

  async touchDevice(deviceId: string, lastSeenAt: number): Promise<void> {
    const d = this.#liveDevice(deviceId);
    if (d) d.lastSeenAt = lastSeenAt;
  }

  async rotateRefresh(
    deviceId: string,
    presentedHash: string,
    rotation: { newHash: string; sealed: string; refreshExpiresAt: number; graceMs: number },
  ): Promise<RotateResult> {
    const d = this.#liveDevice(deviceId);
    if (!d) return 'unknown';
    const now = Date.now();
    if (d.refreshHash === presentedHash) {
      d.rotatedHashes = [...d.rotatedHashes, presentedHash].slice(-MAX_ROTATED_HASHES);
      d.refreshHash = rotation.newHash;
      d.refreshExpiresAt = rotation.refreshExpiresAt;
      d.lastSeenAt = now;
      d.lastRotation = { fromHash: presentedHash, sealed: rotation.sealed, at: now };
      return 'rotated';
    }
    return staleTokenVerdict(d, presentedHash, now, rotation.graceMs);
  }

  async addBlock(
    userId: string,
    blockedUserId: string,
    createdAt: number,
    maxBlocks: number,
  ): Promise<AddBlockResult> {
    let list = this.#blocks.get(userId);
    if (list?.has(blockedUserId)) return 'exists';
    if ((list?.size ?? 0) >= maxBlocks) return 'full';
    if (!list) this.#blocks.set(userId, (list = new Map()));
    list.set(blockedUserId, createdAt);
    return 'added';
  }

  async removeBlock(userId: string, blockedUserId: string): Promise<boolean> {
    return this.#blocks.get(userId)?.delete(blockedUserId) ?? false;
  }

  async listBlocks(userId: string): Promise<BlockRecord[]> {
    return [...(this.#blocks.get(userId) ?? new Map<string, number>())].map(([id, createdAt]) => ({
      userId: id,
      createdAt,
    }));
  }

  async blockersOf(callerId: string, userIds: readonly string[]): Promise<Set<string>> {
    return new Set(userIds.filter((id) => this.#blocks.get(id)?.has(callerId)));
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}
