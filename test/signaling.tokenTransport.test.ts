/**
 * How the access token reaches the WebSocket upgrade: in a `calling.token.<jwt>` subprotocol (the
 * SDK's and the bot's way, checked on the wire through a recording proxy: the token is never in the
 * request URL and never echoed back), in a Bearer header, or — only while WS_QUERY_TOKEN allows it,
 * never by default in production — in the deprecated `?token=` query.
 */
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignalingClient } from '../client/sdk/signalingClient.js';
import { nodeWebSocketFactory } from '../bot/engine/webSocketFactory.js';
import { ErrorCode } from '../protocol/errors.js';
import { SIGNALING_SUBPROTOCOL, signalingProtocols } from '../protocol/wsAuth.js';
import { startRecordingProxy, type RecordingProxy } from './support/recordingProxy.js';
import { signUp } from './support/signUp.js';
import { startTestService } from './support/testService.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
const SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

interface Outcome {
  status: number;
  body: string;
  /** The subprotocol the server selected (101 only). */
  selected?: string;
  ws?: WebSocket;
}

/** Opens `/ws` and reports the upgrade's outcome: 101 with the selected protocol, or status + body. */
function upgrade(base: string, opts: { query?: string; protocols?: string[] } = {}): Promise<Outcome> {
  const url = `${base.replace(/^http/, 'ws')}/ws${opts.query ? `?token=${encodeURIComponent(opts.query)}` : ''}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts.protocols ?? []);
    ws.once('upgrade', (res) => {
      const selected = res.headers['sec-websocket-protocol'];
      ws.once('open', () => resolve({ status: 101, body: '', selected, ws }));
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', (err) => reject(err));
  });
}

const errorCodeOf = (o: Outcome): unknown => (JSON.parse(o.body) as { error: { code: string } }).error.code;

describe('access token transport, development defaults', () => {
  let service: Service;
  let proxy: RecordingProxy;
  const token = (name = 'Alice'): string =>
    service.tokens.issue({ userId: `u-${name}`, displayName: name, dev: true }).token;

  beforeAll(async () => {
    service = await startTestService('memory');
    proxy = await startRecordingProxy(service.url);
  });
  afterAll(async () => {
    await proxy?.close();
    await service?.close();
  });

  it('accepts the token as a subprotocol, selects only the version and never echoes the token', async () => {
    const o = await upgrade(service.url, { protocols: signalingProtocols(token()) });
    expect(o.status).toBe(101);
    expect(o.selected).toBe(SIGNALING_SUBPROTOCOL);
    expect(o.ws!.protocol).toBe(SIGNALING_SUBPROTOCOL);
    o.ws!.close();
  });

  it.each([
    [
      'expired',
      () =>
        jwt.sign(
          { sub: 'u1', name: 'M', did: 'd1', typ: 'access', exp: Math.floor(Date.now() / 1000) - 10 },
          SECRET,
          { algorithm: 'HS256', issuer: 'calling-service', audience: 'calling-service' },
        ),
    ],
    [
      'signed with another key',
      () =>
        jwt.sign({ sub: 'u1', name: 'M', did: 'd1', typ: 'access' }, 'k'.repeat(40), {
          algorithm: 'HS256',
          issuer: 'calling-service',
          audience: 'calling-service',
        }),
    ],
    ['not a JWT', () => 'hello'],
  ])('refuses a subprotocol token that is %s with 401 JSON at the upgrade', async (_name, make) => {
    const o = await upgrade(service.url, { protocols: signalingProtocols(make()) });
    expect(o.status).toBe(401);
    expect(errorCodeOf(o)).toBe(ErrorCode.Unauthorized);
  });

  it('refuses a token protocol offered without the version protocol (400), since none could be selected', async () => {
    const o = await upgrade(service.url, { protocols: [signalingProtocols(token())[1]!] });
    expect(o.status).toBe(400);
    expect(errorCodeOf(o)).toBe(ErrorCode.BadRequest);
  });

  it('still accepts the deprecated ?token= outside production', async () => {
    const o = await upgrade(service.url, { query: token() });
    expect(o.status).toBe(101);
    o.ws!.close();
  });

  it('the SDK signaling client (the bot’s Node socket) never puts the token in the request URL', async () => {
    const t = token('Bot');
    const before = proxy.upgrades.length;
    const client = await SignalingClient.connect(`${proxy.url.replace(/^http/, 'ws')}/ws`, t, {
      factory: nodeWebSocketFactory,
    });
    try {
      // The connection is really authenticated: a request is answered, not refused.
      const answer = await client.request('leave', {}).then(
        () => 'ok',
        (e: { code: string }) => e.code,
      );
      expect(answer).not.toBe(ErrorCode.Unauthorized);
    } finally {
      client.close();
    }
    const seen = proxy.upgrades.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe('/ws');
    expect(seen[0]!.url).not.toContain(t);
    expect(seen[0]!.protocols).toContain(`calling.token.${t}`);
  });
});

describe('access token transport in production', () => {
  let service: Service;
  let accessToken = '';
  const token = (): string => accessToken;

  beforeAll(async () => {
    service = await startTestService('memory', {
      NODE_ENV: 'production',
      SMS_GATEWAY_URL: 'http://127.0.0.1:9/sms',
      METRICS_TOKEN: 'metrics-token-0123456789',
      // A real account (production has no dev tokens): a fictional number that sends no SMS.
      TEST_PHONE_NUMBERS: '+12015550100=123456',
    });
    accessToken = (await signUp(service.url, '+12015550100', 'Pat')).accessToken;
  });
  afterAll(async () => {
    await service?.close();
  });

  it('refuses the token in the URL with 401 JSON', async () => {
    const o = await upgrade(service.url, { query: token() });
    expect(o.status).toBe(401);
    expect(errorCodeOf(o)).toBe(ErrorCode.Unauthorized);
    expect(o.body).toMatch(/no longer accepted/);
  });

  it('accepts the same token as a subprotocol and as a Bearer header', async () => {
    const o = await upgrade(service.url, { protocols: signalingProtocols(token()) });
    expect(o.status).toBe(101);
    o.ws!.close();
    const bearer = new WebSocket(`${service.url.replace(/^http/, 'ws')}/ws`, {
      headers: { authorization: `Bearer ${token()}` },
    });
    await new Promise<void>((resolve, reject) => {
      bearer.once('open', () => resolve());
      bearer.once('error', reject);
    });
    bearer.close();
  });
});
