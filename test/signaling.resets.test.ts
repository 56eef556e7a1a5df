/**
 * Connections reset at every stage of a WebSocket upgrade must cost the server nothing: before the
 * headers are complete, right after them on the 404 and 401 paths, and on the accept path while the
 * device check is waiting for a stalled Redis. The server runs as a real child process, so a crash
 * shows up as an exited process rather than a failed assertion in this one.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import jwt from 'jsonwebtoken';
import WebSocket from 'ws';
import { RedisProcess } from './support/redisProcess.js';
import { startServerProcess, TEST_JWT_SECRET, type ServerProcess } from './support/serverProcess.js';

const ROUNDS = 200;

/** Opens a TCP connection, writes `text`, then resets it (RST, not FIN) as soon as it is written. */
function sendAndReset(port: number, text: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      socket.write(text, () => {
        socket.resetAndDestroy();
        resolve();
      });
    });
    socket.once('close', () => resolve());
  });
}

/** Sends `text` and collects the whole answer until the server closes. */
function rawUpgrade(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let out = '';
    socket.on('data', (c: Buffer) => (out += c.toString()));
    socket.once('error', reject);
    socket.once('close', () => resolve(out));
  });
}

function upgradeRequest(path: string, token?: string): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
    `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
    (token ? `Authorization: Bearer ${token}\r\n` : '') +
    '\r\n'
  );
}

/** A well-signed token for a device the store does not know: the server must ask Redis about it. */
function deviceToken(): string {
  return jwt.sign({ name: 'Mallory', did: 'dev-unknown' }, TEST_JWT_SECRET, {
    algorithm: 'HS256',
    subject: 'u-mallory',
    issuer: 'calling-service',
    audience: 'calling-service',
    expiresIn: 600,
  });
}

async function stillServes(server: ServerProcess): Promise<void> {
  expect(server.child.exitCode, server.output()).toBeNull();
  const res = await fetch(`${server.url}/healthz`);
  expect(res.status).toBe(200);
  // And a real client can still open a socket.
  const dev = await fetch(`${server.url}/api/v1/dev/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ displayName: 'Alice' }),
  });
  const { token } = (await dev.json()) as { token: string };
  const ws = new WebSocket(`${server.url.replace('http', 'ws')}/ws`, {
    headers: { authorization: `Bearer ${token}` },
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.close();
}

describe('connection resets during the WebSocket upgrade', () => {
  let redis: RedisProcess;
  let server: ServerProcess;

  beforeAll(async () => {
    redis = await RedisProcess.start();
    server = await startServerProcess({ REDIS_URL: redis.url, NODE_ENV: 'development' });
  });

  afterAll(async () => {
    redis?.resume();
    await server?.stop();
    await redis?.destroy();
  });

  it('survives resets before the headers are complete', async () => {
    for (let i = 0; i < ROUNDS; i++) await sendAndReset(server.port, 'GET /ws HTTP/1.1\r\nHost: 127.');
    await stillServes(server);
  });

  it('survives resets right after the headers on the 404 and 401 paths', async () => {
    for (let i = 0; i < ROUNDS; i++) {
      await sendAndReset(server.port, upgradeRequest('/nowhere'));
      await sendAndReset(server.port, upgradeRequest('/ws'));
      await sendAndReset(server.port, upgradeRequest('/ws', 'not-a-jwt'));
    }
    await stillServes(server);
  });

  it('survives resets while the device check waits for a stalled Redis', async () => {
    redis.pause();
    try {
      const resets = Array.from({ length: ROUNDS }, () =>
        sendAndReset(server.port, upgradeRequest('/ws', deviceToken())),
      );
      await Promise.all(resets);
    } finally {
      redis.resume();
    }
    // The stalled checks now complete and answer sockets that are long gone. One more check on the
    // same Redis connection is answered after all of them (Redis answers in order), so once it is
    // refused, every earlier answer has been attempted.
    const last = await rawUpgrade(server.port, upgradeRequest('/ws', deviceToken()));
    expect(last).toMatch(/^HTTP\/1\.1 401/);
    await stillServes(server);
  });
});
