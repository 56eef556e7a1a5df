/**
 * How a signaling session uses a room without knowing which node hosts it. A session joins through
 * a RoomGateway and then talks to its RoomMembership: the peer's media requests, leaving, and being
 * told when the room ends the membership. `LocalRoomGateway` is the room on this node (direct calls
 * into RoomService and Peer); rooms/relay/ supplies the same interface for a room hosted by another
 * node, so the session code is the same for both.
 */
import { ErrorCode, ServiceError } from '../protocol/errors.js';
import type { RequestData, ResponseData } from '../protocol/signaling.js';
import type { MediaSetup, Notify, Peer } from './peer.js';
import { handlePeerRequest, type PeerMethod } from './peerRequests.js';
import type { Room } from './room.js';
import type { RoomAccess, RoomService } from './roomService.js';

/** The room's part of a join answer; the session adds the TURN servers of the user's own node. */
export type JoinAnswer = Omit<ResponseData['join'], 'iceServers'>;

/**
 * How to enter. `setup`: the client's Device is loaded already, so the server also sets its RTP
 * capabilities, creates its transports (answered as `transports`) and pushes it paused consumers
 * instead of announcing producers. `hidden`: warm up while a call rings — nobody is told of the
 * peer and nothing of it can be consumed until `reveal()` (at most `max` hidden peers per room).
 */
export interface JoinOptions {
  setup?: MediaSetup;
  hidden?: { max: number };
}

export interface RoomUser {
  userId: string;
  displayName: string;
}

/** One session's place in one room, wherever the room is hosted. */
export interface RoomMembership {
  readonly roomName: string;
  readonly peerId: string;
  /** Runs one of the peer's media requests (see rooms/peerRequests.ts). */
  request<M extends PeerMethod>(method: M, data: RequestData<M>): Promise<ResponseData[M]>;
  /** Left or ended by the room: no request will work any more. */
  readonly ended: boolean;
  /** Warming up (joined with `hidden`) and not revealed yet. */
  readonly hidden: boolean;
  /** Entered as a warm-up (hidden), revealed since or not: `reveal()` works (again) on it. */
  readonly warmedUp: boolean;
  /**
   * The call was answered on this device: the hidden peer becomes a participant with the same
   * transports and producers; answers like a join (who is there). Idempotent on a warmed-up
   * membership (the server reveals it at the answer, the client asks again). Throws NOT_IN_ROOM if
   * the warm-up ended meanwhile.
   */
  reveal(): Promise<JoinAnswer>;
  /** Leaves the room, closing the peer's media. Idempotent. */
  leave(): void;
  /**
   * `listener` runs once if the room ends this membership (the room closed, its media worker died,
   * its host node was lost); never after `leave()`. Returns what stops listening (a resume token
   * dropped early must not keep its listener on a long-lived membership).
   */
  onEnded(listener: () => void): () => void;
}

export interface RoomGateway {
  /**
   * Enters the room; `notify` receives the room's notifications for this peer (possibly before the
   * answer resolves: the caller holds them until it has answered the join).
   */
  join(
    roomName: string,
    user: RoomUser,
    notify: Notify,
    access: RoomAccess,
    opts?: JoinOptions,
  ): Promise<{ membership: RoomMembership; joined: JoinAnswer }>;
}

/** A room hosted on this node. Throws RoomHostedElsewhereError if another live node hosts it. */
export class LocalRoomGateway implements RoomGateway {
  readonly #rooms: RoomService;

  constructor(rooms: RoomService) {
    this.#rooms = rooms;
  }

  async join(
    roomName: string,
    user: RoomUser,
    notify: Notify,
    access: RoomAccess,
    opts: JoinOptions = {},
  ): Promise<{ membership: RoomMembership; joined: JoinAnswer }> {
    // A hidden peer's right to be there is the call's business (CallService.assertMayWarmMedia).
    const { room, peer } = opts.hidden
      ? await this.#rooms.joinHidden(roomName, user, notify, opts.hidden.max)
      : await this.#rooms.join(roomName, user, notify, access);
    let transports: JoinAnswer['transports'];
    if (opts.setup) {
      try {
        transports = await peer.prepareMedia(opts.setup);
      } catch (err) {
        // Transports are part of this join: without them the join did not happen.
        peer.close();
        throw err;
      }
      if (peer.hidden) room.offerAhead(peer);
      else room.offerExisting(peer);
    }
    return {
      membership: new LocalMembership(roomName, room, peer, this.#rooms),
      joined: {
        peerId: peer.peerId,
        routerRtpCapabilities: room.rtpCapabilities as JoinAnswer['routerRtpCapabilities'],
        // A hidden peer learns who is there when it is revealed (as notifications).
        peers: peer.hidden ? [] : room.peers(peer.peerId),
        ...(transports ? { transports } : {}),
      },
    };
  }
}

class LocalMembership implements RoomMembership {
  readonly roomName: string;
  readonly warmedUp: boolean;
  readonly #room: Room;
  readonly #peer: Peer;
  readonly #rooms: RoomService;
  #left = false;
  /** The one reveal of a warm-up (a second `reveal()` waits for it rather than racing it). */
  #revealed: Promise<void> | undefined;

  constructor(roomName: string, room: Room, peer: Peer, rooms: RoomService) {
    this.roomName = roomName;
    this.#room = room;
    this.#peer = peer;
    this.#rooms = rooms;
    this.warmedUp = peer.hidden;
  }

  get hidden(): boolean {
    return this.#peer.hidden;
  }

  async reveal(): Promise<JoinAnswer> {
    if (!this.warmedUp) throw new ServiceError(ErrorCode.InvalidState, 'already in the room');
    this.#revealed ??= (async () => {
      if (this.#left || !(await this.#rooms.reveal(this.#room, this.#peer)))
        throw new ServiceError(ErrorCode.NotInRoom, 'the warm-up ended meanwhile; join again');
    })();
    await this.#revealed;
    if (this.ended) throw new ServiceError(ErrorCode.NotInRoom, 'left the room; join again');
    return {
      peerId: this.#peer.peerId,
      routerRtpCapabilities: this.#room.rtpCapabilities as JoinAnswer['routerRtpCapabilities'],
      peers: this.#room.peers(this.#peer.peerId),
    };
  }

  get peerId(): string {
    return this.#peer.peerId;
  }

  request<M extends PeerMethod>(method: M, data: RequestData<M>): Promise<ResponseData[M]> {
    return handlePeerRequest(this.#peer, method, data);
  }

  get ended(): boolean {
    return this.#left || this.#peer.closed;
  }

  leave(): void {
    this.#left = true;
    this.#peer.close();
  }

  onEnded(listener: () => void): () => void {
    // The listener goes with the peer (it drops all listeners on close), so nothing accumulates.
    if (this.#peer.closed) {
      if (!this.#left) queueMicrotask(listener);
      return () => undefined;
    }
    const onClose = (): void => {
      if (!this.#left) listener();
    };
    this.#peer.once('close', onClose);
    return () => this.#peer.off('close', onClose);
  }
}
