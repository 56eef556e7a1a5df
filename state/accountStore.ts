/**
 * Everything a person registered: users and the phone → user index, profile photos, device
 * sessions with their refresh-token hashes, block lists. Nothing here may be lost across a restart: it lives in
 * the database (SQLite or PostgreSQL, state/sql/). The short-lived records of signing in (codes,
 * locks, registration tickets) are a VerificationStore's (state/verificationStore.ts).
 */
export interface UserRecord {
  userId: string;
  /** E.164 for a phone account; '' for an external account (it has no phone number). */
  phone: string;
  name: string;
  createdAt: number;
  /** Content hash of the current photo; null without a photo. */
  photoEtag: string | null;
  /**
   * Set on an account an embedding messenger's backend created (POST /api/v1/server/users/…/token):
   * `<apiKeyId>:<their user id>`, unique. Absent or null on a phone account.
   */
  externalId?: string | null;
}

export interface PhotoRecord {
  etag: string;
  full: Buffer;
  thumb: Buffer;
}

export interface DeviceRecord {
  deviceId: string;
  userId: string;
  label: string;
  createdAt: number;
  lastSeenAt: number;
  /** sha256 of the refresh token in force. */
  refreshHash: string;
  /** Hashes of refresh tokens already rotated away: presenting one again means theft. */
  rotatedHashes: string[];
  refreshExpiresAt: number;
  /**
   * The last rotation: which hash it replaced, the new refresh secret sealed (encrypted), and when.
   * Lets a refresh that raced with (or lost the answer of) that rotation get the same answer again
   * for a few seconds instead of looking like theft.
   */
  lastRotation?: { fromHash: string; sealed: string; at: number } | null;
}

export type { CodeRecord } from './verificationStore.js';

export type RotateResult = 'rotated' | 'reused' | 'unknown' | { replay: string };

/**
 * What a presented refresh token that is not the device's current one means: the last rotation
 * replayed within its grace (two tabs racing, a lost answer), an old token reused (theft: the caller
 * revokes the device), or nothing known. Shared by the stores that decide in TypeScript; the Redis store
 * decides the same inside its Lua script.
 */
export function staleTokenVerdict(
  device: Pick<DeviceRecord, 'lastRotation' | 'rotatedHashes'>,
  presentedHash: string,
  now: number,
  graceMs: number,
): Exclude<RotateResult, 'rotated'> {
  const last = device.lastRotation;
  if (last && last.fromHash === presentedHash && now - last.at < graceMs) return { replay: last.sealed };
  return device.rotatedHashes.includes(presentedHash) ? 'reused' : 'unknown';
}

/** One entry of a user's block list: whom they blocked, and when. */
export interface BlockRecord {
  userId: string;
  createdAt: number;
}

/** 'added'; 'exists' when already blocked (nothing changes); 'full' when the list is at its bound. */
export type AddBlockResult = 'added' | 'exists' | 'full';

/** Thrown by createUserWithDevice when the device id is taken: nothing was written. */
export class DeviceExistsError extends Error {
  constructor(deviceId: string) {
    super(`device ${deviceId} already exists`);
    this.name = 'DeviceExistsError';
  }
}

export interface AccountStore {
  /** Creates the user unless the phone is taken; returns the user that owns the phone afterwards. */
  createUser(user: UserRecord): Promise<UserRecord>;
  /**
   * Registration in one atomic step: creates the user unless the phone is taken, and the first
   * device for whichever user owns the phone afterwards (`device.userId` is replaced by that user's
   * id, so two racing registrations both end signed in to the one account). If the device cannot be
   * written (its id exists: DeviceExistsError) neither record is: no user without a device.
   */
  createUserWithDevice(user: UserRecord, device: DeviceRecord): Promise<UserRecord>;
  getUser(userId: string): Promise<UserRecord | null>;
  /** Several users in one round trip; unknown ids are absent from the map. */
  getUsers(userIds: readonly string[]): Promise<Map<string, UserRecord>>;
  getUserIdByPhone(phone: string): Promise<string | null>;
  /**
   * The external-account twin of createUserWithDevice: creates the user (`user.externalId` set,
   * `user.phone` '') unless that external id is linked already, and the device for whichever user
   * owns the external id afterwards, in one atomic step (two racing first sign-ins end with one
   * account). DeviceExistsError as there.
   */
  createExternalUserWithDevice(
    user: UserRecord & { externalId: string },
    device: DeviceRecord,
  ): Promise<UserRecord>;
  getUserIdByExternalId(externalId: string): Promise<string | null>;
  getUsersByPhones(phones: readonly string[]): Promise<Map<string, UserRecord>>;
  updateUserName(userId: string, name: string): Promise<UserRecord | null>;

  /** Stores the photo and points the user at it in one step. */
  setPhoto(userId: string, photo: PhotoRecord): Promise<UserRecord | null>;
  getPhoto(userId: string, size: 'full' | 'thumb'): Promise<{ etag: string; data: Buffer } | null>;

  createDevice(device: DeviceRecord): Promise<void>;
  getDevice(deviceId: string): Promise<DeviceRecord | null>;
  listDevices(userId: string): Promise<DeviceRecord[]>;
  deleteDevice(deviceId: string): Promise<void>;
  touchDevice(deviceId: string, lastSeenAt: number): Promise<void>;
  /** Renames a live device; false if it does not exist (or has expired). */
  renameDevice(deviceId: string, label: string): Promise<boolean>;
  /**
   * Atomically swaps `presentedHash` for `newHash` if it is the token in force ('rotated'); answers
   * `{ replay: sealed }` if it is the hash the last rotation replaced and that rotation is younger
   * than `graceMs`; 'reused' if it is one rotated away earlier; 'unknown' otherwise.
   */
  rotateRefresh(
    deviceId: string,
    presentedHash: string,
    rotation: { newHash: string; sealed: string; refreshExpiresAt: number; graceMs: number },
  ): Promise<RotateResult>;

  /**
   * Adds `blockedUserId` to `userId`'s block list unless it holds `maxBlocks` entries already
   * (checked and written atomically, so racing requests cannot overshoot the bound).
   */
  addBlock(
    userId: string,
    blockedUserId: string,
    createdAt: number,
    maxBlocks: number,
  ): Promise<AddBlockResult>;
  /** True when an entry was removed. */
  removeBlock(userId: string, blockedUserId: string): Promise<boolean>;
  /** The user's block list, oldest first. */
  listBlocks(userId: string): Promise<BlockRecord[]>;
  /** Which of `userIds` have blocked `callerId` (one round trip, asked on every call invitation). */
  blockersOf(callerId: string, userIds: readonly string[]): Promise<Set<string>>;

  ping(): Promise<void>;
  close(): Promise<void>;
}
