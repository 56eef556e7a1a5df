/**
 * When to refresh a socket's access token in-band (`refreshToken`), before the server closes the
 * socket with 4001: a share of the token's lifetime ahead of its expiry, so a call outlives any
 * number of token lifetimes without dropping its socket. Pure timing; the connection does the work.
 */
import { readClaims } from './jwt.js';

/** Refresh this share of the lifetime before expiry (a 10-minute token: 1 minute before). */
const LEAD_SHARE = 0.1;
/** ...but at least this long before, for a slow token source and one round trip. */
const MIN_LEAD_MS = 5_000;
/** ...and never more than this long before (a day-long token need not refresh hours early). */
const MAX_LEAD_MS = 120_000;

/**
 * Milliseconds from `nowMs` until `token` should be refreshed, or null when it carries no expiry.
 * A token too short-lived for the lead is refreshed halfway through what is left.
 */
export function refreshDelayMs(token: string, nowMs = Date.now()): number | null {
  const claims = readClaims(token);
  if (claims?.exp === undefined) return null;
  const expiresMs = claims.exp * 1000;
  const lifetimeMs = claims.iat !== undefined ? expiresMs - claims.iat * 1000 : expiresMs - nowMs;
  const lead = Math.min(MAX_LEAD_MS, Math.max(MIN_LEAD_MS, lifetimeMs * LEAD_SHARE));
  const left = expiresMs - nowMs;
  return Math.max(0, left > 2 * lead ? left - lead : left / 2);
}
