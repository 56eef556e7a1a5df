/**
 * /api/v1 routes for accounts: sign-in, registration, tokens, profile, photos, devices, contacts.
 * Shapes are validated here with schemas; rules live in AccountService. See docs/accounts-api.md.
 */
import express, { Router, type Request } from 'express';
import { z } from 'zod';
import type { AccessTokens } from '../../auth/accessTokens.js';
import type { AccountService } from '../../accounts/accountService.js';
import { MAX_PHOTO_BYTES } from '../../accounts/profilePhotos.js';
import { ErrorCode, ServiceError } from '../../protocol/errors.js';
import { identityOf, requireUser } from './requireUser.js';

const phone = z.string().trim().min(3).max(32);
const name = z.string().trim().min(1, 'must not be empty').max(64);
const deviceLabel = z.string().trim().min(1).max(64).optional();
const schemas = {
  code: z.object({ phone }),
  verify: z.object({ phone, code: z.string().regex(/^\d{6}$/, 'must be 6 digits'), deviceLabel }),
  register: z.object({ registrationToken: z.string().min(16).max(128), name, deviceLabel }),
  refresh: z.object({ refreshToken: z.string().min(16).max(256) }),
  rename: z.object({ name }),
  contacts: z.object({ phones: z.array(z.string().max(32)).max(500) }),
};

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body ?? {});
  if (!r.success) {
    throw new ServiceError(
      ErrorCode.InvalidParams,
      r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
    );
  }
  return r.data;
}

/** The client's address as express resolved it (TRUST_PROXY decides whether X-Forwarded-For counts). */
function clientIp(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

function labelFor(req: Request, given: string | undefined): string {
  return given ?? (req.headers['user-agent'] ?? 'unknown device').slice(0, 64);
}

export function accountRoutes(opts: {
  accounts: AccountService;
  tokens: AccessTokens;
  devTokens: boolean;
}): Router {
  const { accounts } = opts;
  const router = Router();
  const auth = requireUser(opts.tokens, accounts, opts.devTokens);

  router.post('/auth/code', async (req, res) => {
    const { phone: p } = parse(schemas.code, req.body);
    res.status(202).json(await accounts.requestCode(p, clientIp(req)));
  });

  router.post('/auth/verify', async (req, res) => {
    const body = parse(schemas.verify, req.body);
    res.json(await accounts.verify(body.phone, body.code, labelFor(req, body.deviceLabel), clientIp(req)));
  });

  router.post('/auth/register', async (req, res) => {
    const body = parse(schemas.register, req.body);
    const session = await accounts.register(
      body.registrationToken,
      body.name,
      labelFor(req, body.deviceLabel),
    );
    res.status(201).json({ status: 'signed-in', session });
  });

  router.post('/auth/refresh', async (req, res) => {
    const { refreshToken } = parse(schemas.refresh, req.body);
    res.json({ session: await accounts.refresh(refreshToken) });
  });

  router.post('/auth/sign-out', auth, async (_req, res) => {
    await accounts.signOut(identityOf(res));
    res.status(204).end();
  });

  router.get('/me', auth, async (_req, res) => {
    res.json({ user: await accounts.me(identityOf(res).userId) });
  });

  router.patch('/me', auth, async (req, res) => {
    const { name: n } = parse(schemas.rename, req.body);
    res.json({ user: await accounts.rename(identityOf(res).userId, n) });
  });

  router.put(
    '/me/photo',
    auth,
    express.raw({ type: () => true, limit: MAX_PHOTO_BYTES }),
    async (req, res) => {
      if (!Buffer.isBuffer(req.body))
        throw new ServiceError(ErrorCode.UnsupportedMediaType, 'send the image bytes as the body', 415);
      res.json({ user: await accounts.setPhoto(identityOf(res).userId, req.body) });
    },
  );

  for (const [path, size] of [
    ['/users/:userId/photo', 'full'],
    ['/users/:userId/photo/thumb', 'thumb'],
  ] as const) {
    router.get(path, auth, async (req, res) => {
      const photo = await accounts.photo(String(req.params.userId), size);
      const etag = `"${photo.etag}"`;
      res.setHeader('ETag', etag);
      res.setHeader('Cache-Control', 'private, max-age=3600');
      if (req.headers['if-none-match'] === etag) {
        res.status(304).end();
        return;
      }
      res.type('image/webp').send(photo.data);
    });
  }

  router.get('/devices', auth, async (_req, res) => {
    res.json({ devices: await accounts.devices(identityOf(res)) });
  });

  router.delete('/devices/:deviceId', auth, async (req, res) => {
    await accounts.revokeDevice(identityOf(res), String(req.params.deviceId));
    res.status(204).end();
  });

  router.post('/contacts/lookup', auth, async (req, res) => {
    const { phones } = parse(schemas.contacts, req.body);
    res.json({ matches: await accounts.lookupContacts(identityOf(res).userId, phones, clientIp(req)) });
  });

  return router;
}
