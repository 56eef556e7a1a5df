/**
 * A call's media on this device: camera and microphone, mute state, and the call's media room
 * (joined through RoomSession — the room flow, not a second media path — on the CallClient's
 * connection or on one to the node hosting the room), with the remote tracks per participant.
 * The call object decides when to join and what a failure means for the call; this only does media.
 *
 * Warm-up: while the call rings, `warm()` sets the media up ahead — camera and microphone open, the
 * call's room entered as a hidden peer (`callWarmMedia`: transports made with the entry, ICE/DTLS
 * up, producers created) — so that `join()` after the answer only reveals it (`callJoinMedia`) and
 * the server pushes the consumers. Nothing reaches anyone before that: the server forwards nothing
 * of a hidden peer, and a callee's tracks are also kept disabled (black, silent) until it answers.
 */
import type { types } from 'mediasoup-client';
import type { CallMedia } from '../../protocol/signaling.js';
import { CloseCode, ErrorCode } from '../../protocol/errors.js';
import { RoomSession, type ConnectionQuality, type RemoteTrack, type RoomEntry } from './roomSession.js';
import { TypedEmitter } from './typedEmitter.js';
import { SignalingError } from './signalingClient.js';

/** The call's media on this device. */
export type CallMediaState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface CallTrack {
  userId: string;
  kind: 'audio' | 'video';
  track: MediaStreamTrack;
  /** The underlying room track (peer, consumer and producer ids). */
  remote: RemoteTrack;
}

/** What the media needs from the client. */
export interface CallMediaHost {
  readonly deviceOptions: types.DeviceOptions | undefined;
  readonly simulcast: boolean;
  /** Enters the call's media room: joined (after the answer) or warming up (hidden, while it rings). */
  enterMedia(callId: string, ctx: { rejectedToken?: string }, how: 'join' | 'warm'): Promise<RoomEntry>;
  getUserMedia(media: CallMedia): Promise<MediaStream>;
}

type CallMediaEvents = {
  track: [CallTrack];
  trackEnded: [CallTrack];
  /** Someone joined or left the media room. */
  peersChanged: [];
  stateChanged: [CallMediaState];
  /** Someone paused or resumed a producer (mute, camera off). */
  mediaPaused: [];
  /** The loudest participant now (a user id; null: nobody speaks). */
  activeSpeaker: [userId: string | null];
  /** Someone's connection quality changed ('self': this device's own link). */
  connectionQuality: [userId: string, quality: ConnectionQuality];
  error: [Error];
  /** The media room is gone for good while the call goes on (reconnecting gave up, room closed). */
  lost: [reason: string];
};

const CALL_ROOM_PREFIX = 'call-';

export class CallMediaSession extends TypedEmitter<CallMediaEvents> {
  readonly #callId: string;
  readonly #media: CallMedia;
  readonly #host: CallMediaHost;
  #session: RoomSession | undefined;
  #state: CallMediaState = 'idle';
  #localStream: MediaStream | undefined;
  readonly #muted = { audio: false, video: false };
  /** Remote tracks by consumer id. */
  readonly #tracks = new Map<string, CallTrack>();
  /** The warm-up in progress or done (it never rejects: a failed one leaves a cold join). */
  #warming: Promise<void> | undefined;
  /** Answered here: entries are joins now, not warm-ups. */
  #answered = false;
  /**
   * The session's last entry was a warm-up (a hidden peer). An answer that comes while the warm-up
   * is still starting makes its entry a plain join already: that one must not be "revealed" again.
   */
  #enteredHidden = false;
  /** Camera and microphone stay disabled (nothing of them is encoded) until answered. */
  #held = false;
  /** The user answered on this device (`answering`): nothing may hold the tracks any more. */
  #live = false;
  /** Camera and microphone being opened (see `openLocal`). */
  #opening: Promise<MediaStream> | undefined;
  #closed = false;

  constructor(callId: string, media: CallMedia, host: CallMediaHost) {
    super();
    this.#callId = callId;
    this.#media = media;
    this.#host = host;
  }

  get state(): CallMediaState {
    return this.#state;
  }

  get session(): RoomSession | undefined {
    return this.#session;
  }

  get localStream(): MediaStream | undefined {
    return this.#localStream;
  }

  get muted(): Readonly<{ audio: boolean; video: boolean }> {
    return { ...this.#muted };
  }

  setLocalStream(stream: MediaStream): void {
    this.#localStream = stream;
    this.#applyEnabled();
  }

  /** Tracks are live unless muted, or held back until the call is answered here. */
  #applyEnabled(): void {
    const stream = this.#localStream;
    if (!stream) return;
    for (const t of stream.getAudioTracks()) t.enabled = !this.#muted.audio && !this.#held;
    for (const t of stream.getVideoTracks()) t.enabled = !this.#muted.video && !this.#held;
  }

  /**
   * Sets the media up while the call rings (see the header); `hold` keeps camera and microphone
   * disabled until `join` (a callee who has not answered). Idempotent; failures are silent: `join`
   * then does the whole setup itself.
   */
  warm(hold: boolean): void {
    if (this.#warming || this.#session || this.#closed || this.#answered) return;
    // A warm-up that starts after the user answered (it waits for a permission check) must not hold
    // the camera and microphone that the answer made live.
    this.#held = hold && !this.#live;
    this.#applyEnabled();
    this.#warming = this.#warmUp().catch(() => {
      const session = this.#session;
      this.#session = undefined;
      void session?.leave();
    });
  }

  async #warmUp(): Promise<void> {
    if (!this.#localStream) await this.openLocal();
    if (this.#closed) return this.#stopLocal();
    const session = await this.#attach();
    if (this.#closed) {
      await session.leave();
      return;
    }
    this.#session = session;
    this.#wire(session);
    await this.#publish(session);
  }

  /** Glare: keeps the stream we have, or takes this one; a second stream is released. */
  adoptStream(stream: MediaStream): void {
    if (!this.#localStream) this.setLocalStream(stream);
    else if (this.#localStream !== stream) for (const t of stream.getTracks()) t.stop();
  }

  /**
   * Camera and microphone: the ones we have, or new ones from the host — one request at a time. The
   * warm-up and an instant answer both ask; two streams would leave the published tracks held (black
   * and silent) while the answer enables the other stream's.
   */
  openLocal(): Promise<MediaStream> {
    if (this.#localStream) return Promise.resolve(this.#localStream);
    this.#opening ??= this.#host.getUserMedia(this.#media).then(
      (stream) => {
        this.#opening = undefined;
        if (!this.#localStream) this.setLocalStream(stream);
        else if (this.#localStream !== stream) for (const t of stream.getTracks()) t.stop();
        return this.#localStream!;
      },
      (err: unknown) => {
        this.#opening = undefined;
        throw err;
      },
    );
    return this.#opening;
  }

  /** Mutes the microphone or turns the camera off (the server stops forwarding; others are told). */
  async setMuted(kind: 'audio' | 'video', muted: boolean): Promise<void> {
    this.#muted[kind] = muted;
    const tracks =
      kind === 'audio'
        ? (this.#localStream?.getAudioTracks() ?? [])
        : (this.#localStream?.getVideoTracks() ?? []);
    for (const t of tracks) t.enabled = !muted && !this.#held;
    await this.#session?.setMuted(kind, muted);
  }

  tracksOf(userId: string): CallTrack[] {
    return [...this.#tracks.values()].filter((t) => t.userId === userId);
  }

  /**
   * The user answered: camera and microphone go live now, one round trip before the reveal, so the
   * encoders have real frames when the first keyframe is asked for. Still hidden: nothing of them is
   * forwarded until `join` reveals the warm peer.
   */
  answering(): void {
    this.#live = true;
    this.#held = false;
    this.#applyEnabled();
  }

  /**
   * Joins the call's media room and publishes camera/microphone; resolves once published. After a
   * warm-up this only reveals the warm peer: the server then tells who is there and pushes consumers.
   */
  async join(): Promise<void> {
    this.#answered = true;
    this.#setState('connecting');
    await this.#warming;
    const warm = this.#session;
    if (warm && !this.#closed) {
      // Live from now: the encoders run already, so the first frame only needs a keyframe.
      this.#held = false;
      this.#applyEnabled();
      if (await this.#reveal(warm)) {
        if (this.#session === warm) this.#setState('connected');
        return;
      }
    }
    this.#held = false;
    // A failed warm-up may have ended the tracks it published: open camera and microphone again.
    const local = this.#localStream;
    if (!local || local.getTracks().some((t) => t.readyState === 'ended'))
      this.setLocalStream(await this.#host.getUserMedia(this.#media));
    this.#applyEnabled();
    if (this.#closed) return this.#stopLocal();
    const session = await this.#attach();
    if (this.#closed) {
      await session.leave();
      return;
    }
    this.#session = session;
    this.#wire(session);
    await this.#publish(session);
    if (this.#session === session) this.#setState('connected');
  }

  /**
   * Makes the warm-up's hidden peer a participant. False if the server no longer has it (the
   * warm-up ended meanwhile): the warm session is dropped and `join` sets up from scratch.
   */
  async #reveal(warm: RoomSession): Promise<boolean> {
    if (!this.#enteredHidden) return true;
    try {
      await warm.signaling.request('callJoinMedia', { callId: this.#callId });
      this.#enteredHidden = false;
      return true;
    } catch (err) {
      if (!(err instanceof SignalingError) || err.code !== ErrorCode.NotInRoom) throw err;
      if (this.#session === warm) this.#session = undefined;
      await warm.leave();
      return false;
    }
  }

  /** A session in the call's room: warming up until answered here, joined after (re-entries too). */
  #attach(): Promise<RoomSession> {
    return RoomSession.attach({
      room: `${CALL_ROOM_PREFIX}${this.#callId}`,
      enter: (ctx) => {
        const how = this.#answered ? 'join' : 'warm';
        this.#enteredHidden = how === 'warm';
        return this.#host.enterMedia(this.#callId, ctx, how);
      },
      // The client reconnects its connection after anything but a deliberate close or a revoked device.
      reconnectOn: (code) => code !== 1000 && code !== CloseCode.TokenInvalid,
      deviceOptions: this.#host.deviceOptions,
    });
  }

  async #publish(session: RoomSession): Promise<void> {
    const stream = this.#localStream!;
    await session.publish({
      audio: stream.getAudioTracks()[0],
      video: this.#media === 'video' ? stream.getVideoTracks()[0] : undefined,
      simulcast: this.#host.simulcast,
    });
    for (const kind of ['audio', 'video'] as const) if (this.#muted[kind]) await session.setMuted(kind, true);
  }

  /** Leaves the media room and releases camera and microphone. Idempotent. */
  close(): void {
    this.#closed = true;
    const session = this.#session;
    this.#session = undefined;
    void session?.leave();
    this.#stopLocal();
    this.#tracks.clear();
    this.#setState('closed');
  }

  /**
   * Follows the session's tracks and peers, starting with the tracks it has already: they came while
   * it was being set up (a join's, or a warm-up's the server revealed at the answer), before anyone
   * listened.
   */
  #wire(s: RoomSession): void {
    for (const t of s.remoteTracks.values()) this.#addTrack(s, t);
    s.on('track', (t) => this.#addTrack(s, t));
    s.on('trackEnded', (t) => {
      const ct = this.#tracks.get(t.consumerId);
      if (!ct || this.#session !== s) return;
      this.#tracks.delete(t.consumerId);
      this.emit('trackEnded', ct);
    });
    s.on('peerJoined', () => {
      if (this.#session === s) this.emit('peersChanged');
    });
    s.on('peerLeft', () => {
      if (this.#session === s) this.emit('peersChanged');
    });
    s.on('producerPaused', () => {
      if (this.#session === s) this.emit('mediaPaused');
    });
    s.on('producerResumed', () => {
      if (this.#session === s) this.emit('mediaPaused');
    });
    const speaker = (peerId: string | null): void => {
      if (this.#session !== s) return;
      const userId =
        peerId === null ? null : (s.peers.get(peerId)?.userId ?? (peerId === s.peerId ? 'self' : null));
      this.emit('activeSpeaker', userId);
    };
    s.on('activeSpeaker', speaker);
    s.on('connectionQuality', (peerId, quality) => {
      if (this.#session !== s) return;
      const userId = peerId === s.peerId ? 'self' : s.peers.get(peerId)?.userId;
      if (userId) this.emit('connectionQuality', userId, quality);
    });
    // Said while the session was being set up (the server repeats only changes).
    if (s.activeSpeaker !== null) queueMicrotask(() => speaker(s.activeSpeaker));
    s.on('reconnecting', () => this.#setState('reconnecting'));
    s.on('reconnected', () => this.#setState('connected'));
    s.on('error', (err) => this.emit('error', err));
    s.on('closed', (reason) => {
      if (this.#session !== s || this.#closed) return;
      this.#session = undefined;
      // A warm-up lost while it rings costs nothing but speed: the answer then joins from scratch.
      if (!this.#answered) return;
      this.emit('lost', reason);
    });
  }

  #addTrack(s: RoomSession, t: RemoteTrack): void {
    if (this.#session !== s && this.#session !== undefined) return;
    if (this.#tracks.has(t.consumerId)) return;
    // A peer not announced yet: the session emits its track again with its `peerJoined`.
    const userId = s.peers.get(t.peerId)?.userId;
    if (!userId) return;
    const ct: CallTrack = { userId, kind: t.kind, track: t.track, remote: t };
    this.#tracks.set(t.consumerId, ct);
    this.emit('track', ct);
  }

  #setState(state: CallMediaState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.emit('stateChanged', state);
  }

  #stopLocal(): void {
    for (const t of this.#localStream?.getTracks() ?? []) t.stop();
  }
}
