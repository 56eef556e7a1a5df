/**
 * The refresh token as an HttpOnly cookie, for the first-party web app. Script on the page (and so any
 * script injected into it) never sees the long-lived credential: the cookie is HttpOnly, SameSite=Strict,
 * scoped to the auth endpoints' path, and Secure wherever the page is served over HTTPS.
 *
 * A client opts in per request with the `X-Calling-Session: cookie` header. Sign-in answers then set the
 * cookie and leave the refresh token out of the JSON; `/auth/refresh` without a token in the body reads
 * it from the cookie. The header doubles as the CSRF check: a cross-site form or `<img>` cannot add a
 * custom header, and a cross-site `fetch` that adds one needs a CORS preflight this server never
 * grants — so a request that carries the cookie but not the header is refused. Embedders (other origins,
 * native apps) keep the refresh token in the JSON and their own TokenStore.
 */
import type { Request, Response } from 'express';
import { ErrorCode, ServiceError } from '../../protocol/errors.js';
import { REFRESH_COOKIE_NAME, SESSION_MODE_HEADER } from '../../protocol/accountLimits.js';

/** The auth endpoints: the only requests the browser attaches the cookie to. */
const COOKIE_PATH = '/api/v1/auth';

export interface RefreshCookieOptions {
  /** Mark the cookie Secure (HTTPS only). On in production by default. */
  secure: boolean;
  /** The refresh token's lifetime: the cookie ends with it. */
  maxAgeSeconds: number;
}

/** Did the client ask for the cookie transport on this request? */
export function wantsCookie(req: Request): boolean {
  return req.get(SESSION_MODE_HEADER)?.trim().toLowerCase() === 'cookie';
}

/** The refresh token the browser sent in the cookie, if any. */
export function readRefreshCookie(req: Request): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== REFRESH_COOKIE_NAME) continue;
    const value = part.slice(eq + 1).trim();
    try {
      return decodeURIComponent(value) || undefined;
    } catch {
      return undefined; // a mangled cookie is the same as none
    }
  }
  return undefined;
}

/**
 * The refresh token a `/auth/refresh` request presents: from the body (token-store clients) or from the
 * cookie, which only counts with the opt-in header (the CSRF check above).
 */
export function refreshTokenOf(req: Request, fromBody: string | undefined): string {
  if (fromBody) return fromBody;
  if (!wantsCookie(req)) {
    if (readRefreshCookie(req) !== undefined)
      throw new ServiceError(
        ErrorCode.Forbidden,
        `a refresh by cookie needs the ${SESSION_MODE_HEADER}: cookie header`,
        403,
      );
    throw new ServiceError(ErrorCode.InvalidParams, 'refreshToken: required', 400);
  }
  const cookie = readRefreshCookie(req);
  if (!cookie) throw new ServiceError(ErrorCode.Unauthorized, 'not signed in on this browser', 401);
  return cookie;
}

export function setRefreshCookie(res: Response, token: string, opts: RefreshCookieOptions): void {
  res.cookie(REFRESH_COOKIE_NAME, token, {
    httpOnly: true,
    secure: opts.secure,
    sameSite: 'strict',
    path: COOKIE_PATH,
    maxAge: opts.maxAgeSeconds * 1000,
  });
}

export function clearRefreshCookie(res: Response, opts: RefreshCookieOptions): void {
  res.clearCookie(REFRESH_COOKIE_NAME, {
    httpOnly: true,
    secure: opts.secure,
    sameSite: 'strict',
    path: COOKIE_PATH,
  });
}
