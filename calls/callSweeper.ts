/**
 * Calls never outlive their people. Ring, media and reconnect timers run on the node that armed them
 * (calls/callService.ts); when that node dies they die with it, and a call would stay `active` with
 * everyone "busy" forever. The sweeper is the backstop any node may run: whoever holds the lease
 * (state/lease.ts, a Redis key with an expiry, so no leader is elected and a dead holder is replaced
 * within one lease) walks the calls that are not ended and applies what is overdue:
 *   - a ring deadline passed → ringTimeout;
 *   - answered but media never connected within the media timeout → mediaTimeout (ends `failed`);
 *   - someone whose media had reached the call's room is in no live node's room for longer than the
 *     reconnect grace (their media node died and they did not come back) → mediaLost: they left, and
 *     a call that cannot go on ends `failed`. Coming back within the grace keeps the call going.
 * A call whose record vanished is dropped from the list. Absences are tracked by the holder in memory:
 * if the lease moves, the new holder starts counting again (an end comes at most one grace later).
 */
import type { Logger } from '../lib/logger.js';
import type { CallStore } from '../state/callStore.js';
import type { Lease } from '../state/lease.js';
import type { CallRecord } from './callRecord.js';
import type { CallService, CallTimings } from './callService.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';

export interface CallSweeperOptions {
  store: Pick<CallStore, 'openCalls' | 'getCall' | 'forgetOpenCall'>;
  calls: Pick<CallService, 'applyOverdue'>;
  lease: Lease;
  /** Who holds the lease when this node does (node id and incarnation). */
  owner: string;
  intervalMs: number;
  timings: CallTimings;
  /** Whether the user's media is in the call's room on a live node (the room state store). */
  isInCallRoom: (callId: string, userId: string) => Promise<boolean>;
  log: Logger;
  clock?: Clock;
}

/** The lease outlives a few sweeps, so a holder that misses one keeps it; a dead one loses it soon. */
const LEASE_INTERVALS = 3;

export class CallSweeper {
  readonly #o: CallSweeperOptions;
  readonly #clock: Clock;
  /** `${callId} ${userId}` → when their media was first seen missing. */
  readonly #absentSince = new Map<string, number>();
  #timer: TimerHandle | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(opts: CallSweeperOptions) {
    this.#o = opts;
    this.#clock = opts.clock ?? systemClock;
  }

  start(): void {
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#running = this.sweep()
        .then(() => undefined)
        .catch((error: unknown) => this.#o.log.warn('call sweep failed', { error }))
        .finally(() => {
          this.#running = undefined;
          this.#schedule();
        });
      return this.#running;
    }, this.#o.intervalMs);
  }

  /** One pass, if this node holds the lease; returns whether it did. */
  async sweep(): Promise<boolean> {
    if (!(await this.#o.lease.hold(this.#o.owner, this.#o.intervalMs * LEASE_INTERVALS))) {
      this.#absentSince.clear();
      return false;
    }
    const seen = new Set<string>();
    for (const callId of await this.#o.store.openCalls()) {
      if (this.#closed) break;
      try {
        await this.#review(callId, seen);
      } catch (error) {
        this.#o.log.warn('call sweep: cannot review a call', { error, callId });
      }
    }
    // Forget absences of calls that ended or people who came back.
    for (const key of this.#absentSince.keys()) if (!seen.has(key)) this.#absentSince.delete(key);
    return true;
  }

  async #review(callId: string, seen: Set<string>): Promise<void> {
    const call = await this.#o.store.getCall(callId);
    if (!call || call.state === 'ended') {
      await this.#o.store.forgetOpenCall(callId);
      return;
    }
    const now = this.#clock.now();
    const ringing = Object.values(call.participants).some((p) => p.state === 'ringing');
    if (ringing && now >= call.ringDeadline)
      await this.#o.calls.applyOverdue(callId, { type: 'ringTimeout' });
    if (call.state !== 'active') return;
    const connected = Object.values(call.participants).filter((p) => p.mediaJoinedAt !== null).length;
    if (
      connected < 2 &&
      call.answeredAt !== null &&
      now >= call.answeredAt + this.#o.timings.mediaTimeoutMs
    ) {
      await this.#o.calls.applyOverdue(callId, { type: 'mediaTimeout' });
      return;
    }
    const lost = await this.#lost(call, now, seen);
    if (lost.length > 0) {
      this.#o.log.info('call media lost past the grace; ending for them', { callId, userIds: lost });
      await this.#o.calls.applyOverdue(callId, { type: 'mediaLost', userIds: lost });
    }
  }

  /** Who of the call's connected people has been out of its room past the grace. */
  async #lost(call: CallRecord, now: number, seen: Set<string>): Promise<string[]> {
    const lost: string[] = [];
    for (const id of call.order) {
      const p = call.participants[id]!;
      if (p.state !== 'joined' || p.mediaJoinedAt === null) continue;
      if (await this.#o.isInCallRoom(call.callId, id)) continue;
      const key = `${call.callId} ${id}`;
      seen.add(key);
      const since = this.#absentSince.get(key) ?? now;
      this.#absentSince.set(key, since);
      if (now - since >= this.#o.timings.reconnectGraceMs) lost.push(id);
    }
    return lost;
  }

  /** Stops sweeping and gives the lease up, so another node takes over at its next sweep. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    await this.#running;
    await this.#o.lease.release(this.#o.owner).catch(() => undefined);
  }
}
