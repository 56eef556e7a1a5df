/**
 * The client address behind TRUST_PROXY for raw requests (WebSocket upgrades), over a real socket:
 * it must agree with express's req.ip and never believe a header from an untrusted peer.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientAddressResolver } from '../server/clientAddress.js';
import { parseTrustProxy } from '../server/config.js';

describe('client address behind TRUST_PROXY', () => {
  let server: http.Server;
  let url: string;
  let trust = parseTrustProxy(undefined);
  beforeAll(async () => {
    server = http.createServer((req, res) => res.end(clientAddressResolver(trust)(req)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  const seen = async (xff?: string): Promise<string> =>
    (await fetch(url, { headers: xff ? { 'x-forwarded-for': xff } : {} })).text();

  it.each([
    [undefined, '203.0.113.5', '127.0.0.1'],
    ['1', '203.0.113.5', '203.0.113.5'],
    ['1', '198.51.100.1, 203.0.113.5', '203.0.113.5'],
    ['2', '198.51.100.1, 203.0.113.5', '198.51.100.1'],
    ['loopback', '198.51.100.1, 203.0.113.5', '203.0.113.5'],
    ['10.0.0.0/8', '203.0.113.5', '127.0.0.1'],
    ['127.0.0.0/8, 203.0.113.0/24', '198.51.100.1, 203.0.113.5', '198.51.100.1'],
  ])('TRUST_PROXY=%s, X-Forwarded-For %s → %s', async (trustProxy, xff, expected) => {
    trust = parseTrustProxy(trustProxy);
    expect(await seen(xff)).toBe(expected);
  });
});
