/**
 * Block lists and the per-callee invitation budget through the real server (HTTP and WebSocket),
 * with the embedded store and with Redis + PostgreSQL: the /api/v1/blocks endpoints, a blocked
 * caller's invitation ending exactly like one to a callee in another call while the blocker hears
 * nothing (no ring, no update, no history, no webhook), group calls, and RATE_LIMITED with its wait.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import type { CallHistoryEntry, CallView } from '../protocol/signaling.js';
import { callOf, signUp as signUpWithSockets, type TestUser } from './support/callTestKit.js';
import { apiClient } from './support/httpApi.js';
import { PhoneNumbers } from './support/phoneNumbers.js';
import type { RawSignaling } from './support/rawSignaling.js';
import { errorCode } from './support/rawSignaling.js';
import { signUp as signInOverHttp } from './support/signUp.js';
import { backends, startTestService } from './support/testService.js';
import { startWebhookReceiver } from './support/webhookReceiver.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
const WEBHOOK_SECRET = 'webhook-secret-for-tests-0123456789';
const INVITES_PER_CALLEE = 4;

async function ok<T>(ws: RawSignaling, method: string, data: unknown): Promise<T> {
  const r = await ws.request(method, data);
  if (!r.ok) throw new Error(`${method} failed: ${JSON.stringify(r.error)}`);
  return r.data as T;
}

/** What a caller can observe of a call that ended before anyone answered. */
function observable(call: CallView): unknown {
  return {
    state: call.state,
    endReason: call.endReason,
    answeredAt: call.answeredAt,
    participants: call.participants.map((p) => ({ state: p.state, ringingDevices: p.ringingDevices })),
  };
}

/** Every frame a socket received that mentions `callId` anywhere. */
const framesAbout = (ws: RawSignaling, callId: string): unknown[] =>
  ws.frames.filter((f) => JSON.stringify(f).includes(callId));

describe.each(backends)('blocks and invitation limits (%s state)', (backend) => {
  let service: Service;
  let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;
  const phones = new PhoneNumbers();
  const sockets: RawSignaling[] = [];
  type Person = TestUser & { token: string; open(label?: string): Promise<RawSignaling> };
  const person = async (name: string): Promise<Person> => {
    const u = await signUpWithSockets(service.url, phones.next(), name);
    const { accessToken } = await signInOverHttp(service.url, u.phone, name, 'http');
    return {
      ...u,
      token: accessToken,
      open: async (label?: string) => {
        const ws = await u.device(label);
        sockets.push(ws);
        return ws;
      },
    };
  };
  const api = (): ReturnType<typeof apiClient> => apiClient(service.url);

  /**
   * Everything sent to `ws` before this returns has arrived: a fresh caller rings `user`, and the
   * bus delivers one user's messages in order, so that ring comes after anything sent earlier.
   */
  const flush = async (user: Person, ws: RawSignaling): Promise<void> => {
    const prober = await person('Prober');
    const p = await prober.open();
    const { call } = await ok<{ call: CallView }>(p, 'callInvite', {
      userIds: [user.userId],
      media: 'audio',
    });
    await ws.waitFor(
      (f) => 'notification' in f && f.notification === 'callIncoming' && callOf(f).callId === call.callId,
    );
    await ok(p, 'callCancel', { callId: call.callId });
  };

  beforeAll(async () => {
    hooks = await startWebhookReceiver(WEBHOOK_SECRET);
    service = await startTestService(backend, {
      CALL_RING_TIMEOUT_SECONDS: '5',
      WEBHOOK_URL: hooks.url,
      WEBHOOK_SECRET,
      CALL_INVITES_PER_CALLEE: String(INVITES_PER_CALLEE),
    });
  });
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await service?.close();
    await hooks?.close();
  });

  it('keeps a block list over HTTP: authenticated, ids checked, unknown users 404, idempotent', async () => {
    const ana = await person('Ana');
    const ben = await person('Ben');
    expect((await api()('PUT', `/api/v1/blocks/${ben.userId}`)).status).toBe(401);
    const bad = await api()('PUT', '/api/v1/blocks/not%20an%20id', { token: ana.token });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe(ErrorCode.InvalidParams);
    const long = await api()('PUT', `/api/v1/blocks/${'a'.repeat(129)}`, { token: ana.token });
    expect(long.status).toBe(400);
    const unknown = await api()('PUT', '/api/v1/blocks/00000000-0000-4000-8000-000000000000', {
      token: ana.token,
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe(ErrorCode.NotFound);
    const self = await api()('PUT', `/api/v1/blocks/${ana.userId}`, { token: ana.token });
    expect(self.status).toBe(400);

    expect((await api()('PUT', `/api/v1/blocks/${ben.userId}`, { token: ana.token })).status).toBe(204);
    expect((await api()('PUT', `/api/v1/blocks/${ben.userId}`, { token: ana.token })).status).toBe(204);
    const listed = await api()('GET', '/api/v1/blocks', { token: ana.token });
    expect(listed.status).toBe(200);
    expect(listed.body.blocks).toHaveLength(1);
    expect(listed.body.blocks[0]).toMatchObject({ user: { userId: ben.userId, name: 'Ben' } });
    expect(typeof listed.body.blocks[0].blockedAt).toBe('number');
    // The list shows people as anyone sees them: never their phone number.
    expect(JSON.stringify(listed.body)).not.toContain(ben.phone);
    // Someone else's list is their own.
    expect((await api()('GET', '/api/v1/blocks', { token: ben.token })).body.blocks).toEqual([]);

    expect((await api()('DELETE', `/api/v1/blocks/${ben.userId}`, { token: ana.token })).status).toBe(204);
    expect((await api()('DELETE', `/api/v1/blocks/${ben.userId}`, { token: ana.token })).status).toBe(204);
    expect((await api()('GET', '/api/v1/blocks', { token: ana.token })).body.blocks).toEqual([]);
    const gone = await api()('DELETE', '/api/v1/blocks/00000000-0000-4000-8000-000000000000', {
      token: ana.token,
    });
    expect(gone.status).toBe(404);
  });

  it('a blocked caller sees exactly what a busy callee gives; the blocker hears nothing of it', async () => {
    const alice = await person('Alice');
    const bob = await person('Bob');
    const carol = await person('Carol');
    const dave = await person('Dave');
    const a = await alice.open();
    const [b1, b2] = [await bob.open('phone'), await bob.open('laptop')];
    const c = await carol.open();
    expect((await api()('PUT', `/api/v1/blocks/${alice.userId}`, { token: bob.token })).status).toBe(204);

    const blocked = (await ok<{ call: CallView }>(a, 'callInvite', { userIds: [bob.userId], media: 'audio' }))
      .call;

    // The reference: Dave is ringing for Carol's call, so Alice's call to him finds him busy.
    const d = await dave.open();
    const { call: carolsCall } = await ok<{ call: CallView }>(c, 'callInvite', {
      userIds: [dave.userId],
      media: 'audio',
    });
    const busy = (await ok<{ call: CallView }>(a, 'callInvite', { userIds: [dave.userId], media: 'audio' }))
      .call;
    expect(busy).toMatchObject({ state: 'ended', endReason: 'busy' });
    expect(observable(blocked)).toEqual(observable(busy));
    await ok(c, 'callCancel', { callId: carolsCall.callId });
    await ok(d, 'callHistorySeen', {});

    // Nothing reached either of Bob's devices, not even after a later call did.
    for (const b of [b1, b2]) {
      await flush(bob, b);
      expect(framesAbout(b, blocked.callId)).toEqual([]);
    }
    const bobHistory = await ok<{ entries: CallHistoryEntry[]; missedUnseen: number }>(b1, 'callHistory', {});
    expect(bobHistory.entries.map((e) => e.callId)).not.toContain(blocked.callId);
    const aliceHistory = await ok<{ entries: CallHistoryEntry[] }>(a, 'callHistory', {});
    expect(aliceHistory.entries.map((e) => e.callId)).toContain(blocked.callId);
    // No webhook names Bob as rung or as having missed it.
    await hooks.waitFor((e) => e.type === 'call.ended' && e.data.callId === blocked.callId);
    const aboutBob = hooks.events.filter(
      (e) =>
        e.data.callId === blocked.callId &&
        (e.type === 'call.ringing' || e.type === 'call.missed') &&
        JSON.stringify(e.data).includes(bob.userId),
    );
    expect(aboutBob).toEqual([]);

    // Unblocked, Alice rings Bob as before.
    expect((await api()('DELETE', `/api/v1/blocks/${alice.userId}`, { token: bob.token })).status).toBe(204);
    const { call: again } = await ok<{ call: CallView }>(a, 'callInvite', {
      userIds: [bob.userId],
      media: 'audio',
    });
    expect(again.state).toBe('ringing');
    await b1.waitFor(
      (f) => 'notification' in f && f.notification === 'callIncoming' && callOf(f).callId === again.callId,
    );
    await ok(a, 'callCancel', { callId: again.callId });
  });

  it('in a group call a callee who blocked the caller is not rung and hears none of the call', async () => {
    const alice = await person('Alice');
    const bob = await person('Bob');
    const carol = await person('Carol');
    const [a, b, c] = [await alice.open(), await bob.open(), await carol.open()];
    expect((await api()('PUT', `/api/v1/blocks/${alice.userId}`, { token: bob.token })).status).toBe(204);

    const { call } = await ok<{ call: CallView }>(a, 'callInvite', {
      userIds: [bob.userId, carol.userId],
      media: 'audio',
    });
    expect(call.state).toBe('ringing');
    expect(call.participants.find((p) => p.userId === bob.userId)?.state).toBe('busy');
    await c.waitFor(
      (f) => 'notification' in f && f.notification === 'callIncoming' && callOf(f).callId === call.callId,
    );
    await ok(c, 'callAccept', { callId: call.callId });
    await ok(c, 'callHangup', { callId: call.callId });
    // A group call lasts while anyone is in it: Alice leaves too.
    await ok(a, 'callHangup', { callId: call.callId });
    await hooks.waitFor((e) => e.type === 'call.ended' && e.data.callId === call.callId);
    const ringing = hooks.events.filter((e) => e.type === 'call.ringing' && e.data.callId === call.callId);
    expect(ringing.map((e) => e.data.userIds)).toEqual([[carol.userId]]);

    await flush(bob, b);
    expect(framesAbout(b, call.callId)).toEqual([]);
    // Bob is free for other calls: the blocked call never held him.
    const { call: fromCarol } = await ok<{ call: CallView }>(c, 'callInvite', {
      userIds: [bob.userId],
      media: 'audio',
    });
    expect(fromCarol.state).toBe('ringing');
    await ok(c, 'callCancel', { callId: fromCarol.callId });
  });

  it('limits invitations from one caller to one callee, with the wait, and counts refusals', async () => {
    const alice = await person('Alice');
    const bob = await person('Bob');
    const carol = await person('Carol');
    const a = await alice.open();
    for (let i = 0; i < INVITES_PER_CALLEE; i++) {
      const { call } = await ok<{ call: CallView }>(a, 'callInvite', {
        userIds: [bob.userId],
        media: 'audio',
      });
      await ok(a, 'callCancel', { callId: call.callId });
    }
    const refused = await a.request('callInvite', { userIds: [bob.userId], media: 'audio' });
    expect(errorCode(refused)).toBe(ErrorCode.RateLimited);
    const retryAfterMs = Number(!refused.ok && refused.error.details?.retryAfterMs);
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(600_000);
    // The budget is per callee: Carol can still be called, and Bob by someone else.
    const { call: toCarol } = await ok<{ call: CallView }>(a, 'callInvite', {
      userIds: [carol.userId],
      media: 'audio',
    });
    await ok(a, 'callCancel', { callId: toCarol.callId });
    const c = await carol.open();
    const { call: carolToBob } = await ok<{ call: CallView }>(c, 'callInvite', {
      userIds: [bob.userId],
      media: 'audio',
    });
    await ok(c, 'callCancel', { callId: carolToBob.callId });
    // A group invitation that includes Bob is refused as well.
    expect(
      errorCode(await a.request('callInvite', { userIds: [carol.userId, bob.userId], media: 'audio' })),
    ).toBe(ErrorCode.RateLimited);

    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    const line = metrics
      .split('\n')
      .find((l) => l.startsWith('calling_abuse_limited_total{limit="call-invite-callee"}'));
    expect(Number(line?.split(' ').pop())).toBeGreaterThanOrEqual(2);
  });
});
