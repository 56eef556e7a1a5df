/**
 * A session's place in a room hosted by another node, as the session sees it: the same
 * RoomMembership as a local one, with every request relayed (rooms/relay/roomRelay.ts owns the
 * messages; this object only keeps the session's side of the lifecycle).
 */
import { ErrorCode, ServiceError } from '../../protocol/errors.js';
import type { RequestData, ResponseData } from '../../protocol/signaling.js';
import type { PeerMethod } from '../peerRequests.js';
import type { JoinAnswer, RoomMembership } from '../roomGateway.js';

export interface RemoteMembershipOptions {
  roomName: string;
  peerId: string;
  request: <M extends PeerMethod>(method: M, data: RequestData<M>) => Promise<ResponseData[M]>;
  /** Tells the host the session left. */
  leave: () => void;
}

export class RemoteMembership implements RoomMembership {
  readonly roomName: string;
  readonly peerId: string;
  readonly #o: RemoteMembershipOptions;
  readonly #endedListeners: (() => void)[] = [];
  #over = false;

  constructor(opts: RemoteMembershipOptions) {
    this.roomName = opts.roomName;
    this.peerId = opts.peerId;
    this.#o = opts;
  }

  request<M extends PeerMethod>(method: M, data: RequestData<M>): Promise<ResponseData[M]> {
    if (this.#over) return Promise.reject(new ServiceError(ErrorCode.NotInRoom, 'join a room first'));
    return this.#o.request(method, data);
  }

  leave(): void {
    if (this.#over) return;
    this.#over = true;
    this.#endedListeners.length = 0;
    this.#o.leave();
  }

  get ended(): boolean {
    return this.#over;
  }

  /** Warm-ups are never relayed (AnyNodeRoomGateway refuses them), so a relayed peer is never hidden. */
  get hidden(): boolean {
    return false;
  }
  readonly warmedUp = false;

  reveal(): Promise<JoinAnswer> {
    return Promise.reject(new ServiceError(ErrorCode.InvalidState, 'already in the room'));
  }

  onEnded(listener: () => void): () => void {
    if (this.#over) return () => undefined;
    this.#endedListeners.push(listener);
    return () => {
      const i = this.#endedListeners.indexOf(listener);
      if (i >= 0) this.#endedListeners.splice(i, 1);
    };
  }

  /** The host ended the session (or was lost): runs the listeners once. */
  end(): void {
    if (this.#over) return;
    this.#over = true;
    for (const l of this.#endedListeners.splice(0)) l();
  }
}
