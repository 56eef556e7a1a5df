/**
 * A client's presence in a room: who is there, what they publish, and what this client publishes,
 * kept across re-entries. The media of each entry (Device, transports, producers, consumers) is a
 * RoomMedia; the connection is a SignalingConnection (its own, or a CallClient's). The web page and
 * the real-media bot both drive rooms through this class only.
 *
 * When the connection is lost, the connection first tries to resume the server-kept session (same
 * peer id, transports, producers and consumers; missed notifications replayed): then only ICE is
 * restarted on both transports (`resumed`). If the server cannot resume it, the session enters the
 * room again (new peer id, new transports) as the reconnect policy allows, publishes again what was
 * published, and reports only what changed (`rejoined`, `reconnected`).
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
import { attachQuality, type ConnectionQuality, type QualityHook } from './connectionQuality.js';
import type { IceRecoveryOptions } from './iceRecovery.js';

export type { RemoteTrack } from './roomMedia.js';
export type { ConnectionQuality } from './connectionQuality.js';
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
  /** A remote producer was paused (a muted microphone, a camera turned off) or resumed. */
  producerPaused: [peerId: string, producerId: string];
  producerResumed: [peerId: string, producerId: string];
  /** This client's screen share started or stopped (also when the browser's own bar stopped it). */
  screenShare: [sharing: boolean];
  transportState: [direction: 'send' | 'recv', state: string];
  /** The connection closed (e.g. the access token expired, 4001) and the session is entering again. */
  reconnecting: [attempt: number];
  /** Back in the room after `reconnecting`: new peer id, transports and producers; remote tracks re-emitted. */
  reconnected: [];
  /** The connection dropped and the server kept the session: waiting for it to come back. */
  resuming: [];
  /** The same peer is back (no one saw it leave); ICE was restarted. `elapsedMs` since the drop. */
  resumed: [{ elapsedMs: number; replayed: number }];
  /** Entered again as a new peer after the drop (resume impossible); comes with `reconnected`. */
  rejoined: [{ elapsedMs: number; peerId: string }];
  /**
   * A participant's connection quality changed (`peerId` is this client's own id for its own link);
   * see connectionQuality.ts for what each level means.
   */
  connectionQuality: [peerId: string, quality: ConnectionQuality];
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
  /** 'relay': media only through the TURN relays of the join answer (default 'all'). */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** ICE restarts while signaling is up, and when a transport that stays down forces a re-entry. */
  iceRecovery?: IceRecoveryOptions;
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
  #resuming = false;
  #closed = false;
  /** Remote producers the server reports paused, by producer id. */
  readonly #paused = new Set<string>();
  /** The loudest peer as last reported (the server tells changes only; late listeners read this). */
  #activeSpeaker: string | null = null;
  /**
   * Tracks of peers not announced yet, by consumer id: consumed ahead while a call rang (the server
   * pushes them paused before either side answers). Emitted right after their peer's `peerJoined`.
   */
  readonly #heldTracks = new Map<string, RemoteTrack>();
  /** This client's screen share while it lasts. */
  #screen: { stream: MediaStream; producers: types.Producer[] } | undefined;
  readonly #quality: QualityHook;

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
      track: (t) => {
        if (this.peers.has(t.peerId)) this.emit('track', t);
        else this.#heldTracks.set(t.consumerId, t);
      },
      trackEnded: (t) => {
        if (!this.#heldTracks.delete(t.consumerId)) this.emit('trackEnded', t);
      },
      transportState: (direction, state) => this.emit('transportState', direction, state),
      error: (err) => this.emit('error', err),
      iceStuck: () => void this.#rejoinAfterIceFailure(),
      producerPaused: (producerId) => this.#paused.has(producerId),
    };
    this.#quality = attachQuality(this, (peerId, q) => this.emit('connectionQuality', peerId, q));
  }

  /** Connection quality per participant (this client's own id included), as last reported. */
  get connectionQuality(): Map<string, ConnectionQuality> {
    return this.#quality.all();
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
    return this.#reconnecting || this.#resuming;
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
      // A lost node (1006) or a draining one (4012) is left for another through the same address;
      // an expired token only with a source of fresh ones.
      reconnectOn: (code) =>
        code === CloseCode.TokenExpired
          ? getToken !== undefined
          : code !== 1000 && code !== CloseCode.TokenInvalid,
      deviceOptions: opts.deviceOptions,
      reconnect: opts.reconnect,
      iceTransportPolicy: opts.iceTransportPolicy,
      iceRecovery: opts.iceRecovery,
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
      session.#quality.close();
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
        this.#releaseHeld(p.peerId);
      },
      peerLeft: ({ peerId }) => {
        changed.add(peerId);
        this.#media?.dropWhere((t) => t.peerId === peerId);
        if (this.peers.delete(peerId)) this.emit('peerLeft', peerId);
      },
      newProducer: ({ peerId, producer }) => {
        if (producer.paused) this.#paused.add(producer.producerId);
        if (!pushed) whenReady(() => this.#media!.consume(peerId, producer));
      },
      newConsumer: (c) => {
        if (c.producerPaused) this.#paused.add(c.producerId);
        whenReady(() => this.#media!.consumePushed(c));
      },
      consumerClosed: ({ consumerId }) => this.#media?.dropConsumer(consumerId),
      producerClosed: ({ producerId }) => {
        this.#paused.delete(producerId);
        this.#media?.dropWhere((t) => t.producerId === producerId);
      },
      producerPaused: ({ peerId, producerId }) => {
        this.#paused.add(producerId);
        this.emit('producerPaused', peerId, producerId);
      },
      producerResumed: ({ peerId, producerId }) => {
        this.#paused.delete(producerId);
        this.emit('producerResumed', peerId, producerId);
      },
      activeSpeaker: ({ peerId }) => {
        this.#activeSpeaker = peerId;
        this.emit('activeSpeaker', peerId);
      },
      roomClosed: ({ reason }) => void this.#end(`room closed: ${reason}`),
    };
    this.#unlisten.push(this.#quality.listen(s, current));
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
        if (current() && !this.#reconnecting && !this.#resuming) this.#onDisconnected(d);
      }),
    );
    // The server kept this peer for a resume: the connection asks for it back after a drop.
    s.resumeWith(entry.joined.resumeToken);
    // What arrived between entering the room and now, in order.
    for (const { name, data } of early.stop()) if (current()) (handlers[name] as (d: unknown) => void)(data);

    const created = await RoomMedia.create(
      this.#device,
      s,
      this.#sink,
      {
        iceServers: entry.joined.iceServers,
        iceTransportPolicy: this.#opts.iceTransportPolicy,
        iceRecovery: this.#opts.iceRecovery,
      },
      entry.joined.transports,
    );
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
    for (const p of listed) for (const pr of p.producers) if (pr.paused) this.#paused.add(pr.producerId);
    for (const peer of listed) {
      const remote = { peerId: peer.peerId, userId: peer.userId, displayName: peer.displayName };
      const known = this.peers.has(peer.peerId);
      this.peers.set(peer.peerId, remote);
      if (!known) this.emit('peerJoined', remote);
      this.#releaseHeld(peer.peerId);
    }
    ready = true;
    const media = this.#media;
    const initial = pushed
      ? []
      : listed.flatMap((p) => p.producers.map((pr) => () => media.consume(p.peerId, pr)));
    await Promise.all([...initial, ...queued.splice(0)].map((fn) => fn()));
  }

  /** The tracks held for a peer that has just been announced. */
  #releaseHeld(peerId: string): void {
    for (const [consumerId, t] of [...this.#heldTracks]) {
      if (t.peerId !== peerId) continue;
      this.#heldTracks.delete(consumerId);
      this.emit('track', t);
    }
  }

  #onDisconnected({ code, willReconnect, willResume }: Disconnect): void {
    if (willReconnect && willResume) return void this.#awaitResume(code, Date.now());
    // The server forgot this peer with its socket: enter again if the connection comes back by
    // itself (a CallClient's) or the owner says this close is worth another entry (4001).
    if (willReconnect || this.#opts.reconnectOn?.(code)) void this.#reenter(code, willReconnect);
    else void this.#end(`signaling closed (${code})`);
  }

  /** The connection is resuming: same peer if it works (restart ICE), else enter again. */
  async #awaitResume(code: number, lostAt: number): Promise<void> {
    this.#resuming = true;
    this.emit('resuming');
    const s = this.signaling;
    const outcome = await new Promise<{ resumed: boolean; replayed: number } | null>((resolve) => {
      const offs = [s.once('reconnected', (r) => done(r)), s.once('closed', () => done(null))];
      const done = (r: { resumed: boolean; replayed: number } | null): void => {
        for (const off of offs) off();
        resolve(r);
      };
    });
    this.#resuming = false;
    if (this.#closed) return;
    if (!outcome) return void this.#end(`signaling closed (${code})`);
    if (!outcome.resumed) return void this.#reenter(code, true, lostAt);
    // Same transports on the server; the path to them has probably changed.
    await this.#media?.restartAllIce();
    if (!this.#closed) this.emit('resumed', { elapsedMs: Date.now() - lostAt, replayed: outcome.replayed });
  }

  /**
   * ICE restarts did not bring a transport back although signaling answers (iceRecovery.ts): leave
   * and enter again on the same connection (new peer, new transports), the others see leave/join.
   */
  async #rejoinAfterIceFailure(): Promise<void> {
    if (this.#closed || this.#reconnecting || this.#resuming) return;
    const s = this.signaling;
    s.resumeWith(undefined);
    await s.socket?.request('leave', {}).catch(() => undefined);
    if (!this.#closed && !this.#reconnecting && !this.#resuming) await this.#reenter(1000, true);
  }

  /**
   * Enters again (fresh token, new peer id, transports, consumers) and publishes again what was
   * published, as the reconnect policy allows; then `reconnected`, or `closed` when it gives up.
   */
  async #reenter(closeCode: number, connectionComesBack: boolean, lostAt = Date.now()): Promise<void> {
    this.#reconnecting = true;
    // A re-entry has new producers everywhere: the screen share's go with the old transports, its
    // tracks live on and #republish produces them again (like camera and microphone).
    this.#paused.clear();
    if (this.#screen) this.#screen.producers = [];
    this.#quality.reset();
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
      this.emit('rejoined', { elapsedMs: Date.now() - lostAt, peerId: this.peerId });
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
    if (!media) return;
    if (audio || video) {
      await media.publish({ audio, video, simulcast: this.#published.simulcast });
      for (const kind of ['audio', 'video'] as const) if (this.#muted[kind]) await media.setMuted(kind, true);
    }
    // A screen share stopped while entering again (its 'ended' handler) is gone from #screen.
    if (this.#screen) await this.#produceScreen(this.#screen, media);
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

  /** The loudest peer (this client's own peer id included) as the server last said; null: nobody yet. */
  get activeSpeaker(): string | null {
    return this.#activeSpeaker;
  }

  /** Whether the server reports this remote producer paused (muted microphone, camera off). */
  isPaused(producerId: string): boolean {
    return this.#paused.has(producerId);
  }

  /**
   * Swaps the published camera or microphone (another device) in place with `replaceTrack`: no new
   * producer, so the others keep their consumer. The old track is the caller's to stop.
   */
  async replaceTrack(kind: MediaKind, track: MediaStreamTrack): Promise<void> {
    this.#published[kind] = track;
    await this.#media?.replaceTrack(kind, track);
  }

  /** The screen share's stream while this client shares its screen. */
  get screenStream(): MediaStream | undefined {
    return this.#screen?.stream;
  }

  /**
   * Shares a screen, window or tab (`getDisplayMedia`, with its audio where the browser offers it)
   * as extra producers tagged `source: 'screen'` / `'screen-audio'`, beside camera and microphone.
   * Ends with `stopScreenShare()` or when the browser's own "Stop sharing" ends the track.
   */
  async shareScreen(stream?: MediaStream): Promise<MediaStream> {
    if (this.#screen) return this.#screen.stream;
    const media = this.#media;
    if (!media?.canSend) throw new Error('this device cannot send media');
    const display = stream ?? (await navigator.mediaDevices.getDisplayMedia({ video: true, audio: true }));
    const share = { stream: display, producers: [] as types.Producer[] };
    this.#screen = share;
    try {
      const video = display.getVideoTracks()[0];
      if (!video) throw new Error('the screen share has no video');
      video.addEventListener('ended', () => {
        if (this.#screen === share) void this.stopScreenShare();
      });
      await this.#produceScreen(share, media);
    } catch (err) {
      if (this.#screen === share) await this.stopScreenShare();
      throw err;
    }
    this.emit('screenShare', true);
    return display;
  }

  /**
   * Produces a share's live tracks on `media` (its video as 'screen', its audio as 'screen-audio'):
   * when it starts, and again on the new transports after a re-entry.
   */
  async #produceScreen(
    share: { stream: MediaStream; producers: types.Producer[] },
    media: RoomMedia,
  ): Promise<void> {
    share.producers = [];
    for (const [track, source] of [
      [share.stream.getVideoTracks()[0], 'screen'],
      [share.stream.getAudioTracks()[0], 'screen-audio'],
    ] as const) {
      if (!track || track.readyState === 'ended') continue;
      const producer = await media.produceExtra(track, source);
      share.producers.push(producer);
      // Stopped while producing: do not leave this one behind.
      if (this.#screen !== share) await media.closeProducer(producer);
    }
  }

  /** Stops the screen share (tracks and producers); the others drop its tracks. Idempotent. */
  async stopScreenShare(): Promise<void> {
    const share = this.#screen;
    if (!share) return;
    this.#screen = undefined;
    for (const t of share.stream.getTracks()) t.stop();
    const media = this.#media;
    await Promise.all(
      share.producers.map((p) =>
        media ? media.closeProducer(p).catch((err: unknown) => this.emit('error', err as Error)) : p.close(),
      ),
    );
    this.emit('screenShare', false);
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
    this.signaling.resumeWith(undefined);
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
    for (const t of this.#screen?.stream.getTracks() ?? []) t.stop();
    this.#screen = undefined;
    this.signaling.resumeWith(undefined);
    this.#quality.close();
    this.#media?.close();
    this.#media = undefined;
    for (const track of [this.#published.audio, this.#published.video]) track?.stop();
    this.#release(false);
    this.emit('closed', reason);
  }
}
