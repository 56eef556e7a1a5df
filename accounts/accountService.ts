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
import { LIMITS, type RateLimits } from './rateLimits.js';
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
    ...(opts.withPhone ? { phone: u.phone } : {}),
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

  async requestCode(
    rawPhone: string,
    ip: string,
  ): Promise<{ phone: string; expiresInSeconds: number; resendAfterSeconds: number }> {
    const phone = normalizePhone(rawPhone);
    // Test numbers send no SMS, so they cost nothing worth limiting (load bots sign in with them).
    if (!this.#codes.isTestNumber(phone)) {
      await this.#limits.consume(LIMITS.codePerIp, ip);
      await this.#limits.consume(LIMITS.codePerPhone, phone);
      await this.#limits.consume(LIMITS.codeResend, phone);
    }
    const code = await this.#codes.issue(phone);
    if (code !== null) {
      try {
        await this.#sms.send(phone, `Your sign-in code is ${code}. It expires in 5 minutes. Never share it.`);
      } catch (err) {
        await this.#verification.deleteCode(phone);
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
      resendAfterSeconds: LIMITS.codeResend.durationSeconds,
    };
  }

  async verify(rawPhone: string, code: string, deviceLabel: string): Promise<VerifyResult> {
    const phone = normalizePhone(rawPhone);
    // Test numbers' codes are public anyway; limiting them would only throttle load bots.
    if (!this.#codes.isTestNumber(phone)) await this.#limits.consume(LIMITS.verifyPerPhone, phone);
    await this.#codes.verify(phone, code);
    const userId = await this.#store.getUserIdByPhone(phone);
    const user = userId ? await this.#store.getUser(userId) : null;
    if (user) return { status: 'signed-in', session: await this.#session(user, deviceLabel) };
    const registrationToken = randomBytes(32).toString('base64url');
    await this.#verification.putRegistrationTicket(registrationToken, phone, REGISTRATION_TTL_SECONDS);
    return { status: 'registration-required', registrationToken, expiresInSeconds: REGISTRATION_TTL_SECONDS };
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
    // createUser is atomic on the phone: two racing registrations end with one user.
    const user = await this.#store.createUser({
      userId: randomUUID(),
      phone,
      name,
      createdAt: Date.now(),
      photoEtag: null,
    });
    return this.#session(user, deviceLabel);
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

  async revokeDevice(identity: Identity, deviceId: string): Promise<void> {
    const device = await this.#store.getDevice(deviceId);
    // Someone else's device id answers like an unknown one: ids are not confirmed to strangers.
    if (!device || device.userId !== identity.userId)
      throw new ServiceError(ErrorCode.NotFound, 'no such device', 404);
    await this.#devices.revoke({ userId: identity.userId, deviceId });
  }

  async lookupContacts(
    userId: string,
    phones: readonly string[],
  ): Promise<{ phone: string; user: PublicUser }[]> {
    await this.#limits.consume(LIMITS.contactsPerUser, userId);
    const normalized = [...new Set(phones.map(tryNormalizePhone).filter((p): p is string => p !== null))];
    const found = await this.#store.getUsersByPhones(normalized);
    return [...found]
      .filter(([, u]) => u.userId !== userId)
      .map(([phone, u]) => ({ phone, user: publicUser(u, { withPhone: false }) }));
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
