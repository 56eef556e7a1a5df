/**
 * Finding a dead signaling socket fast (client/sdk/connectionLiveness.ts, the server's ping in
 * signaling/signalingServer.ts), against the real service through a TCP relay that can go silent
 * without closing anything (`TcpProxy.stall()`: no FIN, no RST, the way a vanished path looks):
 * the SDK's ping notices it, replaces the socket and resumes the same peer; a probe on a healthy
 * socket changes nothing; and the server drops a silent socket within two ping intervals and
 * parks its peer, so the grace starts then (not after TCP's minutes).
 */
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeWebSocketFactory } from '../bot/engine/webSocketFactory.js';
import { SignalingConnection, type Disconnect, type Reconnected } from '../client/sdk/connection.js';
import { TcpProxy } from './support/tcpProxy.js';
import { startTestService } from './support/testService.js';

const SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

function devToken(sub: string): string {
  return jwt.sign(
    { sub, name: sub, did: `d-${sub}`, typ: 'access', dev: true, exp: Math.floor(Date.now() / 1000) + 300 },
    SECRET,
    { algorithm: 'HS256', issuer: 'calling-service', audience: 'calling-service' },
  );
}

describe('signaling liveness against the real service', () => {
  let service: Awaited<ReturnType<typeof startTestService>>;
  let proxy: TcpProxy;
  const open: SignalingConnection[] = [];

  beforeAll(async () => {
    // A short server ping so that its dead-socket detection fits in a test.
    service = await startTestService('memory', {
      SIGNALING_PING_INTERVAL_MS: '500',
      RESUME_GRACE_MS: '1500',
    });
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: service.port });
  });
  afterAll(async () => {
    for (const c of open) c.close();
    await proxy?.close();
    await service?.close();
  });

  const connect = async (
    sub: string,
    opts: { viaProxy?: boolean; liveness?: Parameters<typeof SignalingConnection.open>[0]['liveness'] } = {},
  ): Promise<SignalingConnection> => {
    const port = opts.viaProxy ? proxy.port : service.port;
    const c = await SignalingConnection.open({
      url: `ws://127.0.0.1:${port}/ws`,
      getToken: () => devToken(sub),
      webSocketFactory: nodeWebSocketFactory,
      ...(opts.liveness !== undefined ? { liveness: opts.liveness } : {}),
    });
    open.push(c);
    return c;
  };

  it('a socket that went silent is found by the ping, replaced, and the room session resumed (same peer)', async () => {
    const c = await connect('u-live-a', { viaProxy: true, liveness: { intervalMs: 300, timeoutMs: 300 } });
    const other = await connect('u-live-b');
    const room = `live-${Date.now()}`;
    const joined = await c.request('join', { room });
    c.resumeWith(joined.resumeToken);
    const { invite } = await c.request('roomInvite', {});
    await other.request('join', { room, invite });
    const left: string[] = [];
    other.on('peerLeft', ({ peerId }) => left.push(peerId));

    const lost = new Promise<Disconnect>((resolve) => c.once('disconnected', resolve));
    const back = new Promise<Reconnected>((resolve) => c.once('reconnected', resolve));
    const stalledAt = Date.now();
    proxy.stall();
    const d = await lost;
    // Quiet for 300 ms, then 300 ms without an answer (plus the check's 250 ms tick at most).
    expect(Date.now() - stalledAt).toBeLessThan(2000);
    expect(d).toMatchObject({ code: 1006, willReconnect: true, willResume: true });
    expect(d.reason).toMatch(/no answer to ping/);
    const r = await back;
    expect(r.resumed).toBe(true);
    // The same peer, still in the room: the other side saw nothing.
    await c.request('createTransport', { direction: 'recv' });
    expect(left).toEqual([]);
  });

  it('checkAlive on a healthy socket answers true and keeps the socket; on a silent one, false within the probe timeout', async () => {
    const c = await connect('u-live-probe', { viaProxy: true, liveness: { probeTimeoutMs: 400 } });
    const disconnects: Disconnect[] = [];
    c.on('disconnected', (d) => disconnects.push(d));
    const socket = c.socket;
    expect(await c.checkAlive()).toBe(true);
    expect(c.socket).toBe(socket);
    expect(disconnects).toEqual([]);

    proxy.stall();
    const probedAt = Date.now();
    expect(await c.checkAlive()).toBe(false);
    expect(Date.now() - probedAt).toBeLessThan(1000);
    expect(disconnects).toHaveLength(1);
    expect(disconnects[0]!.reason).toMatch(/probe/);
    await new Promise<Reconnected>((resolve) => c.once('reconnected', resolve));
    expect(await c.checkAlive()).toBe(true);
  });

  it('the server drops a silent socket within two ping intervals and parks its peer: the others see it leave after the grace', async () => {
    // Liveness off on this side: only the server can notice.
    const c = await connect('u-live-silent', { viaProxy: true, liveness: false });
    const other = await connect('u-live-watcher');
    const room = `live-srv-${Date.now()}`;
    const joined = await c.request('join', { room });
    const { invite } = await c.request('roomInvite', {});
    await other.request('join', { room, invite });
    const leftAt = new Promise<number>((resolve) =>
      other.once('peerLeft', ({ peerId }) => {
        if (peerId === joined.peerId) resolve(Date.now());
      }),
    );
    const stalledAt = Date.now();
    proxy.stall();
    const after = (await leftAt) - stalledAt;
    // Detection within 2 × 500 ms, then the 1.5 s grace: leaves after ≥ 1.5 s, well before TCP would.
    expect(after).toBeGreaterThanOrEqual(1500);
    expect(after).toBeLessThan(4000);
  });
});
