import type { NextFunction, Request, Response } from 'express';
import type { AccessTokens, Identity } from '../../auth/accessTokens.js';
import type { AccountService } from '../../accounts/accountService.js';
import { ErrorCode, ServiceError } from '../../protocol/errors.js';

/**
 * Accepts `Authorization: Bearer <access token>` whose device session is still active. Development
 * tokens (no device session behind them) pass only while the development endpoint is enabled.
 */
export function requireUser(tokens: AccessTokens, accounts: AccountService, devTokens: boolean) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const header = req.headers.authorization;
    if (!header?.startsWith('Bearer '))
      throw new ServiceError(ErrorCode.Unauthorized, 'access token required', 401);
    const identity = tokens.verify(header.slice(7).trim());
    if (identity.dev) {
      if (!devTokens) throw new ServiceError(ErrorCode.Unauthorized, 'invalid access token', 401);
    } else {
      await accounts.assertDeviceActive(identity);
    }
    res.locals.identity = identity;
    next();
  };
}

export function identityOf(res: Response): Identity {
  return res.locals.identity as Identity;
}
