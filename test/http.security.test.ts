/**
 * The HTTP edge as an attacker and an operator see it, against a real server: hardening headers on
 * the page, static files and API answers; what anonymous /healthz tells; /metrics behind a token or
 * on a private listener; the token compared in constant time; the start-up warning when development
 * features listen beyond loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerMatches, secretsEqual } from '../auth/constantTime.js';
import { loadConfig } from '../server/config.js';
import { startCallingService } from '../server/callingService.js';
import type { Logger } from '../lib/logger.js';
import { ErrorCode } from '../protocol/errors.js';
import { startTestService } from './support/testService.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
const TOKEN = 'operator-metrics-token-0123456789';

function csp(res: Response): Map<string, string> {
  const header = res.headers.get('content-security-policy') ?? '';
  return new Map(
    header
      .split(';')
      .map((d) => d.trim())
      .filter(Boolean)
      .map((d) => {
        const [name = '', ...values] = d.split(/\s+/);
        return [name, values.join(' ')] as const;
      }),
  );
}

describe('hardening headers', () => {
  let service: Service;
  beforeAll(async () => {
    service = await startTestService('memory', { METRICS_TOKEN: TOKEN });
  });
  afterAll(async () => {
    await service?.close();
  });

  it.each([
    ['the page', '/', 200],
    ['a script', '/app.js', 200],
    ['an API answer', '/api/v1/me', 401],
    ['an API 404', '/api/v1/nothing', 404],
    ['health', '/healthz', 200],
  ])('sends them on %s', async (_what, path, status) => {
    const res = await fetch(`${service.url}${path}`);
    expect(res.status).toBe(status);
    const policy = csp(res);
    expect(policy.get('default-src')).toBe("'self'");
    expect(policy.get('script-src')).toBe("'self'");
    expect(policy.get('style-src')).toBe("'self'");
    expect(policy.get('connect-src')).toBe("'self' blob: ws: wss:");
    expect(policy.get('object-src')).toBe("'none'");
    expect(policy.get('base-uri')).toBe("'none'");
    expect(policy.get('frame-ancestors')).toBe("'none'");
    expect(res.headers.get('content-security-policy')).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(res.headers.get('cross-origin-resource-policy')).toBe('same-origin');
    expect(res.headers.get('x-powered-by')).toBeNull();
    // Plain-http development must stay reachable: no HSTS outside production.
    expect(res.headers.get('strict-transport-security')).toBeNull();
  });

  it('serves a page with no inline script or style attribute', async () => {
    const html = await (await fetch(`${service.url}/`)).text();
    expect(html).toMatch(/<script type="module" src="app\.js"><\/script>/);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\son[a-z]+=|\sstyle=|<style/i);
  });
});

describe('hardening headers for an embedding messenger', () => {
  let service: Service;
  beforeAll(async () => {
    service = await startTestService('memory', {
      FRAME_ANCESTORS: 'https://messenger.example https://*.messenger.example',
    });
  });
  afterAll(async () => {
    await service?.close();
  });

  it('lets only the named origins frame the page and drops X-Frame-Options', async () => {
    const res = await fetch(`${service.url}/`);
    expect(csp(res).get('frame-ancestors')).toBe('https://messenger.example https://*.messenger.example');
    expect(res.headers.get('x-frame-options')).toBeNull();
  });
});

describe('health and metrics exposure', () => {
  let service: Service;
  beforeAll(async () => {
    service = await startTestService('memory', { METRICS_TOKEN: TOKEN });
  });
  afterAll(async () => {
    await service?.close();
  });

  it('tells anonymous callers only the status', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token', `Bearer ${TOKEN}x`, TOKEN]) {
      const res = await fetch(`${service.url}/healthz`, {
        headers: authorization ? { authorization } : {},
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
    }
  });

  it('gives operators the details with the metrics token', async () => {
    const res = await fetch(`${service.url}/healthz`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const body = (await res.json()) as { status: string; nodeId: string; workers: { pid: number }[] };
    expect(body.status).toBe('ok');
    expect(body.nodeId).toEqual(expect.any(String));
    expect(body.workers[0]!.pid).toBeGreaterThan(0);
  });

  it('serves /metrics only with the token', async () => {
    for (const authorization of [
      undefined,
      'Bearer nope',
      `Bearer ${TOKEN.slice(0, -1)}`,
      `bearer ${TOKEN}`,
    ]) {
      const res = await fetch(`${service.url}/metrics`, { headers: authorization ? { authorization } : {} });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(ErrorCode.Unauthorized);
    }
    const ok = await fetch(`${service.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('calling_websocket_connections');
  });
});

describe('metrics on a private listener in production', () => {
  let service: Service;
  beforeAll(async () => {
    service = await startTestService('memory', {
      NODE_ENV: 'production',
      SMS_GATEWAY_URL: 'http://127.0.0.1:9/sms',
      METRICS_PORT: '0',
    });
  });
  afterAll(async () => {
    await service?.close();
  });

  it('keeps /metrics off the public port and serves it with health details privately', async () => {
    const pub = await fetch(`${service.url}/metrics`);
    expect(pub.status).toBe(404);
    expect(await (await fetch(`${service.url}/healthz`)).json()).toEqual({ status: 'ok' });

    expect(service.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(service.metricsUrl).not.toBe(service.url);
    const metrics = await fetch(`${service.metricsUrl}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('calling_abuse_limited_total');
    const health = (await (await fetch(`${service.metricsUrl}/healthz`)).json()) as { nodeId?: string };
    expect(health.nodeId).toEqual(expect.any(String));
    // The private listener is for operators only: no API, no page.
    expect((await fetch(`${service.metricsUrl}/`)).status).toBe(404);
    expect((await fetch(`${service.metricsUrl}/api/v1/me`)).status).toBe(404);
  });

  it('sends HSTS and allows only TLS WebSockets in production', async () => {
    const res = await fetch(`${service.url}/healthz`);
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=31536000/);
    expect(csp(res).get('connect-src')).toBe("'self' blob: wss:");
  });
});

describe('constant-time token comparison', () => {
  it('accepts exactly the configured token', () => {
    expect(secretsEqual(TOKEN, TOKEN)).toBe(true);
    expect(secretsEqual(`${TOKEN}x`, TOKEN)).toBe(false);
    expect(secretsEqual('', TOKEN)).toBe(false);
    expect(bearerMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    expect(bearerMatches(TOKEN, TOKEN)).toBe(false);
    expect(bearerMatches(undefined, TOKEN)).toBe(false);
    expect(bearerMatches('Bearer ', '')).toBe(false);
  });
});

describe('start-up warning', () => {
  function recordingLogger(
    lines: { level: string; msg: string; fields?: Record<string, unknown> }[],
  ): Logger {
    const log: Logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: (msg, fields) => lines.push({ level: 'warn', msg, fields }),
      error: (msg, fields) => lines.push({ level: 'error', msg, fields }),
      child: () => log,
    };
    return log;
  }

  async function startupWarnings(host: string): Promise<string[]> {
    const lines: { level: string; msg: string }[] = [];
    const config = loadConfig({
      NODE_ENV: 'development',
      HOST: host,
      PORT: '0',
      RTC_LISTEN_IP: '127.0.0.1',
      RTC_ANNOUNCED_ADDRESS: '127.0.0.1',
      RTC_PORT_BASE: '0',
      MEDIASOUP_NUM_WORKERS: '1',
      JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256-0123456789',
      ...(process.env.MEDIASOUP_WORKER_BIN ? { MEDIASOUP_WORKER_BIN: process.env.MEDIASOUP_WORKER_BIN } : {}),
      ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
      ...(process.env.XDG_CACHE_HOME ? { XDG_CACHE_HOME: process.env.XDG_CACHE_HOME } : {}),
    });
    const service = await startCallingService(config, recordingLogger(lines));
    await service.close();
    return lines.filter((l) => l.level === 'warn').map((l) => l.msg);
  }

  it('is loud when development features listen beyond loopback', async () => {
    const warnings = await startupWarnings('0.0.0.0');
    const loud = warnings.find((m) => m.startsWith('DEVELOPMENT FEATURES ARE ON'));
    expect(loud).toBeDefined();
    expect(loud).toContain('DEV_TOKENS');
    expect(loud).toContain('TEST_PHONE_NUMBERS');
    expect(loud).toContain('console SMS');
  });

  it('stays quiet on loopback', async () => {
    const warnings = await startupWarnings('127.0.0.1');
    expect(warnings.filter((m) => m.startsWith('DEVELOPMENT FEATURES'))).toEqual([]);
  });
});
