/**
 * The HTTP API: health, the development token endpoint, and the web client's static files, all
 * behind the browser hardening headers (server/securityHeaders.ts). Every error leaves as JSON
 * `{ error: { code, message } }` with a matching status.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import express, { type ErrorRequestHandler, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { AccessTokens } from '../auth/accessTokens.js';
import type { AccountService } from '../accounts/accountService.js';
import { accountRoutes } from './routes/accountRoutes.js';
import { blockRoutes } from './routes/blockRoutes.js';
import type { BlockList } from '../accounts/blockList.js';
import { ErrorCode, ServiceError, unavailableError } from '../protocol/errors.js';
import { StoreUnavailableError } from '../state/storeUnavailableError.js';
import { displayNameSchema } from '../protocol/signaling.js';
import type { Logger } from '../lib/logger.js';
import type { TrustProxy } from './config.js';
import type { RefreshCookieOptions } from './routes/refreshCookie.js';
import { observabilityRoutes, type HealthReport } from './observabilityRoutes.js';
import { securityHeaders } from './securityHeaders.js';

export type { HealthReport } from './observabilityRoutes.js';

export interface HttpAppOptions {
  tokens: AccessTokens;
  accounts: AccountService;
  blocks: BlockList;
  devTokens: boolean;
  /** The web app's HttpOnly refresh-token cookie (server/routes/refreshCookie.ts). */
  refreshCookie: RefreshCookieOptions;
  health: () => Promise<HealthReport>;
  metrics: Registry;
  metricsToken: string | undefined;
  /** False when /metrics lives on the private METRICS_PORT listener instead. */
  serveMetrics: boolean;
  trustProxy: TrustProxy;
  frameAncestors: string[];
  production: boolean;
  clientDir: string;
  log: Logger;
}

const devTokenRequest = z.object({ displayName: displayNameSchema });

export function createHttpApp(opts: HttpAppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // req.ip is the client behind our trusted proxies only; per-IP limits read it.
  app.set('trust proxy', opts.trustProxy);
  app.use(securityHeaders({ frameAncestors: opts.frameAncestors, production: opts.production }));
  app.use(express.json({ limit: '64kb' }));

  app.use(
    observabilityRoutes({
      health: opts.health,
      metrics: opts.metrics,
      metricsToken: opts.metricsToken,
      serveMetrics: opts.serveMetrics,
      privateListener: false,
    }),
  );

  if (opts.devTokens) {
    // Development only (refused in production by config): anyone can mint a token for any name.
    app.post('/api/v1/dev/token', (req, res) => {
      const parsed = devTokenRequest.safeParse(req.body);
      if (!parsed.success) {
        throw new ServiceError(
          ErrorCode.InvalidParams,
          parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
        );
      }
      const userId = `dev-${randomUUID()}`;
      const { token, expiresAt } = opts.tokens.issue({
        userId,
        displayName: parsed.data.displayName,
        dev: true,
      });
      res.json({ token, userId, displayName: parsed.data.displayName, expiresAt });
    });
  }

  app.use(
    '/api/v1',
    accountRoutes({
      accounts: opts.accounts,
      tokens: opts.tokens,
      devTokens: opts.devTokens,
      refreshCookie: opts.refreshCookie,
    }),
  );
  app.use('/api/v1', blockRoutes({ ...opts, blocks: opts.blocks }));

  app.use('/api', (_req, _res) => {
    throw new ServiceError(ErrorCode.NotFound, 'no such endpoint', 404);
  });

  if (existsSync(opts.clientDir)) {
    app.use(express.static(opts.clientDir, { index: 'index.html', maxAge: 0 }));
  } else {
    opts.log.warn('web client not built; run `npm run build:client`', { clientDir: opts.clientDir });
  }

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: { code: ErrorCode.NotFound, message: 'not found' } });
  });

  const onError: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
    const e = httpError(err);
    if (e.status >= 500 && e.code === ErrorCode.Internal)
      opts.log.error('http request failed', { error: err });
    if (e.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(e.retryAfterSeconds));
    res.status(e.status).json({ error: e.toBody() });
  };
  app.use(onError);
  return app;
}

/** The private listener's app (METRICS_PORT): /metrics and detailed /healthz, nothing else. */
export function createMetricsApp(opts: {
  health: () => Promise<HealthReport>;
  metrics: Registry;
  metricsToken: string | undefined;
  log: Logger;
}): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(observabilityRoutes({ ...opts, serveMetrics: true, privateListener: true }));
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: { code: ErrorCode.NotFound, message: 'not found' } });
  });
  const onError: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
    const e = httpError(err);
    if (e.status >= 500 && e.code === ErrorCode.Internal)
      opts.log.error('metrics request failed', { error: err });
    res.status(e.status).json({ error: e.toBody() });
  };
  app.use(onError);
  return app;
}

function httpError(err: unknown): ServiceError {
  if (err instanceof ServiceError) return err;
  // Not a bug: the state store is briefly out of reach (its connection logs the outage once).
  if (err instanceof StoreUnavailableError) return unavailableError(err.retryAfterMs);
  // body-parser marks its errors with `type` and a 4xx status.
  const e = err as { type?: string; status?: number; message?: string };
  if (e.type === 'entity.too.large')
    return new ServiceError(ErrorCode.MessageTooLarge, 'request body too large', 413);
  if (e.type === 'entity.parse.failed')
    return new ServiceError(ErrorCode.MalformedMessage, 'body is not valid JSON', 400);
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return new ServiceError(ErrorCode.BadRequest, e.message ?? 'bad request', e.status);
  }
  return new ServiceError(ErrorCode.Internal, 'internal error', 500);
}
