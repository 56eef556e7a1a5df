/**
 * Device sessions: every sign-in is a device with its own refresh token. Refresh tokens are
 * "deviceId.secret"; only sha256(secret) is stored. Each refresh rotates the secret; presenting a
 * rotated-away secret again means it was copied, so the device is revoked.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { AccessTokens } from '../auth/accessTokens.js';
import { ErrorCode, ServiceError } from '../protocol/errors.js';
import type { AccountStore, DeviceRecord, UserRecord } from '../state/accountStore.js';

export interface IssuedSession {
  accessToken: string;
  accessTokenExpiresAt: number;
  refreshToken: string;
  deviceId: string;
}

const hash = (secret: string): string => createHash('sha256').update(secret).digest('base64url');
const newSecret = (): string => randomBytes(32).toString('base64url');

export class DeviceSessions {
  readonly #store: AccountStore;
  readonly #tokens: AccessTokens;
  readonly #refreshTtlMs: number;

  readonly #onRevoked: (userId: string, deviceId: string) => void;

  constructor(opts: {
    store: AccountStore;
    tokens: AccessTokens;
    refreshTtlSeconds: number;
    /** Told when a device session is revoked, so its open connections can be closed. */
    onRevoked?: (userId: string, deviceId: string) => void;
  }) {
    this.#onRevoked = opts.onRevoked ?? (() => undefined);
    this.#store = opts.store;
    this.#tokens = opts.tokens;
    this.#refreshTtlMs = opts.refreshTtlSeconds * 1000;
  }

  async create(user: UserRecord, label: string): Promise<IssuedSession> {
    const deviceId = randomUUID();
    const secret = newSecret();
    const now = Date.now();
    const device: DeviceRecord = {
      deviceId,
      userId: user.userId,
      label,
      createdAt: now,
      lastSeenAt: now,
      refreshHash: hash(secret),
      rotatedHashes: [],
      refreshExpiresAt: now + this.#refreshTtlMs,
    };
    await this.#store.createDevice(device);
    return this.#issue(user, deviceId, secret);
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
    const result = await this.#store.rotateRefresh(
      deviceId,
      hash(secret),
      hash(next),
      Date.now() + this.#refreshTtlMs,
    );
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
    return { session: this.#issue(user, deviceId, next), user };
  }

  /** Ends a device session and tells whoever holds its connections. */
  async revoke(device: Pick<DeviceRecord, 'userId' | 'deviceId'>): Promise<void> {
    await this.#revoke(device);
  }

  async #revoke(device: Pick<DeviceRecord, 'userId' | 'deviceId'>): Promise<void> {
    await this.#store.deleteDevice(device.deviceId);
    this.#onRevoked(device.userId, device.deviceId);
  }

  #issue(user: UserRecord, deviceId: string, secret: string): IssuedSession {
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
