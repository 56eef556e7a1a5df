/**
 * How a signaling session uses a room without knowing which node hosts it. A session joins through
 * a RoomGateway and then talks to its RoomMembership: the peer's media requests, leaving, and being
 * told when the room ends the membership. `LocalRoomGateway` is the room on this node (direct calls
 * into RoomService and Peer); rooms/relay/ supplies the same interface for a room hosted by another
 * node, so the session code is the same for both.
 */
import type { RequestData, ResponseData } from '../protocol/signaling.js';
import type { Notify, Peer } from './peer.js';
import { handlePeerRequest, type PeerMethod } from './peerRequests.js';
import type { RoomAccess, RoomService } from './roomService.js';

/** The room's part of a join answer; the session adds the TURN servers of the user's own node. */
export type JoinAnswer = Omit<ResponseData['join'], 'iceServers'>;

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
  ): Promise<{ membership: RoomMembership; joined: JoinAnswer }> {
    const { room, peer } = await this.#rooms.join(roomName, user, notify, access);
    return {
      membership: new LocalMembership(roomName, peer),
      joined: {
        peerId: peer.peerId,
        routerRtpCapabilities: room.rtpCapabilities as JoinAnswer['routerRtpCapabilities'],
        peers: room.peers(peer.peerId),
      },
    };
  }
}

class LocalMembership implements RoomMembership {
  readonly roomName: string;
  readonly #peer: Peer;
  #left = false;

  constructor(roomName: string, peer: Peer) {
    this.roomName = roomName;
    this.#peer = peer;
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
