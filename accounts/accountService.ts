/**
 * The owner of accounts: sign-in with one-time codes, registration, device sessions, profile and
 * contacts lookup. HTTP routes validate shapes and call in here; this module enforces the rules.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { ErrorCode, ServiceError } from '../protocol/errors.js';
import type { AccountStore, DeviceRecord, UserRecord } from '../state/accountStore.js';
import type { VerificationStore } from '../state/verificationStore.js';
import type { Logger } from '../lib/logger.js';
import type { Identity } from '../auth/accessTokens.js';
import { CODE_TTL_SECONDS, type OneTimeCodes } from './oneTimeCodes.js';
import type { DeviceSessions, IssuedSession } from './deviceSessions.js';
import { normalizePhone, tryNormalizePhone } from './phoneNumber.js';
import { processProfilePhoto } from './profilePhotos.js';
import { clientKey } from './clientKey.js';
import { CODE_LOCK_SECONDS, type RateLimits } from './rateLimits.js';
import { SmsDeliveryError, type SmsSender } from './smsSender.js';

export const REGISTRATION_TTL_SECONDS = 600;

export interface PublicUser {
  userId: string;
  name: string;
  phone?: string;
  photo: { url: string; thumbUrl: string; etag: string } | null;
  createdAt: number;
}

export interface SessionView extends IssuedSession {
  user: PublicUser;
}

export type VerifyResult =
  | { status: 'signed-in'; session: SessionView }
  | { status: 'registration-required'; registrationToken: string; expiresInSeconds: number };

export function publicUser(u: UserRecord, opts: { withPhone: boolean }): PublicUser {
  const base = `/api/v1/users/${encodeURIComponent(u.userId)}/photo`;
  return {
    userId: u.userId,
    name: u.name,
    // An external account has no number ('' in the record): nothing to show.
    ...(opts.withPhone && u.phone ? { phone: u.phone } : {}),
    // The etag in the URL makes a changed photo a new URL, so caches never show a stale one.
    photo: u.photoEtag
      ? { url: `${base}?v=${u.photoEtag}`, thumbUrl: `${base}/thumb?v=${u.photoEtag}`, etag: u.photoEtag }
      : null,
    createdAt: u.createdAt,
  };
}

export class AccountService {
  readonly #store: AccountStore;
  readonly #verification: VerificationStore;
  readonly #codes: OneTimeCodes;
  readonly #devices: DeviceSessions;
  readonly #limits: RateLimits;
  readonly #sms: SmsSender;
  readonly #log: Logger;

  constructor(opts: {
    store: AccountStore;
    /** Registration tickets (and codes, through `codes`): short-lived, not in the database. */
    verification: VerificationStore;
    codes: OneTimeCodes;
    devices: DeviceSessions;
    limits: RateLimits;
    sms: SmsSender;
    log: Logger;
  }) {
    this.#store = opts.store;
    this.#verification = opts.verification;
    this.#codes = opts.codes;
    this.#devices = opts.devices;
    this.#limits = opts.limits;
    this.#sms = opts.sms;
    this.#log = opts.log;
  }

  /**
   * Sends a sign-in code. `ip` is the requesting client's address (behind TRUST_PROXY, the one the
   * trusted proxy saw). Budgets are per (number, client) so a stranger cannot spend the owner's.
   */
  async requestCode(
    rawPhone: string,
    ip: string,
  ): Promise<{ phone: string; expiresInSeconds: number; resendAfterSeconds: number }> {
    const phone = normalizePhone(rawPhone);
    const client = clientKey(ip);
    const pair = `${phone}|${client}`;
    const limits = this.#limits.specs;
    // A client locked out of this number may not replace its code either (that would reset nothing
    // for the attacker but kill the owner's live code).
    await this.#assertPairUnlocked(pair);
    // Test numbers send no SMS, so they cost nothing worth limiting (load bots sign in with them).
    if (!this.#codes.isTestNumber(phone)) {
      await this.#limits.consume(limits.codePerIp, client);
      await this.#limits.consume(limits.codeResend, pair);
      await this.#limits.consume(limits.codePerPair, pair);
      await this.#limits.consume(limits.codePerPhone, phone);
    }
    const code = await this.#codes.issue(phone);
    if (code !== null) {
      try {
        await this.#sms.send(phone, `Your sign-in code is ${code}. It expires in 5 minutes. Never share it.`);
      } catch (err) {
        await this.#codes.discard(phone);
        this.#log.error('SMS delivery failed', { error: err instanceof Error ? err.message : String(err) });
        throw new ServiceError(
          ErrorCode.Unavailable,
          err instanceof SmsDeliveryError
            ? 'the code could not be sent; try again shortly'
            : 'internal error',
          503,
          30,
        );
      }
    }
    return {
      phone,
      expiresInSeconds: CODE_TTL_SECONDS,
      resendAfterSeconds: limits.codeResend.durationSeconds,
    };
  }

  async verify(rawPhone: string, code: string, deviceLabel: string, ip: string): Promise<VerifyResult> {
    const phone = normalizePhone(rawPhone);
    const client = clientKey(ip);
    const pair = `${phone}|${client}`;
    const limits = this.#limits.specs;
    await this.#assertPairUnlocked(pair);
    // Test numbers' codes are public anyway; limiting them would only throttle load bots.
    if (!this.#codes.isTestNumber(phone)) await this.#limits.consume(limits.verifyPerIp, client);
    const outcome = await this.#codes.check(phone, code);
    if (outcome === 'expired') {
      throw new ServiceError(ErrorCode.CodeExpired, 'no valid code for this number; request a new one', 400);
    }
    if (outcome === 'wrong') {
      const left = await this.#limits.penalize(limits.verifyFailures, pair);
      if (left === 0) {
        throw new ServiceError(
          ErrorCode.CodeLocked,
          `too many wrong codes; try again in ${CODE_LOCK_SECONDS / 60} min`,
          429,
          CODE_LOCK_SECONDS,
        );
      }
      throw new ServiceError(
        ErrorCode.CodeInvalid,
        `wrong code; ${left} attempt${left === 1 ? '' : 's'} left`,
        400,
        undefined,
        { attemptsLeft: String(left) },
      );
    }
    const userId = await this.#store.getUserIdByPhone(phone);
    const user = userId ? await this.#store.getUser(userId) : null;
    if (user) return { status: 'signed-in', session: await this.#session(user, deviceLabel) };
    const registrationToken = randomBytes(32).toString('base64url');
    await this.#verification.putRegistrationTicket(registrationToken, phone, REGISTRATION_TTL_SECONDS);
    return { status: 'registration-required', registrationToken, expiresInSeconds: REGISTRATION_TTL_SECONDS };
  }

  async #assertPairUnlocked(pair: string): Promise<void> {
    const locked = await this.#limits.secondsUntilFree(this.#limits.specs.verifyFailures, pair);
    if (locked > 0) {
      throw new ServiceError(
        ErrorCode.CodeLocked,
        `too many wrong codes; try again in ${Math.ceil(locked / 60)} min`,
        429,
        locked,
      );
    }
  }

  async register(registrationToken: string, name: string, deviceLabel: string): Promise<SessionView> {
    const phone = await this.#verification.takeRegistrationTicket(registrationToken);
    if (!phone) {
      throw new ServiceError(
        ErrorCode.RegistrationTokenInvalid,
        'registration expired or already used; verify your number again',
        401,
      );
    }
    // One atomic write of the user and the first device: a failure leaves no account without a
    // device. Atomic on the phone too: two racing registrations end with one user, both signed in.
    const { device, secret } = this.#devices.prepare('', deviceLabel);
    const user = await this.#store.createUserWithDevice(
      { userId: randomUUID(), phone, name, createdAt: Date.now(), photoEtag: null },
      device,
    );
    return {
      ...this.#devices.issue(user, device.deviceId, secret),
      user: publicUser(user, { withPhone: true }),
    };
  }

  async refresh(refreshToken: string): Promise<SessionView> {
    const { session, user } = await this.#devices.refresh(refreshToken, (id) => this.#store.getUser(id));
    return { ...session, user: publicUser(user, { withPhone: true }) };
  }

  /** Checks that the token's device session still exists (not signed out or revoked). */
  async assertDeviceActive(identity: Identity): Promise<void> {
    const device = await this.#store.getDevice(identity.deviceId);
    if (!device || device.userId !== identity.userId) {
      throw new ServiceError(ErrorCode.Unauthorized, 'this device was signed out; sign in again', 401);
    }
  }

  async signOut(identity: Identity): Promise<void> {
    await this.#devices.revoke({ userId: identity.userId, deviceId: identity.deviceId });
  }

  async me(userId: string): Promise<PublicUser> {
    return publicUser(await this.#user(userId), { withPhone: true });
  }

  async rename(userId: string, name: string): Promise<PublicUser> {
    const user = await this.#store.updateUserName(userId, name);
    if (!user) throw new ServiceError(ErrorCode.NotFound, 'no such user', 404);
    return publicUser(user, { withPhone: true });
  }

  async setPhoto(userId: string, bytes: Buffer): Promise<PublicUser> {
    const photo = await processProfilePhoto(bytes);
    const user = await this.#store.setPhoto(userId, photo);
    if (!user) throw new ServiceError(ErrorCode.NotFound, 'no such user', 404);
    return publicUser(user, { withPhone: true });
  }

  async photo(userId: string, size: 'full' | 'thumb'): Promise<{ etag: string; data: Buffer }> {
    const photo = await this.#store.getPhoto(userId, size);
    if (!photo) throw new ServiceError(ErrorCode.NotFound, 'no photo', 404);
    return photo;
  }

  async devices(identity: Identity): Promise<
    (Omit<DeviceRecord, 'refreshHash' | 'rotatedHashes' | 'refreshExpiresAt' | 'userId'> & {
      current: boolean;
    })[]
  > {
    const list = await this.#store.listDevices(identity.userId);
    return list
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((d) => ({
        deviceId: d.deviceId,
        label: d.label,
        createdAt: d.createdAt,
        lastSeenAt: d.lastSeenAt,
        current: d.deviceId === identity.deviceId,
      }));
  }

  /** Renames one of this user's devices (e.g. "Work laptop"), so the list tells them apart. */
  async renameDevice(identity: Identity, deviceId: string, label: string): Promise<void> {
    const device = await this.#store.getDevice(deviceId);
    // Someone else's device id answers like an unknown one, as for revoking.
    if (!device || device.userId !== identity.userId || !(await this.#store.renameDevice(deviceId, label)))
      throw new ServiceError(ErrorCode.NotFound, 'no such device', 404);
  }

  async revokeDevice(identity: Identity, deviceId: string): Promise<void> {
    const device = await this.#store.getDevice(deviceId);
    // Someone else's device id answers like an unknown one: ids are not confirmed to strangers.
    if (!device || device.userId !== identity.userId)
      throw new ServiceError(ErrorCode.NotFound, 'no such device', 404);
    await this.#devices.revoke({ userId: identity.userId, deviceId });
  }

  /**
   * Contact discovery (policy in docs/accounts-api.md): numbers this account already asked about
   * today are free; new ones spend a daily quota of the account and of the client address; and a
   * number that too many distinct accounts asked about today is withheld (answered as unknown), so a
   * farm of accounts cannot watch or enumerate it.
   */
  async lookupContacts(
    userId: string,
    phones: readonly string[],
    ip: string,
  ): Promise<{ phone: string; user: PublicUser }[]> {
    const limits = this.#limits.specs;
    const client = clientKey(ip);
    await this.#limits.consume(limits.contactsPerUser, userId);
    const normalized = [...new Set(phones.map(tryNormalizePhone).filter((p): p is string => p !== null))];
    const seenKey = (phone: string): string => `${userId}|${phone}`;
    const seen = await Promise.all(
      normalized.map(async (p) => (await this.#limits.remaining(limits.contactsSeen, seenKey(p))) === 0),
    );
    const fresh = normalized.filter((_, i) => !seen[i]);
    // Quotas first, marks after: a refused request must not make its numbers free the next time.
    if (fresh.length > 0) {
      await this.#limits.consume(limits.contactsNewPerUser, userId, fresh.length);
      await this.#limits.consume(limits.contactsNewPerIp, client, fresh.length);
    }
    await Promise.all(
      fresh.map(async (p) => {
        await this.#limits.tryConsume(limits.contactsSeen, seenKey(p));
        await this.#limits.tryConsume(limits.contactsPerNumber, p);
      }),
    );
    const found = await this.#store.getUsersByPhones(normalized);
    const answered: { phone: string; user: PublicUser }[] = [];
    for (const [phone, u] of found) {
      if (u.userId === userId) continue;
      if (await this.#limits.exceeded(limits.contactsPerNumber, phone)) {
        this.#limits.reportLimited(limits.contactsPerNumber);
        continue;
      }
      answered.push({ phone, user: publicUser(u, { withPhone: false }) });
    }
    return answered;
  }

  async #user(userId: string): Promise<UserRecord> {
    const user = await this.#store.getUser(userId);
    if (!user) throw new ServiceError(ErrorCode.NotFound, 'no such user', 404);
    return user;
  }

  async #session(user: UserRecord, deviceLabel: string): Promise<SessionView> {
    const issued = await this.#devices.create(user, deviceLabel);
    return { ...issued, user: publicUser(user, { withPhone: true }) };
  }
}
