/**
 * One-time sign-in codes: 6 digits from a CSPRNG, stored only as an HMAC, valid 5 minutes, single
 * use, one live code per number (a new request replaces it). This module only keeps and checks codes;
 * who may try how often is decided by AccountService with RateLimits (per number and client), so a
 * stranger's wrong guesses cannot lock the owner out. A code dies after MAX_WRONG_PER_CODE wrong
 * guesses from all clients together, which bounds guessing across many addresses.
 */
import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import type { VerificationStore } from '../state/verificationStore.js';

export const CODE_TTL_SECONDS = 300;
/** 20 guesses in 10^6: a distributed attacker wins one code in 50,000; the owner just asks again. */
export const MAX_WRONG_PER_CODE = 20;

export type CodeCheck = 'ok' | 'wrong' | 'expired';

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

  /** Creates and stores a fresh code; returns it for delivery (null for test numbers: nothing to send). */
  async issue(phone: string): Promise<string | null> {
    const fixed = this.#testNumbers.get(phone);
    const code = fixed ?? String(randomInt(0, 1_000_000)).padStart(6, '0');
    await this.#store.putCode(
      phone,
      { hash: this.#hash(phone, code), expiresAt: Date.now() + CODE_TTL_SECONDS * 1000, attempts: 0 },
      CODE_TTL_SECONDS,
    );
    return fixed ? null : code;
  }

  /** Drops the live code (its delivery failed). */
  async discard(phone: string): Promise<void> {
    await this.#store.deleteCode(phone);
  }

  /** Consumes the code if right; a wrong one is counted against the code (not against the number). */
  async check(phone: string, code: string): Promise<CodeCheck> {
    const record = await this.#store.getCode(phone);
    if (!record || record.expiresAt <= Date.now()) return 'expired';
    const expected = Buffer.from(record.hash);
    const actual = Buffer.from(this.#hash(phone, code));
    if (expected.length === actual.length && timingSafeEqual(expected, actual)) {
      await this.#store.deleteCode(phone);
      return 'ok';
    }
    if ((await this.#store.addCodeAttempt(phone)) >= MAX_WRONG_PER_CODE) await this.#store.deleteCode(phone);
    return 'wrong';
  }
}
