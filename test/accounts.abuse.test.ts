/**
 * Abuse limits of sign-in and contact discovery over real HTTP, with the embedded store and with
 * Redis. Clients are told apart by X-Forwarded-For behind TRUST_PROXY=loopback, as a load balancer
 * would name them. The attacks: a stranger locking the owner's number with wrong codes or by spending
 * its resend budget, and enumerating or watching numbers through contacts lookup.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import { apiClient } from './support/httpApi.js';
import { startSmsGateway, type SmsGateway } from './support/smsGateway.js';
import { backends, startTestService } from './support/testService.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
const TEST_CODE = '123456';
const OWNER_IP = '198.51.100.7';
const STRANGER_IPS = ['203.0.113.9', '203.0.113.10', '203.0.113.11', '2001:db8:1:2::9'];

describe.each(backends)('abuse limits (%s state)', (backend) => {
  let service: Service;
  let sms: SmsGateway;
  let api: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    sms = await startSmsGateway();
    service = await startTestService(backend, {
      SMS_GATEWAY_URL: sms.url,
      TRUST_PROXY: 'loopback',
      CONTACTS_DAILY_NEW_NUMBERS_PER_USER: '6',
      CONTACTS_DAILY_NEW_NUMBERS_PER_IP: '10',
      CONTACTS_DAILY_REQUESTERS_PER_NUMBER: '2',
    });
    api = apiClient(service.url);
  });
  afterAll(async () => {
    await service?.close();
    await sms?.close();
  });

  const from = (ip: string) => ({ 'x-forwarded-for': ip });
  const requestCode = (phone: string, ip: string) =>
    api('POST', '/api/v1/auth/code', { json: { phone }, headers: from(ip) });
  const verify = (phone: string, code: string, ip: string) =>
    api('POST', '/api/v1/auth/verify', { json: { phone, code }, headers: from(ip) });

  /** Signs a test number in (registering it if new) from `ip`; returns the access token. */
  async function signIn(phone: string, ip: string, name = 'Ann'): Promise<string> {
    expect((await requestCode(phone, ip)).status).toBe(202);
    const verified = await verify(phone, TEST_CODE, ip);
    expect(verified.status).toBe(200);
    if (verified.body.status === 'signed-in') return verified.body.session.accessToken as string;
    const registered = await api('POST', '/api/v1/auth/register', {
      json: { registrationToken: verified.body.registrationToken, name },
      headers: from(ip),
    });
    expect(registered.status).toBe(201);
    return registered.body.session.accessToken as string;
  }

  async function abuseCounter(limit: string): Promise<number> {
    const text = await (await fetch(`${service.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`calling_abuse_limited_total{limit="${limit}"}`));
    return line ? Number(line.split(' ').at(-1)) : 0;
  }

  it("locks only the stranger who guesses wrong codes, never the owner's sign-in", async () => {
    const phone = '+12025550140';
    const stranger = STRANGER_IPS[0]!;
    const before = await abuseCounter('verify-fail');
    const tries = [];
    for (let i = 0; i < 5; i++) tries.push(await verify(phone, '999999', stranger));
    // No live code yet: guesses answer CODE_EXPIRED and count nothing.
    expect(tries.map((r) => r.body.error.code)).toEqual(Array(5).fill(ErrorCode.CodeExpired));

    expect((await requestCode(phone, OWNER_IP)).status).toBe(202);
    const code = sms.lastCode(phone)!;
    expect(code).toMatch(/^\d{6}$/);
    const wrong = code === '999999' ? '999998' : '999999';
    const guesses = [];
    for (let i = 0; i < 5; i++) guesses.push(await verify(phone, wrong, stranger));
    expect(guesses.slice(0, 4).map((r) => r.body.error.details?.attemptsLeft)).toEqual(['4', '3', '2', '1']);
    expect(guesses[4]!.status).toBe(429);
    expect(guesses[4]!.body.error.code).toBe(ErrorCode.CodeLocked);
    expect(Number(guesses[4]!.headers.get('retry-after'))).toBeGreaterThan(800);
    // The stranger stays locked, even with the right code, and may not replace the owner's code.
    expect((await verify(phone, code, stranger)).body.error.code).toBe(ErrorCode.CodeLocked);
    expect((await requestCode(phone, stranger)).body.error.code).toBe(ErrorCode.CodeLocked);
    expect(await abuseCounter('verify-fail')).toBe(before + 1);

    // The owner, on another address, signs in with the code they got.
    const owner = await verify(phone, code, OWNER_IP);
    expect(owner.status).toBe(200);
    expect(owner.body.status).toBe('registration-required');
  });

  it('counts an IPv6 client as its /64, so rotating addresses inside it buys no more guesses', async () => {
    const phone = '+12015550150';
    await requestCode(phone, OWNER_IP);
    const results = [];
    for (let i = 1; i <= 5; i++) results.push(await verify(phone, '000000', `2001:db8:aa:bb::${i}`));
    expect(results.at(-1)!.body.error.code).toBe(ErrorCode.CodeLocked);
    expect((await verify(phone, TEST_CODE, '2001:db8:aa:bb:ffff::1')).body.error.code).toBe(
      ErrorCode.CodeLocked,
    );
    expect((await verify(phone, TEST_CODE, OWNER_IP)).status).toBe(200);
  });

  it('lets the owner request a code within their own resend budget while a stranger spends theirs', async () => {
    const phone = '+12025550141';
    const stranger = STRANGER_IPS[1]!;
    expect((await requestCode(phone, stranger)).status).toBe(202);
    const again = await requestCode(phone, stranger);
    expect(again.status).toBe(429);
    expect(again.body.error.code).toBe(ErrorCode.RateLimited);
    expect(Number(again.headers.get('retry-after'))).toBeGreaterThan(0);

    expect((await requestCode(phone, OWNER_IP)).status).toBe(202);
    const signedIn = await verify(phone, sms.lastCode(phone)!, OWNER_IP);
    expect(signedIn.body.status).toBe('registration-required');
  });

  it('kills a code after 20 wrong guesses from all clients together (distributed guessing)', async () => {
    const phone = '+12025550142';
    expect((await requestCode(phone, OWNER_IP)).status).toBe(202);
    const code = sms.lastCode(phone)!;
    const wrong = code === '999999' ? '999998' : '999999';
    for (const ip of STRANGER_IPS) {
      for (let i = 0; i < 5; i++) await verify(phone, wrong, ip);
    }
    const owner = await verify(phone, code, OWNER_IP);
    expect(owner.body.error.code).toBe(ErrorCode.CodeExpired);
  });

  it('charges contact lookups per new number per day, per account and per address', async () => {
    const client = '192.0.2.50';
    const token = await signIn('+12015550160', client);
    const batch = ['+12025550170', '+12025550171', '+12025550172', '+12025550173'];
    const lookup = (phones: string[], t = token, ip = client) =>
      api('POST', '/api/v1/contacts/lookup', { json: { phones }, token: t, headers: from(ip) });
    expect((await lookup(batch)).status).toBe(200);
    // Asking again about the same numbers is free (a periodic address-book sync).
    expect((await lookup(batch)).status).toBe(200);
    expect((await lookup([...batch, '+12025550174', '+12025550175'])).status).toBe(200);
    const before = await abuseCounter('contacts-new-user');
    const over = await lookup(['+12025550176']);
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe(ErrorCode.RateLimited);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(3600);
    expect(await abuseCounter('contacts-new-user')).toBe(before + 1);
    // The refused number did not become "already asked": it is still refused.
    expect((await lookup(['+12025550176'])).status).toBe(429);

    // A second account behind the same address shares the address's quota (10, 6 already spent).
    const token2 = await signIn('+12015550161', client);
    const fresh = ['+12025550180', '+12025550181', '+12025550182', '+12025550183'];
    expect((await lookup(fresh, token2)).status).toBe(200);
    const ipOver = await lookup(['+12025550184'], token2);
    expect(ipOver.status).toBe(429);
    expect(await abuseCounter('contacts-new-ip')).toBeGreaterThan(0);
    // From another address the same account still has quota left.
    expect((await lookup(['+12025550184'], token2, '192.0.2.51')).status).toBe(200);
  });

  it('withholds a number that too many accounts asked about today', async () => {
    const target = '+12015550170';
    await signIn(target, '192.0.2.60', 'Target');
    const askers = await Promise.all(
      ['+12015550171', '+12015550172', '+12015550173'].map((p, i) => signIn(p, `192.0.2.${61 + i}`)),
    );
    const ask = (token: string, i: number) =>
      api('POST', '/api/v1/contacts/lookup', {
        json: { phones: [target] },
        token,
        headers: from(`192.0.2.${61 + i}`),
      });
    expect((await ask(askers[0]!, 0)).body.matches).toHaveLength(1);
    expect((await ask(askers[1]!, 1)).body.matches).toHaveLength(1);
    const before = await abuseCounter('contacts-number');
    // The third distinct account today: the number now reads as unknown, to everyone.
    expect((await ask(askers[2]!, 2)).body.matches).toEqual([]);
    expect((await ask(askers[0]!, 0)).body.matches).toEqual([]);
    expect(await abuseCounter('contacts-number')).toBe(before + 2);
  });
});

describe('client addresses without TRUST_PROXY', () => {
  let service: Service;
  beforeAll(async () => {
    service = await startTestService('memory', { CONTACTS_DAILY_NEW_NUMBERS_PER_IP: '2' });
  });
  afterAll(async () => {
    await service?.close();
  });

  it('ignores a forged X-Forwarded-For, so per-address quotas cannot be walked around', async () => {
    const api = apiClient(service.url);
    const code = await api('POST', '/api/v1/auth/code', { json: { phone: '+12015550180' } });
    expect(code.status).toBe(202);
    const verified = await api('POST', '/api/v1/auth/verify', {
      json: { phone: '+12015550180', code: TEST_CODE },
    });
    const reg = await api('POST', '/api/v1/auth/register', {
      json: { registrationToken: verified.body.registrationToken, name: 'Eve' },
    });
    const token = reg.body.session.accessToken as string;
    const lookup = (phone: string, forged: string) =>
      api('POST', '/api/v1/contacts/lookup', {
        json: { phones: [phone] },
        token,
        headers: { 'x-forwarded-for': forged },
      });
    expect((await lookup('+12025550190', '198.51.100.1')).status).toBe(200);
    expect((await lookup('+12025550191', '198.51.100.2')).status).toBe(200);
    expect((await lookup('+12025550192', '198.51.100.3')).status).toBe(429);
  });
});
