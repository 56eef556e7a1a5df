/**
 * The signaling sessions of this node that can be resumed, by resume token. A session in a room gets
 * a token (bound to its user, device and peer); when its socket drops, the session's peer and its
 * notification log are parked here for the grace period instead of leaving the room. A new socket of
 * the same user and device claims them with the token (single use: a claim issues the next one);
 * when the grace runs out the peer leaves for good, as if the socket had just closed.
 *
 * A token can also be claimed while its session still has a socket: the server has not noticed yet
 * that the old connection is dead (no FIN on a network change). The holder then hands its state over
 * and closes its stale socket, so that socket's late close cannot take the peer with it.
 * Tokens live in memory on the node that holds the peer: any other node answers RESUME_FAILED.
 */
import { randomBytes } from 'node:crypto';
import type { Identity } from '../auth/accessTokens.js';
import { ErrorCode, ServiceError } from '../protocol/errors.js';
import type { RoomMembership } from '../rooms/roomGateway.js';
import type { NotificationLog } from './notificationLog.js';

/** What a session hands over to be resumed: its room membership and its numbered notifications. */
export interface ResumableState {
  identity: Identity;
  roomName: string;
  /** The session's place in its room, on this node or relayed to the room's host. */
  peer: RoomMembership;
  log: NotificationLog;
}

/** A live session holding a token: gives its state up (and closes its stale socket). */
export interface ResumeHolder {
  handOver(): ResumableState | undefined;
}

interface Entry {
  userId: string;
  deviceId: string;
  peer: RoomMembership;
  holder: ResumeHolder | undefined;
  parked: { state: ResumableState; timer: NodeJS.Timeout; since: number } | undefined;
  stopWatching: () => void;
}

export interface SessionRegistryOptions {
  /** How long a parked session waits for its client; 0 turns resume off (no tokens are issued). */
  graceMs: number;
  /** Parked sessions one device may have (its oldest goes first): a dropped socket counts once. */
  maxParkedPerDevice: number;
  /** The peer of a session that will not be resumed leaves for good (and its call is told). */
  expire: (state: ResumableState) => void;
}

function resumeFailed(reason: string, message: string): ServiceError {
  return new ServiceError(ErrorCode.ResumeFailed, message, 409, undefined, { reason });
}

export class SessionRegistry {
  readonly #o: SessionRegistryOptions;
  readonly #entries = new Map<string, Entry>();

  constructor(opts: SessionRegistryOptions) {
    this.#o = opts;
  }

  get enabled(): boolean {
    return this.#o.graceMs > 0;
  }

  /** Sessions waiting for their client. */
  get parked(): number {
    let n = 0;
    for (const e of this.#entries.values()) if (e.parked) n++;
    return n;
  }

  /** A new token for `holder`'s peer (undefined when resume is off). */
  issue(holder: ResumeHolder, identity: Identity, peer: RoomMembership): string | undefined {
    if (!this.enabled || peer.ended) return undefined;
    // 144 random bits, base64url: unguessable and inside the protocol's id alphabet.
    const token = randomBytes(18).toString('base64url');
    // The peer left (its room closed, the call ended): nothing to resume any more.
    const stopWatching = peer.onEnded(() => this.#drop(token));
    this.#entries.set(token, {
      userId: identity.userId,
      deviceId: identity.deviceId,
      peer,
      holder,
      parked: undefined,
      stopWatching,
    });
    return token;
  }

  /** The session left on purpose: its token is void. */
  revoke(token: string): void {
    this.#drop(token);
  }

  /**
   * The holder's socket dropped: keep its state for the grace period. False if the token is not
   * (or no longer) valid; the caller then ends the session itself.
   */
  park(token: string, state: ResumableState): boolean {
    const entry = this.#entries.get(token);
    if (!entry || entry.parked || state.peer.ended) {
      this.#drop(token);
      return false;
    }
    this.#evictOldestOf(entry);
    entry.holder = undefined;
    const timer = setTimeout(() => {
      this.#drop(token);
      this.#o.expire(state);
    }, this.#o.graceMs);
    timer.unref();
    entry.parked = { state, timer, since: Date.now() };
    return true;
  }

  /**
   * Takes a session back for `identity` (same user and device). Single use: the token is void
   * afterwards, whatever the outcome but a wrong owner.
   */
  claim(token: string, identity: Identity): ResumableState {
    const entry = this.#entries.get(token);
    if (!entry)
      throw resumeFailed(
        'unknown',
        'this session cannot be resumed here (it ended, its grace period is over, the token was used, or another node holds it): join again',
      );
    if (entry.userId !== identity.userId || entry.deviceId !== identity.deviceId)
      throw new ServiceError(ErrorCode.Forbidden, 'this resume token belongs to another device', 403);
    this.#drop(token);
    const state = entry.parked ? entry.parked.state : entry.holder?.handOver();
    if (!state || state.peer.ended) throw resumeFailed('gone', 'the session ended: join again');
    return state;
  }

  /** Shutdown: every parked session ends now (the node is going away; clients join elsewhere). */
  close(): void {
    for (const [token, entry] of [...this.#entries]) {
      const parked = entry.parked;
      this.#drop(token);
      if (parked) this.#o.expire(parked.state);
    }
  }

  #drop(token: string): void {
    const entry = this.#entries.get(token);
    if (!entry) return;
    this.#entries.delete(token);
    clearTimeout(entry.parked?.timer);
    entry.stopWatching();
  }

  /** Keeps one device's parked sessions within the limit, ending the oldest ones. */
  #evictOldestOf(entry: Entry): void {
    const mine = [...this.#entries]
      .filter(([, e]) => e.parked && e.userId === entry.userId && e.deviceId === entry.deviceId)
      .sort(([, a], [, b]) => a.parked!.since - b.parked!.since);
    while (mine.length >= this.#o.maxParkedPerDevice) {
      const [token, oldest] = mine.shift()!;
      this.#drop(token);
      this.#o.expire(oldest.parked!.state);
    }
  }
}
