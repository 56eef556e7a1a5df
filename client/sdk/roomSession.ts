/**
 * A client's presence in a room: who is there, what they publish, and what this client publishes,
 * kept across re-entries. The media of each entry (Device, transports, producers, consumers) is a
 * RoomMedia; the connection is a SignalingConnection (its own, or a CallClient's). The web page and
 * the real-media bot both drive rooms through this class only.
 *
 * When the connection is lost, the session enters the room again (new peer id, new transports) as
 * the reconnect policy allows, publishes again what was published, and reports only what changed.
 */
import type { types } from 'mediasoup-client';
import type { NotificationData, PeerInfo } from '../../protocol/signaling.js';
import { CloseCode } from '../../protocol/errors.js';
import type { Disconnect, SignalingConnection } from './connection.js';
import { DefaultReconnectPolicy, retryWithPolicy, type ReconnectPolicy } from './reconnectPolicy.js';
import { enterRoomByName, type JoinOptions, type ReconnectOptions, type RoomEntry } from './roomEntry.js';
import { RoomMedia, type MediaKind, type RemoteTrack, type RoomMediaSink } from './roomMedia.js';
import { recordRoomNotifications, ROOM_NOTIFICATIONS, type EarlyNotifications } from './roomNotifications.js';
import { TypedEmitter } from './typedEmitter.js';

export type { RemoteTrack } from './roomMedia.js';
export type { JoinOptions, ReconnectOptions, RoomEntry } from './roomEntry.js';

export interface RemotePeer {
  peerId: string;
  userId: string;
  displayName: string;
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

export interface AttachOptions {
  room: string;
  /**
   * Enters the room: once, and again after the connection was lost and either comes back by itself
   * or closed with a code `reconnectOn` accepts. `rejectedToken` is the token of the lost entry.
   */
  enter: (ctx: { rejectedToken?: string; closeCode?: number }) => Promise<RoomEntry>;
  /** Whether to enter again after a connection that does not reconnect closed with this code (default: never). */
  reconnectOn?: (closeCode: number) => boolean;
  deviceOptions?: types.DeviceOptions;
  reconnect?: ReconnectOptions;
}

interface Entered {
  entry: RoomEntry;
  device: RoomMedia['device'];
  early: EarlyNotifications;
}

export class RoomSession extends TypedEmitter<RoomSessionEvents> {
  readonly room: string;
  readonly peers = new Map<string, RemotePeer>();
  readonly remoteTracks = new Map<string, RemoteTrack>();
  readonly producers = new Map<MediaKind, types.Producer>();
  #entry: RoomEntry;
  #device: RoomMedia['device'];
  #media: RoomMedia | undefined;
  readonly #opts: AttachOptions;
  readonly #policy: ReconnectPolicy;
  readonly #sink: RoomMediaSink;
  /** Listeners on the current connection, removed when it is replaced or the session ends. */
  #unlisten: (() => void)[] = [];
  /** What the app published, so a re-entry can publish it again. */
  readonly #published: { audio?: MediaStreamTrack; video?: MediaStreamTrack; simulcast?: boolean } = {};
  /** Muted state as the app last set it (survives a re-entry). */
  readonly #muted = { audio: false, video: false };
  #reconnecting = false;
  #closed = false;

  private constructor(opts: AttachOptions, c: Entered) {
    super();
    this.room = opts.room;
    this.#opts = opts;
    this.#entry = c.entry;
    this.#device = c.device;
    this.#policy =
      opts.reconnect?.policy ??
      new DefaultReconnectPolicy({
        maxAttempts: opts.reconnect?.attempts ?? 4,
        baseDelayMs: opts.reconnect?.backoffMs ?? 500,
      });
    this.#sink = {
      remoteTracks: this.remoteTracks,
      producers: this.producers,
      track: (t) => this.emit('track', t),
      trackEnded: (t) => this.emit('trackEnded', t),
      transportState: (direction, state) => this.emit('transportState', direction, state),
      error: (err) => this.emit('error', err),
    };
  }

  /** This client's id in the room (a new one after a reconnect). */
  get peerId(): string {
    return this.#entry.joined.peerId;
  }

  /** The signaling connection of the current entry. */
  get signaling(): SignalingConnection {
    return this.#entry.signaling;
  }

  get device(): RoomMedia['device'] {
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
    const getToken = opts.getToken;
    const enter = enterRoomByName(opts);
    return RoomSession.attach({
      room: opts.room,
      enter,
      reconnectOn: (code) => code === CloseCode.TokenExpired && getToken !== undefined,
      deviceOptions: opts.deviceOptions,
      reconnect: opts.reconnect,
    });
  }

  /**
   * A signed, expiring invite to this room for others to join with (`join({ invite })`); only a
   * member may ask. `expiresAt` is in Unix seconds. See `roomInviteLink` for a shareable link.
   */
  async createInvite(): Promise<{ invite: string; expiresAt: number }> {
    return this.signaling.request('roomInvite', {});
  }

  /** Makes these users (account ids) members of this room, so they can join it by name. */
  async addMembers(userIds: string[]): Promise<void> {
    await this.signaling.request('roomAddMembers', { userIds });
  }

  /**
   * A session in a room that `enter` joins, e.g. a call's media room joined with `callJoinMedia` on a
   * CallClient's connection. Creates the Device, transports and consumers like `join`.
   */
  static async attach(opts: AttachOptions): Promise<RoomSession> {
    const entered = await RoomSession.#enter(opts, {});
    const session = new RoomSession(opts, entered);
    try {
      await session.#setUp(entered);
      return session;
    } catch (err) {
      // The connection dropped during setup and the session is entering again: that decides.
      if (session.#reconnecting && (await session.#reentered())) return session;
      session.#closed = true;
      session.#media?.close();
      session.#release(true);
      throw err;
    }
  }

  static async #enter(
    opts: AttachOptions,
    ctx: { rejectedToken?: string; closeCode?: number },
  ): Promise<Entered> {
    const entry = await opts.enter(ctx);
    // Record from the join answer on: someone joining or publishing while the Device loads counts.
    const early = recordRoomNotifications(entry.signaling);
    try {
      const device = entry.device ?? (await RoomMedia.loadDevice(entry.joined, opts.deviceOptions));
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
    else if (leaveRoom && entry.signaling.socket)
      entry.signaling.socket.request('leave', {}).catch(() => undefined);
  }

  /** Stops listening to the current connection and gives it back. */
  #release(leaveRoom: boolean): void {
    for (const off of this.#unlisten.splice(0)) off();
    RoomSession.#releaseEntry(this.#entry, leaveRoom);
  }

  /** Wires the entry's connection, creates its media and consumes what is there. */
  async #setUp({ entry, early }: Entered): Promise<void> {
    const s = entry.signaling;
    const peers: PeerInfo[] = entry.joined.peers;
    // Listen before any await below, so no notification slips between setup steps. Listeners of a
    // replaced entry (after a re-entry) ignore whatever its connection still delivers.
    const current = (): boolean => s === this.signaling && entry === this.#entry && !this.#closed;
    const queued: (() => Promise<void>)[] = [];
    let ready = false;
    const whenReady = (fn: () => Promise<void>): void => {
      if (ready) fn().catch((err: unknown) => this.emit('error', err as Error));
      else queued.push(fn);
    };
    // Peers known from before (a re-entry), and peers that came or went since entering the room:
    // the join answer is older than those notifications, so it must not undo them.
    const before = new Set(this.peers.keys());
    const changed = new Set<string>();
    // The server made our transports (`mediaSetup`): it pushes our consumers, for what is there
    // already too, instead of announcing producers for us to consume.
    const pushed = entry.joined.transports !== undefined;
    const handlers: { [N in (typeof ROOM_NOTIFICATIONS)[number]]: (data: NotificationData[N]) => void } = {
      peerJoined: (p) => {
        changed.add(p.peerId);
        const peer = { peerId: p.peerId, userId: p.userId, displayName: p.displayName };
        this.peers.set(p.peerId, peer);
        this.emit('peerJoined', peer);
      },
      peerLeft: ({ peerId }) => {
        changed.add(peerId);
        this.#media?.dropWhere((t) => t.peerId === peerId);
        if (this.peers.delete(peerId)) this.emit('peerLeft', peerId);
      },
      newProducer: ({ peerId, producer }) => {
        if (!pushed) whenReady(() => this.#media!.consume(peerId, producer));
      },
      newConsumer: (c) => whenReady(() => this.#media!.consumePushed(c)),
      consumerClosed: ({ consumerId }) => this.#media?.dropConsumer(consumerId),
      producerClosed: ({ producerId }) => this.#media?.dropWhere((t) => t.producerId === producerId),
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
      s.on('disconnected', (d) => {
        if (current() && !this.#reconnecting) this.#onDisconnected(d);
      }),
    );
    // What arrived between entering the room and now, in order.
    for (const { name, data } of early.stop()) if (current()) (handlers[name] as (d: unknown) => void)(data);

    const created = await RoomMedia.create(this.#device, s, this.#sink, entry.joined.transports);
    if (!current()) {
      // Lost while creating the transports; a re-entry (or the end) took over.
      created.close();
      throw new Error('the room entry was replaced');
    }
    this.#media = created;
    // After a re-entry, `peers` already holds who was there: report only the difference.
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
    const media = this.#media;
    const initial = pushed
      ? []
      : listed.flatMap((p) => p.producers.map((pr) => () => media.consume(p.peerId, pr)));
    await Promise.all([...initial, ...queued.splice(0)].map((fn) => fn()));
  }

  #onDisconnected({ code, willReconnect }: Disconnect): void {
    // The server forgot this peer with its socket: enter again if the connection comes back by
    // itself (a CallClient's) or the owner says this close is worth another entry (4001).
    if (willReconnect || this.#opts.reconnectOn?.(code)) void this.#reenter(code, willReconnect);
    else void this.#end(`signaling closed (${code})`);
  }

  /**
   * Enters again (fresh token, new peer id, transports, consumers) and publishes again what was
   * published, as the reconnect policy allows; then `reconnected`, or `closed` when it gives up.
   */
  async #reenter(closeCode: number, connectionComesBack: boolean): Promise<void> {
    this.#reconnecting = true;
    this.#media?.close();
    this.#media = undefined;
    for (const off of this.#unlisten.splice(0)) off();
    // A connection that reconnects by itself stays; an owned one that does not is done.
    if (!connectionComesBack) RoomSession.#releaseEntry(this.#entry, false);
    const rejectedToken = this.#entry.token;
    try {
      await retryWithPolicy(
        async () => {
          if (this.#closed) return;
          const entered = await RoomSession.#enter(this.#opts, { rejectedToken, closeCode });
          if (this.#closed) {
            entered.early.stop();
            RoomSession.#releaseEntry(entered.entry, true);
            return;
          }
          this.#entry = entered.entry;
          this.#device = entered.device;
          try {
            await this.#setUp(entered);
            await this.#republish();
          } catch (err) {
            this.#media?.close();
            this.#media = undefined;
            if (!this.#closed) this.#release(true);
            throw err;
          }
        },
        { policy: this.#policy, onAttempt: ({ retryCount }) => this.emit('reconnecting', retryCount + 1) },
      );
      if (this.#closed) return;
      this.#reconnecting = false;
      this.emit('reconnected');
    } catch (err) {
      this.#reconnecting = false;
      if (this.#closed) return;
      await this.#end(`reconnect failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Resolves true once a re-entry in progress succeeded, false once the session ended. */
  #reentered(): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    if (!this.#reconnecting) return Promise.resolve(true);
    return new Promise((resolve) => {
      const offs = [this.once('reconnected', () => done(true)), this.once('closed', () => done(false))];
      const done = (ok: boolean): void => {
        for (const off of offs) off();
        resolve(ok);
      };
    });
  }

  async #republish(): Promise<void> {
    const live = (t: MediaStreamTrack | undefined): MediaStreamTrack | undefined =>
      t && t.readyState !== 'ended' ? t : undefined;
    const audio = live(this.#published.audio);
    const video = live(this.#published.video);
    const media = this.#media;
    if ((!audio && !video) || !media) return;
    await media.publish({ audio, video, simulcast: this.#published.simulcast });
    for (const kind of ['audio', 'video'] as const) if (this.#muted[kind]) await media.setMuted(kind, true);
  }

  async restartIce(transport: types.Transport): Promise<void> {
    await this.#media?.restartIce(transport);
  }

  /** Publishes a microphone and/or camera track (video is simulcast unless told otherwise). */
  async publish(tracks: {
    audio?: MediaStreamTrack;
    video?: MediaStreamTrack;
    simulcast?: boolean;
  }): Promise<void> {
    if (tracks.audio) this.#published.audio = tracks.audio;
    if (tracks.video) {
      this.#published.video = tracks.video;
      this.#published.simulcast = tracks.simulcast;
    }
    // Entering again: the re-entry publishes what was recorded above.
    if (this.#reconnecting) return;
    const media = this.#media;
    if (!media?.canSend) throw new Error('this device cannot send media');
    await media.publish(tracks);
  }

  /** Mutes by pausing the producer: the server stops forwarding and tells the others. */
  async setMuted(kind: MediaKind, muted: boolean): Promise<void> {
    this.#muted[kind] = muted;
    await this.#media?.setMuted(kind, muted);
  }

  /** Inbound RTP stats per remote track, keyed by consumer id. */
  async getReceiveStats(): Promise<Map<string, RTCStatsReport>> {
    return this.#media ? this.#media.getReceiveStats() : new Map();
  }

  async leave(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.signaling.socket?.request('leave', {});
    } catch {
      // Leaving must succeed locally even if the server is gone.
    }
    await this.#end('left');
  }

  async #end(reason: string): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#media?.close();
    this.#media = undefined;
    for (const track of [this.#published.audio, this.#published.video]) track?.stop();
    this.#release(false);
    this.emit('closed', reason);
  }
}
