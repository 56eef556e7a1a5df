/**
 * Access tokens are HS256 JWTs. The algorithm is pinned on verify so a token claiming `alg: none`
 * or an asymmetric algorithm is refused, and issuer, audience and expiry are always checked.
 */
import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { ErrorCode, ServiceError } from '../protocol/errors.js';

const ALGORITHM = 'HS256' as const;

export interface AccessTokenClaims {
  /** User id. */
  sub: string;
  name: string;
  /** Device (sign-in session) id; one user may hold several. */
  did: string;
  typ: 'access';
  /** Minted by the development token endpoint: no device session stands behind it. */
  dev?: true;
}

export interface Identity {
  userId: string;
  displayName: string;
  deviceId: string;
  expiresAt: number;
  dev: boolean;
}

export interface AccessTokenOptions {
  secret: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

export class TokenExpiredError extends ServiceError {
  constructor() {
    super(ErrorCode.Unauthorized, 'access token expired', 401);
  }
}

export class AccessTokens {
  readonly #opts: AccessTokenOptions;

  constructor(opts: AccessTokenOptions) {
    this.#opts = opts;
  }

  issue(user: { userId: string; displayName: string; deviceId?: string; dev?: boolean }): {
    token: string;
    expiresAt: number;
  } {
    const claims: AccessTokenClaims = {
      sub: user.userId,
      name: user.displayName,
      did: user.deviceId ?? randomUUID(),
      typ: 'access',
      ...(user.dev ? { dev: true as const } : {}),
    };
    const token = jwt.sign(claims, this.#opts.secret, {
      // A unique id per token: two tokens issued in the same second must still differ, because
      // clients tell a refreshed session from a stale one by comparing tokens.
      jwtid: randomUUID(),
      algorithm: ALGORITHM,
      issuer: this.#opts.issuer,
      audience: this.#opts.audience,
      expiresIn: this.#opts.ttlSeconds,
    });
    return { token, expiresAt: Math.floor(Date.now() / 1000) + this.#opts.ttlSeconds };
  }

  /** Throws TokenExpiredError or ServiceError(UNAUTHORIZED); never returns a partial identity. */
  verify(token: string): Identity {
    let payload: string | jwt.JwtPayload;
    try {
      payload = jwt.verify(token, this.#opts.secret, {
        algorithms: [ALGORITHM],
        issuer: this.#opts.issuer,
        audience: this.#opts.audience,
      });
    } catch (err) {
      if (err instanceof jwt.TokenExpiredError) throw new TokenExpiredError();
      throw new ServiceError(ErrorCode.Unauthorized, 'invalid access token', 401);
    }
    if (
      typeof payload !== 'object' ||
      payload.typ !== 'access' ||
      typeof payload.sub !== 'string' ||
      typeof payload.name !== 'string' ||
      typeof payload.did !== 'string' ||
      typeof payload.exp !== 'number'
    ) {
      throw new ServiceError(ErrorCode.Unauthorized, 'invalid access token', 401);
    }
    return {
      userId: payload.sub,
      displayName: payload.name,
      deviceId: payload.did,
      expiresAt: payload.exp,
      dev: payload.dev === true,
    };
  }
}
