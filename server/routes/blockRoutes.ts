/**
 * /api/v1/blocks: a user's block list (list, block, unblock). Ids are checked for shape here,
 * before any store sees them; the rules (existing user, not oneself, bounded list) live in
 * accounts/blockList.ts. Blocked callers are refused by the call service. See docs/accounts-api.md.
 */
import { Router } from 'express';
import { z } from 'zod';
import type { AccessTokens } from '../../auth/accessTokens.js';
import type { AccountService } from '../../accounts/accountService.js';
import type { BlockList } from '../../accounts/blockList.js';
import { ErrorCode, ServiceError } from '../../protocol/errors.js';
import { identityOf, requireUser } from './requireUser.js';

/** User ids are UUIDs (development ids `dev-<uuid>`); anything else cannot name a user. */
const userIdParam = z
  .string()
  .max(128)
  .regex(/^[A-Za-z0-9_-]+$/, 'is not a user id');

function targetOf(raw: unknown): string {
  const r = userIdParam.safeParse(raw);
  if (!r.success)
    throw new ServiceError(
      ErrorCode.InvalidParams,
      `userId: ${r.error.issues.map((i) => i.message).join('; ')}`,
    );
  return r.data;
}

export function blockRoutes(opts: {
  blocks: BlockList;
  accounts: AccountService;
  tokens: AccessTokens;
  devTokens: boolean;
}): Router {
  const { blocks } = opts;
  const router = Router();
  const auth = requireUser(opts.tokens, opts.accounts, opts.devTokens);

  router.get('/blocks', auth, async (_req, res) => {
    res.json({ blocks: await blocks.list(identityOf(res).userId) });
  });

  router.put('/blocks/:userId', auth, async (req, res) => {
    await blocks.block(identityOf(res).userId, targetOf(req.params.userId));
    res.status(204).end();
  });

  router.delete('/blocks/:userId', auth, async (req, res) => {
    await blocks.unblock(identityOf(res).userId, targetOf(req.params.userId));
    res.status(204).end();
  });

  return router;
}
