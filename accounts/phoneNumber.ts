import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { ErrorCode, ServiceError } from '../protocol/errors.js';

/** Normalises what a person typed into E.164, or refuses it with INVALID_PHONE_NUMBER. */
export function normalizePhone(input: string): string {
  // "max" metadata validates number ranges, not just lengths, so typos are caught here.
  const parsed = parsePhoneNumberFromString(input.trim());
  if (!parsed || !parsed.isValid()) {
    throw new ServiceError(
      ErrorCode.InvalidPhoneNumber,
      'not a valid phone number; use international format, e.g. +44 7911 123456',
    );
  }
  return parsed.number;
}

/** Like normalizePhone, but answers null instead of throwing (address-book entries are often junk). */
export function tryNormalizePhone(input: string): string | null {
  const parsed = parsePhoneNumberFromString(input.trim());
  return parsed?.isValid() ? parsed.number : null;
}
