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
  CallView,
} from '../protocol/signaling.js';
import type { Peer } from '../rooms/peer.js';
import type { RoomAccess, RoomService } from '../rooms/roomService.js';
import { CALL_ROOM_PREFIX, callRoomName, type CallService } from '../calls/callService.js';
import type { Logger } from '../lib/logger.js';
import type { SignalingLimitsConfig } from '../server/config.js';
import { parseFrame } from './frames.js';
import { TokenBucket } from './tokenBucket.js';
import { toServiceError } from './toServiceError.js';

type Handlers = { [M in Method]: (data: RequestData<M>) => Promise<ResponseData[M]> };

export interface SessionObserver {
  request(method: string, ok: boolean, code?: string): void;
}

export class SignalingSession {
  readonly identity: Identity;
  readonly #ws: WebSocket;
  readonly #rooms: RoomService;
  readonly #calls: CallService;
  readonly #log: Logger;
  readonly #observer: SessionObserver | undefined;
  #membership: { roomName: string; peer: Peer } | undefined;
  #joining = false;
  #closed = false;
  #detachCalls: (() => void) | undefined;
  readonly #limits: SignalingLimitsConfig;
  readonly #onLimited: (limit: string) => void;
  readonly #displayName: (identity: Identity) => Promise<string>;
  readonly #requests: TokenBucket;
  /** Set while the outbound backlog is over the limit: the socket is closed if it has not drained by then. */
  #slowReaderTimer: NodeJS.Timeout | undefined;

  constructor(opts: {
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
  }) {
    this.#ws = opts.ws;
    this.#limits = opts.limits;
    this.#onLimited = opts.onLimited ?? (() => undefined);
    this.#displayName = opts.displayName;
    this.#requests = new TokenBucket({
      capacity: opts.limits.requestBurst,
      ratePerSecond: opts.limits.requestsPerSecond,
    });
    this.identity = opts.identity;
    this.#rooms = opts.rooms;
    this.#calls = opts.calls;
    this.#log = opts.log;
    this.#observer = opts.observer;
  }

  get peerId(): string | undefined {
    return this.#membership?.peer.peerId;
  }

  async handleFrame(raw: RawData, isBinary: boolean): Promise<void> {
    // A client that does not read its answers gets no more work done for it (see #sendRaw).
    if (this.#slowReaderTimer) return;
    // Every frame is charged, malformed ones too: answering them is work the client makes us do.
    const waitMs = this.#requests.take();
    const frame = parseFrame(raw, isBinary);
    if (waitMs > 0) {
      this.#onLimited('requests_per_socket');
      if (frame.method) this.#observer?.request(frame.method, false, ErrorCode.RateLimited);
      const error = new ServiceError(
        ErrorCode.RateLimited,
        'too many requests on this connection',
        429,
        Math.max(1, Math.ceil(waitMs / 1000)),
        { limit: 'requests_per_socket', retryAfterMs: String(waitMs) },
      );
      return this.#send({ id: frame.id, ok: false, error: error.toBody() });
    }
    if (!frame.ok) {
      if (frame.method) this.#observer?.request(frame.method, false, frame.error.code);
      return this.#send({ id: frame.id, ok: false, error: frame.error.toBody() });
    }
    try {
      const handler = this.#handlers[frame.method] as (d: unknown) => Promise<unknown>;
      const result = await handler(frame.data);
      this.#observer?.request(frame.method, true);
      this.#send({ id: frame.id, ok: true, data: result });
    } catch (err) {
      const error = toServiceError(err);
      // Only our own faults are errors; a client's mistake (a typed code) must not fill the log on demand.
      if (error.code === ErrorCode.Internal)
        this.#log.error('request failed', { method: frame.method, error: err });
      else this.#log.debug('request refused', { method: frame.method, code: error.code });
      if (error.code === ErrorCode.LimitExceeded && error.details?.limit)
        this.#onLimited(error.details.limit);
      this.#observer?.request(frame.method, false, error.code);
      this.#send({ id: frame.id, ok: false, error: error.toBody() });
    }
  }

  notify<N extends NotificationName>(name: N, data: NotificationData[N]): void {
    if (this.#closed) return;
    this.#sendRaw(JSON.stringify({ notification: name, data }));
  }

  /** Starts receiving call messages for this device. */
  async start(): Promise<void> {
    this.#detachCalls = await this.#calls.attach({
      userId: this.identity.userId,
      deviceId: this.identity.deviceId,
      deliver: (m) => {
        // A signed-out or revoked device must not keep a live connection (or a call) until its token expires.
        if (m.notification === 'deviceRevoked') {
          this.#ws.close(CloseCode.TokenInvalid, 'device signed out');
          return;
        }
        this.#sendRaw(JSON.stringify({ notification: m.notification, data: m.data }));
        // An ended call takes its media with it, on whichever node this session holds it.
        const call = m.notification === 'callUpdated' ? (m.data as { call: CallView }).call : undefined;
        if (call?.state === 'ended' && this.#membership?.roomName === callRoomName(call.callId))
          this.#leave();
      },
    });
    if (this.#closed) this.#detachCalls();
  }

  /** Leaves the room (closing every media object of this peer) and stops call delivery. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#detachCalls?.();
    clearTimeout(this.#slowReaderTimer);
    const roomName = this.#membership?.roomName;
    this.#leave();
    // Dropped out of a call's media: give the device a grace period to come back before hanging up.
    if (roomName?.startsWith(CALL_ROOM_PREFIX))
      this.#calls.deviceGone(this.identity, roomName.slice(CALL_ROOM_PREFIX.length));
  }

  async #joinRoom(roomName: string, access: RoomAccess): Promise<ResponseData['join']> {
    if (this.#membership || this.#joining)
      throw new ServiceError(ErrorCode.AlreadyInRoom, 'already in a room; leave first');
    this.#joining = true;
    // Room notifications raised before our join answer has gone out are held back and sent right
    // after it: a client can only make sense of peerJoined/newProducer once it knows its room.
    let held: { name: NotificationName; data: unknown }[] | null = [];
    const release = (): void => {
      const pending = held ?? [];
      held = null;
      for (const n of pending) this.notify(n.name, n.data as never);
    };
    try {
      const displayName = await this.#displayName(this.identity);
      const { room, peer } = await this.#rooms.join(
        roomName,
        { userId: this.identity.userId, displayName },
        (name, data) => {
          if (held) held.push({ name, data });
          else this.notify(name, data);
        },
        access,
      );
      if (this.#closed) {
        peer.close();
        throw new ServiceError(ErrorCode.NotInRoom, 'connection closed while joining');
      }
      this.#membership = { roomName, peer };
      // The peer closes with its room (worker died, call ended): forget it, so the next join works.
      // The listener goes with the peer, so nothing accumulates on long-lived objects.
      peer.once('close', () => {
        if (this.#membership?.peer === peer) this.#membership = undefined;
      });
      // The answer is sent when this handler's promise settles (a microtask); setImmediate runs after.
      setImmediate(release);
      return {
        peerId: peer.peerId,
        routerRtpCapabilities: room.rtpCapabilities as ResponseData['join']['routerRtpCapabilities'],
        peers: room.peers(peer.peerId),
      };
    } catch (err) {
      held = null;
      throw err;
    } finally {
      this.#joining = false;
    }
  }

  /** The name of the (non-call) room this session is in; invites and additions are for it. */
  #memberRoom(): string {
    const roomName = this.#membership?.roomName;
    if (!roomName) throw new ServiceError(ErrorCode.NotInRoom, 'join a room first');
    if (roomName.startsWith(CALL_ROOM_PREFIX))
      throw new ServiceError(
        ErrorCode.Forbidden,
        "a call's room has no invites; add people to the call",
        403,
      );
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

  readonly #handlers: Handlers = {
    // `displayName` in the request is accepted for older clients and ignored: peers are shown the
    // account's name, so nobody can appear under someone else's.
    join: async ({ room: roomName, invite }) => {
      if (roomName.startsWith(CALL_ROOM_PREFIX)) {
        throw new ServiceError(ErrorCode.Forbidden, 'call rooms are joined with callJoinMedia', 403);
      }
      return this.#joinRoom(roomName, { kind: 'member', invite });
    },
    roomInvite: () => this.#rooms.createInvite(this.#memberRoom(), this.identity.userId),
    roomAddMembers: ({ userIds }) =>
      done(this.#rooms.addMembers(this.#memberRoom(), this.identity.userId, userIds)),
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
    callInvite: async ({ userIds, media }) => ({
      call: await this.#calls.invite(this.identity, userIds, media),
    }),
    callRinging: ({ callId }) => done(this.#calls.ringing(this.identity, callId)),
    callAccept: async ({ callId }) => ({ call: await this.#calls.accept(this.identity, callId) }),
    callDecline: ({ callId }) => done(this.#calls.decline(this.identity, callId)),
    callCancel: ({ callId }) => done(this.#calls.cancel(this.identity, callId)),
    callHangup: async ({ callId }) => {
      await this.#calls.hangup(this.identity, callId);
      if (this.#membership?.roomName === callRoomName(callId)) this.#leave();
      return {};
    },
    callAddParticipants: async ({ callId, userIds }) => ({
      call: await this.#calls.addParticipants(this.identity, callId, userIds),
    }),
    callJoinMedia: async ({ callId }) => {
      // Only a participant who answered on this device gets into the call's room; media counts as
      // connected only once the join really happened (it may be refused, e.g. hosted elsewhere).
      await this.#calls.assertMayJoinMedia(this.identity, callId);
      const joined = await this.#joinRoom(callRoomName(callId), { kind: 'call' });
      // Recorded after the answer goes out (the answer must not wait, see #joinRoom); it only feeds
      // the media timeout, so a failure here is logged, not returned.
      this.#calls.mediaJoined(this.identity, callId).catch((error: unknown) => {
        this.#log.warn('cannot record media joined', { error, callId });
      });
      return joined;
    },
    callGet: async ({ callId }) => ({ call: await this.#calls.get(this.identity, callId) }),
    callHistory: async ({ limit }) => this.#calls.history(this.identity, limit ?? 50),
    callHistorySeen: () => done(this.#calls.historySeen(this.identity)),
  };

  #send(msg: ResponseEnvelope): void {
    this.#sendRaw(JSON.stringify(msg));
  }

  /**
   * Backpressure: past WS_MAX_BUFFERED_BYTES of unsent output, answers and notifications are dropped
   * (the backlog, and so memory, stays bounded) and requests are ignored; if the backlog has not
   * drained below the limit after the grace, the socket is closed with SlowReader (and cut if even
   * the close cannot get through).
   */
  #sendRaw(text: string): void {
    if (this.#ws.readyState !== this.#ws.OPEN) return;
    if (this.#ws.bufferedAmount <= this.#limits.maxBufferedBytes) {
      this.#ws.send(text);
      return;
    }
    if (this.#slowReaderTimer) return;
    this.#onLimited('outbound_backlog');
    this.#log.debug('client is not reading; dropping output', { buffered: this.#ws.bufferedAmount });
    this.#slowReaderTimer = setTimeout(() => {
      if (this.#ws.bufferedAmount <= this.#limits.maxBufferedBytes) {
        this.#slowReaderTimer = undefined;
        return;
      }
      this.#log.info('closing a connection whose client does not read', {
        buffered: this.#ws.bufferedAmount,
      });
      this.#ws.close(CloseCode.SlowReader, 'not reading');
      // The close frame waits behind the backlog the client is not reading: do not wait for it.
      setTimeout(() => this.#ws.terminate(), 1000).unref();
    }, this.#limits.slowReaderGraceMs);
    this.#slowReaderTimer.unref();
  }
}

/** Answers an empty success once `p` settled (for requests whose result is only "done"). */
async function done(p: Promise<unknown>): Promise<Record<string, never>> {
  await p;
  return {};
}
