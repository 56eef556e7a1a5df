/**
 * The web app's refresh token as an HttpOnly cookie, over real HTTP against a real server: the
 * cookie's flags, refresh by cookie with its CSRF header, the same rotation and reuse rules as a token
 * in the body, sign-out clearing it, and clients that keep the token themselves unaffected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import { REFRESH_COOKIE_NAME, SESSION_MODE_HEADER } from '../protocol/accountLimits.js';
import { apiClient, type ApiResponse } from './support/httpApi.js';
import { PhoneNumbers, TEST_PHONE_CODE } from './support/phoneNumbers.js';
import { startTestService } from './support/testService.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
const COOKIE_MODE = { [SESSION_MODE_HEADER]: 'cookie' };

/** The refresh cookie a response sets, with its attributes, or undefined. */
function refreshCookieOf(res: ApiResponse<unknown>): { value: string; attributes: string[] } | undefined {
  for (const line of res.headers.getSetCookie()) {
    const [pair, ...attributes] = line.split(';').map((s) => s.trim());
    const eq = pair!.indexOf('=');
    if (pair!.slice(0, eq) === REFRESH_COOKIE_NAME)
      return {
        value: decodeURIComponent(pair!.slice(eq + 1)),
        attributes: attributes.map((a) => a.toLowerCase()),
      };
  }
  return undefined;
}

const cookieHeader = (value: string): Record<string, string> => ({
  cookie: `other=1; ${REFRESH_COOKIE_NAME}=${encodeURIComponent(value)}`,
});

describe('refresh token in an HttpOnly cookie', () => {
  let service: Service;
  let api: ReturnType<typeof apiClient>;
  const phones = new PhoneNumbers(60);

  beforeAll(async () => {
    service = await startTestService('memory');
    api = apiClient(service.url);
  });
  afterAll(async () => {
    await service?.close();
  });

  async function signInWithCookie(name: string): Promise<{
    accessToken: string;
    cookie: string;
    res: ApiResponse<{ session: { refreshToken?: string; accessToken: string } }>;
  }> {
    const phone = phones.next();
    expect((await api('POST', '/api/v1/auth/code', { json: { phone } })).status).toBe(202);
    const v = await api('POST', '/api/v1/auth/verify', {
      json: { phone, code: TEST_PHONE_CODE },
      headers: COOKIE_MODE,
    });
    expect(v.status).toBe(200);
    expect(v.body.status).toBe('registration-required');
    expect(refreshCookieOf(v)).toBeUndefined();
    const r = await api<{ session: { refreshToken?: string; accessToken: string } }>(
      'POST',
      '/api/v1/auth/register',
      {
        json: { registrationToken: v.body.registrationToken, name },
        headers: COOKIE_MODE,
      },
    );
    expect(r.status).toBe(201);
    const cookie = refreshCookieOf(r);
    expect(cookie).toBeDefined();
    return { accessToken: r.body.session.accessToken, cookie: cookie!.value, res: r };
  }

  it('sets an HttpOnly, SameSite=Strict cookie on the auth path and leaves the token out of the JSON', async () => {
    const { res, cookie } = await signInWithCookie('Cookie Ana');
    expect(res.body.session.refreshToken).toBeUndefined();
    expect(res.body.session.accessToken).toEqual(expect.any(String));
    const attrs = refreshCookieOf(res)!.attributes;
    expect(attrs).toContain('httponly');
    expect(attrs).toContain('samesite=strict');
    expect(attrs).toContain('path=/api/v1/auth');
    expect(attrs.some((a) => a.startsWith('max-age='))).toBe(true);
    // Development over plain HTTP: not Secure (the browser would drop it); production turns it on.
    expect(attrs).not.toContain('secure');
    expect(cookie).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);

    // Signing in again (a known number) by verify sets a cookie for the new device as well.
    const phone = phones.next();
    await api('POST', '/api/v1/auth/code', { json: { phone } });
    const v = await api('POST', '/api/v1/auth/verify', { json: { phone, code: TEST_PHONE_CODE } });
    await api('POST', '/api/v1/auth/register', {
      json: { registrationToken: v.body.registrationToken, name: 'B' },
    });
    await api('POST', '/api/v1/auth/code', { json: { phone } });
    const again = await api('POST', '/api/v1/auth/verify', {
      json: { phone, code: TEST_PHONE_CODE },
      headers: COOKIE_MODE,
    });
    expect(again.body.status).toBe('signed-in');
    expect(again.body.session.refreshToken).toBeUndefined();
    expect(refreshCookieOf(again)?.attributes).toContain('httponly');
  });

  it('refreshes by cookie only with the custom header, rotating under the same replay rules', async () => {
    const { cookie: c0 } = await signInWithCookie('Cookie Bo');

    // The cookie alone (what a cross-site form post would carry) is refused: the header is the CSRF check.
    const forged = await api('POST', '/api/v1/auth/refresh', { json: {}, headers: cookieHeader(c0) });
    expect(forged.status).toBe(403);
    expect(forged.body.error.code).toBe(ErrorCode.Forbidden);
    // Neither a body token nor a cookie: a typed error, not a crash.
    const nothing = await api('POST', '/api/v1/auth/refresh', { json: {}, headers: COOKIE_MODE });
    expect(nothing.status).toBe(401);
    expect(nothing.body.error.code).toBe(ErrorCode.Unauthorized);

    const r1 = await api('POST', '/api/v1/auth/refresh', {
      json: {},
      headers: { ...COOKIE_MODE, ...cookieHeader(c0) },
    });
    expect(r1.status).toBe(200);
    expect(r1.body.session.refreshToken).toBeUndefined();
    const c1 = refreshCookieOf(r1)!.value;
    expect(c1).not.toBe(c0);
    expect((await api('GET', '/api/v1/me', { token: r1.body.session.accessToken })).body.user.name).toBe(
      'Cookie Bo',
    );

    // Within the grace the previous cookie gets the same answer (two tabs racing) ...
    const replay = await api('POST', '/api/v1/auth/refresh', {
      json: {},
      headers: { ...COOKIE_MODE, ...cookieHeader(c0) },
    });
    expect(replay.status).toBe(200);
    expect(refreshCookieOf(replay)!.value).toBe(c1);
    // ... but once c1 is rotated too, c0 is reuse: the device is revoked and the cookie cleared.
    const r2 = await api('POST', '/api/v1/auth/refresh', {
      json: {},
      headers: { ...COOKIE_MODE, ...cookieHeader(c1) },
    });
    expect(r2.status).toBe(200);
    const reuse = await api('POST', '/api/v1/auth/refresh', {
      json: {},
      headers: { ...COOKIE_MODE, ...cookieHeader(c0) },
    });
    expect(reuse.status).toBe(401);
    expect(reuse.body.error.code).toBe(ErrorCode.RefreshTokenReused);
    const cleared = refreshCookieOf(reuse);
    expect(cleared?.value).toBe('');
    expect(cleared?.attributes.some((a) => a.startsWith('expires=thu, 01 jan 1970'))).toBe(true);
    expect((await api('GET', '/api/v1/me', { token: r2.body.session.accessToken })).status).toBe(401);
  });

  it('sign-out clears the cookie and the token in it is dead', async () => {
    const { accessToken, cookie } = await signInWithCookie('Cookie Cy');
    const out = await api('POST', '/api/v1/auth/sign-out', { token: accessToken, headers: COOKIE_MODE });
    expect(out.status).toBe(204);
    expect(refreshCookieOf(out)?.value).toBe('');
    const after = await api('POST', '/api/v1/auth/refresh', {
      json: {},
      headers: { ...COOKIE_MODE, ...cookieHeader(cookie) },
    });
    expect(after.status).toBe(401);
  });

  it('clients that keep the refresh token themselves get it in the JSON and no cookie', async () => {
    const phone = phones.next();
    await api('POST', '/api/v1/auth/code', { json: { phone } });
    const v = await api('POST', '/api/v1/auth/verify', { json: { phone, code: TEST_PHONE_CODE } });
    const r = await api<{ session: { refreshToken?: string; accessToken: string } }>(
      'POST',
      '/api/v1/auth/register',
      {
        json: { registrationToken: v.body.registrationToken, name: 'Body' },
      },
    );
    expect(r.body.session.refreshToken).toEqual(expect.any(String));
    expect(refreshCookieOf(r)).toBeUndefined();
    const refreshed = await api('POST', '/api/v1/auth/refresh', {
      json: { refreshToken: r.body.session.refreshToken },
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.session.refreshToken).toEqual(expect.any(String));
    expect(refreshCookieOf(refreshed)).toBeUndefined();
  });

  describe('with REFRESH_COOKIE_SECURE=true', () => {
    let secure: Service;
    beforeAll(async () => {
      secure = await startTestService('memory', { REFRESH_COOKIE_SECURE: 'true' });
    });
    afterAll(async () => {
      await secure?.close();
    });

    it('marks the cookie Secure', async () => {
      const sapi = apiClient(secure.url);
      const phone = phones.next();
      await sapi('POST', '/api/v1/auth/code', { json: { phone } });
      const v = await sapi('POST', '/api/v1/auth/verify', { json: { phone, code: TEST_PHONE_CODE } });
      const r = await sapi('POST', '/api/v1/auth/register', {
        json: { registrationToken: v.body.registrationToken, name: 'Secure' },
        headers: COOKIE_MODE,
      });
      expect(refreshCookieOf(r)?.attributes).toContain('secure');
    });
  });
});
