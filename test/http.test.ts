/** The HTTP API: health, the development token endpoint, JSON errors, and the static web client. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import { startTestService } from './support/testService.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

describe('HTTP API', () => {
  let service: Service;
  const METRICS_TOKEN = 'metrics-token-for-the-http-test';
  beforeAll(async () => {
    service = await startTestService('redis', { METRICS_TOKEN });
  });
  afterAll(async () => {
    await service?.close();
  });

  const post = (path: string, body: string, type = 'application/json'): Promise<Response> =>
    fetch(`${service.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body });

  it('reports health of the state store and every worker to operators', async () => {
    const res = await fetch(`${service.url}/healthz`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      status: string;
      state: { kind: string; ok: boolean };
      workers: { pid: number; ok: boolean }[];
    };
    expect(body.status).toBe('ok');
    expect(body.state).toEqual({ kind: 'redis', ok: true });
    expect(body.workers).toHaveLength(1);
    expect(body.workers[0]!.ok).toBe(true);
    expect(body.workers[0]!.pid).toBeGreaterThan(0);
  });

  it('issues a development token that verifies', async () => {
    const res = await post('/api/v1/dev/token', JSON.stringify({ displayName: '  Zoë  ' }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { token: string; displayName: string };
    expect(body.displayName).toBe('Zoë');
    expect(service.tokens.verify(body.token).displayName).toBe('Zoë');
  });

  it.each([
    ['malformed JSON', '{"displayName":', 400, ErrorCode.MalformedMessage],
    ['a wrong type', JSON.stringify({ displayName: 7 }), 400, ErrorCode.InvalidParams],
    ['a missing field', JSON.stringify({}), 400, ErrorCode.InvalidParams],
    ['an empty name', JSON.stringify({ displayName: '   ' }), 400, ErrorCode.InvalidParams],
    [
      'an oversized body',
      JSON.stringify({ displayName: 'x'.repeat(70_000) }),
      413,
      ErrorCode.MessageTooLarge,
    ],
  ])('answers %s with a typed JSON error', async (_name, body, status, code) => {
    const res = await post('/api/v1/dev/token', body);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
  });

  it('answers unknown API paths with JSON 404', async () => {
    const res = await fetch(`${service.url}/api/v1/nothing`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(ErrorCode.NotFound);
  });

  it('serves the web client', async () => {
    const res = await fetch(`${service.url}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('id="joinForm"');
  });
});

describe('HTTP API in production mode', () => {
  let service: Service;
  beforeAll(async () => {
    service = await startTestService('memory', {
      NODE_ENV: 'production',
      SMS_GATEWAY_URL: 'http://127.0.0.1:9/sms',
      METRICS_TOKEN: 'metrics-token-for-the-http-test',
    });
  });
  afterAll(async () => {
    await service?.close();
  });

  it('has no development token endpoint', async () => {
    const res = await fetch(`${service.url}/api/v1/dev/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ displayName: 'Eve' }),
    });
    expect(res.status).toBe(404);
  });
});
