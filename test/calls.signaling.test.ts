/**
 * Calls through the real server's signaling, with the embedded store and with Redis: ringing on
 * every device, accept/decline/cancel/busy/missed/glare, group calls, history, webhooks, and every
 * wrong-order or foreign-call request answered with a typed error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import type { CallHistoryEntry, CallView, NotificationEnvelope } from '../protocol/signaling.js';
import { callOf, signUp, waitForCall, type TestUser } from './support/callTestKit.js';
import type { RawSignaling } from './support/rawSignaling.js';
import { errorCode } from './support/rawSignaling.js';
import { PhoneNumbers } from './support/phoneNumbers.js';
import { backends, startTestService } from './support/testService.js';
import { startWebhookReceiver } from './support/webhookReceiver.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
const WEBHOOK_SECRET = 'webhook-secret-for-tests-0123456789';

async function ok<T>(ws: RawSignaling, method: string, data: unknown): Promise<T> {
  const r = await ws.request(method, data);
  if (!r.ok) throw new Error(`${method} failed: ${JSON.stringify(r.error)}`);
  return r.data as T;
}
const incoming = (ws: RawSignaling): Promise<NotificationEnvelope> => ws.waitForNotification('callIncoming');

describe.each(backends)('calls (%s state)', (backend) => {
  let service: Service;
  let hooks: Awaited<ReturnType<typeof startWebhookReceiver>>;
  const phones = new PhoneNumbers();
  const sockets: RawSignaling[] = [];
  const person = async (
    name: string,
  ): Promise<TestUser & { open(label?: string): Promise<RawSignaling> }> => {
    const u = await signUp(service.url, phones.next(), name);
    return {
      ...u,
      open: async (label?: string) => {
        const ws = await u.device(label);
        sockets.push(ws);
        return ws;
      },
    };
  };

  beforeAll(async () => {
    hooks = await startWebhookReceiver(WEBHOOK_SECRET);
    service = await startTestService(backend, {
      CALL_RING_TIMEOUT_SECONDS: '1.5',
      CALL_RECONNECT_GRACE_SECONDS: '0.5',
      // A dropped socket's peer is kept RESUME_GRACE_MS for a resume; these tests assert what
      // follows a drop that is never resumed, so the grace is short.
      RESUME_GRACE_MS: '200',
      WEBHOOK_URL: hooks.url,
      WEBHOOK_SECRET,
    });
  });
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await service?.close();
    await hooks?.close();
  });

  it('rings every device, one accept wins, the others stop; media for participants only; hang-up ends it for both', async () => {
    const alice = await person('Alice');
    const bob = await person('Bob');
    const carol = await person('Carol');
    const a = await alice.open();
    const [b1, b2] = [await bob.open('phone'), await bob.open('laptop')];
    const c = await carol.open();

    const { call } = await ok<{ call: CallView }>(a, 'callInvite', { userIds: [bob.userId], media: 'video' });
    expect(call.state).toBe('ringing');
    for (const b of [b1, b2]) {
      const ring = await incoming(b);
      expect(callOf(ring).callId).toBe(call.callId);
      expect((ring.data as { caller: { name: string } }).caller.name).toBe('Alice');
      await ok(b, 'callRinging', { callId: call.callId });
    }
    const ringing = await waitForCall(
      a,
      (v) => v.participants.find((p) => p.userId === bob.userId)?.ringingDevices === 2,
    );
    expect(ringing.state).toBe('ringing');

    // Strangers can do nothing with the call.
    for (const method of ['callAccept', 'callDecline', 'callHangup', 'callJoinMedia', 'callGet']) {
      expect(errorCode(await c.request(method, { callId: call.callId })), method).toBe(ErrorCode.NotInCall);
    }
    expect(errorCode(await c.request('join', { room: `call-${call.callId}` }))).toBe(ErrorCode.Forbidden);
    expect(errorCode(await b1.request('callCancel', { callId: call.callId }))).toBe(ErrorCode.Forbidden);
    expect(errorCode(await b1.request('callJoinMedia', { callId: call.callId }))).toBe(ErrorCode.Forbidden);

    // Both Bob devices accept at the same instant: exactly one wins.
    const [r1, r2] = await Promise.all([
      b1.request('callAccept', { callId: call.callId }),
      b2.request('callAccept', { callId: call.callId }),
    ]);
    expect([r1.ok, r2.ok].filter(Boolean)).toHaveLength(1);
    expect([errorCode(r1), errorCode(r2)]).toContain(ErrorCode.AlreadyAnswered);
    const [winner, loser] = r1.ok ? [b1, b2] : [b2, b1];
    expect((await loser.waitForNotification('callAnsweredElsewhere')).data).toEqual({ callId: call.callId });
    expect((await waitForCall(a, (v) => v.state === 'active')).answeredAt).not.toBeNull();

    // Only the answering device gets into the call's media room.
    expect(errorCode(await loser.request('callJoinMedia', { callId: call.callId }))).toBe(
      ErrorCode.Forbidden,
    );
    const joinedA = await ok<{ peers: unknown[] }>(a, 'callJoinMedia', { callId: call.callId });
    expect(joinedA.peers).toEqual([]);
    const joinedB = await ok<{ peers: { userId: string }[] }>(winner, 'callJoinMedia', {
      callId: call.callId,
    });
    expect(joinedB.peers.map((p) => p.userId)).toEqual([alice.userId]);
    // A call's room has no invites or members to add: only the call decides who gets in.
    expect(errorCode(await a.request('roomInvite', {}))).toBe(ErrorCode.Forbidden);
    expect(errorCode(await a.request('roomAddMembers', { userIds: [carol.userId] }))).toBe(
      ErrorCode.Forbidden,
    );
    expect(errorCode(await c.request('join', { room: `call-${call.callId}` }))).toBe(ErrorCode.Forbidden);
    expect(errorCode(await a.request('callAccept', { callId: call.callId }))).toBe(ErrorCode.CallNotRinging);

    // Exact durations are checked with a manual clock in test/calls.service.test.ts; here it is
    // enough that the time between the answer and the hang-up counts (rounded up to a second).
    await ok(a, 'callHangup', { callId: call.callId });
    for (const ws of [a, winner]) {
      const ended = await waitForCall(ws, (v) => v.state === 'ended');
      expect(ended.endReason).toBe('hung-up');
    }
    expect(service.rooms.room(`call-${call.callId}`)).toBeUndefined();
    expect(errorCode(await winner.request('callHangup', { callId: call.callId }))).toBe(ErrorCode.CallEnded);

    for (const [ws, direction] of [
      [a, 'outgoing'],
      [winner, 'incoming'],
    ] as const) {
      const { entries } = await ok<{ entries: CallHistoryEntry[] }>(ws, 'callHistory', {});
      expect(entries[0]).toMatchObject({
        callId: call.callId,
        direction,
        media: 'video',
        outcome: 'hung-up',
        missed: false,
      });
      expect(entries[0]!.durationSeconds).toBeGreaterThan(0);
    }
    await hooks.waitFor((e) => e.type === 'call.answered' && e.data.callId === call.callId);
    await hooks.waitFor((e) => e.type === 'call.ended' && e.data.callId === call.callId);
    expect(hooks.badSignatures).toBe(0);
  });

  it('decline ends a 1:1 call as declined for both', async () => {
    const alice = await person('Alice');
    const bob = await person('Bob');
    const a = await alice.open();
    const b = await bob.open();
    const { call } = await ok<{ call: CallView }>(a, 'callInvite', { userIds: [bob.userId], media: 'audio' });
    await incoming(b);
    await ok(b, 'callDecline', { callId: call.callId });
    expect((await waitForCall(a, (v) => v.state === 'ended')).endReason).toBe('declined');
    const { entries } = await ok<{ entries: CallHistoryEntry[] }>(b, 'callHistory', {});
    expect(entries[0]).toMatchObject({ outcome: 'declined', direction: 'incoming', durationSeconds: 0 });
  });

  it('no answer: missed on both sides, counted until seen, with a webhook', async () => {
    const alice = await person('Alice');
    const bob = await person('Bob');
    const a = await alice.open();
    const b = await bob.open();
    const { call } = await ok<{ call: CallView }>(a, 'callInvite', { userIds: [bob.userId], media: 'video' });
    await incoming(b);
    expect((await waitForCall(a, (v) => v.state === 'ended')).endReason).toBe('missed');
    await waitForCall(b, (v) => v.state === 'ended');
    const hist = await ok<{ entries: CallHistoryEntry[]; missedUnseen: number }>(b, 'callHistory', {});
    expect(hist.entries[0]).toMatchObject({ callId: call.callId, outcome: 'missed', missed: true });
    expect(hist.missedUnseen).toBe(1);
    await ok(b, 'callHistorySeen', {});
    expect((await ok<{ missedUnseen: number }>(b, 'callHistory', {})).missedUnseen).toBe(0);
    expect((await ok<{ entries: CallHistoryEntry[] }>(a, 'callHistory', {})).entries[0]!.outcome).toBe(
      'missed',
    );
    const hook = await hooks.waitFor((e) => e.type === 'call.missed' && e.data.callId === call.callId);
    expect(hook.data.userIds).toEqual([bob.userId]);
  });

  it('busy: someone already in a call is not rung', async () => {
    const [alice, bob, carol] = [await person('Alice'), await person('Bob'), await person('Carol')];
    const [a, b, c] = [await alice.open(), await bob.open(), await carol.open()];
    const first = await ok<{ call: CallView }>(c, 'callInvite', { userIds: [bob.userId], media: 'audio' });
    await incoming(b);
    await ok(b, 'callAccept', { callId: first.call.callId });
    const second = await ok<{ call: CallView }>(a, 'callInvite', { userIds: [bob.userId], media: 'audio' });
    expect(second.call).toMatchObject({ state: 'ended', endReason: 'busy' });
    expect(second.call.participants.find((p) => p.userId === bob.userId)?.state).toBe('busy');
    expect(b.frames.filter((f) => 'notification' in f && f.notification === 'callIncoming')).toHaveLength(1);
    // And a caller who is in a call cannot place another.
    expect(errorCode(await c.request('callInvite', { userIds: [alice.userId], media: 'audio' }))).toBe(
      ErrorCode.AlreadyInCall,
    );
  });

  it('cancel before an answer stops the ringing and leaves a missed call', async () => {
    const [alice, bob] = [await person('Alice'), await person('Bob')];
    const [a, b] = [await alice.open(), await bob.open()];
    const { call } = await ok<{ call: CallView }>(a, 'callInvite', { userIds: [bob.userId], media: 'video' });
    await incoming(b);
    await ok(a, 'callCancel', { callId: call.callId });
    const ended = await waitForCall(b, (v) => v.state === 'ended');
    expect(ended.endReason).toBe('cancelled');
    expect(errorCode(await b.request('callAccept', { callId: call.callId }))).toBe(ErrorCode.CallEnded);
    const hist = await ok<{ entries: CallHistoryEntry[]; missedUnseen: number }>(b, 'callHistory', {});
    expect(hist.entries[0]).toMatchObject({ missed: true, outcome: 'missed' });
    expect(hist.missedUnseen).toBe(1);
  });

  it('glare: two people calling each other at once end up in one call', async () => {
    const [alice, bob] = [await person('Alice'), await person('Bob')];
    const [a, b] = [await alice.open(), await bob.open()];
    const [ra, rb] = await Promise.all([
      ok<{ call: CallView }>(a, 'callInvite', { userIds: [bob.userId], media: 'audio' }),
      ok<{ call: CallView }>(b, 'callInvite', { userIds: [alice.userId], media: 'audio' }),
    ]);
    expect(ra.call.callId).toBe(rb.call.callId);
    const active = await waitForCall(a, (v) => v.state === 'active');
    expect(active.participants.map((p) => p.state)).toEqual(['joined', 'joined']);
    // Sequential glare too.
    await ok(a, 'callHangup', { callId: active.callId });
    await waitForCall(b, (v) => v.callId === active.callId && v.state === 'ended');
    const first = await ok<{ call: CallView }>(a, 'callInvite', { userIds: [bob.userId], media: 'video' });
    const answer = await ok<{ call: CallView }>(b, 'callInvite', { userIds: [alice.userId], media: 'video' });
    expect(answer.call).toMatchObject({ callId: first.call.callId, state: 'active' });
  });

  it('group call: invite several, add someone, people leave, ends when the last one leaves', async () => {
    const [alice, bob, carol, dan] = [
      await person('Alice'),
      await person('Bob'),
      await person('Carol'),
      await person('Dan'),
    ];
    const [a, b, c, d] = [await alice.open(), await bob.open(), await carol.open(), await dan.open()];
    const { call } = await ok<{ call: CallView }>(a, 'callInvite', {
      userIds: [bob.userId, carol.userId],
      media: 'video',
    });
    await incoming(b);
    await incoming(c);
    await ok(b, 'callAccept', { callId: call.callId });
    await ok(c, 'callAccept', { callId: call.callId });
    const added = await ok<{ call: CallView }>(b, 'callAddParticipants', {
      callId: call.callId,
      userIds: [dan.userId],
    });
    expect(added.call.participants.find((p) => p.userId === dan.userId)?.state).toBe('ringing');
    await incoming(d);
    await ok(d, 'callAccept', { callId: call.callId });
    await ok(c, 'callHangup', { callId: call.callId });
    const afterCarol = await waitForCall(
      a,
      (v) => v.participants.find((p) => p.userId === carol.userId)?.state === 'left',
    );
    expect(afterCarol.state).toBe('active');
    await ok(b, 'callHangup', { callId: call.callId });
    await ok(d, 'callHangup', { callId: call.callId });
    expect((await ok<{ call: CallView }>(a, 'callGet', { callId: call.callId })).call.state).toBe('active');
    await ok(a, 'callHangup', { callId: call.callId });
    expect((await waitForCall(b, (v) => v.state === 'ended')).endReason).toBe('hung-up');
  });

  it('a callee with no connected device keeps ringing (webhook for push) and sees the call when a device connects', async () => {
    const [alice, erin] = [await person('Alice'), await person('Erin')];
    const a = await alice.open();
    const { call } = await ok<{ call: CallView }>(a, 'callInvite', {
      userIds: [erin.userId],
      media: 'audio',
    });
    const hook = await hooks.waitFor((e) => e.type === 'call.ringing' && e.data.callId === call.callId);
    expect(hook.data.offlineUserIds).toEqual([erin.userId]);
    const e = await erin.open();
    expect(callOf(await incoming(e)).callId).toBe(call.callId);
    await ok(e, 'callAccept', { callId: call.callId });
    expect((await waitForCall(a, (v) => v.state === 'active')).callId).toBe(call.callId);
    await ok(a, 'callHangup', { callId: call.callId });
  });

  it('hangs up for a device that dropped out of the call and did not come back', async () => {
    const [alice, bob] = [await person('Alice'), await person('Bob')];
    const [a, b] = [await alice.open(), await bob.open()];
    const { call } = await ok<{ call: CallView }>(a, 'callInvite', { userIds: [bob.userId], media: 'audio' });
    await incoming(b);
    await ok(b, 'callAccept', { callId: call.callId });
    await ok(a, 'callJoinMedia', { callId: call.callId });
    await ok(b, 'callJoinMedia', { callId: call.callId });
    b.ws.terminate();
    expect((await waitForCall(a, (v) => v.state === 'ended')).endReason).toBe('hung-up');
  });

  it('validates call requests', async () => {
    const alice = await person('Alice');
    const a = await alice.open();
    expect(errorCode(await a.request('callInvite', { userIds: [], media: 'video' }))).toBe(
      ErrorCode.InvalidParams,
    );
    expect(errorCode(await a.request('callInvite', { userIds: ['x'], media: 'hologram' }))).toBe(
      ErrorCode.InvalidParams,
    );
    expect(errorCode(await a.request('callInvite', { userIds: [alice.userId], media: 'audio' }))).toBe(
      ErrorCode.InvalidParams,
    );
    expect(errorCode(await a.request('callInvite', { userIds: ['no-such-user'], media: 'audio' }))).toBe(
      ErrorCode.UnknownUser,
    );
    expect(errorCode(await a.request('callAccept', { callId: 'no-such-call' }))).toBe(ErrorCode.NotFound);
  });
});
