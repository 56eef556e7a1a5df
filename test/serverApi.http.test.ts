/**
 * The server-to-server API (docs/server-api.md) over real HTTP against a real server, with the
 * embedded store and with Redis: an embedding messenger's backend gets access tokens for its users
 * with an API key, accounts are created once and linked to the external id, photos go through the
 * ordinary endpoint, bad keys and bad input get typed errors, the key's budget holds, the audit log
 * names key and external id but never a secret, and external and phone accounts call each other.
 */
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import { serverResponses } from '../protocol/serverApi.js';
import type { CallView } from '../protocol/signaling.js';
import { callOf, signUp, waitForCall } from './support/callTestKit.js';
import { apiClient } from './support/httpApi.js';
import { PhoneNumbers } from './support/phoneNumbers.js';
import { RawSignaling } from './support/rawSignaling.js';
import { backends, startTestService } from './support/testService.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

const MESSENGER = 'messenger:secret-of-the-messenger-backend-0123456789';
const OTHER = 'other-app:secret-of-another-embedding-backend-98765';
/** A key of its own for the budget test, so the other tests never spend its points. */
const BURST = 'burst:secret-of-the-burst-key-for-rate-limits-000';
const ROTATED = 'messenger:the-next-secret-of-the-messenger-while-rotating';
const BUDGET = 20;

/** Everything the service writes to stdout/stderr while a test runs (the audit log is JSON lines). */
function captureOutput(): { text: () => string; stop: () => void } {
  const chunks: string[] = [];
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const tap =
    (original: typeof out) =>
    (chunk: string | Uint8Array, ...rest: never[]): boolean => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return original(chunk, ...rest);
    };
  process.stdout.write = tap(out) as typeof process.stdout.write;
  process.stderr.write = tap(err) as typeof process.stderr.write;
  return {
    text: () => chunks.join(''),
    stop: () => {
      process.stdout.write = out;
      process.stderr.write = err;
    },
  };
}

describe.each(backends)('server-to-server API (%s state)', (backend) => {
  let service: Service;
  let api: ReturnType<typeof apiClient>;
  const phones = new PhoneNumbers();
  const sockets: RawSignaling[] = [];
  let capture: ReturnType<typeof captureOutput> | undefined;

  beforeAll(async () => {
    service = await startTestService(backend, {
      API_KEYS: [MESSENGER, OTHER, BURST, ROTATED].join(','),
      API_KEY_TOKENS_PER_MINUTE: String(BUDGET),
      LOG_LEVEL: 'info',
      CALL_RING_TIMEOUT_SECONDS: '10',
    });
    api = apiClient(service.url);
  });
  afterEach(() => {
    capture?.stop();
    capture = undefined;
  });
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await service?.close();
  });

  const tokenFor = (key: string, externalId: string, displayName: string) =>
    api('POST', `/api/v1/server/users/${encodeURIComponent(externalId)}/token`, {
      json: { displayName },
      token: key,
    });

  it('creates the account on first use, finds it again, renames it, and keeps key namespaces apart', async () => {
    const first = await tokenFor(MESSENGER, 'user-1001', 'Dana');
    expect(first.status).toBe(201);
    const created = serverResponses.userToken.parse(first.body);
    expect(created).toMatchObject({ created: true, user: { name: 'Dana', photo: null } });
    expect(created.user.phone).toBeUndefined();
    expect(created.accessTokenExpiresAt).toBeGreaterThan(Date.now() / 1000);

    // The token is an ordinary access token: the account API and signaling take it.
    const me = await api('GET', '/api/v1/me', { token: created.accessToken });
    expect(me.status).toBe(200);
    expect(me.body.user).toEqual({ ...created.user });
    const devices = await api('GET', '/api/v1/devices', { token: created.accessToken });
    expect(devices.body.devices).toEqual([
      expect.objectContaining({ deviceId: created.deviceId, label: 'server', current: true }),
    ]);

    // Again (and with the rotation secret of the same key id): the same account and device, renamed.
    const again = serverResponses.userToken.parse((await tokenFor(ROTATED, 'user-1001', 'Dana R.')).body);
    expect(again).toMatchObject({ created: false, deviceId: created.deviceId });
    expect(again.user).toMatchObject({ userId: created.user.userId, name: 'Dana R.' });
    expect(again.accessToken).not.toBe(created.accessToken);

    // Another key's "user-1001" is another messenger's person: another account.
    const other = await tokenFor(OTHER, 'user-1001', 'Somebody else');
    expect(other.status).toBe(201);
    expect(other.body.user.userId).not.toBe(created.user.userId);

    // Two first sign-ins racing end on one account.
    const [a, b] = await Promise.all([tokenFor(MESSENGER, 'racer', 'R'), tokenFor(MESSENGER, 'racer', 'R')]);
    expect([a.status, b.status]).toContain(201);
    expect(a.body.user.userId).toBe(b.body.user.userId);
  });

  it('takes the photo through the ordinary photo endpoint', async () => {
    const { accessToken, user } = serverResponses.userToken.parse(
      (await tokenFor(MESSENGER, 'photo-person', 'Pat')).body,
    );
    const png = await sharp({
      create: { width: 300, height: 200, channels: 3, background: { r: 200, g: 40, b: 40 } },
    })
      .png()
      .toBuffer();
    const put = await api('PUT', '/api/v1/me/photo', {
      raw: png,
      contentType: 'image/png',
      token: accessToken,
    });
    expect(put.status).toBe(200);
    expect(put.body.user.photo.etag).toEqual(expect.any(String));
    const thumb = await api('GET', `/api/v1/users/${user.userId}/photo/thumb`, { token: accessToken });
    expect(thumb.status).toBe(200);
    expect((await sharp(thumb.bytes).metadata()).format).toBe('webp');
    // The next token answer carries the photo.
    const next = await tokenFor(MESSENGER, 'photo-person', 'Pat');
    expect(next.body.user.photo.etag).toBe(put.body.user.photo.etag);
  });

  it('refuses requests without a valid key (401) and bad input (400), and never logs a secret', async () => {
    capture = captureOutput();
    const wrongSecret = 'messenger:secret-of-the-messenger-backend-0123456780';
    for (const authorization of [
      undefined,
      'Bearer ',
      `Bearer ${wrongSecret}`,
      'Bearer messenger',
      `Basic ${Buffer.from(MESSENGER).toString('base64')}`,
      `Bearer unknown:${MESSENGER.split(':')[1]}`,
    ]) {
      const res = await api('POST', '/api/v1/server/users/u1/token', {
        json: { displayName: 'X' },
        headers: authorization === undefined ? {} : { authorization },
      });
      expect(res.status, authorization).toBe(401);
      expect(res.body.error.code).toBe(ErrorCode.Unauthorized);
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
    }
    // A user's access token is not an API key.
    const userToken = (await tokenFor(MESSENGER, 'not-a-key', 'N')).body.accessToken as string;
    expect((await tokenFor(userToken, 'u1', 'X')).status).toBe(401);

    for (const [externalId, body] of [
      ['u1', {}],
      ['u1', { displayName: '   ' }],
      ['u1', { displayName: 'x'.repeat(65) }],
      ['has space', { displayName: 'X' }],
      ['x'.repeat(129), { displayName: 'X' }],
      ['slash%2Fin', { displayName: 'X' }],
    ] as const) {
      const res = await api('POST', `/api/v1/server/users/${externalId.replace(' ', '%20')}/token`, {
        json: body,
        token: MESSENGER,
      });
      expect(res.status, externalId).toBe(400);
      expect(res.body.error.code).toBe(ErrorCode.InvalidParams);
    }
    const notJson = await api('POST', '/api/v1/server/users/u1/token', {
      raw: '{"displayName":',
      contentType: 'application/json',
      token: MESSENGER,
    });
    expect(notJson.status).toBe(400);

    const audited = await tokenFor(MESSENGER, 'audited-person', 'Audrey');
    expect(audited.status).toBe(201);
    const log = capture.text();
    const lines = log
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toContainEqual(
      expect.objectContaining({
        msg: 'server api: access token issued',
        apiKeyId: 'messenger',
        externalId: 'audited-person',
        userId: audited.body.user.userId,
        accountCreated: true,
      }),
    );
    expect(lines.filter((l) => l.msg === 'server api: request refused (no valid API key)').length).toBe(7);
    for (const secret of [MESSENGER, wrongSecret, OTHER].map((k) => k.split(':')[1]!)) {
      expect(log).not.toContain(secret);
    }
  });

  it('holds each key to its budget per minute; other keys keep theirs', async () => {
    for (let i = 0; i < BUDGET; i++) expect((await tokenFor(BURST, `b${i}`, 'B')).status).toBe(201);
    const refused = await tokenFor(BURST, 'one-too-many', 'B');
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe(ErrorCode.RateLimited);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await tokenFor(OTHER, 'still-fine', 'S')).status).toBe(201);
  });

  it('lets an external account and a phone account call each other', async () => {
    const phoneUser = await signUp(service.url, phones.next(), 'Phil');
    const ext = serverResponses.userToken.parse((await tokenFor(OTHER, 'caller-7', 'Erin')).body);
    const p = await phoneUser.device('phone');
    const e = await RawSignaling.open(service.url, ext.accessToken);
    sockets.push(p, e);

    // Phone calls external.
    const invited = await p.request('callInvite', { userIds: [ext.user.userId], media: 'audio' });
    if (!invited.ok) throw new Error(JSON.stringify(invited.error));
    const { call } = invited.data as { call: CallView };
    const ring = await e.waitForNotification('callIncoming');
    expect(callOf(ring).callId).toBe(call.callId);
    expect((ring.data as { caller: { name: string } }).caller.name).toBe('Phil');
    expect((await e.request('callAccept', { callId: call.callId })).ok).toBe(true);
    await waitForCall(p, (v) => v.callId === call.callId && v.state === 'active');
    expect((await p.request('callHangup', { callId: call.callId })).ok).toBe(true);
    await waitForCall(e, (v) => v.callId === call.callId && v.state === 'ended');

    // External calls phone.
    const back = await e.request('callInvite', { userIds: [phoneUser.userId], media: 'video' });
    if (!back.ok) throw new Error(JSON.stringify(back.error));
    const second = (back.data as { call: CallView }).call;
    const ring2 = await p.waitFor(
      (f) => 'notification' in f && f.notification === 'callIncoming' && callOf(f).callId === second.callId,
    );
    expect((ring2 as { data: { caller: { name: string } } }).data.caller.name).toBe('Erin');
    expect((await p.request('callAccept', { callId: second.callId })).ok).toBe(true);
    const active = await waitForCall(e, (v) => v.callId === second.callId && v.state === 'active');
    expect(active.participants.map((x) => x.userId).sort()).toEqual(
      [ext.user.userId, phoneUser.userId].sort(),
    );
    expect((await e.request('callHangup', { callId: second.callId })).ok).toBe(true);
  });
});
