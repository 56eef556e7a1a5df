/**
 * A client's presence in a room: signaling, a mediasoup-client Device, one send and one receive
 * transport, the local producers and a consumer for every remote producer. The web page and the
 * real-media bot both drive rooms through this class only.
 */
import { Device, type types } from 'mediasoup-client';
import type { PeerInfo, ProducerInfo } from '../../protocol/signaling.js';
import { SignalingClient, type WebSocketFactory } from './signalingClient.js';
import { TypedEmitter } from './typedEmitter.js';

export interface RemotePeer {
  peerId: string;
  userId: string;
  displayName: string;
}

export interface RemoteTrack {
  peerId: string;
  consumerId: string;
  producerId: string;
  kind: 'audio' | 'video';
  track: MediaStreamTrack;
}

type RoomSessionEvents = {
  peerJoined: [RemotePeer];
  peerLeft: [peerId: string];
  track: [RemoteTrack];
  trackEnded: [RemoteTrack];
  activeSpeaker: [peerId: string | null];
  transportState: [direction: 'send' | 'recv', state: string];
  /** The session ended: left, the server closed it, or the connection dropped. */
  closed: [reason: string];
  error: [Error];
};

export interface JoinOptions {
  /** ws:// or wss:// URL of the signaling endpoint, e.g. ws://host:3000/ws */
  url: string;
  token: string;
  room: string;
  displayName?: string;
  deviceOptions?: types.DeviceOptions;
  webSocketFactory?: WebSocketFactory;
}

/** Three simulcast layers sized for a 640×480 camera; the SFU picks one per receiver. */
const VIDEO_ENCODINGS: types.RtpEncodingParameters[] = [
  { rid: 'r0', scaleResolutionDownBy: 4, maxBitrate: 150_000, scalabilityMode: 'L1T3' },
  { rid: 'r1', scaleResolutionDownBy: 2, maxBitrate: 500_000, scalabilityMode: 'L1T3' },
  { rid: 'r2', scaleResolutionDownBy: 1, maxBitrate: 1_200_000, scalabilityMode: 'L1T3' },
];

export class RoomSession extends TypedEmitter<RoomSessionEvents> {
  readonly room: string;
  readonly peerId: string;
  readonly signaling: SignalingClient;
  readonly device: Device;
  readonly peers = new Map<string, RemotePeer>();
  readonly remoteTracks = new Map<string, RemoteTrack>();
  readonly producers = new Map<'audio' | 'video', types.Producer>();
  #sendTransport: types.Transport | undefined;
  #recvTransport!: types.Transport;
  readonly #consumers = new Map<string, types.Consumer>();
  #closed = false;

  private constructor(room: string, peerId: string, signaling: SignalingClient, device: Device) {
    super();
    this.room = room;
    this.peerId = peerId;
    this.signaling = signaling;
    this.device = device;
  }

  static async join(opts: JoinOptions): Promise<RoomSession> {
    const signaling = await SignalingClient.connect(opts.url, opts.token, { factory: opts.webSocketFactory });
    try {
      const joined = await signaling.request('join', {
        room: opts.room,
        ...(opts.displayName ? { displayName: opts.displayName } : {}),
      });
      const device = await Device.factory(opts.deviceOptions);
      await device.load({ routerRtpCapabilities: joined.routerRtpCapabilities });
      const session = new RoomSession(opts.room, joined.peerId, signaling, device);
      await session.#setUp(joined.peers);
      return session;
    } catch (err) {
      signaling.close();
      throw err;
    }
  }

  async #setUp(peers: PeerInfo[]): Promise<void> {
    const s = this.signaling;
    // Listen before any await below, so no notification slips between setup steps.
    const queued: (() => Promise<void>)[] = [];
    let ready = false;
    const whenReady = (fn: () => Promise<void>): void => {
      if (ready) fn().catch((err: unknown) => this.emit('error', err as Error));
      else queued.push(fn);
    };
    s.on('peerJoined', (p) => {
      const peer = { peerId: p.peerId, userId: p.userId, displayName: p.displayName };
      this.peers.set(p.peerId, peer);
      this.emit('peerJoined', peer);
    });
    s.on('peerLeft', ({ peerId }) => {
      for (const t of [...this.remoteTracks.values()])
        if (t.peerId === peerId) this.#dropConsumer(t.consumerId);
      this.peers.delete(peerId);
      this.emit('peerLeft', peerId);
    });
    s.on('newProducer', ({ peerId, producer }) => whenReady(() => this.#consume(peerId, producer)));
    s.on('consumerClosed', ({ consumerId }) => this.#dropConsumer(consumerId));
    s.on('producerClosed', ({ producerId }) => {
      for (const t of this.remoteTracks.values())
        if (t.producerId === producerId) this.#dropConsumer(t.consumerId);
    });
    s.on('activeSpeaker', ({ peerId }) => this.emit('activeSpeaker', peerId));
    s.on('roomClosed', ({ reason }) => void this.#end(`room closed: ${reason}`));
    s.on('close', ({ code }) => void this.#end(`signaling closed (${code})`));

    await s.request('setRtpCapabilities', { rtpCapabilities: this.device.rtpCapabilities as never });
    this.#recvTransport = await this.#createTransport('recv');
    if (this.device.canProduce('audio') || this.device.canProduce('video')) {
      this.#sendTransport = await this.#createTransport('send');
    }
    for (const peer of peers) {
      const remote = { peerId: peer.peerId, userId: peer.userId, displayName: peer.displayName };
      this.peers.set(peer.peerId, remote);
      this.emit('peerJoined', remote);
    }
    ready = true;
    const initial = peers.flatMap((p) => p.producers.map((pr) => () => this.#consume(p.peerId, pr)));
    await Promise.all([...initial, ...queued.splice(0)].map((fn) => fn()));
  }

  async #createTransport(direction: 'send' | 'recv'): Promise<types.Transport> {
    const options = await this.signaling.request('createTransport', { direction });
    const transport =
      direction === 'send'
        ? this.device.createSendTransport(options)
        : this.device.createRecvTransport(options);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.signaling
        .request('connectTransport', { transportId: transport.id, dtlsParameters: dtlsParameters as never })
        .then(() => callback(), errback);
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        this.signaling
          .request('produce', {
            transportId: transport.id,
            kind,
            rtpParameters: rtpParameters as never,
            appData: appData as Record<string, string>,
          })
          .then(({ producerId }) => callback({ id: producerId }), errback);
      });
    }
    transport.on('connectionstatechange', (state) => {
      this.emit('transportState', direction, state);
      // A network change breaks ICE; new credentials let the client re-establish it in place.
      if (state === 'failed' || state === 'disconnected') void this.restartIce(transport);
    });
    return transport;
  }

  async restartIce(transport: types.Transport): Promise<void> {
    if (this.#closed || transport.closed) return;
    try {
      const { iceParameters } = await this.signaling.request('restartIce', { transportId: transport.id });
      await transport.restartIce({ iceParameters });
    } catch (err) {
      this.emit('error', err as Error);
    }
  }

  /** Publishes a microphone and/or camera track (video is simulcast unless told otherwise). */
  async publish(tracks: {
    audio?: MediaStreamTrack;
    video?: MediaStreamTrack;
    simulcast?: boolean;
  }): Promise<void> {
    const transport = this.#sendTransport;
    if (!transport) throw new Error('this device cannot send media');
    if (tracks.audio) {
      const producer = await transport.produce({
        track: tracks.audio,
        codecOptions: { opusDtx: true, opusFec: true },
      });
      this.producers.set('audio', producer);
    }
    if (tracks.video) {
      const producer = await transport.produce({
        track: tracks.video,
        ...(tracks.simulcast === false ? {} : { encodings: VIDEO_ENCODINGS }),
      });
      this.producers.set('video', producer);
    }
  }

  /** Mutes by pausing the producer: the server stops forwarding and tells the others. */
  async setMuted(kind: 'audio' | 'video', muted: boolean): Promise<void> {
    const producer = this.producers.get(kind);
    if (!producer) return;
    if (muted) {
      producer.pause();
      await this.signaling.request('pauseProducer', { producerId: producer.id });
    } else {
      producer.resume();
      await this.signaling.request('resumeProducer', { producerId: producer.id });
    }
  }

  /** Inbound RTP stats per remote track, keyed by consumer id. */
  async getReceiveStats(): Promise<Map<string, RTCStatsReport>> {
    const out = new Map<string, RTCStatsReport>();
    await Promise.all(
      [...this.#consumers].map(async ([id, c]) => {
        out.set(id, await c.getStats());
      }),
    );
    return out;
  }

  async leave(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.signaling.request('leave', {});
    } catch {
      // Leaving must succeed locally even if the server is gone.
    }
    await this.#end('left');
  }

  async #consume(peerId: string, producer: ProducerInfo): Promise<void> {
    if (this.#closed) return;
    const answer = await this.signaling.request('consume', {
      transportId: this.#recvTransport.id,
      producerId: producer.producerId,
    });
    const consumer = await this.#recvTransport.consume({
      id: answer.consumerId,
      producerId: answer.producerId,
      kind: answer.kind,
      rtpParameters: answer.rtpParameters,
    });
    this.#consumers.set(consumer.id, consumer);
    const remote: RemoteTrack = {
      peerId,
      consumerId: consumer.id,
      producerId: producer.producerId,
      kind: answer.kind,
      track: consumer.track,
    };
    this.remoteTracks.set(consumer.id, remote);
    this.emit('track', remote);
    await this.signaling.request('resumeConsumer', { consumerId: consumer.id });
  }

  #dropConsumer(consumerId: string): void {
    const consumer = this.#consumers.get(consumerId);
    const remote = this.remoteTracks.get(consumerId);
    this.#consumers.delete(consumerId);
    this.remoteTracks.delete(consumerId);
    consumer?.close();
    if (remote) this.emit('trackEnded', remote);
  }

  async #end(reason: string): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of [...this.#consumers.keys()]) this.#dropConsumer(id);
    for (const p of this.producers.values()) p.close();
    this.#sendTransport?.close();
    this.#recvTransport?.close();
    this.signaling.close();
    this.emit('closed', reason);
  }
}
