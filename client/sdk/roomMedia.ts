/**
 * The media of one entry into a room: a loaded mediasoup-client Device, one send and one receive
 * transport, the local producers and one consumer per remote producer, all on one signaling
 * connection. A RoomSession makes a new one each time it enters the room (a re-entry gets a new
 * peer on the server, so nothing of the old media can be reused but the app's tracks) and closes
 * the old one.
 */
import { Device, type types } from 'mediasoup-client';
import type { NotificationData, ProducerInfo, RequestData, ResponseData } from '../../protocol/signaling.js';
import type { SignalingConnection } from './connection.js';
import { IceRecovery, type IceRecoveryOptions } from './iceRecovery.js';
import { MediaStallWatch } from './mediaStallWatch.js';

export interface RemoteTrack {
  peerId: string;
  consumerId: string;
  producerId: string;
  kind: 'audio' | 'video';
  track: MediaStreamTrack;
  /** What the producer carries (e.g. 'screen', 'screen-audio'); undefined for camera/microphone. */
  source?: string;
}

export type MediaKind = 'audio' | 'video';

/** How the transports reach the SFU: the join answer's TURN relays and the app's ICE policy. */
export interface TransportNetwork {
  iceServers?: RTCIceServer[];
  /** 'relay' forces every path through TURN (a firewall test, or hiding the client's address). */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** ICE restarts while the socket is up, and when to give up on them (iceRecovery.ts). */
  iceRecovery?: IceRecoveryOptions;
}

/** The transports a join with `mediaSetup` answered with. */
export type PreparedTransports = NonNullable<ResponseData['join']['transports']>;

type BatchEntry = RequestData<'produceMany'>['producers'][number];

/** Where the media reports to: the session's public maps and events, shared by every entry. */
export interface RoomMediaSink {
  readonly remoteTracks: Map<string, RemoteTrack>;
  readonly producers: Map<MediaKind, types.Producer>;
  track(t: RemoteTrack): void;
  trackEnded(t: RemoteTrack): void;
  transportState(direction: 'send' | 'recv', state: string): void;
  error(err: Error): void;
  /** A transport's ICE stayed down although signaling was up and ICE was restarted: enter again. */
  iceStuck?(direction: 'send' | 'recv'): void;
  /** Whether the server said this remote producer is paused (its silence is no stall). */
  producerPaused?(producerId: string): boolean;
}

/** A stall over a live socket this long restarts ICE (see RoomMedia's #onStall). */
const STALL_BEFORE_RESTART_MS = 2_000;

/** Three simulcast layers sized for a 640×480 camera; the SFU picks one per receiver. */
const VIDEO_ENCODINGS: types.RtpEncodingParameters[] = [
  { rid: 'r0', scaleResolutionDownBy: 4, maxBitrate: 150_000, scalabilityMode: 'L1T3' },
  { rid: 'r1', scaleResolutionDownBy: 2, maxBitrate: 500_000, scalabilityMode: 'L1T3' },
  { rid: 'r2', scaleResolutionDownBy: 1, maxBitrate: 1_200_000, scalabilityMode: 'L1T3' },
];

export class RoomMedia {
  readonly device: Device;
  readonly #signaling: SignalingConnection;
  readonly #sink: RoomMediaSink;
  readonly #network: TransportNetwork;
  readonly #consumers = new Map<string, types.Consumer>();
  /** Producers beyond camera and microphone (screen share), closed with the media. */
  readonly #extraProducers = new Set<types.Producer>();
  readonly #iceRecoveries = new Set<IceRecovery>();
  /** Incoming media stopping is the first sign of a dead path: it makes the socket prove itself. */
  readonly #stallWatch: MediaStallWatch;
  #sendTransport: types.Transport | undefined;
  #recvTransport: types.Transport | undefined;
  /**
   * The server made the transports (`mediaSetup`): it also pushes consumers, takes audio and video
   * in one `produceMany`, and transports connect without holding up the first produce or consume.
   */
  #prepared = false;
  /** Producers being negotiated locally for one `produceMany` (see publish). */
  #batch: BatchEntry[] | undefined;
  #closed = false;
  /** A stall-driven ICE restart is running (see #onStall). */
  #restarting = false;

  private constructor(
    device: Device,
    signaling: SignalingConnection,
    sink: RoomMediaSink,
    network: TransportNetwork,
  ) {
    this.device = device;
    this.#signaling = signaling;
    this.#sink = sink;
    this.#network = network;
    this.#stallWatch = new MediaStallWatch(
      () =>
        [...this.#consumers.values()]
          .filter((c) => !c.closed && !c.paused && !this.#sink.producerPaused?.(c.producerId))
          .map((c) => c.rtpReceiver ?? {}),
      (stalledForMs) => void this.#onStall(stalledForMs),
    );
  }

  /** A Device loaded with the room's codecs (before the session listens: see RoomSession). */
  static async loadDevice(
    joined: ResponseData['join'],
    deviceOptions: types.DeviceOptions | undefined,
  ): Promise<Device> {
    const device = await Device.factory(deviceOptions);
    await device.load({ routerRtpCapabilities: joined.routerRtpCapabilities });
    return device;
  }

  /**
   * Tells the server what this device can receive and creates the transports; or, with the
   * transports a `mediaSetup` join answered with, only creates them here (no round trip).
   */
  static async create(
    device: Device,
    signaling: SignalingConnection,
    sink: RoomMediaSink,
    network: TransportNetwork = {},
    prepared?: PreparedTransports,
  ): Promise<RoomMedia> {
    const media = new RoomMedia(device, signaling, sink, network);
    if (prepared) {
      media.#prepared = true;
      media.#recvTransport = media.#transportFrom('recv', prepared.recv);
      if (prepared.send) media.#sendTransport = media.#transportFrom('send', prepared.send);
      return media;
    }
    try {
      await signaling.request('setRtpCapabilities', { rtpCapabilities: device.rtpCapabilities as never });
      media.#recvTransport = await media.#createTransport('recv');
      if (device.canProduce('audio') || device.canProduce('video'))
        media.#sendTransport = await media.#createTransport('send');
      return media;
    } catch (err) {
      media.close();
      throw err;
    }
  }

  /** Whether the server pushes this media's consumers (`newConsumer`) instead of announcing producers. */
  get pushed(): boolean {
    return this.#prepared;
  }

  get canSend(): boolean {
    return this.#sendTransport !== undefined;
  }

  /** Publishes a microphone and/or camera track (video is simulcast unless told otherwise). */
  async publish(tracks: {
    audio?: MediaStreamTrack;
    video?: MediaStreamTrack;
    simulcast?: boolean;
  }): Promise<void> {
    const transport = this.#sendTransport;
    if (!transport) throw new Error('this device cannot send media');
    if (this.#prepared) return this.#publishTogether(transport, tracks);
    // The session, not mediasoup-client, stops the tracks (when it ends): a re-entry reuses them.
    if (tracks.audio) {
      const producer = await transport.produce({
        track: tracks.audio,
        codecOptions: { opusDtx: true, opusFec: true },
        stopTracks: false,
      });
      this.#sink.producers.set('audio', producer);
    }
    if (tracks.video) {
      const producer = await transport.produce({
        track: tracks.video,
        ...(tracks.simulcast === false ? {} : { encodings: VIDEO_ENCODINGS }),
        stopTracks: false,
      });
      this.#sink.producers.set('video', producer);
    }
  }

  /**
   * Produces one more track beside camera and microphone (a screen share), tagged with its source
   * so receivers can tell it apart. The caller owns the producer and closes it with `closeProducer`.
   */
  async produceExtra(track: MediaStreamTrack, source: string): Promise<types.Producer> {
    const transport = this.#sendTransport;
    if (!transport) throw new Error('this device cannot send media');
    const producer = await transport.produce({ track, appData: { source }, stopTracks: false });
    this.#extraProducers.add(producer);
    return producer;
  }

  /** Closes a producer of `produceExtra` here and on the server (the others drop its track). */
  async closeProducer(producer: types.Producer): Promise<void> {
    this.#extraProducers.delete(producer);
    if (producer.closed) return;
    producer.close();
    if (this.#closed) return;
    await this.#signaling.request('closeProducer', { producerId: producer.id });
  }

  /** Swaps the camera or microphone track in place (no new producer, no renegotiation). */
  async replaceTrack(kind: MediaKind, track: MediaStreamTrack): Promise<void> {
    await this.#sink.producers.get(kind)?.replaceTrack({ track });
  }

  /**
   * Audio and video negotiated locally one after the other (mediasoup-client runs one produce at a
   * time and each needs its id first: we pick the ids), then created on the server in one request.
   */
  async #publishTogether(
    transport: types.Transport,
    tracks: { audio?: MediaStreamTrack; video?: MediaStreamTrack; simulcast?: boolean },
  ): Promise<void> {
    const batch: BatchEntry[] = [];
    this.#batch = batch;
    const audio = tracks.audio;
    const video = tracks.video;
    let settled: PromiseSettledResult<{ kind: MediaKind; producer: types.Producer }>[];
    try {
      settled = await Promise.allSettled([
        ...(audio
          ? [
              transport
                .produce({ track: audio, codecOptions: { opusDtx: true, opusFec: true }, stopTracks: false })
                .then((producer) => ({ kind: 'audio' as const, producer })),
            ]
          : []),
        ...(video
          ? [
              transport
                .produce({
                  track: video,
                  ...(tracks.simulcast === false ? {} : { encodings: VIDEO_ENCODINGS }),
                  stopTracks: false,
                })
                .then((producer) => ({ kind: 'video' as const, producer })),
            ]
          : []),
      ]);
    } finally {
      this.#batch = undefined;
    }
    const made = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) {
      for (const { producer } of made) producer.close();
      throw failed.reason;
    }
    if (batch.length === 0) return;
    try {
      await this.#signaling.request('produceMany', { transportId: transport.id, producers: batch });
    } catch (err) {
      for (const { producer } of made) producer.close();
      throw err;
    }
    for (const { kind, producer } of made) this.#sink.producers.set(kind, producer);
  }

  /** Mutes by pausing the producer: the server stops forwarding and tells the others. */
  async setMuted(kind: MediaKind, muted: boolean): Promise<void> {
    const producer = this.#sink.producers.get(kind);
    if (!producer) return;
    if (muted) {
      producer.pause();
      await this.#signaling.request('pauseProducer', { producerId: producer.id });
    } else {
      producer.resume();
      await this.#signaling.request('resumeProducer', { producerId: producer.id });
    }
  }

  /** New ICE credentials from the server, so the transport re-establishes itself in place. */
  async restartIce(transport: types.Transport): Promise<void> {
    if (this.#closed || transport.closed) return;
    try {
      const { iceParameters } = await this.#signaling.request('restartIce', { transportId: transport.id });
      await transport.restartIce({ iceParameters });
    } catch (err) {
      this.#sink.error(err as Error);
    }
  }

  /**
   * Incoming media stopped: first make the socket prove itself (a dead one is replaced, and the
   * resume restarts ICE). If it answers while media stays stalled, the path to the SFU changed under
   * a socket that survived it, or an earlier restart came before the browser knew the new network:
   * restart ICE (again). Repeats come from the watch, once a second at most, ten times per stall.
   * Only once the stall has lasted 2 s: a shorter one over a live socket is more often a hiccup
   * (a slow keyframe at the start of a call) than a broken path, and a restart then can make ICE
   * settle on a worse pair (a TURN relay where ICE-TCP worked); after a network change Chromium
   * knows the new network only ~2.6 s in, so no earlier restart could use it anyway.
   */
  async #onStall(stalledForMs: number): Promise<void> {
    if (this.#closed || this.#restarting) return;
    if (!(await this.#signaling.checkAlive()) || this.#closed) return;
    if (stalledForMs < STALL_BEFORE_RESTART_MS) return;
    this.#restarting = true;
    try {
      await this.restartAllIce();
    } finally {
      this.#restarting = false;
    }
  }

  /** Restarts ICE on both transports (after a resume: the network path has probably changed). */
  async restartAllIce(): Promise<void> {
    const transports = [this.#sendTransport, this.#recvTransport].filter((t) => t !== undefined);
    await Promise.all(transports.map((t) => this.restartIce(t)));
  }

  async consume(peerId: string, producer: ProducerInfo): Promise<void> {
    const transport = this.#recvTransport;
    if (this.#closed || !transport) return;
    const answer = await this.#signaling.request('consume', {
      transportId: transport.id,
      producerId: producer.producerId,
    });
    await this.#receive(transport, { ...answer, peerId }, producer.source);
  }

  /** A consumer the server created for us (`newConsumer`): the receiver here, then resume. */
  async consumePushed(pushed: NotificationData['newConsumer']): Promise<void> {
    const transport = this.#recvTransport;
    if (this.#closed || !transport) return;
    await this.#receive(transport, pushed, pushed.source);
  }

  async #receive(
    transport: types.Transport,
    answer: ResponseData['consume'],
    source: string | undefined,
  ): Promise<void> {
    const { peerId } = answer;
    const consumer = await transport.consume({
      id: answer.consumerId,
      producerId: answer.producerId,
      kind: answer.kind,
      rtpParameters: answer.rtpParameters,
    });
    if (this.#closed) {
      consumer.close();
      return;
    }
    this.#consumers.set(consumer.id, consumer);
    const remote: RemoteTrack = {
      peerId,
      consumerId: consumer.id,
      producerId: answer.producerId,
      kind: answer.kind,
      track: consumer.track,
      ...(source ? { source } : {}),
    };
    this.#sink.remoteTracks.set(consumer.id, remote);
    this.#sink.track(remote);
    await this.#signaling.request('resumeConsumer', { consumerId: consumer.id });
  }

  dropConsumer(consumerId: string): void {
    const consumer = this.#consumers.get(consumerId);
    const remote = this.#sink.remoteTracks.get(consumerId);
    this.#consumers.delete(consumerId);
    this.#sink.remoteTracks.delete(consumerId);
    consumer?.close();
    if (remote) this.#sink.trackEnded(remote);
  }

  /** Drops the consumers of every remote track that matches. */
  dropWhere(match: (t: RemoteTrack) => boolean): void {
    for (const t of [...this.#sink.remoteTracks.values()]) if (match(t)) this.dropConsumer(t.consumerId);
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

  /** Closes consumers, producers (not their tracks) and transports. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#stallWatch.stop();
    for (const id of [...this.#consumers.keys()]) this.dropConsumer(id);
    for (const p of this.#sink.producers.values()) p.close();
    this.#sink.producers.clear();
    for (const p of this.#extraProducers) p.close();
    this.#extraProducers.clear();
    for (const r of this.#iceRecoveries) r.stop();
    this.#sendTransport?.close();
    this.#recvTransport?.close();
    this.#sendTransport = undefined;
    this.#recvTransport = undefined;
  }

  async #createTransport(direction: 'send' | 'recv'): Promise<types.Transport> {
    return this.#transportFrom(direction, await this.#signaling.request('createTransport', { direction }));
  }

  #transportFrom(direction: 'send' | 'recv', answer: ResponseData['createTransport']): types.Transport {
    const options = {
      ...answer,
      ...(this.#network.iceServers?.length ? { iceServers: this.#network.iceServers } : {}),
      ...(this.#network.iceTransportPolicy ? { iceTransportPolicy: this.#network.iceTransportPolicy } : {}),
    };
    const transport =
      direction === 'send'
        ? this.device.createSendTransport(options)
        : this.device.createRecvTransport(options);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      const sent = this.#signaling.request('connectTransport', {
        transportId: transport.id,
        dtlsParameters: dtlsParameters as never,
      });
      if (!this.#prepared) return void sent.then(() => callback(), errback);
      // The first produce or consume need not wait for the server to take our DTLS parameters:
      // the handshake starts when they land, and a refusal is reported like any transport failure.
      callback();
      sent.catch((err: unknown) => this.#sink.error(err as Error));
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        const batch = this.#batch;
        if (batch) {
          const id = crypto.randomUUID();
          batch.push({
            id,
            kind,
            rtpParameters: rtpParameters as never,
            appData: appData as Record<string, string>,
          });
          return callback({ id });
        }
        this.#signaling
          .request('produce', {
            transportId: transport.id,
            kind,
            rtpParameters: rtpParameters as never,
            appData: appData as Record<string, string>,
          })
          .then(({ producerId }) => callback({ id: producerId }), errback);
      });
    }
    // A network change breaks ICE; new credentials let the client re-establish it in place, unless
    // the socket died with the path (then the resume restarts ICE).
    const recovery = new IceRecovery(
      {
        checkAlive: () => this.#signaling.checkAlive(),
        restartIce: () => this.restartIce(transport),
        giveUp: () => {
          if (!this.#closed) this.#sink.iceStuck?.(direction);
        },
      },
      this.#network.iceRecovery,
    );
    this.#iceRecoveries.add(recovery);
    transport.on('connectionstatechange', (state) => {
      this.#sink.transportState(direction, state);
      recovery.onState(state);
    });
    return transport;
  }
}
