/**
 * One authenticated WebSocket: a thin adapter between the protocol and the owners of each concept.
 * It validates every frame (signaling/frames.ts), finds the caller's Peer or the CallService, calls
 * one method and answers each request exactly once. Media decisions live in rooms/, not here.
 * A bad frame costs an error response, never the connection.
 */
import type { WebSocket, RawData } from 'ws';
import type { Identity } from '../auth/accessTokens.js';
import { CloseCode, ErrorCode, ServiceError } from '../protocol/errors.js';
import type {
  Method,
  NotificationData,
  NotificationName,
  RequestData,
  ResponseData,
  ResponseEnvelope,
} from '../protocol/signaling.js';
import type { MediaSetup, Peer } from '../rooms/peer.js';
import type { Room } from '../rooms/room.js';
import type { RoomAccess, RoomService } from '../rooms/roomService.js';
import { CALL_ROOM_PREFIX, callRoomName, type CallService } from '../calls/callService.js';
import type { Logger } from '../lib/logger.js';
import type { SignalingLimitsConfig } from '../server/config.js';
import { callHandlers, deliverCalls, done } from './callHandlers.js';
import { parseFrame } from './frames.js';
import { Outbox } from './outbox.js';
import { HeldNotifications } from './heldNotifications.js';
import { RequestBudget } from './requestBudget.js';
import { toServiceError } from './toServiceError.js';

/** Devices that may warm up one call when the configuration does not say (server/config.ts does). */
const DEFAULT_WARM_PEERS_PER_CALL = 8;

type Handlers = { [M in Method]: (data: RequestData<M>) => Promise<ResponseData[M]> };

export interface SessionObserver {
  request(method: string, ok: boolean, code?: string): void;
}

export interface SignalingSessionOptions {
  ws: WebSocket;
  identity: Identity;
  rooms: RoomService;
  calls: CallService;
  log: Logger;
  observer?: SessionObserver;
  limits: SignalingLimitsConfig;
  onLimited?: (limit: string) => void;
  /** The name peers see: from the account (or the token), never from the client. */
  displayName: (identity: Identity) => Promise<string>;
}

export class SignalingSession {
  readonly identity: Identity;
  readonly #o: SignalingSessionOptions;
  #membership: { roomName: string; peer: Peer; room: Room } | undefined;
  #joining = false;
  #closed = false;
  #detachCalls: (() => void) | undefined;
  readonly #onLimited: (limit: string) => void;
  readonly #requests: RequestBudget;
  readonly #outbox: Outbox;
  readonly #handlers: Handlers;

  constructor(opts: SignalingSessionOptions) {
    this.#o = opts;
    this.identity = opts.identity;
    this.#onLimited = opts.onLimited ?? (() => undefined);
    this.#requests = new RequestBudget(opts.limits);
    this.#outbox = new Outbox({
      ws: opts.ws,
      maxBufferedBytes: opts.limits.maxBufferedBytes,
      graceMs: opts.limits.slowReaderGraceMs,
      log: opts.log,
      onStalled: () => this.#onLimited('outbound_backlog'),
    });
    this.#handlers = this.#makeHandlers();
  }

  get peerId(): string | undefined {
    return this.#membership?.peer.peerId;
  }

  async handleFrame(raw: RawData, isBinary: boolean): Promise<void> {
    // A client that does not read its answers gets no more work done for it (see Outbox).
    if (this.#outbox.stalled) return;
    const refusal = this.#requests.charge();
    const frame = parseFrame(raw, isBinary);
    if (refusal) {
      this.#onLimited('requests_per_socket');
      if (frame.method) this.#o.observer?.request(frame.method, false, ErrorCode.RateLimited);
      return this.#send({ id: frame.id, ok: false, error: refusal.toBody() });
    }
    if (!frame.ok) {
      if (frame.method) this.#o.observer?.request(frame.method, false, frame.error.code);
      return this.#send({ id: frame.id, ok: false, error: frame.error.toBody() });
    }
    try {
      const handler = this.#handlers[frame.method] as (d: unknown) => Promise<unknown>;
      const result = await handler(frame.data);
      this.#o.observer?.request(frame.method, true);
      this.#send({ id: frame.id, ok: true, data: result });
    } catch (err) {
      const error = toServiceError(err);
      // Only our own faults are errors; a client's mistake (a typed code) must not fill the log on demand.
      if (error.code === ErrorCode.Internal)
        this.#o.log.error('request failed', { method: frame.method, error: err });
      else this.#o.log.debug('request refused', { method: frame.method, code: error.code });
      if (error.code === ErrorCode.LimitExceeded && error.details?.limit)
        this.#onLimited(error.details.limit);
      this.#o.observer?.request(frame.method, false, error.code);
      this.#send({ id: frame.id, ok: false, error: error.toBody() });
    }
  }

  notify<N extends NotificationName>(name: N, data: NotificationData[N]): void {
    if (this.#closed) return;
    this.#sendRaw(JSON.stringify({ notification: name, data }));
  }

  /** Starts receiving call messages for this device. */
  async start(): Promise<void> {
    this.#detachCalls = await deliverCalls({
      identity: this.identity,
      calls: this.#o.calls,
      send: (text) => this.#sendRaw(text),
      revoked: () => this.#o.ws.close(CloseCode.TokenInvalid, 'device signed out'),
      callEnded: (callId) => {
        if (this.#membership?.roomName === callRoomName(callId)) this.#leave();
      },
    });
    if (this.#closed) this.#detachCalls();
  }

  /** Leaves the room (closing every media object of this peer) and stops call delivery. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#detachCalls?.();
    this.#outbox.close();
    const roomName = this.#membership?.roomName;
    this.#leave();
    // Dropped out of a call's media: give the device a grace period to come back before hanging up.
    if (roomName?.startsWith(CALL_ROOM_PREFIX))
      this.#o.calls.deviceGone(this.identity, roomName.slice(CALL_ROOM_PREFIX.length));
  }

  async #joinRoom(roomName: string, access: RoomAccess, setup?: MediaSetup): Promise<ResponseData['join']> {
    const warm = this.#membership;
    if (warm?.peer.hidden && warm.roomName === roomName && access.kind === 'call') return this.#reveal(warm);
    if (this.#membership || this.#joining)
      throw new ServiceError(ErrorCode.AlreadyInRoom, 'already in a room; leave first');
    this.#joining = true;
    const held = new HeldNotifications((name, data) => this.notify(name, data));
    try {
      const displayName = await this.#o.displayName(this.identity);
      const { room, peer } = await this.#o.rooms.join(
        roomName,
        { userId: this.identity.userId, displayName },
        held.notify,
        access,
      );
      if (this.#closed) {
        peer.close();
        throw new ServiceError(ErrorCode.NotInRoom, 'connection closed while joining');
      }
      this.#enter(roomName, peer, room);
      const transports = setup ? await this.#prepare(peer, setup) : undefined;
      if (transports) room.offerExisting(peer);
      // The answer is sent when this handler's promise settles (a microtask); setImmediate runs after.
      setImmediate(() => held.release());
      return {
        peerId: peer.peerId,
        routerRtpCapabilities: room.rtpCapabilities as ResponseData['join']['routerRtpCapabilities'],
        peers: room.peers(peer.peerId),
        ...(transports ? { transports } : {}),
      };
    } catch (err) {
      held.drop();
      throw err;
    } finally {
      this.#joining = false;
    }
  }

  #enter(roomName: string, peer: Peer, room: Room): void {
    this.#membership = { roomName, peer, room };
    // The peer closes with its room (worker died, call ended): forget it, so the next join works.
    // The listener goes with the peer, so nothing accumulates on long-lived objects.
    peer.once('close', () => {
      if (this.#membership?.peer === peer) this.#membership = undefined;
    });
  }

  /** `mediaSetup`: transports made with the join; if that fails, the join is undone. */
  async #prepare(peer: Peer, setup: MediaSetup): Promise<NonNullable<ResponseData['join']['transports']>> {
    try {
      return await peer.prepareMedia(setup);
    } catch (err) {
      if (this.#membership?.peer === peer) this.#leave();
      throw err;
    }
  }

  /**
   * Warm-up while a call rings: a hidden peer in the call's room with its transports (see
   * Room.joinHidden). It is this session's one room; `callJoinMedia` later reveals it.
   */
  async #warmRoom(roomName: string, setup: MediaSetup): Promise<ResponseData['join']> {
    if (this.#membership || this.#joining)
      throw new ServiceError(ErrorCode.AlreadyInRoom, 'already in a room; leave first');
    const max = this.#o.limits.warmPeersPerCall ?? DEFAULT_WARM_PEERS_PER_CALL;
    if (max === 0) throw new ServiceError(ErrorCode.Forbidden, 'warm-up is turned off on this server', 403);
    this.#joining = true;
    const held = new HeldNotifications((name, data) => this.notify(name, data));
    try {
      const displayName = await this.#o.displayName(this.identity);
      const { room, peer } = await this.#o.rooms.joinHidden(
        roomName,
        { userId: this.identity.userId, displayName },
        held.notify,
        max,
      );
      if (this.#closed) {
        peer.close();
        throw new ServiceError(ErrorCode.NotInRoom, 'connection closed while joining');
      }
      this.#enter(roomName, peer, room);
      const transports = await this.#prepare(peer, setup);
      setImmediate(() => held.release());
      return {
        peerId: peer.peerId,
        routerRtpCapabilities: room.rtpCapabilities as ResponseData['join']['routerRtpCapabilities'],
        peers: [],
        transports,
      };
    } catch (err) {
      held.drop();
      throw err;
    } finally {
      this.#joining = false;
    }
  }

  /** The call was answered here: the warm peer becomes a participant (same peer, same transports). */
  async #reveal(m: { roomName: string; peer: Peer; room: Room }): Promise<ResponseData['join']> {
    if (!(await this.#o.rooms.reveal(m.room, m.peer)))
      throw new ServiceError(ErrorCode.NotInRoom, 'the warm-up ended meanwhile; join again');
    return {
      peerId: m.peer.peerId,
      routerRtpCapabilities: m.room.rtpCapabilities as ResponseData['join']['routerRtpCapabilities'],
      peers: m.room.peers(m.peer.peerId),
    };
  }

  /** The name of the (non-call) room this session is in; invites and additions are for it. */
  #memberRoom(): string {
    const roomName = this.#membership?.roomName;
    if (!roomName) throw new ServiceError(ErrorCode.NotInRoom, 'join a room first');
    if (roomName.startsWith(CALL_ROOM_PREFIX))
      throw new ServiceError(ErrorCode.Forbidden, 'a call has no invites: add people to it', 403);
    return roomName;
  }

  #peer(): Peer {
    if (!this.#membership) throw new ServiceError(ErrorCode.NotInRoom, 'join a room first');
    return this.#membership.peer;
  }

  /** Leaving is closing the peer: its room announces it and stores it (retrying if it must). */
  #leave(): void {
    const m = this.#membership;
    this.#membership = undefined;
    m?.peer.close();
  }

  #makeHandlers(): Handlers {
    return {
      // `displayName` in the request is accepted for older clients and ignored: peers are shown the
      // account's name, so nobody can appear under someone else's.
      join: async ({ room: roomName, invite, mediaSetup }) => {
        if (roomName.startsWith(CALL_ROOM_PREFIX)) {
          throw new ServiceError(ErrorCode.Forbidden, 'call rooms are joined with callJoinMedia', 403);
        }
        return this.#joinRoom(roomName, { kind: 'member', invite }, mediaSetup);
      },
      mediaCapabilities: async () => ({
        routerRtpCapabilities:
          (await this.#o.rooms.routerRtpCapabilities()) as ResponseData['join']['routerRtpCapabilities'],
      }),
      produceMany: (d) => this.#peer().produceMany(d),
      roomInvite: () => this.#o.rooms.createInvite(this.#memberRoom(), this.identity.userId),
      roomAddMembers: ({ userIds }) =>
        done(this.#o.rooms.addMembers(this.#memberRoom(), this.identity.userId, userIds)),
      setRtpCapabilities: (d) => this.#peer().setRtpCapabilities(d),
      createTransport: (d) => this.#peer().createTransport(d),
      connectTransport: (d) => this.#peer().connectTransport(d),
      restartIce: (d) => this.#peer().restartIce(d),
      produce: (d) => this.#peer().produce(d),
      closeProducer: (d) => this.#peer().closeProducer(d),
      pauseProducer: (d) => this.#peer().pauseProducer(d),
      resumeProducer: (d) => this.#peer().resumeProducer(d),
      consume: (d) => this.#peer().consume(d),
      resumeConsumer: (d) => this.#peer().resumeConsumer(d),
      setConsumerPreferredLayers: (d) => this.#peer().setConsumerPreferredLayers(d),
      leave: async () => {
        this.#peer();
        this.#leave();
        return {};
      },
      ...callHandlers({
        identity: this.identity,
        calls: this.#o.calls,
        log: this.#o.log,
        joinMedia: (callId, setup) => this.#joinRoom(callRoomName(callId), { kind: 'call' }, setup),
        warmMedia: (callId, setup) => this.#warmRoom(callRoomName(callId), setup),
        leaveMedia: (callId) => {
          if (this.#membership?.roomName === callRoomName(callId)) this.#leave();
        },
      }),
    };
  }

  #send(msg: ResponseEnvelope): void {
    this.#sendRaw(JSON.stringify(msg));
  }
  #sendRaw(text: string): void {
    this.#outbox.send(text);
  }
}
