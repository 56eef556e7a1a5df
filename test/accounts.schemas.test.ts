/**
 * The shared accounts schemas (protocol/accounts.ts) hold for what the real server answers — the SDK
 * only imports their types, so this is where a drift between routes and schemas would show — and the
 * SDK's AccountClient reads a wrong code's remaining attempts from the error's details.
 */
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountClient, ApiError } from '../client/sdk/accountClient.js';
import { accountResponses, errorResponseSchema } from '../protocol/accounts.js';
import { TEST_CODE, signInAccount } from './support/accountSignIn.js';
import { apiClient } from './support/httpApi.js';
import { startTestService } from './support/testService.js';

describe('accounts API answers match the shared schemas', () => {
  let service: Awaited<ReturnType<typeof startTestService>>;
  beforeAll(async () => {
    service = await startTestService('memory');
  });
  afterAll(async () => {
    await service?.close();
  });

  it('every answer of a sign-up, profile, device and contact flow parses with its schema', async () => {
    const api = apiClient(service.url);
    const phone = '+12015550180';
    const code = await api('POST', '/api/v1/auth/code', { json: { phone } });
    expect(code.status).toBe(202);
    accountResponses.code.parse(code.body);
    const verify = await api('POST', '/api/v1/auth/verify', { json: { phone, code: TEST_CODE } });
    const verified = accountResponses.verify.parse(verify.body);
    expect(verified.status).toBe('registration-required');
    if (verified.status !== 'registration-required') return;
    const register = await api('POST', '/api/v1/auth/register', {
      json: { registrationToken: verified.registrationToken, name: 'Schema' },
    });
    expect(register.status).toBe(201);
    const { session } = accountResponses.register.parse(register.body);
    const token = session.accessToken;
    expect((await api('POST', '/api/v1/auth/code', { json: { phone } })).status).toBe(202);
    const again = await api('POST', '/api/v1/auth/verify', {
      json: { phone, code: TEST_CODE },
    });
    expect(accountResponses.verify.parse(again.body).status).toBe('signed-in');
    accountResponses.refresh.parse(
      (await api('POST', '/api/v1/auth/refresh', { json: { refreshToken: session.refreshToken } })).body,
    );
    accountResponses.user.parse((await api('GET', '/api/v1/me', { token })).body);
    accountResponses.user.parse(
      (await api('PATCH', '/api/v1/me', { json: { name: 'Schema 2' }, token })).body,
    );
    const png = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#112233' } })
      .png()
      .toBuffer();
    const photo = accountResponses.user.parse(
      (await api('PUT', '/api/v1/me/photo', { raw: png, contentType: 'image/png', token })).body,
    );
    expect(photo.user.photo).not.toBeNull();
    accountResponses.devices.parse((await api('GET', '/api/v1/devices', { token })).body);
    const other = await signInAccount(service.url, '+12015550181', 'Other');
    const contacts = accountResponses.contacts.parse(
      (await api('POST', '/api/v1/contacts/lookup', { json: { phones: ['+12015550181'] }, token })).body,
    );
    expect(contacts.matches.map((m) => m.user.userId)).toEqual([other.user!.userId]);
    const bad = await api('POST', '/api/v1/auth/code', { json: { phone: 42 } });
    expect(bad.status).toBe(400);
    expect(errorResponseSchema.parse(bad.body).error.code).toBe('INVALID_PARAMS');
  });

  it('AccountClient reads the attempts left after a wrong code from error.details', async () => {
    const account = new AccountClient({ baseUrl: service.url, autoRefresh: false });
    const { phone } = await account.requestCode('+12015550182');
    const wrong = await account.verify(phone, '000000').catch((err: unknown) => err);
    expect(wrong).toBeInstanceOf(ApiError);
    expect(wrong).toMatchObject({ code: 'CODE_INVALID', status: 400, attemptsLeft: 4 });
    expect((wrong as ApiError).details).toEqual({ attemptsLeft: '4' });
  });
});
