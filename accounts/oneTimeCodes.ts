/**
 * One-time sign-in codes: 6 digits from a CSPRNG, stored only as an HMAC, valid 5 minutes, single
 * use. Five wrong tries kill the code and lock the number for 15 minutes.
 */
import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { ErrorCode, ServiceError } from '../protocol/errors.js';
import type { VerificationStore } from '../state/verificationStore.js';

export const CODE_TTL_SECONDS = 300;
export const MAX_WRONG_ATTEMPTS = 5;
export const LOCK_SECONDS = 15 * 60;

export class OneTimeCodes {
  readonly #store: VerificationStore;
  readonly #key: Buffer;
  readonly #testNumbers: ReadonlyMap<string, string>;

  constructor(opts: { store: VerificationStore; hmacKey: Buffer; testNumbers: ReadonlyMap<string, string> }) {
    this.#store = opts.store;
    this.#key = opts.hmacKey;
    this.#testNumbers = opts.testNumbers;
  }

  isTestNumber(phone: string): boolean {
    return this.#testNumbers.has(phone);
  }

  #hash(phone: string, code: string): string {
    // The phone is part of the MAC so a hash cannot be replayed against another number.
    return createHmac('sha256', this.#key).update(`${phone}\n${code}`).digest('base64url');
  }

  async #assertUnlocked(phone: string): Promise<void> {
    const locked = await this.#store.phoneLockSeconds(phone);
    if (locked > 0) {
      throw new ServiceError(
        ErrorCode.CodeLocked,
        `too many wrong codes; try again in ${Math.ceil(locked / 60)} min`,
        429,
        locked,
      );
    }
  }

  /** Creates and stores a fresh code; returns it for delivery (null for test numbers: nothing to send). */
  async issue(phone: string): Promise<string | null> {
    await this.#assertUnlocked(phone);
    const fixed = this.#testNumbers.get(phone);
    const code = fixed ?? String(randomInt(0, 1_000_000)).padStart(6, '0');
    await this.#store.putCode(
      phone,
      { hash: this.#hash(phone, code), expiresAt: Date.now() + CODE_TTL_SECONDS * 1000, attempts: 0 },
      CODE_TTL_SECONDS,
    );
    return fixed ? null : code;
  }

  /** Consumes the code if right; otherwise counts the attempt and throws a typed error. */
  async verify(phone: string, code: string): Promise<void> {
    await this.#assertUnlocked(phone);
    const record = await this.#store.getCode(phone);
    if (!record || record.expiresAt <= Date.now()) {
      throw new ServiceError(ErrorCode.CodeExpired, 'no valid code for this number; request a new one', 400);
    }
    const expected = Buffer.from(record.hash);
    const actual = Buffer.from(this.#hash(phone, code));
    if (expected.length === actual.length && timingSafeEqual(expected, actual)) {
      await this.#store.deleteCode(phone);
      return;
    }
    const attempts = await this.#store.addCodeAttempt(phone);
    if (attempts >= MAX_WRONG_ATTEMPTS) {
      await this.#store.deleteCode(phone);
      await this.#store.lockPhone(phone, LOCK_SECONDS);
      throw new ServiceError(
        ErrorCode.CodeLocked,
        'too many wrong codes; this number is locked for 15 min',
        429,
        LOCK_SECONDS,
      );
    }
    const left = MAX_WRONG_ATTEMPTS - attempts;
    throw new ServiceError(
      ErrorCode.CodeInvalid,
      `wrong code; ${left} attempt${left === 1 ? '' : 's'} left`,
      400,
      undefined,
      { attemptsLeft: String(left) },
    );
  }
}
