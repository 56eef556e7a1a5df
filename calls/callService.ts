/**
 * The owner of calls. Every change is a state-machine event applied with compare-and-set on the
 * stored call (retried on conflict), then announced: to every participant's devices through the
 * user message bus (any node), to webhooks, and to metrics. Ring and media timers run on the node
 * that armed them; a ringing call past its deadline is also timed out lazily on the next access.
 * An event that changes nothing (a ring timeout after the answer) writes and announces nothing.
 */
import { randomUUID } from 'node:crypto';
import type { Identity } from '../auth/accessTokens.js';
import { publicUser } from '../accounts/accountService.js';
import { ErrorCode, ServiceError } from '../protocol/errors.js';
import type { CallHistoryEntry, CallMedia, CallView, UserSummary } from '../protocol/signaling.js';
import type { Logger } from '../lib/logger.js';
import type { AccountStore } from '../state/accountStore.js';
import type { CallStore, PointerExpectation } from '../state/callStore.js';
import { StoreUnavailableError } from '../state/storeUnavailableError.js';
import type { UserMessage, UserMessageBus } from '../state/userMessageBus.js';
import { holdsCall, silencedIn, type CallRecord } from './callRecord.js';
import type { BlockList } from '../accounts/blockList.js';
import type { RateLimits } from '../accounts/rateLimits.js';
import { applyCallEvent, newCall, type CallEffect, type CallEvent } from './callStateMachine.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import type { WebhookSink } from './webhooks.js';

export const CALL_ROOM_PREFIX = 'call-';
export const callRoomName = (callId: string): string => `${CALL_ROOM_PREFIX}${callId}`;
const MAX_CAS_ATTEMPTS = 8;
/** Retries of a call timer while the store is unreachable (about a minute); then the lazy checks remain. */
const TIMER_RETRIES = 60;

export interface CallTimings {
  ringTimeoutMs: number;
  mediaTimeoutMs: number;
  reconnectGraceMs: number;
}

/** A connected device, as the call service sees it. */
export interface CallEndpoint {
  readonly userId: string;
  readonly deviceId: string;
  deliver(message: UserMessage): void;
}

export interface CallServiceOptions {
  calls: CallStore;
  accounts: AccountStore;
  bus: UserMessageBus;
  webhooks: WebhookSink;
  /** Who blocked whom: a callee who blocked the caller is silently not rung. */
  blocks: Pick<BlockList, 'blockersOf'>;
  /** The per-(caller, callee) invitation budget (`callInvitesPerCallee`). */
  limits: Pick<RateLimits, 'consume' | 'specs'>;
  timings: CallTimings;
  log: Logger;
  onOutcome?: (outcome: string) => void;
  /** Whether a user's device is in a call room right now (any node); used after a disconnect. */
  isInCallRoom: (callId: string, userId: string) => Promise<boolean>;
  closeCallRoom: (callId: string) => void;
  /** Time and timers; the system clock unless a test drives time itself. */
  clock?: Clock;
}

export class CallService {
  readonly #o: CallServiceOptions;
  readonly #clock: Clock;
  readonly #timers = new Set<TimerHandle>();
  #closed = false;

  constructor(opts: CallServiceOptions) {
    this.#o = opts;
    this.#clock = opts.clock ?? systemClock;
  }

  // ---- devices -------------------------------------------------------------------------------

  /** Starts delivering call messages to a device; re-announces a call that is ringing for it. */
  async attach(endpoint: CallEndpoint): Promise<() => void> {
    const unsubscribe = await this.#o.bus.subscribe(endpoint.userId, (m) => {
      if (m.onlyDeviceId && m.onlyDeviceId !== endpoint.deviceId) return;
      if (m.exceptDeviceId && m.exceptDeviceId === endpoint.deviceId) return;
      endpoint.deliver(m);
    });
    try {
      const current = (await this.#o.calls.currentCalls([endpoint.userId])).get(endpoint.userId);
      if (current) {
        const call = await this.#load(current);
        if (call && call.state !== 'ended' && call.participants[endpoint.userId]?.state === 'ringing') {
          const view = await this.view(call);
          endpoint.deliver({
            notification: 'callIncoming',
            data: { call: view, caller: this.#summary(view, call.callerId) },
          });
        }
      }
    } catch (error) {
      // Only the re-announcement is lost (the device can ask with callGet); delivery stays on.
      if (!(error instanceof StoreUnavailableError)) {
        unsubscribe();
        throw error;
      }
      this.#o.log.warn('cannot re-announce a ringing call to a device', { error, userId: endpoint.userId });
    }
    return unsubscribe;
  }

  /** A device's connection ended: if it was in a call, hang up unless it comes back in time. */
  deviceGone(identity: Identity, callId: string): void {
    this.#arm(this.#o.timings.reconnectGraceMs, async () => {
      const call = await this.#o.calls.getCall(callId);
      const p = call?.participants[identity.userId];
      if (!call || call.state === 'ended' || p?.state !== 'joined' || p.deviceId !== identity.deviceId)
        return;
      if (await this.#o.isInCallRoom(callId, identity.userId)) return;
      await this.#update(callId, { type: 'hangup', userId: identity.userId }).catch((error: unknown) => {
        // Ended or left meanwhile: nothing to do. An unreachable store is retried by the timer.
        if (error instanceof StoreUnavailableError) throw error;
      });
    });
  }

  // ---- requests ------------------------------------------------------------------------------

  async invite(identity: Identity, userIds: string[], media: CallMedia): Promise<CallView> {
    const callees = [...new Set(userIds)].filter((id) => id !== identity.userId);
    if (callees.length === 0)
      throw new ServiceError(ErrorCode.InvalidParams, 'you cannot call yourself', 400);
    await this.#assertUsersExist([identity.userId, ...callees]);
    await this.#spendInvites(identity.userId, callees);
    // Asked on every invitation, blocked or not, so both paths do the same work.
    const blocked = await this.#o.blocks.blockersOf(identity.userId, callees);

    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const pointers = await this.#o.calls.currentCalls([identity.userId, ...callees]);
      const mine = pointers.get(identity.userId);
      if (mine) {
        const existing = await this.#load(mine);
        if (existing && existing.state !== 'ended') {
          // Glare: we call someone who is calling us right now → answer their call: one call, not two.
          const glare =
            callees.length === 1 &&
            existing.state === 'ringing' &&
            existing.callerId === callees[0] &&
            existing.participants[identity.userId]?.state === 'ringing';
          if (glare) return this.accept(identity, existing.callId);
          throw new ServiceError(
            ErrorCode.AlreadyInCall,
            'you are already in a call; hang up first',
            409,
            undefined,
            {
              callId: existing.callId,
            },
          );
        }
      }
      // No call waiting: someone who has a call (ringing or in one) is busy. A pointer left at a call
      // that has ended or vanished (its end was never written through it) makes nobody busy.
      const busy = await this.#holding(callees, pointers);
      const now = this.#clock.now();
      const { call, effects } = newCall({
        callId: randomUUID(),
        callerId: identity.userId,
        callerDeviceId: identity.deviceId,
        calleeIds: callees,
        busyUserIds: busy,
        blockedUserIds: blocked,
        media,
        now,
        ringTimeoutMs: this.#o.timings.ringTimeoutMs,
      });
      const expect: PointerExpectation[] = [identity.userId, ...callees].map((userId) => ({
        userId,
        callId: pointers.get(userId) ?? null,
      }));
      if (await this.#o.calls.saveCall(call, 0, expect)) {
        await this.#o.calls.addToHistory(
          call.order.filter((id) => !blocked.has(id)),
          call.callId,
        );
        this.#o.webhooks.emit('call.started', {
          callId: call.callId,
          callerId: call.callerId,
          calleeIds: callees,
          media,
        });
        await this.#announce(call, effects);
        return this.view(call);
      }
    }
    throw new ServiceError(ErrorCode.Unavailable, 'too much contention; try again', 503, 1);
  }

  async ringing(identity: Identity, callId: string): Promise<void> {
    await this.#update(callId, { type: 'ringing', userId: identity.userId, deviceId: identity.deviceId });
  }

  async accept(identity: Identity, callId: string): Promise<CallView> {
    const call = await this.#update(callId, {
      type: 'accept',
      userId: identity.userId,
      deviceId: identity.deviceId,
    });
    this.#arm(this.#o.timings.mediaTimeoutMs, () =>
      this.#update(callId, { type: 'mediaTimeout' }).then(() => undefined),
    );
    return this.view(call);
  }

  async decline(identity: Identity, callId: string): Promise<void> {
    await this.#update(callId, { type: 'decline', userId: identity.userId });
  }

  async cancel(identity: Identity, callId: string): Promise<void> {
    await this.#update(callId, { type: 'cancel', userId: identity.userId });
  }

  async hangup(identity: Identity, callId: string): Promise<void> {
    await this.#update(callId, { type: 'hangup', userId: identity.userId });
  }

  async addParticipants(identity: Identity, callId: string, userIds: string[]): Promise<CallView> {
    await this.#assertUsersExist(userIds);
    await this.#spendInvites(identity.userId, userIds);
    const blocked = await this.#o.blocks.blockersOf(identity.userId, userIds);
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = await this.#load(callId);
      if (!current) throw new ServiceError(ErrorCode.NotFound, 'no such call', 404);
      const pointers = await this.#o.calls.currentCalls(userIds);
      const busy = await this.#holding(
        userIds.filter((id) => pointers.get(id) !== callId),
        pointers,
      );
      const { call, effects, changed } = applyCallEvent(
        current,
        {
          type: 'addParticipants',
          byUserId: identity.userId,
          userIds,
          busyUserIds: busy,
          blockedUserIds: blocked,
          ringDeadline: this.#clock.now() + this.#o.timings.ringTimeoutMs,
        },
        this.#clock.now(),
      );
      // Everyone asked for is already ringing or in the call: nothing to write or announce.
      if (!changed) return this.view(current);
      const expect = userIds.map((userId) => ({ userId, callId: pointers.get(userId) ?? null }));
      if (await this.#o.calls.saveCall(call, current.version, expect)) {
        await this.#o.calls.addToHistory(
          userIds.filter((id) => !blocked.has(id)),
          callId,
        );
        await this.#announce(call, effects);
        return this.view(call);
      }
    }
    throw new ServiceError(ErrorCode.Unavailable, 'too much contention; try again', 503, 1);
  }

  /**
   * Applies a timeout or a loss that no live timer covers (the call sweeper, calls/callSweeper.ts):
   * an event that no longer applies changes nothing.
   */
  async applyOverdue(
    callId: string,
    event: { type: 'ringTimeout' } | { type: 'mediaTimeout' } | { type: 'mediaLost'; userIds: string[] },
  ): Promise<void> {
    await this.#update(callId, event);
  }

  /** Checks that this device answered the call: only then may it join the call's media room. */
  async assertMayJoinMedia(identity: Identity, callId: string): Promise<void> {
    const call = await this.#load(callId);
    const p = call?.participants[identity.userId];
    if (!call || !p) throw new ServiceError(ErrorCode.NotInCall, 'you are not in this call', 403);
    if (call.state === 'ended')
      throw new ServiceError(ErrorCode.CallEnded, `the call has ended (${call.endReason})`, 409);
    if (p.state !== 'joined')
      throw new ServiceError(ErrorCode.Forbidden, 'accept the call before joining its media', 403);
    if (p.deviceId !== identity.deviceId) {
      throw new ServiceError(ErrorCode.Forbidden, 'the call was answered on another of your devices', 403);
    }
  }

  /**
   * Whether this device may warm up the call's media while it rings (a hidden peer, see
   * Room.joinHidden): the caller's own device, or a callee the call rings for. Nothing of a warm
   * peer reaches anyone, so this is about bounding resources to the people of the call.
   */
  async assertMayWarmMedia(identity: Identity, callId: string): Promise<void> {
    const call = await this.#load(callId);
    const p = call?.participants[identity.userId];
    if (!call || !p) throw new ServiceError(ErrorCode.NotInCall, 'you are not in this call', 403);
    if (call.state === 'ended')
      throw new ServiceError(ErrorCode.CallEnded, `the call has ended (${call.endReason})`, 409);
    const caller = (p.state === 'calling' || p.state === 'joined') && p.deviceId === identity.deviceId;
    if (!caller && p.state !== 'ringing')
      throw new ServiceError(ErrorCode.Forbidden, 'only a ringing or calling device warms up', 403);
  }

  /** Records that this person's media reached the call's room (the media timeout counts on it). */
  async mediaJoined(identity: Identity, callId: string): Promise<void> {
    await this.#update(callId, { type: 'mediaJoined', userId: identity.userId });
  }

  async get(identity: Identity, callId: string): Promise<CallView> {
    const call = await this.#load(callId);
    if (!call || !call.participants[identity.userId])
      throw new ServiceError(ErrorCode.NotInCall, 'you are not in this call', 403);
    return this.view(call);
  }

  async history(
    identity: Identity,
    limit: number,
  ): Promise<{ entries: CallHistoryEntry[]; missedUnseen: number }> {
    const [calls, missedUnseen] = await Promise.all([
      this.#o.calls.history(identity.userId, limit),
      this.#o.calls.missedUnseen(identity.userId),
    ]);
    const entries = await Promise.all(calls.map((c) => this.#historyEntry(c, identity.userId)));
    return { entries, missedUnseen };
  }

  async historySeen(identity: Identity): Promise<void> {
    await this.#o.calls.clearMissed(identity.userId);
    // The user's other devices drop their missed-call badge too (the badge is per user, not per device).
    await this.#o.bus
      .publish(identity.userId, {
        notification: 'callHistoryChanged',
        data: { missedUnseen: 0 },
        exceptDeviceId: identity.deviceId,
      })
      .catch((error: unknown) =>
        this.#o.log.warn('missed-call badge not synced', { error, userId: identity.userId }),
      );
  }

  async view(call: CallRecord): Promise<CallView> {
    const users = await this.#o.accounts.getUsers(call.order);
    return {
      callId: call.callId,
      version: call.version,
      callerId: call.callerId,
      media: call.media,
      state: call.state,
      createdAt: call.createdAt,
      answeredAt: call.answeredAt,
      endedAt: call.endedAt,
      endReason: call.endReason,
      participants: call.order.map((id) => {
        const p = call.participants[id]!;
        const u = users.get(id);
        const pub = u ? publicUser(u, { withPhone: false }) : null;
        return {
          userId: id,
          name: pub?.name ?? 'Unknown',
          photo: pub?.photo ? { url: pub.photo.url, thumbUrl: pub.photo.thumbUrl } : null,
          state: p.state,
          ringingDevices: p.ringingDevices.length,
        };
      }),
    };
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers) this.#clock.clearTimeout(t);
    this.#timers.clear();
  }

  // ---- internals -----------------------------------------------------------------------------

  #summary(view: CallView, userId: string): UserSummary {
    const p = view.participants.find((x) => x.userId === userId);
    return { userId, name: p?.name ?? 'Unknown', photo: p?.photo ?? null };
  }

  /**
   * One invitation from `callerId` to each callee against the per-callee budget; RATE_LIMITED
   * (retry hint in seconds and in details.retryAfterMs) once one callee's budget is spent.
   */
  async #spendInvites(callerId: string, calleeIds: string[]): Promise<void> {
    const spec = this.#o.limits.specs.callInvitesPerCallee;
    for (const id of new Set(calleeIds)) {
      if (id !== callerId) await this.#o.limits.consume(spec, `${callerId}|${id}`);
    }
  }

  /** Of `userIds`, those whose current-call pointer names a call they still hold. */
  async #holding(userIds: string[], pointers: Map<string, string>): Promise<Set<string>> {
    const busy = new Set<string>();
    const calls = new Map<string, CallRecord | null>();
    for (const id of userIds) {
      const callId = pointers.get(id);
      if (callId === undefined) continue;
      if (!calls.has(callId)) calls.set(callId, await this.#load(callId));
      const call = calls.get(callId);
      if (call && holdsCall(call, id)) busy.add(id);
    }
    return busy;
  }

  async #assertUsersExist(userIds: string[]): Promise<void> {
    const users = await this.#o.accounts.getUsers(userIds);
    const missing = userIds.filter((id) => !users.has(id));
    if (missing.length > 0)
      throw new ServiceError(ErrorCode.UnknownUser, `unknown user ${missing.join(', ')}`, 404);
  }

  /** Loads a call, timing it out first if it rang past its deadline while no timer was there. */
  async #load(callId: string): Promise<CallRecord | null> {
    const call = await this.#o.calls.getCall(callId);
    if (
      call &&
      call.state !== 'ended' &&
      Object.values(call.participants).some((p) => p.state === 'ringing') &&
      this.#clock.now() >= call.ringDeadline
    ) {
      return this.#update(callId, { type: 'ringTimeout' }).catch(() => call);
    }
    return call;
  }

  async #update(callId: string, event: CallEvent): Promise<CallRecord> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = await this.#o.calls.getCall(callId);
      if (!current) throw new ServiceError(ErrorCode.NotFound, 'no such call', 404);
      const { call, effects, changed } = applyCallEvent(current, event, this.#clock.now());
      if (!changed) return current;
      if (await this.#o.calls.saveCall(call, current.version, [])) {
        await this.#announce(call, effects);
        return call;
      }
    }
    throw new ServiceError(ErrorCode.Unavailable, 'too much contention; try again', 503, 1);
  }

  async #announce(call: CallRecord, effects: CallEffect[]): Promise<void> {
    const view = await this.view(call);
    const publish = (userId: string, m: UserMessage): Promise<number> =>
      this.#o.bus.publish(userId, m).catch((error: unknown) => {
        this.#o.log.warn('call message not published', { error, userId });
        return 0;
      });
    const ringing = new Set(effects.flatMap((e) => (e.type === 'ring' ? e.userIds : [])));
    const silenced = silencedIn(call);
    await Promise.all(
      call.order
        .filter((id) => !ringing.has(id) && !silenced.has(id))
        .map((id) => publish(id, { notification: 'callUpdated', data: { call: view } })),
    );
    for (const effect of effects) {
      switch (effect.type) {
        case 'ring': {
          const caller = this.#summary(view, call.callerId);
          const offline: string[] = [];
          await Promise.all(
            effect.userIds.map(async (id) => {
              const reached = await publish(id, {
                notification: 'callIncoming',
                data: { call: view, caller },
              });
              if (reached === 0) offline.push(id);
            }),
          );
          // Offline callees keep ringing until the deadline: a push service can wake their phone.
          this.#o.webhooks.emit('call.ringing', {
            callId: call.callId,
            callerId: call.callerId,
            userIds: effect.userIds,
            offlineUserIds: offline,
          });
          this.#arm(Math.max(0, call.ringDeadline - this.#clock.now()) + 50, () =>
            this.#update(call.callId, { type: 'ringTimeout' }).then(() => undefined),
          );
          break;
        }
        case 'answered':
          await publish(effect.userId, {
            notification: 'callAnsweredElsewhere',
            data: { callId: call.callId },
            exceptDeviceId: effect.deviceId,
          });
          if (
            call.answeredAt !== null &&
            call.order.filter((id) => call.participants[id]?.state === 'joined').length === 2
          ) {
            this.#o.webhooks.emit('call.answered', { callId: call.callId, userId: effect.userId });
            this.#o.onOutcome?.('answered');
          }
          break;
        case 'missed':
          await Promise.all(effect.userIds.map((id) => this.#o.calls.addMissed(id)));
          this.#o.webhooks.emit('call.missed', {
            callId: call.callId,
            callerId: call.callerId,
            userIds: effect.userIds,
          });
          break;
        case 'ended':
          this.#o.webhooks.emit('call.ended', {
            callId: call.callId,
            reason: effect.reason,
            durationSeconds: call.answeredAt
              ? Math.round(((call.endedAt ?? this.#clock.now()) - call.answeredAt) / 1000)
              : 0,
          });
          if (call.answeredAt === null) this.#o.onOutcome?.(effect.reason);
          this.#o.closeCallRoom(call.callId);
          break;
      }
    }
  }

  async #historyEntry(call: CallRecord, userId: string): Promise<CallHistoryEntry> {
    const view = await this.view(call);
    const p = call.participants[userId]!;
    const end = p.leftAt ?? call.endedAt ?? this.#clock.now();
    return {
      callId: call.callId,
      direction: call.callerId === userId ? 'outgoing' : 'incoming',
      media: call.media,
      others: call.order.filter((id) => id !== userId).map((id) => this.#summary(view, id)),
      startedAt: call.answeredAt ?? call.createdAt,
      durationSeconds: p.joinedAt ? Math.max(0, Math.ceil((end - p.joinedAt) / 1000)) : 0,
      outcome:
        call.state !== 'ended'
          ? 'ongoing'
          : p.state === 'missed' || p.state === 'declined'
            ? p.state === 'missed'
              ? 'missed'
              : 'declined'
            : (call.endReason ?? 'hung-up'),
      missed: p.state === 'missed',
    };
  }

  #arm(delayMs: number, fn: () => Promise<void>, attempt = 0): void {
    if (this.#closed) return;
    const t = this.#clock.setTimeout(() => {
      this.#timers.delete(t);
      return fn().catch((error: unknown) => {
        // The store was out of reach: the timeout must still happen, so try again shortly.
        if (error instanceof StoreUnavailableError && attempt < TIMER_RETRIES) {
          this.#arm(error.retryAfterMs, fn, attempt + 1);
          return;
        }
        if (!(error instanceof ServiceError)) this.#o.log.warn('call timer failed', { error });
      });
    }, delayMs);
    this.#timers.add(t);
  }
}
