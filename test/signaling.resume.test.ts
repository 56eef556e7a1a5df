/**
 * In-band token refresh and session resume on the wire (issue 10 items 1 and 2), against the real
 * service and mediasoup: a socket outlives its first token when refreshed, a dropped session comes
 * back with the same peer and the notifications it missed, and everything that cannot be resumed is
 * refused with RESUME_FAILED (the client then joins again).
 */
import jwt from 'jsonwebtoken';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CloseCode, ErrorCode } from '../protocol/errors.js';
import type { NotificationEnvelope, ResponseData, ResponseEnvelope } from '../protocol/signaling.js';
import type { CallView } from '../protocol/signaling.js';
import { signUp } from './support/callTestKit.js';
import { PhoneNumbers } from './support/phoneNumbers.js';
import { until } from './support/poll.js';
import { RawSignaling, errorCode, inviteOf } from './support/rawSignaling.js';
import { TcpProxy } from './support/tcpProxy.js';
import { TEST_JWT_SECRET, startTestService } from './support/testService.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
const GRACE_MS = 2500;

/** A development token for user/device that expires in `ttlSeconds`. */
function tokenFor(userId: string, deviceId: string, ttlSeconds = 600): string {
  return jwt.sign(
    {
      sub: userId,
      name: userId,
      did: deviceId,
      typ: 'access',
      dev: true,
      exp: Math.floor(Date.now() / 1000) + ttlSeconds,
    },
    TEST_JWT_SECRET,
    { algorithm: 'HS256', issuer: 'calling-service', audience: 'calling-service' },
  );
}

function data<T>(r: ResponseEnvelope): T {
  if (!r.ok) throw new Error(`request failed: ${JSON.stringify(r.error)}`);
  return r.data as T;
}

const notifications = (s: RawSignaling): NotificationEnvelope[] =>
  s.frames.filter((f): f is NotificationEnvelope => 'notification' in f);
const lastSeqOf = (s: RawSignaling): number => Math.max(0, ...notifications(s).map((n) => n.seq ?? 0));
const closeOf = (s: RawSignaling): Promise<{ code: number; at: number }> =>
  new Promise((resolve) => s.ws.once('close', (code) => resolve({ code, at: Date.now() })));

describe('signaling resume and token refresh', () => {
  let service: Service;
  let proxy: TcpProxy;
  const open: RawSignaling[] = [];
  let n = 0;

  /** Opens a socket through the cuttable proxy (or directly) for user/device. */
  async function connect(
    userId: string,
    deviceId = 'd1',
    opts: { direct?: boolean; ttl?: number } = {},
  ): Promise<RawSignaling> {
    const base = opts.direct ? service.url : `http://127.0.0.1:${proxy.port}`;
    const s = await RawSignaling.open(base, tokenFor(userId, deviceId, opts.ttl));
    open.push(s);
    return s;
  }

  /** Alice and Bob in a fresh room, Alice through the proxy. */
  async function twoInRoom(): Promise<{
    room: string;
    alice: RawSignaling;
    bob: RawSignaling;
    alicePeer: string;
    resumeToken: string;
    users: { a: string; b: string };
  }> {
    n++;
    const users = { a: `alice-${n}`, b: `bob-${n}` };
    const room = `resume-${n}`;
    const bob = await connect(users.b, 'd1', { direct: true });
    data(await bob.request('join', { room }));
    const invite = await inviteOf(bob);
    const alice = await connect(users.a);
    const joined = data<ResponseData['join']>(await alice.request('join', { room, invite }));
    expect(joined.resumeToken).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    await bob.waitForNotification('peerJoined');
    return { room, alice, bob, alicePeer: joined.peerId, resumeToken: joined.resumeToken!, users };
  }

  beforeAll(async () => {
    service = await startTestService('memory', {
      RESUME_GRACE_MS: String(GRACE_MS),
      // Much shorter than the resume grace: a call must not hang up a device that can still resume.
      CALL_RECONNECT_GRACE_SECONDS: '0.5',
    });
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: service.port });
  });
  afterEach(async () => {
    // Leave first: a socket that just closes parks its session, and tests count parked sessions.
    await Promise.all(
      open.splice(0).map(async (s) => {
        if (s.ws.readyState === s.ws.OPEN) await s.request('leave', {});
        await s.close();
      }),
    );
    await until(() => service.signaling.parkedSessions === 0, {
      timeoutMs: GRACE_MS + 2000,
      what: 'parked sessions of this test to expire',
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await service?.close();
  });

  it('refreshToken moves the socket expiry; without another refresh it still closes with 4001', async () => {
    const s = await connect('refresher', 'd1', { direct: true, ttl: 2 });
    const closed = closeOf(s);
    const next = tokenFor('refresher', 'd1', 5);
    const r = data<ResponseData['refreshToken']>(await s.request('refreshToken', { token: next }));
    const nextExpiry = (jwt.decode(next) as { exp: number }).exp;
    expect(r.expiresAt).toBe(nextExpiry);
    const { code, at } = await closed;
    expect(code).toBe(CloseCode.TokenExpired);
    // Not at the first token's expiry (≤ 2 s), but at the refreshed one's (second granularity).
    expect(at).toBeGreaterThanOrEqual((nextExpiry - 1) * 1000);
  }, 15_000);

  it('refreshToken refuses another user, another device, an expired or a broken token', async () => {
    const s = await connect('owner', 'd1', { direct: true });
    const refused = async (token: string): Promise<string | undefined> =>
      errorCode(await s.request('refreshToken', { token }));
    expect(await refused(tokenFor('someone-else', 'd1'))).toBe(ErrorCode.Forbidden);
    expect(await refused(tokenFor('owner', 'd2'))).toBe(ErrorCode.Forbidden);
    expect(await refused(tokenFor('owner', 'd1', -5))).toBe(ErrorCode.Unauthorized);
    expect(await refused('not-a-jwt')).toBe(ErrorCode.Unauthorized);
    // The socket is still the owner's and still works.
    data(await s.request('refreshToken', { token: tokenFor('owner', 'd1') }));
  });

  it('a dropped socket resumes: same peer, missed notifications replayed in order, others see nothing', async () => {
    const { room, alice, bob, alicePeer, resumeToken, users } = await twoInRoom();
    const lastSeq = lastSeqOf(alice);
    proxy.cut();
    await until(() => service.signaling.parkedSessions === 1, { what: 'the session to be parked' });
    // Operators see it on /metrics.
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/^calling_parked_sessions 1$/m);
    // Meanwhile someone comes and goes: Alice must hear of both.
    const carol = await connect(`carol-${n}`, 'd1', { direct: true });
    const invite = await inviteOf(bob);
    const carolPeer = data<ResponseData['join']>(await carol.request('join', { room, invite })).peerId;
    data(await carol.request('leave', {}));

    const again = await connect(users.a);
    const resumed = data<ResponseData['resume']>(
      await again.request('resume', { token: resumeToken, lastSeq }),
    );
    expect(resumed.peerId).toBe(alicePeer);
    expect(resumed.replayed).toBe(2);
    expect(resumed.resumeToken).not.toBe(resumeToken);
    const left = await again.waitForNotification('peerLeft');
    const replay = notifications(again).filter((f) => (f.seq ?? 0) > lastSeq);
    expect(replay.map((f) => [f.notification, f.seq])).toEqual([
      ['peerJoined', lastSeq + 1],
      ['peerLeft', lastSeq + 2],
    ]);
    expect((left.data as { peerId: string }).peerId).toBe(carolPeer);
    expect(service.signaling.parkedSessions).toBe(0);
    expect(service.rooms.snapshot(room)?.peers.map((p) => p.peerId)).toContain(alicePeer);
    // The peer works on the new socket, and Bob never saw Alice leave.
    data(await again.request('createTransport', { direction: 'recv' }));
    const bobLeft = notifications(bob).filter((f) => f.notification === 'peerLeft');
    expect(bobLeft.map((f) => (f.data as { peerId: string }).peerId)).toEqual([carolPeer]);

    // The token was single use; the rotated one works for the next drop.
    const thief = await connect(users.a, 'd1', { direct: true });
    expect(errorCode(await thief.request('resume', { token: resumeToken, lastSeq: 0 }))).toBe(
      ErrorCode.ResumeFailed,
    );
    proxy.cut();
    await until(() => service.signaling.parkedSessions === 1, { what: 'the session to be parked again' });
    const third = await connect(users.a);
    const back = data<ResponseData['resume']>(
      await third.request('resume', { token: resumed.resumeToken, lastSeq: lastSeqOf(again) }),
    );
    expect(back.peerId).toBe(alicePeer);
    expect(back.replayed).toBe(0);
  });

  it('a late close of the old socket does not end the resumed session', async () => {
    const { room, alice, bob, alicePeer, resumeToken, users } = await twoInRoom();
    // The server has not noticed any drop: the old socket is still open when the resume comes.
    const oldClosed = closeOf(alice);
    const again = await connect(users.a, 'd1', { direct: true });
    const resumed = data<ResponseData['resume']>(
      await again.request('resume', { token: resumeToken, lastSeq: lastSeqOf(alice) }),
    );
    expect(resumed.peerId).toBe(alicePeer);
    expect((await oldClosed).code).toBe(CloseCode.SessionResumed);
    data(await again.request('createTransport', { direction: 'send' }));
    expect(service.rooms.snapshot(room)?.peers.map((p) => p.peerId)).toContain(alicePeer);
    expect(notifications(bob).some((f) => f.notification === 'peerLeft')).toBe(false);
    expect(service.signaling.parkedSessions).toBe(0);
  });

  it('after the grace the session is gone: RESUME_FAILED, and the others see the peer leave once', async () => {
    const { room, alice, bob, alicePeer, resumeToken, users } = await twoInRoom();
    const lastSeq = lastSeqOf(alice);
    proxy.cut();
    const left = await bob.waitForNotification('peerLeft');
    expect((left.data as { peerId: string }).peerId).toBe(alicePeer);
    const again = await connect(users.a);
    const r = await again.request('resume', { token: resumeToken, lastSeq });
    expect(errorCode(r)).toBe(ErrorCode.ResumeFailed);
    // A full rejoin works on the same socket: a new peer, which Bob sees join.
    const rejoined = data<ResponseData['join']>(await again.request('join', { room }));
    expect(rejoined.peerId).not.toBe(alicePeer);
    await bob.waitFor(
      (f) =>
        'notification' in f &&
        f.notification === 'peerJoined' &&
        (f.data as { peerId: string }).peerId === rejoined.peerId,
    );
    expect(notifications(bob).filter((f) => f.notification === 'peerLeft')).toHaveLength(1);
  }, 10_000);

  it('refuses a resume by another device, into a busy session, or past what the buffer holds', async () => {
    const { room, alice, bob, alicePeer, resumeToken, users } = await twoInRoom();
    proxy.cut();
    await until(() => service.signaling.parkedSessions === 1, { what: 'the session to be parked' });
    // Another device of the same user: refused, and the token stays valid for its owner.
    const other = await connect(users.a, 'd2', { direct: true });
    expect(errorCode(await other.request('resume', { token: resumeToken, lastSeq: 0 }))).toBe(
      ErrorCode.Forbidden,
    );
    // A socket already in a room cannot take a session in as well (the token is not spent).
    const busy = await connect(users.a, 'd1', { direct: true });
    data(await busy.request('join', { room: `own-${n}` }));
    expect(errorCode(await busy.request('resume', { token: resumeToken, lastSeq: 0 }))).toBe(
      ErrorCode.AlreadyInRoom,
    );
    // Claiming more than the session ever sent: the gap cannot be filled, the peer goes.
    const again = await connect(users.a);
    const r = await again.request('resume', { token: resumeToken, lastSeq: lastSeqOf(alice) + 100 });
    expect(errorCode(r)).toBe(ErrorCode.ResumeFailed);
    expect(r.ok ? undefined : r.error.details?.reason).toBe('gap');
    const left = await bob.waitForNotification('peerLeft');
    expect((left.data as { peerId: string }).peerId).toBe(alicePeer);
    expect(service.rooms.snapshot(room)?.peers.map((p) => p.peerId)).not.toContain(alicePeer);
  });

  it('another node cannot resume a session it does not hold: RESUME_FAILED, and the holder keeps it', async () => {
    const { room, alice, alicePeer, resumeToken, users } = await twoInRoom();
    const other = await startTestService('memory', { RESUME_GRACE_MS: String(GRACE_MS) });
    try {
      const elsewhere = await RawSignaling.open(other.url, tokenFor(users.a, 'd1'));
      open.push(elsewhere);
      const r = await elsewhere.request('resume', { token: resumeToken, lastSeq: lastSeqOf(alice) });
      expect(errorCode(r)).toBe(ErrorCode.ResumeFailed);
      await elsewhere.close();
    } finally {
      await other.close();
    }
    // The token is not this node's business: the session on the holding node is untouched.
    expect(service.rooms.snapshot(room)?.peers.map((p) => p.peerId)).toContain(alicePeer);
    data(await alice.request('createTransport', { direction: 'recv' }));
  });

  it("a device that drops out of a call's media and resumes is not hung up by the call's reconnect grace", async () => {
    const phones = new PhoneNumbers();
    const [alice, bob] = [
      await signUp(service.url, phones.next(), 'Alice'),
      await signUp(service.url, phones.next(), 'Bob'),
    ];
    const [a, b] = [await alice.device(), await bob.device()];
    open.push(a, b);
    const { call } = data<{ call: CallView }>(
      await a.request('callInvite', { userIds: [bob.userId], media: 'audio' }),
    );
    await b.waitForNotification('callIncoming');
    data(await b.request('callAccept', { callId: call.callId }));
    data(await a.request('callJoinMedia', { callId: call.callId }));
    const joined = data<ResponseData['join']>(await b.request('callJoinMedia', { callId: call.callId }));
    const lastSeq = lastSeqOf(b);
    const droppedAt = Date.now();
    b.ws.terminate();
    await until(() => service.signaling.parkedSessions === 1, { what: "Bob's session to be parked" });
    // Past the call's reconnect grace (0.5 s): had the drop counted as leaving, Bob would be hung up.
    await until(() => Date.now() - droppedAt > 1500, { timeoutMs: 3000, what: 'the call grace to pass' });
    const again = await RawSignaling.open(service.url, b.token);
    open.push(again);
    const resumed = data<ResponseData['resume']>(
      await again.request('resume', { token: joined.resumeToken!, lastSeq }),
    );
    expect(resumed.peerId).toBe(joined.peerId);
    const now = data<{ call: CallView }>(await again.request('callGet', { callId: call.callId })).call;
    expect(now.state).toBe('active');
    expect(now.participants.find((p) => p.userId === bob.userId)?.state).toBe('joined');
    expect(notifications(a).some((f) => f.notification === 'peerLeft')).toBe(false);
    data(await a.request('callHangup', { callId: call.callId }));
  });

  it('a token that expires without a refresh ends the session (4001): nothing is parked', async () => {
    n++;
    const room = `expiry-${n}`;
    const bob = await connect(`bob-${n}`, 'd1', { direct: true });
    data(await bob.request('join', { room }));
    const invite = await inviteOf(bob);
    const alice = await connect(`alice-${n}`, 'd1', { direct: true, ttl: 2 });
    const closed = closeOf(alice);
    const peerId = data<ResponseData['join']>(await alice.request('join', { room, invite })).peerId;
    expect((await closed).code).toBe(CloseCode.TokenExpired);
    const left = await bob.waitForNotification('peerLeft');
    expect((left.data as { peerId: string }).peerId).toBe(peerId);
    expect(service.signaling.parkedSessions).toBe(0);
  }, 10_000);

  it('a leave is final: nothing is parked and the token is void', async () => {
    const { alice, bob, resumeToken, users } = await twoInRoom();
    data(await alice.request('leave', {}));
    await bob.waitForNotification('peerLeft');
    await alice.close();
    expect(service.signaling.parkedSessions).toBe(0);
    const again = await connect(users.a);
    expect(errorCode(await again.request('resume', { token: resumeToken, lastSeq: 0 }))).toBe(
      ErrorCode.ResumeFailed,
    );
  });
});
