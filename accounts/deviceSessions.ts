/**
 * Device sessions: every sign-in is a device with its own refresh token. Refresh tokens are
 * "deviceId.secret"; only sha256(secret) is stored. Each refresh rotates the secret; presenting a
 * rotated-away secret again means it was copied, so the device is revoked.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import type { AccessTokens } from '../auth/accessTokens.js';
import { ErrorCode, ServiceError } from '../protocol/errors.js';
import type { AccountStore, DeviceRecord, UserRecord } from '../state/accountStore.js';

export interface IssuedSession {
  accessToken: string;
  accessTokenExpiresAt: number;
  refreshToken: string;
  deviceId: string;
}

/** How long the previous refresh token may be presented again and get the same answer. */
export const REFRESH_REPLAY_GRACE_MS = 10_000;

const hash = (secret: string): string => createHash('sha256').update(secret).digest('base64url');
const newSecret = (): string => randomBytes(32).toString('base64url');

export class DeviceSessions {
  readonly #store: AccountStore;
  readonly #tokens: AccessTokens;
  readonly #refreshTtlMs: number;

  readonly #onRevoked: (userId: string, deviceId: string) => void;
  readonly #sealKey: Buffer;

  constructor(opts: {
    store: AccountStore;
    tokens: AccessTokens;
    refreshTtlSeconds: number;
    /** Told when a device session is revoked, so its open connections can be closed. */
    onRevoked?: (userId: string, deviceId: string) => void;
    /** Key that encrypts the newest refresh secret while it may be replayed (see REFRESH_REPLAY_GRACE_MS). */
    sealKey: Buffer;
  }) {
    this.#sealKey = opts.sealKey;
    this.#onRevoked = opts.onRevoked ?? (() => undefined);
    this.#store = opts.store;
    this.#tokens = opts.tokens;
    this.#refreshTtlMs = opts.refreshTtlSeconds * 1000;
  }

  async create(user: UserRecord, label: string): Promise<IssuedSession> {
    const { device, secret } = this.prepare(user.userId, label);
    await this.#store.createDevice(device);
    return this.issue(user, device.deviceId, secret);
  }

  /**
   * A new device session's record and its refresh secret, not yet stored: registration writes it
   * together with the user (AccountStore.createUserWithDevice), then calls `issue`.
   */
  prepare(userId: string, label: string): { device: DeviceRecord; secret: string } {
    const secret = newSecret();
    const now = Date.now();
    const device: DeviceRecord = {
      deviceId: randomUUID(),
      userId,
      label,
      createdAt: now,
      lastSeenAt: now,
      refreshHash: hash(secret),
      rotatedHashes: [],
      refreshExpiresAt: now + this.#refreshTtlMs,
    };
    return { device, secret };
  }

  async refresh(
    refreshToken: string,
    loadUser: (userId: string) => Promise<UserRecord | null>,
  ): Promise<{ session: IssuedSession; user: UserRecord }> {
    const dot = refreshToken.indexOf('.');
    const deviceId = dot > 0 ? refreshToken.slice(0, dot) : '';
    const secret = dot > 0 ? refreshToken.slice(dot + 1) : '';
    const invalid = new ServiceError(
      ErrorCode.RefreshTokenInvalid,
      'refresh token is not valid; sign in again',
      401,
    );
    if (!deviceId || !secret) throw invalid;
    const device = await this.#store.getDevice(deviceId);
    if (!device) throw invalid;
    const next = newSecret();
    const result = await this.#store.rotateRefresh(deviceId, hash(secret), {
      newHash: hash(next),
      sealed: this.#seal(next),
      refreshExpiresAt: Date.now() + this.#refreshTtlMs,
      graceMs: REFRESH_REPLAY_GRACE_MS,
    });
    if (typeof result === 'object') {
      // The same refresh again within seconds (two tabs racing, or the first answer got lost):
      // answer with the token that rotation produced instead of treating it as theft.
      const user = await loadUser(device.userId);
      const replayed = this.#unseal(result.replay);
      if (!user || !replayed) throw invalid;
      return { session: this.issue(user, deviceId, replayed), user };
    }
    if (result === 'reused') {
      await this.#revoke(device);
      throw new ServiceError(
        ErrorCode.RefreshTokenReused,
        'this refresh token was already used; the device has been signed out for safety',
        401,
      );
    }
    if (result !== 'rotated') throw invalid;
    const user = await loadUser(device.userId);
    if (!user) throw invalid;
    return { session: this.issue(user, deviceId, next), user };
  }

  /** Ends a device session and tells whoever holds its connections. */
  async revoke(device: Pick<DeviceRecord, 'userId' | 'deviceId'>): Promise<void> {
    await this.#revoke(device);
  }

  async #revoke(device: Pick<DeviceRecord, 'userId' | 'deviceId'>): Promise<void> {
    await this.#store.deleteDevice(device.deviceId);
    this.#onRevoked(device.userId, device.deviceId);
  }

  #seal(secret: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#sealKey, iv);
    const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  #unseal(sealed: string): string | null {
    try {
      const raw = Buffer.from(sealed, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', this.#sealKey, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      return null;
    }
  }

  /** Tokens for a stored device session. */
  issue(user: UserRecord, deviceId: string, secret: string): IssuedSession {
    const { token, expiresAt } = this.#tokens.issue({
      userId: user.userId,
      displayName: user.name,
      deviceId,
    });
    return {
      accessToken: token,
      accessTokenExpiresAt: expiresAt,
      refreshToken: `${deviceId}.${secret}`,
      deviceId,
    };
  }
}
