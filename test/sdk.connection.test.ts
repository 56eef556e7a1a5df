/**
 * The SDK's connection core (client/sdk/connection.ts) against the real service: it comes back after
 * the network drops the socket (listeners and requests survive, the resync hook runs first), asks its
 * token source for a fresh token when the server closes with 4001, and stops for good on a fatal
 * token error or a "token invalid" close (signed out). It replaces its token in-band before expiry,
 * and resumes a room session after a drop (same peer, missed notifications delivered).
 */
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeWebSocketFactory } from '../bot/engine/webSocketFactory.js';
import { ApiError } from '../client/sdk/apiError.js';
import { SignalingConnection, type ConnectionState } from '../client/sdk/connection.js';
import { DefaultReconnectPolicy } from '../client/sdk/reconnectPolicy.js';
import type { SignalingClient } from '../client/sdk/signalingClient.js';
import { CloseCode } from '../protocol/errors.js';
import { signInAccount } from './support/accountSignIn.js';
import { TcpProxy } from './support/tcpProxy.js';
import { startTestService } from './support/testService.js';

const SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

/** A development access token for `sub` that expires in `seconds` (the service accepts dev tokens in tests). */
function devToken(sub: string, seconds: number): string {
  return jwt.sign(
    {
      sub,
      name: sub,
      did: `d-${sub}`,
      typ: 'access',
      dev: true,
      exp: Math.floor(Date.now() / 1000) + seconds,
    },
    SECRET,
    { algorithm: 'HS256', issuer: 'calling-service', audience: 'calling-service' },
  );
}

describe('SignalingConnection against the real service', () => {
  let service: Awaited<ReturnType<typeof startTestService>>;
  let proxy: TcpProxy;
  const open: SignalingConnection[] = [];

  beforeAll(async () => {
    service = await startTestService('memory');
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: service.port });
  });
  afterAll(async () => {
    for (const c of open) c.close();
    await proxy?.close();
    await service?.close();
  });

  const connect = async (opts: Omit<Parameters<typeof SignalingConnection.open>[0], 'webSocketFactory'>) => {
    const c = await SignalingConnection.open({ ...opts, webSocketFactory: nodeWebSocketFactory });
    open.push(c);
    return c;
  };
  const states = (c: SignalingConnection): ConnectionState[] => {
    const seen: ConnectionState[] = [];
    c.on('stateChanged', (s) => seen.push(s));
    return seen;
  };

  it('reconnects after the network drops the socket: resync first, then waiting requests and listeners go on', async () => {
    const alice = await signInAccount(service.url, '+12015550170', 'Alice');
    const bob = await signInAccount(service.url, '+12015550171', 'Bob');
    const c = await connect({
      url: `ws://127.0.0.1:${proxy.port}/ws`,
      getToken: (rejected) => alice.getAccessToken(rejected),
      // The first attempt waits 200-400 ms: a window in which the socket is down for sure.
      policy: new DefaultReconnectPolicy({ firstAttemptImmediate: false, baseDelayMs: 400 }),
    });
    const seen = states(c);
    const resyncs: { socket: SignalingClient; stateDuring: ConnectionState }[] = [];
    c.onResync(async (socket) => {
      // The hook talks on the new socket before anyone else does.
      await socket.request('callHistory', { limit: 1 });
      resyncs.push({ socket, stateDuring: c.state });
    });
    const incoming: string[] = [];
    c.on('callIncoming', ({ call }) => incoming.push(call.callId));
    const first = c.socket;

    const dropped = new Promise<boolean>((resolve) =>
      c.once('disconnected', (d) => resolve(d.willReconnect)),
    );
    proxy.cut();
    expect(await dropped).toBe(true);
    expect(c.state).toBe('reconnecting');
    // A request made while the socket is down waits for the new one instead of failing.
    const history = await c.request('callHistory', { limit: 5 });
    expect(history.entries).toEqual([]);
    expect(c.state).toBe('connected');
    expect(seen).toEqual(['reconnecting', 'connected']);
    expect(resyncs).toHaveLength(1);
    expect(resyncs[0]!.stateDuring).toBe('reconnecting');
    expect(resyncs[0]!.socket).toBe(c.socket);
    expect(c.socket).not.toBe(first);

    // Listeners registered before the drop hear the new socket's notifications.
    const caller = await connect({
      url: `${service.url.replace('http', 'ws')}/ws`,
      getToken: () => bob.getAccessToken(),
    });
    const { call } = await caller.request('callInvite', { userIds: [alice.user!.userId], media: 'audio' });
    await expect.poll(() => incoming).toContain(call.callId);
    await caller.request('callCancel', { callId: call.callId });
  });

  it('replaces its token in-band before it expires: the socket outlives the first token', async () => {
    const first = devToken('u-inband', 3);
    const expiry = (jwt.decode(first) as { exp: number }).exp * 1000;
    const asked: (string | undefined)[] = [];
    const c = await connect({
      url: `${service.url.replace('http', 'ws')}/ws`,
      getToken: (rejected) => {
        asked.push(rejected);
        return asked.length === 1 ? first : devToken('u-inband', 120);
      },
    });
    const disconnects: number[] = [];
    c.on('disconnected', ({ code }) => disconnects.push(code));
    const socket = c.socket;
    const refreshed = await new Promise<{ expiresAt: number }>((resolve) =>
      c.once('tokenRefreshed', resolve),
    );
    expect(refreshed.expiresAt * 1000).toBeGreaterThan(expiry + 60_000);
    expect(asked).toEqual([undefined, first]);
    // Past the first token's expiry, on the same socket, with no 4001.
    await expect.poll(() => Date.now() > expiry + 1000, { timeout: 6_000, interval: 200 }).toBe(true);
    expect((await c.request('callHistory', {})).missedUnseen).toBe(0);
    expect(c.socket).toBe(socket);
    expect(disconnects).toEqual([]);
  });

  it('resumes a room session after a drop: same peer, the missed notification is delivered', async () => {
    const url = `ws://127.0.0.1:${proxy.port}/ws`;
    const c = await connect({ url, getToken: () => devToken('u-resume-a', 120) });
    const other = await connect({
      url: `${service.url.replace('http', 'ws')}/ws`,
      getToken: () => devToken('u-resume-b', 120),
    });
    const first = await other.request('join', { room: 'sdk-resume' });
    const { invite } = await other.request('roomInvite', {});
    const joined = await c.request('join', { room: 'sdk-resume', invite });
    c.resumeWith(joined.resumeToken);
    const otherLeft: string[] = [];
    other.on('peerLeft', ({ peerId }) => otherLeft.push(peerId));
    const left: string[] = [];
    c.on('peerLeft', ({ peerId }) => left.push(peerId));
    const seen = states(c);
    const dropped = new Promise<boolean>((resolve) => c.once('disconnected', (d) => resolve(d.willResume)));
    const back = new Promise<{ resumed: boolean; elapsedMs: number; replayed: number }>((resolve) =>
      c.once('reconnected', resolve),
    );
    proxy.cut();
    expect(await dropped).toBe(true);
    // While A is away, B leaves: A must still hear of it.
    await other.request('leave', {});
    const outcome = await back;
    expect(outcome.resumed).toBe(true);
    expect(seen).toEqual(['resuming', 'connected']);
    await expect.poll(() => left).toEqual([first.peerId]);
    expect(service.rooms.snapshot('sdk-resume')?.peers.map((p) => p.peerId)).toEqual([joined.peerId]);
    expect(otherLeft).toEqual([]);
    // The server rotated the token; the next drop resumes again.
    const again = new Promise<{ resumed: boolean }>((resolve) => c.once('reconnected', resolve));
    proxy.cut();
    expect((await again).resumed).toBe(true);
    expect(service.rooms.snapshot('sdk-resume')?.peers.map((p) => p.peerId)).toEqual([joined.peerId]);
    await c.request('leave', {});
  });

  it('falls back to a new session when the server cannot resume (RESUME_FAILED): reconnected, not resumed', async () => {
    const c = await connect({
      url: `ws://127.0.0.1:${proxy.port}/ws`,
      getToken: () => devToken('u-noresume', 120),
    });
    // A token the server never issued (or one whose grace is over): same answer.
    c.resumeWith('not-a-session-this-node-holds');
    const back = new Promise<{ resumed: boolean }>((resolve) => c.once('reconnected', resolve));
    const dropped = new Promise<boolean>((resolve) => c.once('disconnected', (d) => resolve(d.willResume)));
    proxy.cut();
    expect(await dropped).toBe(true);
    expect((await back).resumed).toBe(false);
    expect(c.state).toBe('connected');
    // A new session: it can join, and the next drop is an ordinary reconnect (no token held).
    await c.request('join', { room: 'sdk-noresume' });
    const next = new Promise<boolean>((resolve) => c.once('disconnected', (d) => resolve(d.willResume)));
    proxy.cut();
    expect(await next).toBe(false);
    await c.ready();
  });

  it('asks for a fresh token with the refused one when the server closes with 4001, then goes on', async () => {
    const shortLived = devToken('u-refresh', 2);
    const asked: (string | undefined)[] = [];
    const c = await connect({
      url: `${service.url.replace('http', 'ws')}/ws`,
      // The fallback when the token was not replaced in-band (an older server, a refresh that failed).
      refreshInBand: false,
      getToken: (rejected) => {
        asked.push(rejected);
        return asked.length === 1 ? shortLived : devToken('u-refresh', 120);
      },
    });
    let resynced = 0;
    c.onResync(() => {
      resynced++;
    });
    const disconnects: number[] = [];
    c.on('disconnected', ({ code }) => disconnects.push(code));
    await expect.poll(() => resynced, { timeout: 8_000 }).toBe(1);
    expect(disconnects).toEqual([CloseCode.TokenExpired]);
    expect(asked).toEqual([undefined, shortLived]);
    expect(c.token).not.toBe(shortLived);
    await expect.poll(() => c.state).toBe('connected');
    expect((await c.request('callHistory', {})).missedUnseen).toBe(0);
  });

  it('stops for good when the token source refuses for good, without another attempt', async () => {
    let asked = 0;
    const refused = new ApiError(401, 'REFRESH_TOKEN_INVALID', 'this device was signed out');
    const c = await connect({
      url: `${service.url.replace('http', 'ws')}/ws`,
      refreshInBand: false,
      getToken: () => {
        asked++;
        if (asked === 1) return devToken('u-fatal', 2);
        throw refused;
      },
      policy: new DefaultReconnectPolicy({ maxAttempts: 5, baseDelayMs: 50 }),
    });
    const closed = new Promise<{ code: number; error?: Error }>((resolve) => c.once('closed', resolve));
    const result = await closed;
    expect(result.code).toBe(CloseCode.TokenExpired);
    expect(result.error).toBe(refused);
    expect(asked).toBe(2);
    expect(c.state).toBe('closed');
    await expect(c.request('callHistory', {})).rejects.toMatchObject({ code: 'DISCONNECTED', fatal: true });
  });

  it('does not come back after the server closes with "token invalid" (signed out)', async () => {
    const carol = await signInAccount(service.url, '+12015550172', 'Carol');
    let asked = 0;
    const c = await connect({
      url: `${service.url.replace('http', 'ws')}/ws`,
      getToken: (rejected) => {
        asked++;
        return carol.getAccessToken(rejected);
      },
    });
    const seen = states(c);
    const disconnected = new Promise<{ code: number; willReconnect: boolean }>((resolve) =>
      c.once('disconnected', resolve),
    );
    await carol.signOut();
    expect(await disconnected).toMatchObject({ code: CloseCode.TokenInvalid, willReconnect: false });
    expect(seen).toEqual(['closed']);
    expect(asked).toBe(1);
  });
});
