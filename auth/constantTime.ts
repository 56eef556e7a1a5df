/**
 * Comparison of secrets presented by callers (the metrics token, and any other configured token)
 * in time that does not depend on where the strings differ or how long the guess is: both sides are
 * hashed to a fixed length first, so not even the secret's length leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export function secretsEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** True when `authorization` is exactly "Bearer <expected>", compared in constant time. */
export function bearerMatches(authorization: string | undefined, expected: string): boolean {
  const presented = /^Bearer (.+)$/.exec(authorization ?? '')?.[1] ?? '';
  // Always run the comparison, even for a missing header, so absence costs the same time.
  return secretsEqual(presented, expected) && presented.length > 0;
}
