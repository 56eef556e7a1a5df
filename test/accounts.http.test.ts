/**
 * Phone accounts over real HTTP against a real server, with the embedded store and with Redis:
 * the whole sign-in flow, devices and refresh-token rotation, profile photos, contacts, bad input
 * and attacks.
 */
import jwt from 'jsonwebtoken';
import sharp from 'sharp';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import { signalingProtocols } from '../protocol/wsAuth.js';
import { apiClient } from './support/httpApi.js';
import { backends, startTestService } from './support/testService.js';
import { startSmsGateway } from './support/smsGateway.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
const SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';
const TEST_CODE = '123456';

function wsStatus(url: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`, signalingProtocols(token));
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', () => undefined);
  });
}

describe.each(backends)('phone accounts over HTTP (%s state)', (backend) => {
  let service: Service;
  let sms: Awaited<ReturnType<typeof startSmsGateway>>;
  let api: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    sms = await startSmsGateway();
    service = await startTestService(backend, { SMS_GATEWAY_URL: sms.url });
    api = apiClient(service.url);
  });
  afterAll(async () => {
    await service?.close();
    await sms?.close();
  });

  async function signIn(phone: string, name = 'Ann', label = 'test device') {
    expect((await api('POST', '/api/v1/auth/code', { json: { phone } })).status).toBe(202);
    const verified = await api('POST', '/api/v1/auth/verify', {
      json: { phone, code: TEST_CODE, deviceLabel: label },
    });
    expect(verified.status).toBe(200);
    if (verified.body.status === 'signed-in') return verified.body.session;
    const registered = await api('POST', '/api/v1/auth/register', {
      json: { registrationToken: verified.body.registrationToken, name, deviceLabel: label },
    });
    expect(registered.status).toBe(201);
    return registered.body.session;
  }

  it('registers, signs in on a second device, refreshes, detects a reused refresh token, revokes and signs out', async () => {
    const phone = '+1 (201) 555-0100';
    const code = await api('POST', '/api/v1/auth/code', { json: { phone } });
    expect(code.status).toBe(202);
    expect(code.body).toMatchObject({ phone: '+12015550100', expiresInSeconds: 300 });
    expect(sms.messages).toHaveLength(0); // test numbers send nothing

    const wrong = await api('POST', '/api/v1/auth/verify', { json: { phone, code: '000000' } });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toMatchObject({
      code: ErrorCode.CodeInvalid,
      message: expect.stringContaining('4 attempts left'),
      details: { attemptsLeft: '4' },
    });

    const right = await api('POST', '/api/v1/auth/verify', { json: { phone, code: TEST_CODE } });
    expect(right.body.status).toBe('registration-required');
    // The code is single use.
    expect(
      (await api('POST', '/api/v1/auth/verify', { json: { phone, code: TEST_CODE } })).body.error.code,
    ).toBe(ErrorCode.CodeExpired);
    const reg = await api('POST', '/api/v1/auth/register', {
      json: { registrationToken: right.body.registrationToken, name: '  Zoë 李  ', deviceLabel: 'laptop' },
    });
    expect(reg.status).toBe(201);
    const s1 = reg.body.session;
    expect(s1.user).toMatchObject({ name: 'Zoë 李', phone: '+12015550100', photo: null });
    // The registration token is single use too.
    const again = await api('POST', '/api/v1/auth/register', {
      json: { registrationToken: right.body.registrationToken, name: 'X' },
    });
    expect(again.body.error.code).toBe(ErrorCode.RegistrationTokenInvalid);

    const s2 = await signIn('+12015550100', 'ignored', 'phone');
    expect(s2.user.userId).toBe(s1.user.userId);
    expect(s2.deviceId).not.toBe(s1.deviceId);
    const devices = await api('GET', '/api/v1/devices', { token: s2.accessToken });
    expect(
      devices.body.devices.map((d: { label: string; current: boolean }) => [d.label, d.current]),
    ).toEqual([
      ['laptop', false],
      ['phone', true],
    ]);

    // Refresh rotates. Presenting the same token again within seconds (a race between tabs, a lost
    // answer) gets the same new refresh token back rather than looking like theft.
    const r0 = await api('POST', '/api/v1/auth/refresh', { json: { refreshToken: s1.refreshToken } });
    expect(r0.status).toBe(200);
    expect(r0.body.session.refreshToken).not.toBe(s1.refreshToken);
    const replay = await api('POST', '/api/v1/auth/refresh', { json: { refreshToken: s1.refreshToken } });
    expect(replay.status).toBe(200);
    expect(replay.body.session.refreshToken).toBe(r0.body.session.refreshToken);
    // Once the newer token has itself been rotated, the oldest one is dead: presenting it revokes the device.
    const r1 = await api('POST', '/api/v1/auth/refresh', {
      json: { refreshToken: r0.body.session.refreshToken },
    });
    expect(r1.status).toBe(200);
    expect((await api('GET', '/api/v1/me', { token: r1.body.session.accessToken })).body.user.name).toBe(
      'Zoë 李',
    );
    const reuse = await api('POST', '/api/v1/auth/refresh', { json: { refreshToken: s1.refreshToken } });
    expect(reuse.status).toBe(401);
    expect(reuse.body.error.code).toBe(ErrorCode.RefreshTokenReused);
    expect((await api('GET', '/api/v1/me', { token: r1.body.session.accessToken })).status).toBe(401);
    expect(
      (await api('POST', '/api/v1/auth/refresh', { json: { refreshToken: r1.body.session.refreshToken } }))
        .status,
    ).toBe(401);
    expect(await wsStatus(service.url, r1.body.session.accessToken)).toBe(401);

    // The second device is unaffected, then signs out.
    expect(await wsStatus(service.url, s2.accessToken)).toBe(101);
    expect((await api('GET', '/api/v1/devices', { token: s2.accessToken })).body.devices).toHaveLength(1);
    // Signing out also closes the device's open signaling connection (4003), not only future ones.
    const live = new WebSocket(`${service.url.replace('http', 'ws')}/ws`, signalingProtocols(s2.accessToken));
    await new Promise((resolve, reject) => {
      live.once('open', resolve);
      live.once('error', reject);
    });
    const closed = new Promise<number>((resolve) => live.once('close', (c) => resolve(c)));
    expect((await api('POST', '/api/v1/auth/sign-out', { token: s2.accessToken })).status).toBe(204);
    expect(await closed).toBe(4003);
    expect((await api('GET', '/api/v1/me', { token: s2.accessToken })).status).toBe(401);
    expect(
      (await api('POST', '/api/v1/auth/refresh', { json: { refreshToken: s2.refreshToken } })).body.error
        .code,
    ).toBe(ErrorCode.RefreshTokenInvalid);
  });

  it('revokes another of my devices, but not someone else’s', async () => {
    const a1 = await signIn('+12015550101', 'Ann', 'a1');
    const a2 = await signIn('+12015550101', 'Ann', 'a2');
    const b = await signIn('+12015550102', 'Bob', 'b');
    expect((await api('DELETE', `/api/v1/devices/${a1.deviceId}`, { token: b.accessToken })).status).toBe(
      404,
    );
    expect((await api('GET', '/api/v1/me', { token: a1.accessToken })).status).toBe(200);
    expect((await api('DELETE', `/api/v1/devices/${a1.deviceId}`, { token: a2.accessToken })).status).toBe(
      204,
    );
    expect((await api('GET', '/api/v1/me', { token: a1.accessToken })).status).toBe(401);
  });

  it('renames my own device (listed with its new name), not someone else’s; a bad name is a 400', async () => {
    const a1 = await signIn('+12015550140', 'Cy', 'c1');
    const a2 = await signIn('+12015550140', 'Cy', 'c2');
    const b = await signIn('+12015550141', 'Dee', 'd');
    const path = `/api/v1/devices/${a1.deviceId}`;
    expect((await api('PATCH', path, { token: b.accessToken, json: { label: 'Mine now' } })).status).toBe(
      404,
    );
    const bad = await api('PATCH', path, { token: a2.accessToken, json: { label: '   ' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe(ErrorCode.InvalidParams);
    expect(
      (await api('PATCH', path, { token: a2.accessToken, json: { label: ' Work laptop ' } })).status,
    ).toBe(204);
    const listed = (await api('GET', '/api/v1/devices', { token: a1.accessToken })).body.devices as {
      deviceId: string;
      label: string;
    }[];
    expect(listed.find((d) => d.deviceId === a1.deviceId)?.label).toBe('Work laptop');
    expect(listed.find((d) => d.deviceId === a2.deviceId)?.label).toBe('c2');
  });

  it('delivers real codes through the SMS gateway, stores only their hash, and limits resends', async () => {
    const phone = '+12025550123';
    expect((await api('POST', '/api/v1/auth/code', { json: { phone } })).status).toBe(202);
    const message = sms.messages.find((m) => m.to === phone);
    const code = /\b(\d{6})\b/.exec(message?.text ?? '')?.[1];
    expect(code).toMatch(/^\d{6}$/);
    const stored = await service.stores.verification.getCode(phone);
    expect(stored?.hash).toBeDefined();
    expect(JSON.stringify(stored)).not.toContain(code!);

    const resend = await api('POST', '/api/v1/auth/code', { json: { phone } });
    expect(resend.status).toBe(429);
    expect(resend.body.error.code).toBe(ErrorCode.RateLimited);
    expect(Number(resend.headers.get('retry-after'))).toBeGreaterThan(0);

    const ok = await api('POST', '/api/v1/auth/verify', { json: { phone, code } });
    expect(ok.body.status).toBe('registration-required');
  });

  it('locks a number after five wrong codes, even for the right one', async () => {
    const phone = '+12015550103';
    await api('POST', '/api/v1/auth/code', { json: { phone } });
    const results = [];
    for (let i = 0; i < 5; i++)
      results.push(await api('POST', '/api/v1/auth/verify', { json: { phone, code: '999999' } }));
    expect(results.slice(0, 4).map((r) => r.body.error.code)).toEqual(Array(4).fill(ErrorCode.CodeInvalid));
    expect(results[4]!.status).toBe(429);
    expect(results[4]!.body.error.code).toBe(ErrorCode.CodeLocked);
    expect(Number(results[4]!.headers.get('retry-after'))).toBeGreaterThan(60);
    const right = await api('POST', '/api/v1/auth/verify', { json: { phone, code: TEST_CODE } });
    expect(right.status).toBe(429);
    expect(right.body.error.code).toBe(ErrorCode.CodeLocked);
    const newCode = await api('POST', '/api/v1/auth/code', { json: { phone } });
    expect(newCode.body.error.code).toBe(ErrorCode.CodeLocked);
  });

  it('re-encodes profile photos to WebP renditions served with ETags to signed-in users only', async () => {
    const me = await signIn('+12015550104', 'Pia');
    const png = await sharp({
      create: { width: 800, height: 600, channels: 3, background: { r: 200, g: 30, b: 30 } },
    })
      .png()
      .toBuffer();
    const up = await api('PUT', '/api/v1/me/photo', {
      raw: png,
      contentType: 'image/png',
      token: me.accessToken,
    });
    expect(up.status).toBe(200);
    const photo = up.body.user.photo as { url: string; thumbUrl: string; etag: string };
    expect(photo.url).toContain(me.user.userId);

    const full = await api('GET', photo.url, { token: me.accessToken });
    expect(full.status).toBe(200);
    expect(full.headers.get('content-type')).toBe('image/webp');
    expect(full.headers.get('cache-control')).toBe('private, max-age=3600');
    expect(await sharp(full.bytes).metadata()).toMatchObject({ format: 'webp', width: 512, height: 512 });
    const thumb = await api('GET', photo.thumbUrl, { token: me.accessToken });
    expect(await sharp(thumb.bytes).metadata()).toMatchObject({ format: 'webp', width: 96, height: 96 });
    const etag = full.headers.get('etag')!;
    expect(
      (await api('GET', photo.url, { token: me.accessToken, headers: { 'if-none-match': etag } })).status,
    ).toBe(304);
    expect((await api('GET', photo.url)).status).toBe(401);
    const other = await signIn('+12015550105', 'Quinn');
    expect((await api('GET', photo.url, { token: other.accessToken })).status).toBe(200);
  });

  it('refuses uploads that are not images or too large, and stores nothing', async () => {
    const me = await signIn('+12015550106', 'Rae');
    const text = await api('PUT', '/api/v1/me/photo', {
      raw: Buffer.from('hello, not an image'),
      contentType: 'image/png',
      token: me.accessToken,
    });
    expect(text.status).toBe(415);
    expect(text.body.error.code).toBe(ErrorCode.UnsupportedMediaType);
    const gif = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
    expect(
      (await api('PUT', '/api/v1/me/photo', { raw: gif, contentType: 'image/gif', token: me.accessToken }))
        .status,
    ).toBe(415);
    const huge = await api('PUT', '/api/v1/me/photo', {
      raw: Buffer.alloc(6 * 1024 * 1024, 1),
      contentType: 'image/png',
      token: me.accessToken,
    });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe(ErrorCode.MessageTooLarge);
    expect((await api('GET', '/api/v1/me', { token: me.accessToken })).body.user.photo).toBeNull();
  });

  it.each([
    [
      'malformed JSON',
      () => ({ raw: '{"phone":', contentType: 'application/json' }),
      400,
      ErrorCode.MalformedMessage,
    ],
    ['a wrong type', () => ({ json: { phone: 12015550100 } }), 400, ErrorCode.InvalidParams],
    ['a missing field', () => ({ json: {} }), 400, ErrorCode.InvalidParams],
    ['an invalid number', () => ({ json: { phone: '+1 555 555 0100' } }), 400, ErrorCode.InvalidPhoneNumber],
    ['letters', () => ({ json: { phone: 'call me maybe' } }), 400, ErrorCode.InvalidPhoneNumber],
    ['an oversized body', () => ({ json: { phone: 'x'.repeat(70_000) } }), 413, ErrorCode.MessageTooLarge],
  ])('answers a code request with %s with a typed error', async (_n, body, status, code) => {
    const res = await api('POST', '/api/v1/auth/code', body());
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
  });

  it('validates verify, register and profile input', async () => {
    const me = await signIn('+12015550107', 'Sam');
    const cases: [string, string, object, string | undefined, number, string][] = [
      [
        'POST',
        '/api/v1/auth/verify',
        { phone: '+12015550107', code: '12ab56' },
        undefined,
        400,
        ErrorCode.InvalidParams,
      ],
      [
        'POST',
        '/api/v1/auth/register',
        { registrationToken: 'x'.repeat(40), name: 'A' },
        undefined,
        401,
        ErrorCode.RegistrationTokenInvalid,
      ],
      [
        'POST',
        '/api/v1/auth/register',
        { registrationToken: 'x'.repeat(40), name: '   ' },
        undefined,
        400,
        ErrorCode.InvalidParams,
      ],
      ['PATCH', '/api/v1/me', { name: 'y'.repeat(65) }, me.accessToken, 400, ErrorCode.InvalidParams],
      ['PATCH', '/api/v1/me', { name: 42 }, me.accessToken, 400, ErrorCode.InvalidParams],
      [
        'POST',
        '/api/v1/auth/refresh',
        { refreshToken: 'no-dot-in-this-token-at-all' },
        undefined,
        401,
        ErrorCode.RefreshTokenInvalid,
      ],
      [
        'POST',
        '/api/v1/contacts/lookup',
        { phones: Array(501).fill('+12015550100') },
        me.accessToken,
        400,
        ErrorCode.InvalidParams,
      ],
    ];
    for (const [method, path, json, token, status, code] of cases) {
      const res = await api(method, path, { json, token });
      expect([path, res.status, res.body.error?.code]).toEqual([path, status, code]);
    }
    const renamed = await api('PATCH', '/api/v1/me', { json: { name: 'Samuel' }, token: me.accessToken });
    expect(renamed.body.user.name).toBe('Samuel');
  });

  it('refuses forged, expired, misdirected and refresh tokens as access tokens, over HTTP and WebSocket', async () => {
    const me = await signIn('+12015550108', 'Tess');
    const claims = { sub: me.user.userId, name: 'Tess', did: me.deviceId, typ: 'access' };
    const opts = { issuer: 'calling-service', audience: 'calling-service' };
    const forged = [
      jwt.sign(claims, '', { ...opts, algorithm: 'none' }),
      jwt.sign(claims, 'k'.repeat(40), { ...opts, algorithm: 'HS256' }),
      jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 5 }, SECRET, {
        ...opts,
        algorithm: 'HS256',
      }),
      jwt.sign(claims, SECRET, { issuer: 'calling-service', audience: 'elsewhere', algorithm: 'HS256' }),
      jwt.sign({ ...claims, typ: 'refresh' }, SECRET, { ...opts, algorithm: 'HS256' }),
      me.refreshToken,
    ];
    for (const token of forged) {
      const res = await api('GET', '/api/v1/me', { token });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe(ErrorCode.Unauthorized);
      expect(await wsStatus(service.url, token)).toBe(401);
    }
    expect((await api('GET', '/api/v1/me', { token: me.accessToken })).status).toBe(200);
  });

  it('closes a signaling socket with 4001 when its access token expires', async () => {
    const token = jwt.sign(
      {
        sub: 'u-exp',
        name: 'Exp',
        did: 'd-exp',
        typ: 'access',
        dev: true,
        exp: Math.floor(Date.now() / 1000) + 2,
      },
      SECRET,
      { algorithm: 'HS256', issuer: 'calling-service', audience: 'calling-service' },
    );
    const ws = new WebSocket(`${service.url.replace('http', 'ws')}/ws`, signalingProtocols(token));
    const code = await new Promise<number>((resolve, reject) => {
      ws.once('close', (c) => resolve(c));
      ws.once('error', reject);
    });
    expect(code).toBe(4001);
  });

  it('finds registered contacts by exact number, ignoring junk and myself', async () => {
    const ann = await signIn('+12015550110', 'Ann');
    await signIn('+12015550111', 'Ben');
    await signIn('+12015550112', 'Cat');
    const res = await api('POST', '/api/v1/contacts/lookup', {
      token: ann.accessToken,
      json: {
        phones: ['+1 201 555 0111', '+12015550112', '+12015550113', '+12015550110', 'not a number', ''],
      },
    });
    expect(res.status).toBe(200);
    const matches = res.body.matches as { phone: string; user: { name: string; phone?: string } }[];
    expect(matches.map((m) => [m.phone, m.user.name]).sort()).toEqual([
      ['+12015550111', 'Ben'],
      ['+12015550112', 'Cat'],
    ]);
    expect(matches.every((m) => m.user.phone === undefined)).toBe(true);
  });
});
