/**
 * Time-limited TURN credentials in coturn's "TURN REST API" form (`use-auth-secret`): the username
 * is `<expiry unix seconds>:<userId>` and the password base64(HMAC-SHA1(secret, username)). coturn
 * recomputes the HMAC with the same shared secret and refuses an expired username, so nothing has
 * to be stored per user and a leaked credential stops working by itself.
 */
import { createHmac } from 'node:crypto';

/** The part of RTCIceServer the SDK hands to its transports (the browser's own type, by shape). */
export interface TurnIceServer {
  urls: string[];
  username: string;
  credential: string;
}

export interface TurnConfig {
  /** turn:/turns: URLs of the relays, e.g. `turn:turn.example:3478?transport=udp`. */
  urls: string[];
  /** coturn's `static-auth-secret`. */
  secret: string;
  ttlSeconds: number;
}

/** Credentials for `userId` valid from `nowMs` for the configured time to live. */
export function turnCredentials(turn: TurnConfig, userId: string, nowMs = Date.now()): TurnIceServer {
  const expiry = Math.floor(nowMs / 1000) + turn.ttlSeconds;
  const username = `${expiry}:${userId}`;
  const credential = createHmac('sha1', turn.secret).update(username).digest('base64');
  return { urls: [...turn.urls], username, credential };
}
