/**
 * Nothing a user registered is lost when the server and Redis restart: accounts, photos and devices
 * are in the database (PostgreSQL here, shared through the key prefix), Redis holds only what is
 * ephemeral.
 */
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { signInAccount } from './support/accountSignIn.js';
import { apiClient } from './support/httpApi.js';
import { RedisProcess } from './support/redisProcess.js';
import { startTestService } from './support/testService.js';

describe('restart with Redis AOF', () => {
  let redis: RedisProcess | undefined;
  afterAll(async () => {
    await redis?.destroy();
  });

  it('keeps users, photos and devices across a server and Redis restart', async () => {
    redis = await RedisProcess.start(['--appendonly', 'yes', '--appendfsync', 'always']);
    const env = { REDIS_URL: redis.url };
    const first = await startTestService('redis', env);
    let api = apiClient(first.url);
    const phone = '+12015550150';
    const signIn = async (label: string) => (await signInAccount(first.url, phone, 'Ana', label)).session!;
    const s1 = await signIn('laptop');
    const s2 = await signIn('phone');
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#3366cc' } })
      .png()
      .toBuffer();
    const up = await api('PUT', '/api/v1/me/photo', {
      raw: png,
      contentType: 'image/png',
      token: s1.accessToken,
    });
    const photoBefore = await api('GET', up.body.user.photo.url, { token: s1.accessToken });
    await first.close();

    await redis.restart();

    // The same key prefix a fresh deployment would use: start the second server on the same namespace.
    const second = await startTestService('redis', env, { keyPrefix: first.keyPrefix });
    try {
      api = apiClient(second.url);
      const refreshed = await api('POST', '/api/v1/auth/refresh', {
        json: { refreshToken: s2.refreshToken },
      });
      expect(refreshed.status).toBe(200);
      const token = refreshed.body.session.accessToken as string;
      const me = await api('GET', '/api/v1/me', { token });
      expect(me.body.user).toMatchObject({ userId: s1.user.userId, name: 'Ana', phone });
      const photoAfter = await api('GET', me.body.user.photo.url, { token });
      expect(photoAfter.status).toBe(200);
      expect(photoAfter.bytes.equals(photoBefore.bytes)).toBe(true);
      const devices = await api('GET', '/api/v1/devices', { token });
      expect(devices.body.devices.map((d: { label: string }) => d.label).sort()).toEqual(['laptop', 'phone']);
      // And signing in again finds the existing user rather than registering a new one.
      await api('POST', '/api/v1/auth/code', { json: { phone } });
      const again = await api('POST', '/api/v1/auth/verify', { json: { phone, code: '123456' } });
      expect(again.body.status).toBe('signed-in');
    } finally {
      await second.close();
    }
  });
});
