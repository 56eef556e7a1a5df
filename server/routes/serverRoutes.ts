/**
 * /api/v1/server routes: the server-to-server API of embedding messengers' backends (docs/server-api.md).
 * Every request must present one of the configured API keys (`Authorization: Bearer <keyId>:<secret>`);
 * the key's id is what the rest of the request is attributed to (rate limit, audit log, the namespace of
 * external ids). Rules live in ExternalAccounts; shapes in protocol/serverApi.ts.
 */
import { Router, type NextFunction, type Request, type Response } from 'express';
import type { z } from 'zod';
import type { ApiKeyRing } from '../../auth/apiKeys.js';
import type { ExternalAccounts } from '../../accounts/externalAccounts.js';
import { ErrorCode, ServiceError } from '../../protocol/errors.js';
import { externalIdSchema, serverRequests, type ServerUserToken } from '../../protocol/serverApi.js';
import type { Logger } from '../../lib/logger.js';

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value ?? {});
  if (!r.success) {
    throw new ServiceError(
      ErrorCode.InvalidParams,
      r.error.issues.map((i) => `${[what, ...i.path].join('.')}: ${i.message}`).join('; '),
    );
  }
  return r.data;
}

export function serverRoutes(opts: { apiKeys: ApiKeyRing; external: ExternalAccounts; log: Logger }): Router {
  const router = Router();

  /** Resolves the presented API key to its id (res.locals.apiKeyId) or answers 401. */
  const requireApiKey = (req: Request, res: Response, next: NextFunction): void => {
    const keyId = opts.apiKeys.verify(req.headers.authorization);
    if (keyId === null) {
      // Audited without anything presented: a mistyped header could hold a real secret.
      opts.log.warn('server api: request refused (no valid API key)', {
        path: req.path,
        ip: req.ip ?? req.socket.remoteAddress,
      });
      res.setHeader('WWW-Authenticate', 'Bearer realm="server-api"');
      throw new ServiceError(
        ErrorCode.Unauthorized,
        'a valid API key is required: Authorization: Bearer <keyId>:<secret>',
        401,
      );
    }
    res.locals.apiKeyId = keyId;
    next();
  };

  router.post('/server/users/:externalId/token', requireApiKey, async (req, res) => {
    const externalId = parse(externalIdSchema, req.params.externalId, 'externalId');
    const { displayName } = parse(serverRequests.userToken, req.body, 'body');
    const token = await opts.external.issueToken(String(res.locals.apiKeyId), externalId, displayName);
    res.status(token.created ? 201 : 200).json(token satisfies ServerUserToken);
  });

  return router;
}
