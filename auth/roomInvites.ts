/**
 * Invite links to a room: a signed, expiring capability to become a member of one room, shareable as
 * a URL the way Messenger's and Signal's call links are. The token names the room and its expiry and is
 * sealed with an HMAC under a key of its own (derived from JWT_SECRET), so every node can check it
 * without a store lookup and a leaked invite says nothing about access tokens.
 *
 *   v1.<base64url {"r":room,"e":expiresAtSeconds,"n":nonce}>.<base64url HMAC-SHA256>
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ErrorCode, ServiceError } from '../protocol/errors.js';

const VERSION = 'v1';
/** Longer than any real invite (room names are ≤ 64 characters); refuses junk before hashing it. */
const MAX_TOKEN_LENGTH = 512;

export interface RoomInvite {
  room: string;
  /** Unix seconds. */
  expiresAt: number;
}

export class RoomInvites {
  readonly #key: Buffer;
  readonly #now: () => number;

  constructor(opts: { key: Buffer; now?: () => number }) {
    if (opts.key.length < 32) throw new Error('room invite key must be at least 32 bytes');
    this.#key = opts.key;
    this.#now = opts.now ?? Date.now;
  }

  create(room: string, ttlSeconds: number): { token: string; expiresAt: number } {
    const expiresAt = Math.floor(this.#now() / 1000) + ttlSeconds;
    const payload = Buffer.from(
      JSON.stringify({ r: room, e: expiresAt, n: randomBytes(6).toString('base64url') }),
    ).toString('base64url');
    return { token: `${VERSION}.${payload}.${this.#mac(payload)}`, expiresAt };
  }

  /** The invite's room and expiry; throws FORBIDDEN for anything forged, altered or expired. */
  verify(token: string): RoomInvite {
    const refuse = (why: string): ServiceError => new ServiceError(ErrorCode.Forbidden, why, 403);
    if (token.length > MAX_TOKEN_LENGTH) throw refuse('invalid invite');
    const [version, payload, mac, extra] = token.split('.');
    if (version !== VERSION || !payload || !mac || extra !== undefined) throw refuse('invalid invite');
    const expected = Buffer.from(this.#mac(payload));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw refuse('invalid invite');
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      throw refuse('invalid invite');
    }
    if (
      typeof claims !== 'object' ||
      claims === null ||
      !('r' in claims) ||
      !('e' in claims) ||
      typeof claims.r !== 'string' ||
      typeof claims.e !== 'number'
    )
      throw refuse('invalid invite');
    if (claims.e * 1000 <= this.#now()) throw refuse('this invite has expired; ask for a new one');
    return { room: claims.r, expiresAt: claims.e };
  }

  #mac(payload: string): string {
    return createHmac('sha256', this.#key).update(`${VERSION}.${payload}`).digest('base64url');
  }
}
