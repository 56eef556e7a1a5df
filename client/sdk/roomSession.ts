/**
 * A client's presence in a room: signaling, a mediasoup-client Device, one send and one receive
 * transport, the local producers and a consumer for every remote producer. The web page and the
 * real-media bot both drive rooms through this class only.
 */
import { Device, type types } from 'mediasoup-client';
import type { PeerInfo, ProducerInfo } from '../../protocol/signaling.js';
import { CloseCode } from '../../protocol/errors.js';
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
  /** The access token expired (close 4001) and the session is joining again with a fresh one. */
  reconnecting: [attempt: number];
  /** Back in the room after `reconnecting`: new peer id, transports and producers; remote tracks re-emitted. */
  reconnected: [];
  /** The session ended: left, the server closed it, the connection dropped, or reconnecting failed. */
  closed: [reason: string];
  error: [Error];
};

export interface JoinOptions {
  /** ws:// or wss:// URL of the signaling endpoint, e.g. ws://host:3000/ws */
  url: string;
  /** A fixed access token. The session ends when it expires (close 4001). Give this or `getToken`. */
  token?: string;
  /**
   * Supplies access tokens: once to join, and again whenever the server closes the socket because the
   * token expired (4001), with the refused token as argument; the session then reconnects by itself.
   * `(rejected) => accountClient.getAccessToken(rejected)` fits.
   */
  getToken?: (rejectedToken?: string) => Promise<string>;
  room: string;
  displayName?: string;
  deviceOptions?: types.DeviceOptions;
  webSocketFactory?: WebSocketFactory;
  /** Reconnecting after 4001 (only with `getToken`): attempts (default 4), first back-off (default 500 ms, doubling). */
  reconnect?: { attempts?: number; backoffMs?: number };
}

interface Connected {
  signaling: SignalingClient;
  device: Device;
  peerId: string;
  peers: PeerInfo[];
}

/** Three simulcast layers sized for a 640×480 camera; the SFU picks one per receiver. */
const VIDEO_ENCODINGS: types.RtpEncodingParameters[] = [
  { rid: 'r0', scaleResolutionDownBy: 4, maxBitrate: 150_000, scalabilityMode: 'L1T3' },
  { rid: 'r1', scaleResolutionDownBy: 2, maxBitrate: 500_000, scalabilityMode: 'L1T3' },
  { rid: 'r2', scaleResolutionDownBy: 1, maxBitrate: 1_200_000, scalabilityMode: 'L1T3' },
];

export class RoomSession extends TypedEmitter<RoomSessionEvents> {
  readonly room: string;
  readonly peers = new Map<string, RemotePeer>();
  readonly remoteTracks = new Map<string, RemoteTrack>();
  readonly producers = new Map<'audio' | 'video', types.Producer>();
  #signaling: SignalingClient;
  #device: Device;
  #peerId: string;
  #sendTransport: types.Transport | undefined;
  #recvTransport: types.Transport | undefined;
  readonly #consumers = new Map<string, types.Consumer>();
  readonly #opts: JoinOptions;
  #token: string;
  /** What the app published, so a reconnect can publish it again. */
  readonly #published: { audio?: MediaStreamTrack; video?: MediaStreamTrack; simulcast?: boolean } = {};
  /** Muted state as the app last set it (survives a reconnect). */
  readonly #muted = { audio: false, video: false };
  #reconnecting = false;
  #closed = false;

  private constructor(opts: JoinOptions, token: string, c: Connected) {
    super();
    this.room = opts.room;
    this.#opts = opts;
    this.#token = token;
    this.#signaling = c.signaling;
    this.#device = c.device;
    this.#peerId = c.peerId;
  }

  /** This client's id in the room (a new one after a reconnect). */
  get peerId(): string {
    return this.#peerId;
  }

  /** The current signaling connection (a new one after a reconnect). */
  get signaling(): SignalingClient {
    return this.#signaling;
  }

  get device(): Device {
    return this.#device;
  }

  get reconnecting(): boolean {
    return this.#reconnecting;
  }

  static async join(opts: JoinOptions): Promise<RoomSession> {
    if (opts.token === undefined && !opts.getToken)
      throw new Error('RoomSession.join needs token or getToken');
    const token = opts.token ?? (await opts.getToken!());
    const connected = await RoomSession.#connect(opts, token);
    const session = new RoomSession(opts, token, connected);
    try {
      await session.#setUp(connected.peers);
      return session;
    } catch (err) {
      connected.signaling.close();
      throw err;
    }
  }

  static async #connect(opts: JoinOptions, token: string): Promise<Connected> {
    const signaling = await SignalingClient.connect(opts.url, token, { factory: opts.webSocketFactory });
    try {
      const joined = await signaling.request('join', {
        room: opts.room,
        ...(opts.displayName ? { displayName: opts.displayName } : {}),
      });
      const device = await Device.factory(opts.deviceOptions);
      await device.load({ routerRtpCapabilities: joined.routerRtpCapabilities });
      return { signaling, device, peerId: joined.peerId, peers: joined.peers };
    } catch (err) {
      signaling.close();
      throw err;
    }
  }

  /** Wires the current signaling connection, creates transports and consumes what is there. */
  async #setUp(peers: PeerInfo[]): Promise<void> {
    const s = this.#signaling;
    // Listen before any await below, so no notification slips between setup steps. Listeners of a
    // replaced connection (after a reconnect) ignore whatever it still delivers.
    const current = (): boolean => s === this.#signaling && !this.#closed;
    const queued: (() => Promise<void>)[] = [];
    let ready = false;
    const whenReady = (fn: () => Promise<void>): void => {
      if (ready) fn().catch((err: unknown) => this.emit('error', err as Error));
      else queued.push(fn);
    };
    s.on('peerJoined', (p) => {
      if (!current()) return;
      const peer = { peerId: p.peerId, userId: p.userId, displayName: p.displayName };
      this.peers.set(p.peerId, peer);
      this.emit('peerJoined', peer);
    });
    s.on('peerLeft', ({ peerId }) => {
      if (!current()) return;
      for (const t of [...this.remoteTracks.values()])
        if (t.peerId === peerId) this.#dropConsumer(t.consumerId);
      this.peers.delete(peerId);
      this.emit('peerLeft', peerId);
    });
    s.on('newProducer', ({ peerId, producer }) => {
      if (current()) whenReady(() => this.#consume(peerId, producer));
    });
    s.on('consumerClosed', ({ consumerId }) => {
      if (current()) this.#dropConsumer(consumerId);
    });
    s.on('producerClosed', ({ producerId }) => {
      if (!current()) return;
      for (const t of [...this.remoteTracks.values()])
        if (t.producerId === producerId) this.#dropConsumer(t.consumerId);
    });
    s.on('activeSpeaker', ({ peerId }) => {
      if (current()) this.emit('activeSpeaker', peerId);
    });
    s.on('roomClosed', ({ reason }) => {
      if (current()) void this.#end(`room closed: ${reason}`);
    });
    s.on('close', ({ code }) => {
      if (!current() || this.#reconnecting) return;
      if (code === CloseCode.TokenExpired && this.#opts.getToken) void this.#reconnect();
      else void this.#end(`signaling closed (${code})`);
    });

    await s.request('setRtpCapabilities', { rtpCapabilities: this.#device.rtpCapabilities as never });
    this.#recvTransport = await this.#createTransport('recv');
    if (this.#device.canProduce('audio') || this.#device.canProduce('video')) {
      this.#sendTransport = await this.#createTransport('send');
    }
    // After a reconnect, `peers` already holds who was there: report only the difference.
    const present = new Set(peers.map((p) => p.peerId));
    for (const peerId of [...this.peers.keys()]) {
      if (present.has(peerId)) continue;
      this.peers.delete(peerId);
      this.emit('peerLeft', peerId);
    }
    for (const peer of peers) {
      const remote = { peerId: peer.peerId, userId: peer.userId, displayName: peer.displayName };
      const known = this.peers.has(peer.peerId);
      this.peers.set(peer.peerId, remote);
      if (!known) this.emit('peerJoined', remote);
    }
    ready = true;
    const initial = peers.flatMap((p) => p.producers.map((pr) => () => this.#consume(p.peerId, pr)));
    await Promise.all([...initial, ...queued.splice(0)].map((fn) => fn()));
  }

  /**
   * The server closed the socket because the access token expired: get a fresh token, join again
   * (new peer id, transports, consumers) and publish again what was published. Bounded: a few
   * attempts with doubling back-off, then `closed`.
   */
  async #reconnect(): Promise<void> {
    if (this.#closed || this.#reconnecting) return;
    this.#reconnecting = true;
    this.#closeMedia();
    const attempts = Math.max(1, this.#opts.reconnect?.attempts ?? 4);
    const backoffMs = this.#opts.reconnect?.backoffMs ?? 500;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      this.emit('reconnecting', attempt);
      if (attempt > 1) await sleep(backoffMs * 2 ** (attempt - 2) * (1 + Math.random() * 0.3));
      if (this.#closed) return;
      try {
        const token = await this.#opts.getToken!(this.#token);
        if (this.#closed) return;
        const connected = await RoomSession.#connect(this.#opts, token);
        if (this.#closed) {
          connected.signaling.close();
          return;
        }
        this.#token = token;
        this.#signaling = connected.signaling;
        this.#device = connected.device;
        this.#peerId = connected.peerId;
        await this.#setUp(connected.peers);
        await this.#republish();
        this.#reconnecting = false;
        this.emit('reconnected');
        return;
      } catch (err) {
        lastError = err;
        if (this.#closed) return;
        this.#closeMedia();
        this.#signaling.close();
        if (isFatalTokenError(err)) break;
      }
    }
    this.#reconnecting = false;
    await this.#end(
      `reconnect failed: ${lastError instanceof Error ? lastError.message : String(lastError)}`,
    );
  }

  async #republish(): Promise<void> {
    const live = (t: MediaStreamTrack | undefined): MediaStreamTrack | undefined =>
      t && t.readyState !== 'ended' ? t : undefined;
    const audio = live(this.#published.audio);
    const video = live(this.#published.video);
    if (!audio && !video) return;
    await this.publish({ audio, video, simulcast: this.#published.simulcast });
    for (const kind of ['audio', 'video'] as const) if (this.#muted[kind]) await this.setMuted(kind, true);
  }

  /** Closes consumers, producers (not their tracks) and transports of the current connection. */
  #closeMedia(): void {
    for (const id of [...this.#consumers.keys()]) this.#dropConsumer(id);
    for (const p of this.producers.values()) p.close();
    this.producers.clear();
    this.#sendTransport?.close();
    this.#recvTransport?.close();
    this.#sendTransport = undefined;
    this.#recvTransport = undefined;
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
    // The session, not mediasoup-client, stops the tracks (in leave()): a reconnect reuses them.
    if (tracks.audio) {
      this.#published.audio = tracks.audio;
      const producer = await transport.produce({
        track: tracks.audio,
        codecOptions: { opusDtx: true, opusFec: true },
        stopTracks: false,
      });
      this.producers.set('audio', producer);
    }
    if (tracks.video) {
      this.#published.video = tracks.video;
      this.#published.simulcast = tracks.simulcast;
      const producer = await transport.produce({
        track: tracks.video,
        ...(tracks.simulcast === false ? {} : { encodings: VIDEO_ENCODINGS }),
        stopTracks: false,
      });
      this.producers.set('video', producer);
    }
  }

  /** Mutes by pausing the producer: the server stops forwarding and tells the others. */
  async setMuted(kind: 'audio' | 'video', muted: boolean): Promise<void> {
    this.#muted[kind] = muted;
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
    const transport = this.#recvTransport;
    if (this.#closed || !transport) return;
    const answer = await this.signaling.request('consume', {
      transportId: transport.id,
      producerId: producer.producerId,
    });
    const consumer = await transport.consume({
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
    this.#closeMedia();
    for (const track of [this.#published.audio, this.#published.video]) track?.stop();
    this.signaling.close();
    this.emit('closed', reason);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A token source that refused for good (signed out, device revoked): retrying cannot help. */
function isFatalTokenError(err: unknown): boolean {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 408 && status !== 429;
}
