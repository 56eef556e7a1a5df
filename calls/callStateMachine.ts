/**
 * The call state machine as pure functions: (call, event, now) → new call + what must be told.
 * No I/O here, so every transition can be tested directly and applied atomically by the store.
 *
 *   call      ringing ──accept──▶ active ──last joined leaves / 1:1 hang-up──▶ ended
 *               │                   │
 *               ├─cancel────────────┼──────────────────────────────────────▶ ended(cancelled)
 *               ├─all declined──────┼──────────────────────────────────────▶ ended(declined)
 *               ├─ring timeout──────┼──(nobody joined but the caller)──────▶ ended(missed)
 *               └─every callee busy─┘                                       ended(busy)
 *                                   ├─media never connected (timeout)─────▶ ended(failed)
 *                                   └─media lost with its node, nobody back─▶ ended(failed)
 *   person    calling (caller) ─▶ joined ─▶ left
 *             ringing ─▶ joined | declined | missed      busy (was in another call, or blocked
 *                                                         whoever rang them: then also "silenced")
 */
import { isDeepStrictEqual } from 'node:util';
import { ErrorCode, ServiceError } from '../protocol/errors.js';
import type { CallEndReason } from '../protocol/signaling.js';
import { silencedIn, type CallParticipantRecord, type CallRecord } from './callRecord.js';

export type CallEvent =
  | { type: 'ringing'; userId: string; deviceId: string }
  | { type: 'accept'; userId: string; deviceId: string }
  | { type: 'decline'; userId: string }
  | { type: 'cancel'; userId: string }
  | { type: 'hangup'; userId: string }
  | { type: 'ringTimeout' }
  | { type: 'mediaJoined'; userId: string }
  | { type: 'mediaTimeout' }
  /**
   * These people's media has been gone from the call's room past the reconnect grace, and no node
   * holds a timer for them (theirs died with its node): they left; a call that cannot go on fails.
   */
  | { type: 'mediaLost'; userIds: string[] }
  | {
      type: 'addParticipants';
      byUserId: string;
      userIds: string[];
      busyUserIds: ReadonlySet<string>;
      /** Of `userIds`, those who blocked `byUserId`: busy and silenced, never rung (default none). */
      blockedUserIds?: ReadonlySet<string>;
      ringDeadline: number;
    };

export type CallEffect =
  | { type: 'answered'; userId: string; deviceId: string }
  | { type: 'ring'; userIds: string[] }
  | { type: 'ended'; reason: CallEndReason }
  | { type: 'missed'; userIds: string[] };

export interface Transition {
  call: CallRecord;
  effects: CallEffect[];
  /**
   * False when the event changed nothing (a ring timeout on an answered call, a media timeout on a
   * connected one, a device confirming it rings twice): then `call` is the current record, with
   * its version unchanged, and there is nothing to write or tell anyone.
   */
  changed: boolean;
}

const NONE: ReadonlySet<string> = new Set();

function participant(
  state: CallParticipantRecord['state'],
  deviceId: string | null = null,
): CallParticipantRecord {
  return { state, deviceId, ringingDevices: [], joinedAt: null, leftAt: null, mediaJoinedAt: null };
}

export function newCall(opts: {
  callId: string;
  callerId: string;
  callerDeviceId: string;
  calleeIds: string[];
  busyUserIds: ReadonlySet<string>;
  /** Callees who blocked the caller: busy and silenced, never rung (default none). */
  blockedUserIds?: ReadonlySet<string>;
  media: CallRecord['media'];
  now: number;
  ringTimeoutMs: number;
}): Transition {
  const call: CallRecord = {
    callId: opts.callId,
    callerId: opts.callerId,
    media: opts.media,
    state: 'ringing',
    createdAt: opts.now,
    ringDeadline: opts.now + opts.ringTimeoutMs,
    answeredAt: null,
    endedAt: null,
    endReason: null,
    participants: { [opts.callerId]: participant('calling', opts.callerDeviceId) },
    order: [opts.callerId],
    version: 1,
  };
  const blocked = opts.blockedUserIds ?? NONE;
  const ring: string[] = [];
  for (const id of opts.calleeIds) {
    if (call.participants[id]) continue;
    call.order.push(id);
    const busy = opts.busyUserIds.has(id) || blocked.has(id);
    call.participants[id] = participant(busy ? 'busy' : 'ringing');
    if (!busy) ring.push(id);
  }
  setSilenced(call, opts.calleeIds, blocked);
  const effects: CallEffect[] = [];
  if (ring.length === 0) effects.push(...end(call, 'busy', opts.now));
  else effects.push({ type: 'ring', userIds: ring });
  return { call, effects, changed: true };
}

/** Marks which of `ids` are silenced (in `blocked`) and which are not any more. */
function setSilenced(call: CallRecord, ids: readonly string[], blocked: ReadonlySet<string>): void {
  const silenced = new Set(silencedIn(call));
  for (const id of ids) {
    if (blocked.has(id)) silenced.add(id);
    else silenced.delete(id);
  }
  if (silenced.size > 0) call.silenced = [...silenced];
  else delete call.silenced;
}

function clone(call: CallRecord): CallRecord {
  return structuredClone(call);
}

function member(call: CallRecord, userId: string): CallParticipantRecord {
  const p = call.participants[userId];
  if (!p) throw new ServiceError(ErrorCode.NotInCall, 'you are not in this call', 403);
  return p;
}

function assertLive(call: CallRecord): void {
  if (call.state === 'ended')
    throw new ServiceError(ErrorCode.CallEnded, `the call has ended (${call.endReason})`, 409);
}

/** Ends the call: whoever is still ringing missed it, whoever is in it leaves. */
function end(call: CallRecord, reason: CallEndReason, now: number): CallEffect[] {
  const missed: string[] = [];
  for (const [id, p] of Object.entries(call.participants)) {
    if (p.state === 'ringing') {
      p.state = 'missed';
      missed.push(id);
    } else if (p.state === 'joined' || p.state === 'calling') {
      p.state = 'left';
      p.leftAt = now;
    }
  }
  call.state = 'ended';
  call.endedAt = now;
  call.endReason = reason;
  const effects: CallEffect[] = [{ type: 'ended', reason }];
  if (missed.length > 0) effects.push({ type: 'missed', userIds: missed });
  return effects;
}

const count = (call: CallRecord, state: CallParticipantRecord['state']): number =>
  Object.values(call.participants).filter((p) => p.state === state).length;

/** After someone stops ringing or leaves: does the call still have a reason to exist? */
function settle(call: CallRecord, now: number): CallEffect[] {
  if (call.state === 'ended') return [];
  const ringing = count(call, 'ringing');
  const joined = count(call, 'joined');
  const oneToOne = call.order.length === 2;
  if (call.state === 'ringing' && ringing === 0) {
    const declined = count(call, 'declined');
    const reason: CallEndReason = declined > 0 ? 'declined' : count(call, 'busy') > 0 ? 'busy' : 'missed';
    return end(call, reason, now);
  }
  if (call.state === 'active') {
    if (oneToOne && joined < 2 && ringing === 0) return end(call, 'hung-up', now);
    if (joined === 0 && ringing === 0) return end(call, 'hung-up', now);
  }
  return [];
}

export function applyCallEvent(current: CallRecord, event: CallEvent, now: number): Transition {
  const call = clone(current);
  const effects: CallEffect[] = [];
  switch (event.type) {
    case 'ringing': {
      const p = member(call, event.userId);
      assertLive(call);
      if (p.state !== 'ringing')
        throw new ServiceError(ErrorCode.CallNotRinging, 'the call is not ringing for you', 409);
      if (!p.ringingDevices.includes(event.deviceId)) p.ringingDevices.push(event.deviceId);
      break;
    }
    case 'accept': {
      const p = member(call, event.userId);
      assertLive(call);
      if (p.state === 'joined' && p.deviceId !== event.deviceId) {
        throw new ServiceError(
          ErrorCode.AlreadyAnswered,
          'the call was already answered on another device',
          409,
        );
      }
      if (p.state !== 'ringing')
        throw new ServiceError(ErrorCode.CallNotRinging, 'the call is not ringing for you', 409);
      p.state = 'joined';
      p.deviceId = event.deviceId;
      p.joinedAt = now;
      if (call.state === 'ringing') {
        call.state = 'active';
        call.answeredAt = now;
        const caller = call.participants[call.callerId]!;
        caller.state = 'joined';
        caller.joinedAt = now;
      }
      effects.push({ type: 'answered', userId: event.userId, deviceId: event.deviceId });
      break;
    }
    case 'decline': {
      const p = member(call, event.userId);
      assertLive(call);
      if (p.state !== 'ringing')
        throw new ServiceError(ErrorCode.CallNotRinging, 'the call is not ringing for you', 409);
      p.state = 'declined';
      effects.push(...settle(call, now));
      break;
    }
    case 'cancel': {
      member(call, event.userId);
      assertLive(call);
      if (call.callerId !== event.userId)
        throw new ServiceError(ErrorCode.Forbidden, 'only the caller can cancel', 403);
      if (call.state !== 'ringing') {
        throw new ServiceError(
          ErrorCode.CallNotRinging,
          'the call was already answered; hang up instead',
          409,
        );
      }
      effects.push(...end(call, 'cancelled', now));
      break;
    }
    case 'hangup': {
      const p = member(call, event.userId);
      assertLive(call);
      if (call.state === 'ringing' && event.userId === call.callerId) {
        effects.push(...end(call, 'cancelled', now));
      } else if (p.state === 'ringing') {
        p.state = 'declined';
        effects.push(...settle(call, now));
      } else if (p.state === 'joined') {
        p.state = 'left';
        p.leftAt = now;
        effects.push(...settle(call, now));
      } else {
        throw new ServiceError(ErrorCode.NotInCall, 'you are not in this call any more', 409);
      }
      break;
    }
    case 'ringTimeout': {
      if (call.state === 'ended') break;
      const missed: string[] = [];
      for (const [id, p] of Object.entries(call.participants)) {
        if (p.state === 'ringing' && now >= call.ringDeadline) {
          p.state = 'missed';
          missed.push(id);
        }
      }
      if (missed.length > 0) effects.push({ type: 'missed', userIds: missed });
      if (call.state === 'ringing' && count(call, 'ringing') === 0) effects.push(...end(call, 'missed', now));
      else effects.push(...settle(call, now));
      break;
    }
    case 'mediaJoined': {
      const p = member(call, event.userId);
      assertLive(call);
      if (p.state !== 'joined')
        throw new ServiceError(ErrorCode.Forbidden, 'accept the call before joining its media', 403);
      p.mediaJoinedAt ??= now;
      break;
    }
    case 'mediaTimeout': {
      if (call.state !== 'active') break;
      const connected = Object.values(call.participants).filter((p) => p.mediaJoinedAt !== null).length;
      if (connected < 2) effects.push(...end(call, 'failed', now));
      break;
    }
    case 'mediaLost': {
      if (call.state !== 'active') break;
      for (const id of event.userIds) {
        const p = call.participants[id];
        if (p?.state !== 'joined') continue;
        p.state = 'left';
        p.leftAt = now;
      }
      const joined = count(call, 'joined');
      const ringing = count(call, 'ringing');
      if ((call.order.length === 2 && joined < 2 && ringing === 0) || (joined === 0 && ringing === 0))
        effects.push(...end(call, 'failed', now));
      break;
    }
    case 'addParticipants': {
      const by = member(call, event.byUserId);
      assertLive(call);
      if (by.state !== 'joined' && by.state !== 'calling') {
        throw new ServiceError(ErrorCode.Forbidden, 'only people in the call can add others', 403);
      }
      const blocked = event.blockedUserIds ?? NONE;
      const ring: string[] = [];
      for (const id of event.userIds) {
        const existing = call.participants[id];
        if (
          existing &&
          (existing.state === 'ringing' || existing.state === 'joined' || existing.state === 'calling')
        )
          continue;
        if (!existing) call.order.push(id);
        const busy = event.busyUserIds.has(id) || blocked.has(id);
        call.participants[id] = participant(busy ? 'busy' : 'ringing');
        if (!busy) ring.push(id);
      }
      // Someone else may add a person who blocked the first inviter: then they ring, unsilenced.
      setSilenced(
        call,
        event.userIds.filter((id) => call.participants[id]?.state === 'busy' || ring.includes(id)),
        blocked,
      );
      if (ring.length > 0) {
        call.ringDeadline = event.ringDeadline;
        effects.push({ type: 'ring', userIds: ring });
      }
      break;
    }
  }
  // Events that found nothing to do must not bump the version: a write would wake every device.
  if (effects.length === 0 && isDeepStrictEqual(call, current))
    return { call: current, effects, changed: false };
  call.version = current.version + 1;
  return { call, effects, changed: true };
}
