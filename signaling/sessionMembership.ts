/**
 * The room one signaling session is in, with what makes it resumable: the resume token issued for
 * its peer and the session's numbered notification log. It moves out of a session whose socket
 * dropped (parked in the SessionRegistry) and into the session of the socket that resumes it; the
 * session itself only maps requests to owners.
 */
import type { Identity } from '../auth/accessTokens.js';
import { CALL_ROOM_PREFIX, type CallService } from '../calls/callService.js';
import type { ResponseData } from '../protocol/signaling.js';
import type { RoomMembership } from '../rooms/roomGateway.js';
import { NotificationLog, type Sink } from './notificationLog.js';
import type { ResumableState, ResumeHolder, SessionRegistry } from './sessionRegistry.js';

/** A peer that will not be resumed leaves; a call's device gets the call's reconnect grace. */
export function endForGood(
  state: Pick<ResumableState, 'identity' | 'roomName' | 'peer'>,
  calls: CallService,
): void {
  state.peer.leave();
  if (state.roomName.startsWith(CALL_ROOM_PREFIX))
    calls.deviceGone(state.identity, state.roomName.slice(CALL_ROOM_PREFIX.length));
}

export class SessionMembership {
  readonly #identity: Identity;
  readonly #registry: SessionRegistry;
  readonly #calls: CallService;
  readonly #holder: ResumeHolder;
  readonly #sink: Sink;
  #current: { roomName: string; peer: RoomMembership } | undefined;
  #token: string | undefined;
  #log: NotificationLog;

  constructor(opts: {
    identity: Identity;
    registry: SessionRegistry;
    calls: CallService;
    /** The session: a resume elsewhere asks it to hand its state over. */
    holder: ResumeHolder;
    /** The session's socket. */
    sink: Sink;
  }) {
    this.#identity = opts.identity;
    this.#registry = opts.registry;
    this.#calls = opts.calls;
    this.#holder = opts.holder;
    this.#sink = opts.sink;
    this.#log = new NotificationLog(this.#sink);
  }

  get roomName(): string | undefined {
    return this.#current?.roomName;
  }
  get peer(): RoomMembership | undefined {
    return this.#current?.peer;
  }
  /** The resume token of the current peer (none when resume is off). */
  get resumeToken(): string | undefined {
    return this.#token;
  }
  /** Where this session's notifications go (numbered); a peer keeps the log it joined with. */
  get log(): NotificationLog {
    return this.#log;
  }

  /** Makes `peer` the session's room membership, with a resume token of its own. */
  enter(roomName: string, peer: RoomMembership): void {
    this.#current = { roomName, peer };
    this.#token = this.#registry.issue(this.#holder, this.#identity, peer);
    // The room may end the membership (room closed, worker died, call ended, host node lost):
    // forget it, so the next join works. The listener goes with the membership.
    peer.onEnded(() => {
      if (this.#current?.peer === peer) this.#forget();
    });
  }

  /** Leaving is closing the peer: its room announces it and stores it; the token is void. */
  leave(): void {
    const peer = this.#current?.peer;
    if (this.#token) this.#registry.revoke(this.#token);
    this.#forget();
    peer?.leave();
  }

  /** Moves the membership and the log out (they go on elsewhere, or end); a fresh log stays. */
  release(): ResumableState | undefined {
    const m = this.#current;
    this.#forget();
    if (!m) return undefined;
    const log = this.#log;
    log.detach();
    this.#log = new NotificationLog(this.#sink);
    return { identity: this.#identity, roomName: m.roomName, peer: m.peer, log };
  }

  /** The socket is gone: park the membership for a resume if allowed, else it ends now. */
  socketGone(resumable: boolean): void {
    const token = this.#token;
    const state = this.release();
    if (!state) return;
    if (token && resumable && this.#registry.park(token, state)) return;
    if (token) this.#registry.revoke(token);
    endForGood(state, this.#calls);
  }

  /** Takes over a resumed session: its peer, its log (replayed after the answer), a new token. */
  adopt(state: ResumableState, lastSeq: number): ResponseData['resume'] {
    this.#log.detach();
    this.#log = state.log;
    this.enter(state.roomName, state.peer);
    // The answer goes out when the handler's promise settles; setImmediate runs after it, so the
    // missed notifications (and whatever arrives meanwhile) follow the answer, in order.
    setImmediate(() => {
      if (this.#log === state.log) state.log.attach(this.#sink, lastSeq);
    });
    return {
      peerId: state.peer.peerId,
      resumeToken: this.#token ?? '',
      replayed: state.log.lastSeq - lastSeq,
    };
  }

  #forget(): void {
    this.#current = undefined;
    this.#token = undefined;
  }
}
