/**
 * One authenticated WebSocket: parses and validates every frame, dispatches requests to the room
 * the user joined, and answers each with exactly one response. A bad frame costs an error
 * response, never the connection.
 */
import type { WebSocket, RawData } from 'ws';
import type { types } from 'mediasoup';
import type { Identity } from '../auth/accessTokens.js';
import { CloseCode, ErrorCode, ServiceError } from '../protocol/errors.js';
import {
  MAX_MESSAGE_BYTES,
  isMethod,
  requestEnvelopeSchema,
  requestSchemas,
  type Method,
  type NotificationData,
  type NotificationName,
  type RequestData,
  type ResponseData,
  type ResponseEnvelope,
  type CallView,
} from '../protocol/signaling.js';
import type { Participant } from '../rooms/participant.js';
import type { Room } from '../rooms/room.js';
import type { RoomService } from '../rooms/roomService.js';
import { CALL_ROOM_PREFIX, callRoomName, type CallService } from '../calls/callService.js';
import type { Logger } from '../server/logger.js';
import { toServiceError } from './toServiceError.js';

type Handlers = { [M in Method]: (data: RequestData<M>) => Promise<ResponseData[M]> };

export interface SessionObserver {
  request(method: string, ok: boolean, code?: string): void;
}

export class SignalingSession {
  readonly identity: Identity;
  readonly #ws: WebSocket;
  readonly #rooms: RoomService;
  readonly #log: Logger;
  readonly #observer: SessionObserver | undefined;
  #membership: { room: Room; participant: Participant } | undefined;
  #joining = false;
  #closed = false;
  readonly #calls: CallService;
  #detachCalls: (() => void) | undefined;

  constructor(opts: {
    ws: WebSocket;
    identity: Identity;
    rooms: RoomService;
    calls: CallService;
    log: Logger;
    observer?: SessionObserver;
  }) {
    this.#calls = opts.calls;
    this.#ws = opts.ws;
    this.identity = opts.identity;
    this.#rooms = opts.rooms;
    this.#log = opts.log;
    this.#observer = opts.observer;
  }

  get peerId(): string | undefined {
    return this.#membership?.participant.peerId;
  }

  async handleFrame(raw: RawData, isBinary: boolean): Promise<void> {
    const size = Array.isArray(raw) ? raw.reduce((n, b) => n + b.length, 0) : raw.byteLength;
    if (size > MAX_MESSAGE_BYTES) {
      return this.#fail(
        null,
        new ServiceError(ErrorCode.MessageTooLarge, `messages are limited to ${MAX_MESSAGE_BYTES} bytes`),
      );
    }
    if (isBinary)
      return this.#fail(null, new ServiceError(ErrorCode.MalformedMessage, 'binary frames are not accepted'));
    let json: unknown;
    try {
      json = JSON.parse(
        Buffer.isBuffer(raw) ? raw.toString('utf8') : Buffer.concat(toBuffers(raw)).toString('utf8'),
      );
    } catch {
      return this.#fail(null, new ServiceError(ErrorCode.MalformedMessage, 'frame is not valid JSON'));
    }
    const envelope = requestEnvelopeSchema.safeParse(json);
    if (!envelope.success) {
      const id = extractId(json);
      return this.#fail(
        id,
        new ServiceError(
          ErrorCode.MalformedMessage,
          'expected {"id": number, "method": string, "data"?: object}',
        ),
      );
    }
    const { id, method, data } = envelope.data;
    if (!isMethod(method)) {
      this.#observer?.request('unknown', false, ErrorCode.UnknownMethod);
      return this.#fail(id, new ServiceError(ErrorCode.UnknownMethod, `unknown method "${method}"`));
    }
    const parsed = requestSchemas[method].safeParse(data ?? {});
    if (!parsed.success) {
      const detail = parsed.error.issues
        .map((i) => `${i.path.join('.') || '(data)'}: ${i.message}`)
        .join('; ');
      this.#observer?.request(method, false, ErrorCode.InvalidParams);
      return this.#fail(id, new ServiceError(ErrorCode.InvalidParams, `${method}: ${detail}`));
    }
    try {
      const handler = this.#handlers[method] as (d: unknown) => Promise<unknown>;
      const result = await handler(parsed.data);
      this.#observer?.request(method, true);
      this.#send({ id, ok: true, data: result });
    } catch (err) {
      const error = toServiceError(err);
      if (error.code === ErrorCode.Internal) this.#log.error('request failed', { method, error: err });
      this.#observer?.request(method, false, error.code);
      this.#fail(id, error);
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
        if (call?.state === 'ended' && this.#membership?.room.name === callRoomName(call.callId)) {
          this.#leave().catch((error: unknown) => this.#log.warn('leaving an ended call failed', { error }));
        }
      },
    });
    if (this.#closed) this.#detachCalls();
  }

  /** Leaves the room (closing every media object of this peer) and stops call delivery. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#detachCalls?.();
    const roomName = this.#membership?.room.name;
    await this.#leave();
    // Dropped out of a call's media: give the device a grace period to come back before hanging up.
    if (roomName?.startsWith(CALL_ROOM_PREFIX))
      this.#calls.deviceGone(this.identity, roomName.slice(CALL_ROOM_PREFIX.length));
  }

  async #joinRoom(roomName: string, displayName: string): Promise<ResponseData['join']> {
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
      const { room, participant } = await this.#rooms.join(
        roomName,
        { userId: this.identity.userId, displayName },
        (name, data) => {
          if (held) held.push({ name, data });
          else this.notify(name, data);
        },
      );
      if (this.#closed) {
        await room.leave(participant.peerId);
        throw new ServiceError(ErrorCode.NotInRoom, 'connection closed while joining');
      }
      this.#membership = { room, participant };
      // A room can close under us (its worker died, its call ended): forget it, so the next join works.
      room.once('close', () => {
        if (this.#membership?.room === room) this.#membership = undefined;
      });
      // The answer is sent when this handler's promise settles (a microtask); setImmediate runs after.
      setImmediate(release);
      return {
        peerId: participant.peerId,
        routerRtpCapabilities: room.media.rtpCapabilities as ResponseData['join']['routerRtpCapabilities'],
        peers: room.peers(participant.peerId),
      };
    } catch (err) {
      held = null;
      throw err;
    } finally {
      this.#joining = false;
    }
  }

  #member(): { room: Room; participant: Participant } {
    if (!this.#membership) throw new ServiceError(ErrorCode.NotInRoom, 'join a room first');
    return this.#membership;
  }

  async #leave(): Promise<void> {
    const m = this.#membership;
    this.#membership = undefined;
    if (m) await m.room.leave(m.participant.peerId);
  }

  // The rtp/dtls objects were shape-checked by the schema; mediasoup validates their meaning and
  // throws TypeError on nonsense, which toServiceError maps to MEDIA_ERROR.
  readonly #handlers: Handlers = {
    join: async ({ room: roomName, displayName }) => {
      if (roomName.startsWith(CALL_ROOM_PREFIX)) {
        throw new ServiceError(ErrorCode.Forbidden, 'call rooms are joined with callJoinMedia', 403);
      }
      return this.#joinRoom(roomName, displayName ?? this.identity.displayName);
    },
    setRtpCapabilities: async ({ rtpCapabilities }) => {
      this.#member().participant.endpoint.setRtpCapabilities(
        rtpCapabilities as unknown as types.RtpCapabilities,
      );
      return {};
    },
    createTransport: async ({ direction }) => {
      const t = await this.#member().participant.endpoint.createTransport(direction);
      return {
        id: t.id,
        iceParameters: t.iceParameters,
        iceCandidates: t.iceCandidates as ResponseData['createTransport']['iceCandidates'],
        dtlsParameters: t.dtlsParameters as ResponseData['createTransport']['dtlsParameters'],
      };
    },
    connectTransport: async ({ transportId, dtlsParameters }) => {
      await this.#member().participant.endpoint.connectTransport(
        transportId,
        dtlsParameters as unknown as types.DtlsParameters,
      );
      return {};
    },
    restartIce: async ({ transportId }) => ({
      iceParameters: await this.#member().participant.endpoint.restartIce(transportId),
    }),
    produce: async ({ transportId, kind, rtpParameters, appData }) => {
      const { room, participant } = this.#member();
      const producer = await participant.endpoint.produce(
        transportId,
        kind,
        rtpParameters as unknown as types.RtpParameters,
        appData,
      );
      await room.publish(participant, producer);
      return { producerId: producer.id };
    },
    closeProducer: async ({ producerId }) => {
      this.#member().participant.endpoint.producer(producerId).close();
      return {};
    },
    pauseProducer: async ({ producerId }) => {
      await this.#member().participant.endpoint.producer(producerId).pause();
      return {};
    },
    resumeProducer: async ({ producerId }) => {
      await this.#member().participant.endpoint.producer(producerId).resume();
      return {};
    },
    consume: async ({ transportId, producerId }) => {
      const { room, participant } = this.#member();
      const consumer = await participant.endpoint.consume(transportId, producerId);
      const owner = room.peers().find((p) => p.producers.some((pr) => pr.producerId === producerId));
      return {
        consumerId: consumer.id,
        producerId,
        peerId: owner?.peerId ?? '',
        kind: consumer.kind,
        rtpParameters: consumer.rtpParameters as ResponseData['consume']['rtpParameters'],
      };
    },
    resumeConsumer: async ({ consumerId }) => {
      await this.#member().participant.endpoint.consumer(consumerId).resume();
      return {};
    },
    setConsumerPreferredLayers: async ({ consumerId, spatialLayer, temporalLayer }) => {
      await this.#member()
        .participant.endpoint.consumer(consumerId)
        .setPreferredLayers({ spatialLayer, temporalLayer });
      return {};
    },
    leave: async () => {
      this.#member();
      await this.#leave();
      return {};
    },
    callInvite: async ({ userIds, media }) => ({
      call: await this.#calls.invite(this.identity, userIds, media),
    }),
    callRinging: async ({ callId }) => {
      await this.#calls.ringing(this.identity, callId);
      return {};
    },
    callAccept: async ({ callId }) => ({ call: await this.#calls.accept(this.identity, callId) }),
    callDecline: async ({ callId }) => {
      await this.#calls.decline(this.identity, callId);
      return {};
    },
    callCancel: async ({ callId }) => {
      await this.#calls.cancel(this.identity, callId);
      return {};
    },
    callHangup: async ({ callId }) => {
      await this.#calls.hangup(this.identity, callId);
      if (this.#membership?.room.name === callRoomName(callId)) await this.#leave();
      return {};
    },
    callAddParticipants: async ({ callId, userIds }) => ({
      call: await this.#calls.addParticipants(this.identity, callId, userIds),
    }),
    callJoinMedia: async ({ callId }) => {
      // Only a participant who answered on this device gets into the call's room; media counts as
      // connected only once the join really happened (it may be refused, e.g. hosted elsewhere).
      await this.#calls.assertMayJoinMedia(this.identity, callId);
      const joined = await this.#joinRoom(callRoomName(callId), this.identity.displayName);
      // Recorded after the answer goes out (the answer must not wait, see #joinRoom); it only feeds
      // the media timeout, so a failure here is logged, not returned.
      this.#calls.mediaJoined(this.identity, callId).catch((error: unknown) => {
        this.#log.warn('cannot record media joined', { error, callId });
      });
      return joined;
    },
    callGet: async ({ callId }) => ({ call: await this.#calls.get(this.identity, callId) }),
    callHistory: async ({ limit }) => this.#calls.history(this.identity, limit ?? 50),
    callHistorySeen: async () => {
      await this.#calls.historySeen(this.identity);
      return {};
    },
  };

  #fail(id: number | null, error: ServiceError): void {
    this.#send({ id, ok: false, error: error.toBody() });
  }

  #send(msg: ResponseEnvelope): void {
    this.#sendRaw(JSON.stringify(msg));
  }

  #sendRaw(text: string): void {
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.send(text);
  }
}

function extractId(json: unknown): number | null {
  if (typeof json === 'object' && json !== null && 'id' in json && Number.isSafeInteger(json.id)) {
    return json.id as number;
  }
  return null;
}

function toBuffers(raw: RawData): Buffer[] {
  if (Array.isArray(raw)) return raw;
  return [Buffer.from(raw as ArrayBuffer)];
}
