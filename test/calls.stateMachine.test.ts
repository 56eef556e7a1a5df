/** The call state machine on its own: every transition and every refusal, without I/O. */
import { describe, expect, it } from 'vitest';
import { applyCallEvent, newCall, type CallEvent } from '../calls/callStateMachine.js';
import type { CallRecord } from '../calls/callRecord.js';
import { ErrorCode, ServiceError } from '../protocol/errors.js';

const T0 = 1_000_000;
function make(callees = ['b'], busy: string[] = []): CallRecord {
  return newCall({
    callId: 'c1',
    callerId: 'a',
    callerDeviceId: 'da',
    calleeIds: callees,
    busyUserIds: new Set(busy),
    media: 'video',
    now: T0,
    ringTimeoutMs: 45_000,
  }).call;
}
/** A 1:1 call from a to b, for comparing a blocked callee with a busy one. */
const baseBusy = () => ({
  callId: 'c',
  callerId: 'a',
  callerDeviceId: 'd',
  calleeIds: ['b'],
  busyUserIds: new Set<string>(),
  media: 'audio' as const,
  now: T0,
  ringTimeoutMs: 45_000,
});
const run = (call: CallRecord, ...events: CallEvent[]): CallRecord =>
  events.reduce((c, e, i) => applyCallEvent(c, e, T0 + 1000 * (i + 1)).call, call);
const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return e instanceof ServiceError ? e.code : 'not a ServiceError';
  }
  return undefined;
};

describe('call state machine', () => {
  it('starts ringing, or ends busy when every callee is busy', () => {
    expect(make().state).toBe('ringing');
    const t = newCall({
      callId: 'c',
      callerId: 'a',
      callerDeviceId: 'd',
      calleeIds: ['b'],
      busyUserIds: new Set(['b']),
      media: 'audio',
      now: T0,
      ringTimeoutMs: 1,
    });
    expect(t.call).toMatchObject({ state: 'ended', endReason: 'busy' });
    expect(t.effects).toContainEqual({ type: 'ended', reason: 'busy' });
  });

  it('accept makes the call active, joins the caller and announces the answering device', () => {
    const t = applyCallEvent(make(), { type: 'accept', userId: 'b', deviceId: 'db' }, T0 + 5);
    expect(t.call).toMatchObject({ state: 'active', answeredAt: T0 + 5, version: 2 });
    expect(t.call.participants.a!.state).toBe('joined');
    expect(t.effects).toEqual([{ type: 'answered', userId: 'b', deviceId: 'db' }]);
  });

  it('refuses a second accept from another device, and events from strangers', () => {
    const active = run(make(), { type: 'accept', userId: 'b', deviceId: 'db1' });
    expect(code(() => applyCallEvent(active, { type: 'accept', userId: 'b', deviceId: 'db2' }, T0))).toBe(
      ErrorCode.AlreadyAnswered,
    );
    expect(code(() => applyCallEvent(active, { type: 'accept', userId: 'x', deviceId: 'd' }, T0))).toBe(
      ErrorCode.NotInCall,
    );
    expect(code(() => applyCallEvent(active, { type: 'cancel', userId: 'a' }, T0))).toBe(
      ErrorCode.CallNotRinging,
    );
    expect(code(() => applyCallEvent(make(), { type: 'cancel', userId: 'b' }, T0))).toBe(ErrorCode.Forbidden);
    expect(code(() => applyCallEvent(make(), { type: 'mediaJoined', userId: 'b' }, T0))).toBe(
      ErrorCode.Forbidden,
    );
  });

  it.each([
    ['decline', [{ type: 'decline', userId: 'b' }], 'declined', 'declined'],
    ['cancel', [{ type: 'cancel', userId: 'a' }], 'cancelled', 'missed'],
    ['caller hangs up while ringing', [{ type: 'hangup', userId: 'a' }], 'cancelled', 'missed'],
    ['callee hangs up while ringing', [{ type: 'hangup', userId: 'b' }], 'declined', 'declined'],
    [
      'answered then hung up',
      [
        { type: 'accept', userId: 'b', deviceId: 'd' },
        { type: 'hangup', userId: 'b' },
      ],
      'hung-up',
      'left',
    ],
    [
      'answered, media never connected',
      [{ type: 'accept', userId: 'b', deviceId: 'd' }, { type: 'mediaTimeout' }],
      'failed',
      'left',
    ],
  ] as [string, CallEvent[], string, string][])('1:1 %s → %s', (_n, events, reason, calleeState) => {
    const call = run(make(), ...events);
    expect(call).toMatchObject({ state: 'ended', endReason: reason });
    expect(call.participants.b!.state).toBe(calleeState);
  });

  it('ring timeout misses whoever still rings, only after the deadline', () => {
    const early = applyCallEvent(make(), { type: 'ringTimeout' }, T0 + 1000);
    expect(early.call.state).toBe('ringing');
    const late = applyCallEvent(make(), { type: 'ringTimeout' }, T0 + 45_000);
    expect(late.call).toMatchObject({ state: 'ended', endReason: 'missed' });
    expect(late.effects).toContainEqual({ type: 'missed', userIds: ['b'] });
  });

  it('media timeout does nothing once both sides connected', () => {
    const call = run(
      make(),
      { type: 'accept', userId: 'b', deviceId: 'd' },
      { type: 'mediaJoined', userId: 'a' },
      { type: 'mediaJoined', userId: 'b' },
      { type: 'mediaTimeout' },
    );
    expect(call.state).toBe('active');
  });

  it('group: one decline does not end it; it ends when the last joined person leaves', () => {
    let call = run(make(['b', 'c']), { type: 'decline', userId: 'b' });
    expect(call.state).toBe('ringing');
    call = run(call, { type: 'accept', userId: 'c', deviceId: 'dc' }, { type: 'hangup', userId: 'c' });
    expect(call.state).toBe('active');
    call = run(call, { type: 'hangup', userId: 'a' });
    expect(call).toMatchObject({ state: 'ended', endReason: 'hung-up' });
  });

  it('adding people rings them, marks the busy ones, and refuses outsiders', () => {
    const active = run(make(['b', 'c']), { type: 'accept', userId: 'b', deviceId: 'd' });
    const t = applyCallEvent(
      active,
      {
        type: 'addParticipants',
        byUserId: 'b',
        userIds: ['d', 'e'],
        busyUserIds: new Set(['e']),
        ringDeadline: T0 + 99,
      },
      T0 + 10,
    );
    expect(t.call.order).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(t.call.participants.e!.state).toBe('busy');
    expect(t.effects).toEqual([{ type: 'ring', userIds: ['d'] }]);
    expect(
      code(() =>
        applyCallEvent(
          active,
          { type: 'addParticipants', byUserId: 'c', userIds: ['d'], busyUserIds: new Set(), ringDeadline: 0 },
          T0,
        ),
      ),
    ).toBe(ErrorCode.Forbidden);
  });

  it('a callee who blocked the caller is busy and silenced; ringing them later lifts the silence', () => {
    const t = newCall({
      callId: 'c',
      callerId: 'a',
      callerDeviceId: 'd',
      calleeIds: ['b', 'c'],
      busyUserIds: new Set(),
      blockedUserIds: new Set(['b']),
      media: 'audio',
      now: T0,
      ringTimeoutMs: 45_000,
    });
    expect(t.call.participants.b!.state).toBe('busy');
    expect(t.call.silenced).toEqual(['b']);
    expect(t.effects).toEqual([{ type: 'ring', userIds: ['c'] }]);
    // 1:1 and blocked: the same end as a callee in another call.
    const alone = newCall({ ...baseBusy(), blockedUserIds: new Set(['b']) });
    const busy = newCall({ ...baseBusy(), busyUserIds: new Set(['b']) });
    const { silenced, ...rest } = alone.call;
    expect(silenced).toEqual(['b']);
    expect(rest).toEqual(busy.call);
    expect(alone.effects).toEqual(busy.effects);
    // Carol (not blocked by b) answers and adds b: b rings and is no longer silenced.
    const active = run(t.call, { type: 'accept', userId: 'c', deviceId: 'dc' });
    const added = applyCallEvent(
      active,
      {
        type: 'addParticipants',
        byUserId: 'c',
        userIds: ['b'],
        busyUserIds: new Set(),
        ringDeadline: T0 + 99,
      },
      T0 + 10,
    );
    expect(added.call.participants.b!.state).toBe('ringing');
    expect(added.call.silenced).toBeUndefined();
    expect(added.effects).toEqual([{ type: 'ring', userIds: ['b'] }]);
  });

  it('an event that changes nothing is marked unchanged and keeps the version', () => {
    const answered = run(make(), { type: 'accept', userId: 'b', deviceId: 'db' });
    const lateRing = applyCallEvent(answered, { type: 'ringTimeout' }, T0 + 99_999);
    expect(lateRing).toEqual({ call: answered, effects: [], changed: false });

    const connected = run(
      answered,
      { type: 'mediaJoined', userId: 'a' },
      { type: 'mediaJoined', userId: 'b' },
    );
    const lateMedia = applyCallEvent(connected, { type: 'mediaTimeout' }, T0 + 99_999);
    expect(lateMedia).toEqual({ call: connected, effects: [], changed: false });
    // The same media join again changes nothing either; a real change still bumps the version.
    expect(applyCallEvent(connected, { type: 'mediaJoined', userId: 'b' }, T0 + 5).changed).toBe(false);
    const hungUp = applyCallEvent(connected, { type: 'hangup', userId: 'b' }, T0 + 5);
    expect(hungUp).toMatchObject({ changed: true, call: { version: connected.version + 1, state: 'ended' } });
  });

  it('media lost with its node: a 1:1 call fails, a group call goes on without those who did not return', () => {
    const connected = run(
      make(),
      { type: 'accept', userId: 'b', deviceId: 'db' },
      { type: 'mediaJoined', userId: 'a' },
      { type: 'mediaJoined', userId: 'b' },
    );
    const lost = applyCallEvent(connected, { type: 'mediaLost', userIds: ['b'] }, T0 + 50_000);
    expect(lost.call).toMatchObject({ state: 'ended', endReason: 'failed' });
    expect(lost.call.participants.b).toMatchObject({ state: 'left' });
    expect(lost.effects).toContainEqual({ type: 'ended', reason: 'failed' });
    // Nobody named, or the call already over: nothing changes.
    expect(applyCallEvent(connected, { type: 'mediaLost', userIds: [] }, T0 + 5).changed).toBe(false);
    expect(applyCallEvent(lost.call, { type: 'mediaLost', userIds: ['a'] }, T0 + 5).changed).toBe(false);

    const group = run(
      make(['b', 'c']),
      { type: 'accept', userId: 'b', deviceId: 'db' },
      { type: 'accept', userId: 'c', deviceId: 'dc' },
    );
    const one = applyCallEvent(group, { type: 'mediaLost', userIds: ['c'] }, T0 + 50_000);
    expect(one.call.state).toBe('active');
    expect(one.call.participants.c?.state).toBe('left');
    const all = applyCallEvent(one.call, { type: 'mediaLost', userIds: ['a', 'b'] }, T0 + 50_001);
    expect(all.call).toMatchObject({ state: 'ended', endReason: 'failed' });
  });

  it('refuses anything on an ended call', () => {
    const ended = run(make(), { type: 'decline', userId: 'b' });
    expect(code(() => applyCallEvent(ended, { type: 'hangup', userId: 'a' }, T0))).toBe(ErrorCode.CallEnded);
    expect(applyCallEvent(ended, { type: 'ringTimeout' }, T0 + 99_999).effects).toEqual([]);
  });
});
