/**
 * A client's presence in a room: signaling, a mediasoup-client Device, one send and one receive
 * transport, the local producers and a consumer for every remote producer. The web page and the
 * real-media bot both drive rooms through this class only.
 */
import { Device, type types } from 'mediasoup-client';
import type { NotificationData, PeerInfo, ProducerInfo, ResponseData } from '../../protocol/signaling.js';
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
  /** The connection closed (e.g. the access token expired, 4001) and the session is entering again. */
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

/** A room entered on a signaling connection: what `RoomSession.attach` gets from its `enter`. */
export interface RoomEntry {
  signaling: SignalingClient;
  /** The server's answer to `join` (or to a request that answers like it, e.g. `callJoinMedia`). */
  joined: ResponseData['join'];
  /**
   * Whether the session owns the connection: it closes it when it ends. A connection that belongs to
   * someone else (a CallClient's) stays open; the session only leaves the room and stops listening.
   */
  ownsSignaling: boolean;
  /** The access token the connection was opened with; handed back to `enter` as `rejectedToken`. */
  token?: string;
}

export interface AttachOptions {
  room: string;
  /**
   * Enters the room: once, and again after the connection closed with a code `reconnectOn` accepts.
   * On a re-entry, `rejectedToken` is the token of the connection that closed (if the entry gave one).
   */
  enter: (ctx: { rejectedToken?: string; closeCode?: number }) => Promise<RoomEntry>;
  /** Whether to enter again after the connection closed with this code (default: never). */
  reconnectOn?: (closeCode: number) => boolean;
  deviceOptions?: types.DeviceOptions;
  /** Re-entering: attempts (default 4), first back-off (default 500 ms, doubling). */
  reconnect?: { attempts?: number; backoffMs?: number };
}

interface Connected {
  entry: RoomEntry;
  device: Device;
  early: EarlyNotifications;
}

/** The notifications about the room a session is in (the others belong to whoever owns the connection). */
type RoomNotification =
  | 'peerJoined'
  | 'peerLeft'
  | 'newProducer'
  | 'producerClosed'
  | 'consumerClosed'
  | 'activeSpeaker'
  | 'roomClosed';
const ROOM_NOTIFICATIONS: readonly RoomNotification[] = [
  'peerJoined',
  'peerLeft',
  'newProducer',
  'producerClosed',
  'consumerClosed',
  'activeSpeaker',
  'roomClosed',
];

/**
 * Room notifications that arrive after the join answer and before the session listens (while the
 * Device loads): someone joining or publishing at that moment must not be missed.
 */
interface EarlyNotifications {
  /** Stops recording and returns what was recorded, in order. */
  stop(): { name: RoomNotification; data: unknown }[];
}

function recordRoomNotifications(s: SignalingClient): EarlyNotifications {
  const seen: { name: RoomNotification; data: unknown }[] = [];
  const offs = ROOM_NOTIFICATIONS.map((name) => s.on(name, (data: unknown) => seen.push({ name, data })));
  return {
    stop: () => {
      for (const off of offs.splice(0)) off();
      return seen.splice(0);
    },
  };
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
  #entry: RoomEntry;
  #device: Device;
  #sendTransport: types.Transport | undefined;
  #recvTransport: types.Transport | undefined;
  readonly #consumers = new Map<string, types.Consumer>();
  readonly #opts: AttachOptions;
  /** Listeners on the current connection, removed when it is replaced or the session ends. */
  #unlisten: (() => void)[] = [];
  /** What the app published, so a reconnect can publish it again. */
  readonly #published: { audio?: MediaStreamTrack; video?: MediaStreamTrack; simulcast?: boolean } = {};
  /** Muted state as the app last set it (survives a reconnect). */
  readonly #muted = { audio: false, video: false };
  #reconnecting = false;
  #closed = false;

  private constructor(opts: AttachOptions, c: Connected) {
    super();
    this.room = opts.room;
    this.#opts = opts;
    this.#entry = c.entry;
    this.#device = c.device;
  }

  /** This client's id in the room (a new one after a reconnect). */
  get peerId(): string {
    return this.#entry.joined.peerId;
  }

  /** The current signaling connection (a new one after a reconnect). */
  get signaling(): SignalingClient {
    return this.#entry.signaling;
  }

  get device(): Device {
    return this.#device;
  }

  get reconnecting(): boolean {
    return this.#reconnecting;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Opens a signaling connection of its own and joins a room by name. */
  static async join(opts: JoinOptions): Promise<RoomSession> {
    if (opts.token === undefined && !opts.getToken)
      throw new Error('RoomSession.join needs token or getToken');
    const enter = async ({ rejectedToken }: { rejectedToken?: string }): Promise<RoomEntry> => {
      const token =
        rejectedToken === undefined
          ? (opts.token ?? (await opts.getToken!()))
          : await opts.getToken!(rejectedToken);
      const signaling = await SignalingClient.connect(opts.url, token, { factory: opts.webSocketFactory });
      try {
        const joined = await signaling.request('join', {
          room: opts.room,
          ...(opts.displayName ? { displayName: opts.displayName } : {}),
        });
        return { signaling, joined, ownsSignaling: true, token };
      } catch (err) {
        signaling.close();
        throw err;
      }
    };
    return RoomSession.attach({
      room: opts.room,
      enter,
      reconnectOn: (code) => code === CloseCode.TokenExpired && opts.getToken !== undefined,
      deviceOptions: opts.deviceOptions,
      reconnect: opts.reconnect,
    });
  }

  /**
   * A session in a room that `enter` joins, e.g. a call's media room joined with `callJoinMedia` on a
   * CallClient's connection. Creates the Device, transports and consumers like `join`.
   */
  static async attach(opts: AttachOptions): Promise<RoomSession> {
    const connected = await RoomSession.#connect(opts, {});
    const session = new RoomSession(opts, connected);
    try {
      await session.#setUp(connected.entry.joined.peers, connected.early);
      return session;
    } catch (err) {
      session.#closed = true;
      session.#closeMedia();
      session.#release(true);
      throw err;
    }
  }

  static async #connect(
    opts: AttachOptions,
    ctx: { rejectedToken?: string; closeCode?: number },
  ): Promise<Connected> {
    const entry = await opts.enter(ctx);
    const early = recordRoomNotifications(entry.signaling);
    try {
      const device = await Device.factory(opts.deviceOptions);
      await device.load({ routerRtpCapabilities: entry.joined.routerRtpCapabilities });
      return { entry, device, early };
    } catch (err) {
      early.stop();
      RoomSession.#releaseEntry(entry, true);
      throw err;
    }
  }

  /** Gives a connection back: closes an owned one, leaves the room on a borrowed one. */
  static #releaseEntry(entry: RoomEntry, leaveRoom: boolean): void {
    if (entry.ownsSignaling) entry.signaling.close();
    else if (leaveRoom) entry.signaling.request('leave', {}).catch(() => undefined);
  }

  /** Stops listening to the current connection and gives it back. */
  #release(leaveRoom: boolean): void {
    for (const off of this.#unlisten.splice(0)) off();
    RoomSession.#releaseEntry(this.#entry, leaveRoom);
  }

  /** Wires the current signaling connection, creates transports and consumes what is there. */
  async #setUp(peers: PeerInfo[], early: EarlyNotifications): Promise<void> {
    const s = this.signaling;
    // Listen before any await below, so no notification slips between setup steps. Listeners of a
    // replaced connection (after a reconnect) ignore whatever it still delivers.
    const current = (): boolean => s === this.signaling && !this.#closed;
    const queued: (() => Promise<void>)[] = [];
    let ready = false;
    const whenReady = (fn: () => Promise<void>): void => {
      if (ready) fn().catch((err: unknown) => this.emit('error', err as Error));
      else queued.push(fn);
    };
    // Peers known from before (a reconnect), and peers that came or went since entering the room:
    // the join answer is older than those notifications, so it must not undo them.
    const before = new Set(this.peers.keys());
    const changed = new Set<string>();
    const handlers: { [N in RoomNotification]: (data: NotificationData[N]) => void } = {
      peerJoined: (p) => {
        changed.add(p.peerId);
        const peer = { peerId: p.peerId, userId: p.userId, displayName: p.displayName };
        this.peers.set(p.peerId, peer);
        this.emit('peerJoined', peer);
      },
      peerLeft: ({ peerId }) => {
        changed.add(peerId);
        for (const t of [...this.remoteTracks.values()])
          if (t.peerId === peerId) this.#dropConsumer(t.consumerId);
        if (this.peers.delete(peerId)) this.emit('peerLeft', peerId);
      },
      newProducer: ({ peerId, producer }) => whenReady(() => this.#consume(peerId, producer)),
      consumerClosed: ({ consumerId }) => this.#dropConsumer(consumerId),
      producerClosed: ({ producerId }) => {
        for (const t of [...this.remoteTracks.values()])
          if (t.producerId === producerId) this.#dropConsumer(t.consumerId);
      },
      activeSpeaker: ({ peerId }) => this.emit('activeSpeaker', peerId),
      roomClosed: ({ reason }) => void this.#end(`room closed: ${reason}`),
    };
    for (const name of ROOM_NOTIFICATIONS) {
      const handler = handlers[name] as (data: unknown) => void;
      this.#unlisten.push(
        s.on(name, (data: unknown) => {
          if (current()) handler(data);
        }),
      );
    }
    this.#unlisten.push(
      s.on('close', ({ code }) => {
        if (!current() || this.#reconnecting) return;
        if (this.#opts.reconnectOn?.(code)) void this.#reconnect(code);
        else void this.#end(`signaling closed (${code})`);
      }),
    );
    // What arrived between entering the room and now, in order.
    for (const { name, data } of early.stop()) if (current()) (handlers[name] as (d: unknown) => void)(data);

    await s.request('setRtpCapabilities', { rtpCapabilities: this.#device.rtpCapabilities as never });
    this.#recvTransport = await this.#createTransport('recv');
    if (this.#device.canProduce('audio') || this.#device.canProduce('video')) {
      this.#sendTransport = await this.#createTransport('send');
    }
    // After a reconnect, `peers` already holds who was there: report only the difference.
    const present = new Set(peers.map((p) => p.peerId));
    for (const peerId of before) {
      if (present.has(peerId) || changed.has(peerId)) continue;
      this.peers.delete(peerId);
      this.emit('peerLeft', peerId);
    }
    const listed = peers.filter((p) => !changed.has(p.peerId));
    for (const peer of listed) {
      const remote = { peerId: peer.peerId, userId: peer.userId, displayName: peer.displayName };
      const known = this.peers.has(peer.peerId);
      this.peers.set(peer.peerId, remote);
      if (!known) this.emit('peerJoined', remote);
    }
    ready = true;
    const initial = listed.flatMap((p) => p.producers.map((pr) => () => this.#consume(p.peerId, pr)));
    await Promise.all([...initial, ...queued.splice(0)].map((fn) => fn()));
  }

  /**
   * The connection closed in a way `reconnectOn` accepts (for `join`: the access token expired):
   * enter again (fresh token, new peer id, transports, consumers) and publish again what was
   * published. Bounded: a few attempts with doubling back-off, then `closed`.
   */
  async #reconnect(closeCode: number): Promise<void> {
    if (this.#closed || this.#reconnecting) return;
    this.#reconnecting = true;
    this.#closeMedia();
    this.#release(false);
    const attempts = Math.max(1, this.#opts.reconnect?.attempts ?? 4);
    const backoffMs = this.#opts.reconnect?.backoffMs ?? 500;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      this.emit('reconnecting', attempt);
      if (attempt > 1) await sleep(backoffMs * 2 ** (attempt - 2) * (1 + Math.random() * 0.3));
      if (this.#closed) return;
      let entered = false;
      try {
        const connected = await RoomSession.#connect(this.#opts, {
          rejectedToken: this.#entry.token,
          closeCode,
        });
        if (this.#closed) {
          connected.early.stop();
          RoomSession.#releaseEntry(connected.entry, true);
          return;
        }
        this.#entry = connected.entry;
        this.#device = connected.device;
        entered = true;
        await this.#setUp(connected.entry.joined.peers, connected.early);
        await this.#republish();
        this.#reconnecting = false;
        this.emit('reconnected');
        return;
      } catch (err) {
        lastError = err;
        if (this.#closed) return;
        this.#closeMedia();
        if (entered) this.#release(true);
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
    this.#release(false);
    this.emit('closed', reason);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A token source that refused for good (signed out, device revoked): retrying cannot help. */
function isFatalTokenError(err: unknown): boolean {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 408 && status !== 429;
}
