/**
 * Accounts of an embedding messenger's users, signed in by the messenger's backend instead of a
 * one-time code (POST /api/v1/server/users/:externalId/token, docs/server-api.md). The messenger
 * already knows its users, so it names one (its own id for them) and gets an access token for that
 * person's "server" device here; the account is created on first use and linked to
 * `<apiKeyId>:<externalId>`, so two messengers' ids never collide.
 *
 * No refresh token is handed out: the messenger stays the authority on who is signed in, so its
 * backend asks again when a token runs out (the SDK's token source calls it), and a token that leaks
 * from a browser is worth ten minutes, not sixty days.
 */
import { randomUUID } from 'node:crypto';
import type { AccessTokens } from '../auth/accessTokens.js';
import type { Logger } from '../lib/logger.js';
import type { AccountStore, UserRecord } from '../state/accountStore.js';
import { publicUser, type PublicUser } from './accountService.js';
import type { DeviceSessions } from './deviceSessions.js';
import type { RateLimits } from './rateLimits.js';

/** Label of the one device session every external account's tokens belong to. */
export const SERVER_DEVICE_LABEL = 'server';

/**
 * A server device this close to its expiry is replaced rather than reused, so a token issued now never
 * outlives the device session behind it.
 */
const DEVICE_RENEW_MARGIN_MS = 24 * 3600 * 1000;

export interface ServerToken {
  accessToken: string;
  /** Epoch seconds, server clock. */
  accessTokenExpiresAt: number;
  deviceId: string;
  /** True when this request created the account. */
  created: boolean;
  user: PublicUser;
}

export class ExternalAccounts {
  readonly #store: AccountStore;
  readonly #devices: DeviceSessions;
  readonly #tokens: AccessTokens;
  readonly #limits: RateLimits;
  readonly #log: Logger;

  constructor(opts: {
    store: AccountStore;
    devices: DeviceSessions;
    tokens: AccessTokens;
    limits: RateLimits;
    log: Logger;
  }) {
    this.#store = opts.store;
    this.#devices = opts.devices;
    this.#tokens = opts.tokens;
    this.#limits = opts.limits;
    this.#log = opts.log;
  }

  /**
   * An access token for the person the key's owner calls `externalId`, creating the account on first
   * use. `displayName` is the messenger's current name for them: a changed one renames the account.
   */
  async issueToken(apiKeyId: string, externalId: string, displayName: string): Promise<ServerToken> {
    await this.#limits.consume(this.#limits.specs.serverTokensPerKey, apiKeyId);
    const linked = `${apiKeyId}:${externalId}`;
    const { user, deviceId, created } = await this.#signIn(linked, displayName);
    const { token, expiresAt } = this.#tokens.issue({
      userId: user.userId,
      displayName: user.name,
      deviceId,
    });
    // The audit trail: which key acted for whom. Never the secret (it never reaches this module).
    this.#log.info('server api: access token issued', {
      apiKeyId,
      externalId,
      userId: user.userId,
      accountCreated: created,
    });
    return {
      accessToken: token,
      accessTokenExpiresAt: expiresAt,
      deviceId,
      created,
      user: publicUser(user, { withPhone: false }),
    };
  }

  async #signIn(
    linked: string,
    displayName: string,
  ): Promise<{ user: UserRecord; deviceId: string; created: boolean }> {
    const userId = await this.#store.getUserIdByExternalId(linked);
    let user = userId ? await this.#store.getUser(userId) : null;
    if (!user) {
      const { device } = this.#devices.prepare('', SERVER_DEVICE_LABEL);
      const newId = randomUUID();
      // Atomic on the external id: a racing first sign-in ends on the same account, device attached.
      const owner = await this.#store.createExternalUserWithDevice(
        {
          userId: newId,
          phone: '',
          name: displayName,
          createdAt: Date.now(),
          photoEtag: null,
          externalId: linked,
        },
        device,
      );
      return { user: owner, deviceId: device.deviceId, created: owner.userId === newId };
    }
    if (user.name !== displayName)
      user = (await this.#store.updateUserName(user.userId, displayName)) ?? user;
    const now = Date.now();
    const current = (await this.#store.listDevices(user.userId)).find(
      (d) => d.label === SERVER_DEVICE_LABEL && d.refreshExpiresAt > now + DEVICE_RENEW_MARGIN_MS,
    );
    if (current) return { user, deviceId: current.deviceId, created: false };
    // Signed out (DELETE /devices/…) or about to expire: a fresh device session; the old one lapses.
    const { device } = this.#devices.prepare(user.userId, SERVER_DEVICE_LABEL);
    await this.#store.createDevice(device);
    return { user, deviceId: device.deviceId, created: false };
  }
}
