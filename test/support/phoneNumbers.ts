/**
 * Phone numbers for tests, from the range the server accepts with a fixed code outside production
 * (DEFAULT_TEST_PHONE_NUMBERS: +12015550100..+12015550199, code 123456). One allocator per service
 * (per store) hands each number out once, so tests never collide on a hard-coded number.
 */
export const TEST_PHONE_CODE = '123456';
const FIRST = 100;
const LAST = 199;

export class PhoneNumbers {
  #next: number;

  /** `offset` starts further into the range (e.g. to leave low numbers to a file's fixed cases). */
  constructor(offset = 0) {
    this.#next = FIRST + offset;
  }

  next(): string {
    if (this.#next > LAST) throw new Error('test phone numbers exhausted (+12015550100..199)');
    return `+1201555${String(this.#next++).padStart(4, '0')}`;
  }
}
