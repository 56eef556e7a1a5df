/**
 * One authenticated WebSocket: a thin adapter between the protocol and the owners of each concept.
 * It validates every frame (signaling/frames.ts), finds the caller's room membership or the
 * CallService, calls one method and answers each request exactly once. Media decisions live in
 * rooms/, not here; so does which node hosts the room (the RoomGateway relays if it is not this one).
 * A bad frame costs an error response, never the connection.
 * Its room membership and numbered notifications can outlive the socket: parked in the
 * SessionRegistry when the socket drops, and adopted by a new socket's session on `resume`.
 */
import type { WebSocket, RawData } from 'ws';
import type { Identity } from '../auth/accessTokens.js';
import { CloseCode, ErrorCode, ServiceError } from '../protocol/errors.js';
import type {
  IceServerInfo,
  Method,
  NotificationData,
  NotificationName,
  RequestData,
  ResponseData,
  ResponseEnvelope,
} from '../protocol/signaling.js';
import type { JoinAnswer, JoinOptions, RoomGateway, RoomMembership } from '../rooms/roomGateway.js';
import type { PeerMethod } from '../rooms/peerRequests.js';
import type { MediaSetup } from '../rooms/peer.js';
import type { RoomAccess, RoomService } from '../rooms/roomService.js';
import { CALL_ROOM_PREFIX, callRoomName, type CallService } from '../calls/callService.js';
import type { Logger } from '../lib/logger.js';
import type { SignalingLimitsConfig } from '../server/config.js';
import { callHandlers, deliverCalls, done } from './callHandlers.js';
import { resumeHandlers } from './resumeHandlers.js';
import { SessionMembership, endForGood } from './sessionMembership.js';
import type { ResumableState, ResumeHolder, SessionRegistry } from './sessionRegistry.js';
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
  /** Where rooms are joined: on this node or, relayed, on the node hosting them. */
  gateway: RoomGateway;
  calls: CallService;
  log: Logger;
  observer?: SessionObserver;
  limits: SignalingLimitsConfig;
  onLimited?: (limit: string) => void;
  /** The name peers see: from the account (or the token), never from the client. */
  displayName: (identity: Identity) => Promise<string>;
  /** Resume tokens and parked sessions of this node. */
  registry: SessionRegistry;
  /** Verifies a refreshed token like the upgrade did; `refreshed` moves the socket's expiry. */
  verifyToken: (token: string) => Promise<Identity>;
  refreshed: (identity: Identity) => void;
  /** TURN relays with fresh credentials for this user, sent with every join answer. */
  iceServers?: (identity: Identity) => IceServerInfo[];
}

export class SignalingSession implements ResumeHolder {
  readonly identity: Identity;
  readonly #o: SignalingSessionOptions;
  readonly #membership: SessionMembership;
  #joining = false;
  #closed = false;
  /** Set when the server closes the socket for a reason that rules out a resume (revocation). */
  #final = false;
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
    this.#membership = new SessionMembership({
      identity: opts.identity,
      registry: opts.registry,
      calls: opts.calls,
      holder: this,
      sink: (text) => this.#sendRaw(text),
    });
    this.#handlers = this.#makeHandlers();
  }

  get peerId(): string | undefined {
    return this.#membership.peer?.peerId;
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
    if (!this.#closed) this.#membership.log.send(name, data);
  }

  /** Starts receiving call messages for this device. */
  async start(): Promise<void> {
    this.#detachCalls = await deliverCalls({
      identity: this.identity,
      calls: this.#o.calls,
      notify: (name, data) => this.notify(name, data),
      revoked: () => {
        this.#final = true;
        this.#o.ws.close(CloseCode.TokenInvalid, 'device signed out');
      },
      callEnded: (callId) => {
        if (this.#membership.roomName === callRoomName(callId)) this.#membership.leave();
      },
      // The callee answered: the caller's device that warmed up goes into the room now, without
      // waiting for its own `callJoinMedia` (a round trip later), so media flows from the answer on.
      callActive: (callId) => this.#revealWarm(callId),
    });
    if (this.#closed) this.#detachCalls();
  }

  /**
   * The socket is gone: stops call delivery and parks the membership for a resume, or (resume off,
   * revoked, `resumable: false` at shutdown) leaves the room, closing every media object of the
   * peer; a call's device then gets the call's reconnect grace. Idempotent.
   */
  async close(opts: { resumable?: boolean } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#detachCalls?.();
    this.#outbox.close();
    this.#membership.socketGone((opts.resumable ?? true) && !this.#final);
  }

  /**
   * The token expired without a refresh: the server ends the session (4001). Not resumable: a
   * client that cannot refresh in time may not be able to prove it is the same device either (a
   * development token is a new user each time), and its peer must not linger for the grace.
   */
  expire(): void {
    this.#final = true;
    this.#o.ws.close(CloseCode.TokenExpired, 'access token expired');
  }

  /** A resume on another socket claims this session: give it up and close this stale socket. */
  handOver(): ResumableState | undefined {
    const state = this.#membership.release();
    this.#final = true;
    this.#o.ws.close(CloseCode.SessionResumed, 'session resumed on another connection');
    return state;
  }

  /**
   * Enters a room (the session's one room). A call's `callJoinMedia` on the device that warmed the
   * call up reveals its hidden peer instead: same peer, same transports, nothing set up again.
   */
  async #joinRoom(
    roomName: string,
    access: RoomAccess,
    opts: JoinOptions = {},
  ): Promise<ResponseData['join']> {
    const current = this.#membership.peer;
    if (current?.warmedUp && !opts.hidden && access.kind === 'call' && this.#membership.roomName === roomName)
      return this.#answer(await current.reveal());
    if (current || this.#joining)
      throw new ServiceError(ErrorCode.AlreadyInRoom, 'already in a room; leave first');
    this.#joining = true;
    // The peer notifies through the log it joined with: after a resume that log goes on elsewhere.
    const log = this.#membership.log;
    const held = new HeldNotifications((name, data) => log.send(name, data));
    try {
      const displayName = await this.#o.displayName(this.identity);
      const { membership, joined } = await this.#o.gateway.join(
        roomName,
        { userId: this.identity.userId, displayName },
        held.notify,
        access,
        opts,
      );
      if (this.#closed) {
        membership.leave();
        throw new ServiceError(ErrorCode.NotInRoom, 'connection closed while joining');
      }
      this.#membership.enter(roomName, membership);
      // The answer is sent when this handler's promise settles (a microtask); setImmediate runs after.
      setImmediate(() => held.release());
      return this.#answer(joined);
    } catch (err) {
      held.drop();
      throw err;
    } finally {
      this.#joining = false;
    }
  }

  /**
   * The room's answer plus what this node adds: TURN credentials (minted here, on the node that
   * holds the user's socket, whichever node hosts the room) and the resume token.
   */
  #answer(joined: JoinAnswer): ResponseData['join'] {
    return {
      ...joined,
      iceServers: this.#o.iceServers?.(this.identity) ?? [],
      ...(this.#membership.resumeToken ? { resumeToken: this.#membership.resumeToken } : {}),
    };
  }

  /**
   * Warm-up while a call rings: a hidden peer in the call's room with its transports (see
   * Room.joinHidden), at most `warmPeersPerCall` per call. `callJoinMedia` later reveals it.
   */
  #warmRoom(roomName: string, setup: MediaSetup): Promise<ResponseData['join']> {
    const max = this.#o.limits.warmPeersPerCall ?? DEFAULT_WARM_PEERS_PER_CALL;
    if (max === 0)
      return Promise.reject(
        new ServiceError(ErrorCode.Forbidden, 'warm-up is turned off on this server', 403),
      );
    return this.#joinRoom(roomName, { kind: 'call' }, { setup, hidden: { max } });
  }

  /**
   * Reveals this device's warm-up of the call, if it has one (the answer on this device, or the call
   * becoming active for its caller). The client's own `callJoinMedia` then finds it revealed.
   */
  #revealWarm(callId: string): void {
    const peer = this.#membership.peer;
    if (!peer?.hidden || this.#membership.roomName !== callRoomName(callId)) return;
    peer.reveal().catch((error: unknown) => {
      // The client's callJoinMedia reports it (and falls back to a cold join).
      this.#o.log.debug('warm-up not revealed', { error, callId });
    });
  }

  /** The name of the (non-call) room this session is in; invites and additions are for it. */
  #memberRoom(): string {
    const roomName = this.#membership.roomName;
    if (!roomName) throw new ServiceError(ErrorCode.NotInRoom, 'join a room first');
    if (roomName.startsWith(CALL_ROOM_PREFIX))
      throw new ServiceError(ErrorCode.Forbidden, 'a call has no invites: add people to it', 403);
    return roomName;
  }

  #peer(): RoomMembership {
    const peer = this.#membership.peer;
    if (!peer) throw new ServiceError(ErrorCode.NotInRoom, 'join a room first');
    return peer;
  }

  /** One of the peer's media requests, answered by the room wherever it is hosted. */
  #media<M extends PeerMethod>(method: M): (d: RequestData<M>) => Promise<ResponseData[M]> {
    return (d) => this.#peer().request(method, d);
  }

  #makeHandlers(): Handlers {
    return {
      // `displayName` in the request is accepted for older clients and ignored: peers are shown the
      // account's name, so nobody can appear under someone else's.
      join: async ({ room: roomName, invite, mediaSetup }) => {
        if (roomName.startsWith(CALL_ROOM_PREFIX)) {
          throw new ServiceError(ErrorCode.Forbidden, 'call rooms are joined with callJoinMedia', 403);
        }
        return this.#joinRoom(roomName, { kind: 'member', invite }, { setup: mediaSetup });
      },
      mediaCapabilities: async () => ({
        routerRtpCapabilities:
          (await this.#o.rooms.routerRtpCapabilities()) as ResponseData['join']['routerRtpCapabilities'],
      }),
      roomInvite: () => this.#o.rooms.createInvite(this.#memberRoom(), this.identity.userId),
      roomAddMembers: ({ userIds }) =>
        done(this.#o.rooms.addMembers(this.#memberRoom(), this.identity.userId, userIds)),
      setRtpCapabilities: this.#media('setRtpCapabilities'),
      createTransport: this.#media('createTransport'),
      connectTransport: this.#media('connectTransport'),
      restartIce: this.#media('restartIce'),
      produce: this.#media('produce'),
      produceMany: this.#media('produceMany'),
      closeProducer: this.#media('closeProducer'),
      pauseProducer: this.#media('pauseProducer'),
      resumeProducer: this.#media('resumeProducer'),
      consume: this.#media('consume'),
      resumeConsumer: this.#media('resumeConsumer'),
      setConsumerPreferredLayers: this.#media('setConsumerPreferredLayers'),
      ping: async () => ({}),
      leave: async () => {
        this.#peer();
        this.#membership.leave();
        return {};
      },
      ...resumeHandlers({
        identity: this.identity,
        registry: this.#o.registry,
        verifyToken: this.#o.verifyToken,
        refreshed: this.#o.refreshed,
        busy: () => this.#membership.peer !== undefined || this.#joining,
        adopt: (state, lastSeq) => {
          this.#o.log.debug('session resumed', { peerId: state.peer.peerId });
          return this.#membership.adopt(state, lastSeq);
        },
        expire: (state) => endForGood(state, this.#o.calls),
      }),
      ...callHandlers({
        identity: this.identity,
        calls: this.#o.calls,
        log: this.#o.log,
        joinMedia: (callId, setup) => this.#joinRoom(callRoomName(callId), { kind: 'call' }, { setup }),
        warmMedia: (callId, setup) => this.#warmRoom(callRoomName(callId), setup),
        revealWarm: (callId) => this.#revealWarm(callId),
        leaveMedia: (callId) => {
          if (this.#membership.roomName === callRoomName(callId)) this.#membership.leave();
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
