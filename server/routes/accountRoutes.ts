/**
 * /api/v1 routes for accounts: sign-in, registration, tokens, profile, photos, devices, contacts.
 * Requests are validated here with the shared schemas of protocol/accounts.ts (the SDK's AccountClient
 * is typed by the same module), and every answer is checked against its schema's type at compile
 * time; rules live in AccountService. See docs/accounts-api.md.
 */
import express, { Router, type Request, type Response } from 'express';
import type { z } from 'zod';
import type { AccessTokens } from '../../auth/accessTokens.js';
import type { AccountService, SessionView } from '../../accounts/accountService.js';
import { MAX_PHOTO_BYTES } from '../../accounts/profilePhotos.js';
import { accountRequests, type AccountResponse, type Session } from '../../protocol/accounts.js';
import { ErrorCode, ServiceError } from '../../protocol/errors.js';
import {
  clearRefreshCookie,
  refreshTokenOf,
  setRefreshCookie,
  wantsCookie,
  type RefreshCookieOptions,
} from './refreshCookie.js';
import { identityOf, requireUser } from './requireUser.js';

const schemas = accountRequests;

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
  refreshCookie: RefreshCookieOptions;
}): Router {
  const { accounts } = opts;
  const router = Router();
  const auth = requireUser(opts.tokens, accounts, opts.devTokens);

  /** A new session as answered: in cookie mode the refresh token goes into the cookie, not the JSON. */
  const deliver = (req: Request, res: Response, session: SessionView): Session => {
    if (!wantsCookie(req)) return session;
    setRefreshCookie(res, session.refreshToken, opts.refreshCookie);
    const { refreshToken: _inCookie, ...withoutRefreshToken } = session;
    return withoutRefreshToken;
  };

  router.post('/auth/code', async (req, res) => {
    const { phone: p } = parse(schemas.code, req.body);
    const sent = await accounts.requestCode(p, clientIp(req));
    res.status(202).json(sent satisfies AccountResponse['code']);
  });

  router.post('/auth/verify', async (req, res) => {
    const body = parse(schemas.verify, req.body);
    const result = await accounts.verify(
      body.phone,
      body.code,
      labelFor(req, body.deviceLabel),
      clientIp(req),
    );
    const answer =
      result.status === 'signed-in' ? { ...result, session: deliver(req, res, result.session) } : result;
    res.json(answer satisfies AccountResponse['verify']);
  });

  router.post('/auth/register', async (req, res) => {
    const body = parse(schemas.register, req.body);
    const session = await accounts.register(
      body.registrationToken,
      body.name,
      labelFor(req, body.deviceLabel),
    );
    res.status(201).json({
      status: 'signed-in',
      session: deliver(req, res, session),
    } satisfies AccountResponse['register']);
  });

  router.post('/auth/refresh', async (req, res) => {
    const body = parse(schemas.refresh, req.body);
    const fromCookie = body.refreshToken === undefined;
    const refreshToken = refreshTokenOf(req, body.refreshToken);
    let session: SessionView;
    try {
      session = await accounts.refresh(refreshToken);
    } catch (err) {
      // A dead cookie (revoked device, expired, reused) is forgotten, so the page stops presenting it.
      if (fromCookie && err instanceof ServiceError && err.status === 401)
        clearRefreshCookie(res, opts.refreshCookie);
      throw err;
    }
    res.json({ session: deliver(req, res, session) } satisfies AccountResponse['refresh']);
  });

  router.post('/auth/sign-out', auth, async (_req, res) => {
    await accounts.signOut(identityOf(res));
    clearRefreshCookie(res, opts.refreshCookie);
    res.status(204).end();
  });

  router.get('/me', auth, async (_req, res) => {
    res.json({ user: await accounts.me(identityOf(res).userId) } satisfies AccountResponse['user']);
  });

  router.patch('/me', auth, async (req, res) => {
    const { name: n } = parse(schemas.rename, req.body);
    res.json({ user: await accounts.rename(identityOf(res).userId, n) } satisfies AccountResponse['user']);
  });

  router.put(
    '/me/photo',
    auth,
    express.raw({ type: () => true, limit: MAX_PHOTO_BYTES }),
    async (req, res) => {
      if (!Buffer.isBuffer(req.body))
        throw new ServiceError(ErrorCode.UnsupportedMediaType, 'send the image bytes as the body', 415);
      const user = await accounts.setPhoto(identityOf(res).userId, req.body);
      res.json({ user } satisfies AccountResponse['user']);
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
    res.json({ devices: await accounts.devices(identityOf(res)) } satisfies AccountResponse['devices']);
  });

  router.delete('/devices/:deviceId', auth, async (req, res) => {
    await accounts.revokeDevice(identityOf(res), String(req.params.deviceId));
    res.status(204).end();
  });

  router.post('/contacts/lookup', auth, async (req, res) => {
    const { phones } = parse(schemas.contacts, req.body);
    const matches = await accounts.lookupContacts(identityOf(res).userId, phones, clientIp(req));
    res.json({ matches } satisfies AccountResponse['contacts']);
  });

  return router;
}
