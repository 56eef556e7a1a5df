/**
 * The gateway a signaling session uses: any room, whichever node hosts it. A room hosted here (or
 * hosted by nobody yet, so created here) is joined directly; a room another live node hosts is
 * joined through the relay, so clients need one address only and never hear of node boundaries.
 */
import { ErrorCode, ServiceError } from '../../protocol/errors.js';
import type { Notify } from '../peer.js';
import { RoomHostedElsewhereError } from '../roomHostedElsewhere.js';
import type { JoinAnswer, JoinOptions, RoomGateway, RoomMembership, RoomUser } from '../roomGateway.js';
import type { RoomAccess } from '../roomService.js';
import { isHostUnreachable, type RoomRelay } from './roomRelay.js';

/** A room may close on its host and be claimed anew while we join: look it up again, this often. */
const MAX_ATTEMPTS = 3;

export class AnyNodeRoomGateway implements RoomGateway {
  readonly #local: RoomGateway;
  readonly #relay: RoomRelay;
  readonly #hostSettled: (roomName: string) => Promise<void>;

  /**
   * `hostSettled` waits until the room's recorded host either heartbeats again or is declared dead
   * (RoomService.awaitHostVerdict): a host killed a moment ago still looks alive for up to
   * NODE_DEAD_AFTER_MS, and its clients come back at once.
   */
  constructor(opts: {
    local: RoomGateway;
    relay: RoomRelay;
    hostSettled: (roomName: string) => Promise<void>;
  }) {
    this.#local = opts.local;
    this.#relay = opts.relay;
    this.#hostSettled = opts.hostSettled;
  }

  async join(
    roomName: string,
    user: RoomUser,
    notify: Notify,
    access: RoomAccess,
    opts: JoinOptions = {},
  ): Promise<{ membership: RoomMembership; joined: JoinAnswer }> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      let host: string;
      try {
        return await this.#local.join(roomName, user, notify, access, opts);
      } catch (err) {
        if (!(err instanceof RoomHostedElsewhereError)) throw err;
        host = err.nodeId;
      }
      // A warm-up is an optimisation for the node that hosts the call; relaying it would need a
      // relayed reveal. The client answers cold (still with `mediaSetup`) instead.
      if (opts.hidden)
        throw new ServiceError(
          ErrorCode.InvalidState,
          'warm-up only on the node hosting the call',
          409,
          undefined,
          {
            reason: 'hosted-elsewhere',
          },
        );
      let remote: Awaited<ReturnType<RoomRelay['join']>>;
      try {
        remote = await this.#relay.join(host, roomName, user, notify, access, opts.setup);
      } catch (err) {
        // The recorded host is gone but not yet declared dead: wait for the verdict, then this node
        // takes the room over (or relays to the host if it was only a blip).
        if (!isHostUnreachable(err) || attempt === MAX_ATTEMPTS - 1) throw err;
        await this.#hostSettled(roomName);
        continue;
      }
      if (!('moved' in remote)) return remote;
    }
    throw new ServiceError(ErrorCode.Unavailable, 'the room moved while joining; retry', 503, 1, {
      retryAfterMs: '1000',
    });
  }
}
