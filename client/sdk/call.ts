/**
 * One call as this device sees it: an object whose `state` follows the server's (ringing → active →
 * ended, see calls/callStateMachine.ts) from this device's point of view. A call this device declined,
 * missed, left, or that another of the user's devices answered is `ended` here even while it goes on
 * for others. Once the call is active and answered here, its media (callMedia.ts) joins the call's
 * media room. `CallClient` creates the calls and drives them with the symbols below.
 */
import { ErrorCode } from '../../protocol/errors.js';
import type {
  CallMedia,
  CallParticipantState,
  CallState,
  CallView,
  Method,
  RequestData,
  ResponseData,
  UserSummary,
} from '../../protocol/signaling.js';
import { CallMediaSession, type CallMediaHost, type CallMediaState, type CallTrack } from './callMedia.js';
import { APPLY, ELSEWHERE, END, GLARE, type CallEndedReason, type CallParticipant } from './callTypes.js';
import type { ConnectionQuality, RoomSession } from './roomSession.js';
import { SignalingError } from './signalingClient.js';
import { TypedEmitter } from './typedEmitter.js';

export type { CallMediaState, CallTrack } from './callMedia.js';
export type { CallEndedReason, CallParticipant } from './callTypes.js';

type CallEvents = {
  stateChanged: [CallState];
  /** Someone's call state (ringing, joined, declined, left…) or media changed. */
  participantsChanged: [CallParticipant[]];
  track: [CallTrack];
  trackEnded: [CallTrack];
  mediaStateChanged: [CallMediaState];
  /** The loudest person now (a user id, yours included); null when nobody speaks. */
  activeSpeaker: [userId: string | null];
  /** A person's connection quality changed (a user id, or 'self' for this device's own link). */
  connectionQuality: [userId: string, quality: ConnectionQuality];
  /** This device's screen share started or stopped (also from the browser's own "Stop sharing"). */
  screenShare: [sharing: boolean];
  /** Another of your devices answered this call (`ended` follows with 'answered-elsewhere'). */
  answeredElsewhere: [];
  ended: [CallEndedReason];
  error: [Error];
};

/** What a call needs from its client; not part of the public API. */
export interface CallHost extends CallMediaHost {
  readonly userId: string;
  /** Whether a ringing incoming call may open camera/microphone and warm up (see CallClientOptions.warmIncoming). */
  mayWarmIncoming(media: CallMedia): Promise<boolean>;
  request<M extends Method>(method: M, data: RequestData<M>): Promise<ResponseData[M]>;
  ended(call: Call, reason: CallEndedReason): void;
}

const STATE_RANK: Record<CallState, number> = { ringing: 0, active: 1, ended: 2 };

export abstract class Call extends TypedEmitter<CallEvents> {
  readonly callId: string;
  readonly media: CallMedia;
  abstract readonly direction: 'outgoing' | 'incoming';
  protected readonly host: CallHost;
  /** Whether this device placed or answered the call (only then does it join the media). */
  protected answeredHere: boolean;
  /** An accept from this device is on its way: updates that show us joined are about it. */
  protected accepting = false;
  #view: CallView;
  #state: CallState = 'ringing';
  #endReason: CallEndedReason | null = null;
  #joining: Promise<void> | undefined;
  readonly #media: CallMediaSession;
  #activeSince: number | null = null;
  readonly #sharingWired = new WeakSet<RoomSession>();
  #speaker: string | null = null;

  protected constructor(host: CallHost, view: CallView, answeredHere: boolean) {
    super();
    this.host = host;
    this.callId = view.callId;
    this.media = view.media;
    this.answeredHere = answeredHere;
    this.#view = { ...view, state: 'ringing' };
    this.#media = new CallMediaSession(view.callId, view.media, host);
    this.#media.on('track', (t) => {
      this.emit('track', t);
      this.emit('participantsChanged', this.participants);
    });
    this.#media.on('trackEnded', (t) => {
      this.emit('trackEnded', t);
      this.emit('participantsChanged', this.participants);
    });
    this.#media.on('peersChanged', () => this.emit('participantsChanged', this.participants));
    this.#media.on('stateChanged', (state) => {
      // The room session exists from 'connected' on: follow its screen share from then.
      const session = this.#media.session;
      if (state === 'connected' && session && !this.#sharingWired.has(session)) {
        this.#sharingWired.add(session);
        session.on('screenShare', (sharing) => this.emit('screenShare', sharing));
      }
      this.emit('mediaStateChanged', state);
    });
    this.#media.on('mediaPaused', () => this.emit('participantsChanged', this.participants));
    this.#media.on('activeSpeaker', (userId) => {
      this.#speaker = userId === 'self' ? this.host.userId : userId;
      this.emit('activeSpeaker', this.#speaker);
    });
    this.#media.on('connectionQuality', (userId, quality) => this.emit('connectionQuality', userId, quality));
    this.#media.on('error', (err) => this.emit('error', err));
    this.#media.on('lost', (reason) => {
      if (this.#state === 'ended') return;
      // The media is gone for good while the call goes on: hang up rather than stay without it.
      this.emit('error', new Error(`call media closed: ${reason}`));
      this.host.request('callHangup', { callId: this.callId }).catch(() => undefined);
      this[END]('error');
    });
  }

  /**
   * As this device sees it: `ringing` while it rings here (even if others are talking already),
   * `active` once answered, `ended` once it is over here (even if others are still in the call).
   */
  get state(): CallState {
    return this.#state;
  }

  /** Whether the call is over on this device (a method, so checks after an await are not narrowed away). */
  isOver(): boolean {
    return this.#state === 'ended';
  }

  get endReason(): CallEndedReason | null {
    return this.#endReason;
  }

  /** The server's latest view of the call. */
  get view(): CallView {
    return this.#view;
  }

  get callerId(): string {
    return this.#view.callerId;
  }

  /** Everyone in the call but you, in invitation order (caller first), with their media. */
  get participants(): CallParticipant[] {
    return this.#view.participants.filter((p) => p.userId !== this.host.userId).map((p) => this.#person(p));
  }

  /** You, as the call lists you. */
  get self(): CallParticipant | undefined {
    const me = this.#view.participants.find((p) => p.userId === this.host.userId);
    return me ? this.#person(me) : undefined;
  }

  /** The media room session once joined (receive stats, peers); undefined before and after. */
  get session(): RoomSession | undefined {
    return this.#media.session;
  }

  get mediaState(): CallMediaState {
    return this.#media.state;
  }

  /** This device's camera and microphone while the call has them. */
  get localStream(): MediaStream | undefined {
    return this.#media.localStream;
  }

  get muted(): Readonly<{ audio: boolean; video: boolean }> {
    return this.#media.muted;
  }

  /** Local time (ms) when the call became active here, or null. */
  get activeSince(): number | null {
    return this.#activeSince;
  }

  /**
   * Leaves the call: cancels it if you placed it and nobody answered yet, declines it if it rings
   * here, otherwise hangs up (a 1:1 call ends for both; a group call goes on without you).
   */
  async hangup(): Promise<void> {
    if (this.#state === 'ended') return;
    if (this.direction === 'outgoing' && this.#view.state === 'ringing') {
      await this.#finish('callCancel', 'cancelled');
    } else if (!this.answeredHere) {
      await this.#finish('callDecline', 'declined');
    } else {
      await this.#finish('callHangup', 'hung-up');
    }
  }

  /** Rings more people into the call (a 1:1 call becomes a group call). */
  async addParticipants(userIds: string[]): Promise<void> {
    const { call } = await this.host.request('callAddParticipants', { callId: this.callId, userIds });
    this[APPLY](call);
  }

  /** Mutes the microphone or turns the camera off (the server stops forwarding; others are told). */
  async setMuted(kind: 'audio' | 'video', muted: boolean): Promise<void> {
    await this.#media.setMuted(kind, muted);
  }

  /**
   * Shares a screen, window or tab to the call (shown large to the others); resolves with the
   * stream once it is sent. Stop with `stopScreenShare()` or the browser's own "Stop sharing".
   */
  async shareScreen(stream?: MediaStream): Promise<MediaStream> {
    const session = this.session;
    if (!session) throw new Error('the call has no media yet');
    return session.shareScreen(stream);
  }

  async stopScreenShare(): Promise<void> {
    await this.session?.stopScreenShare();
  }

  /** The loudest person now (a user id, yours included), as the server last said; null: nobody yet. */
  get activeSpeaker(): string | null {
    return this.#speaker;
  }

  /** This device's screen share while it lasts. */
  get screenStream(): MediaStream | undefined {
    return this.session?.screenStream;
  }

  /**
   * Switches microphone or camera mid-call: opens `deviceId`, swaps the sent track in place
   * (`replaceTrack`, no renegotiation) and in `localStream`, and stops the old one. Keeps the mute state.
   */
  async switchDevice(kind: 'audio' | 'video', deviceId: string): Promise<MediaStreamTrack> {
    const stream = this.localStream;
    if (!stream) throw new Error('the call has no camera or microphone yet');
    const constraints = { deviceId: { exact: deviceId } };
    const opened = await navigator.mediaDevices.getUserMedia(
      kind === 'audio' ? { audio: constraints } : { video: { ...constraints, width: 640, height: 480 } },
    );
    const track = kind === 'audio' ? opened.getAudioTracks()[0] : opened.getVideoTracks()[0];
    if (!track) throw new Error(`no ${kind} track from that device`);
    if (this.isOver()) {
      track.stop();
      throw new Error(`the call has ended (${this.endReason})`);
    }
    track.enabled = !this.muted[kind];
    const old = kind === 'audio' ? stream.getAudioTracks() : stream.getVideoTracks();
    await this.session?.replaceTrack(kind, track);
    for (const t of old) {
      stream.removeTrack(t);
      t.stop();
    }
    stream.addTrack(track);
    return track;
  }

  /** This participant's remote tracks (audio and/or video). */
  tracksOf(userId: string): CallTrack[] {
    return this.#media.tracksOf(userId);
  }

  /** Waits until the call has ended here. */
  whenEnded(): Promise<CallEndedReason> {
    if (this.#endReason) return Promise.resolve(this.#endReason);
    return new Promise((resolve) => this.once('ended', resolve));
  }

  // ---- driven by the client ----------------------------------------------------------------------

  /** A newer view from the server (the answer to a request, or callUpdated/callIncoming). */
  [APPLY](view: CallView): void {
    if (this.#state === 'ended' || view.callId !== this.callId) return;
    // Notifications of one call can overtake each other (several nodes): never go backwards. The
    // version orders every change; the state rank also holds for views of equal version.
    if (view.version < this.#view.version) return;
    if (STATE_RANK[view.state] < STATE_RANK[this.#view.state]) return;
    this.#view = view;
    const me = view.participants.find((p) => p.userId === this.host.userId);
    if (view.state === 'ended') return this[END](this.#reasonFor(view, me?.state));
    if (me && !this.answeredHere && !this.accepting && (me.state === 'joined' || me.state === 'left')) {
      return this[ELSEWHERE]();
    }
    if (me && (me.state === 'declined' || me.state === 'missed' || me.state === 'left')) {
      return this[END](me.state === 'left' ? 'hung-up' : me.state);
    }
    // Ringing here is ringing, even in a group call that is already active for the others.
    const state: CallState =
      me?.state === 'ringing' && !this.answeredHere && !this.accepting ? 'ringing' : view.state;
    if (state !== this.#state) {
      this.#state = state;
      if (state === 'active') this.#activeSince ??= Date.now();
      this.emit('stateChanged', state);
    }
    this.emit('participantsChanged', this.participants);
    if (view.state === 'active' && me?.state === 'joined' && this.answeredHere) void this.joinMedia();
  }

  [ELSEWHERE](): void {
    if (this.#state === 'ended' || this.answeredHere || this.accepting) return;
    this.emit('answeredElsewhere');
    this[END]('answered-elsewhere');
  }

  /** Glare: our call() answered the other side's call; we take part with the media we opened. */
  [GLARE](view: CallView, localStream: MediaStream): void {
    this.answeredHere = true;
    this.#media.adoptStream(localStream);
    this[APPLY](view);
  }

  /** Over on this device: leaves the media, releases camera and microphone, tells listeners. */
  [END](reason: CallEndedReason): void {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    this.#endReason = reason;
    this.#media.close();
    this.emit('stateChanged', 'ended');
    this.emit('participantsChanged', this.participants);
    this.emit('ended', reason);
    this.host.ended(this, reason);
  }

  // ---- media -------------------------------------------------------------------------------------

  protected setLocalStream(stream: MediaStream): void {
    this.#media.setLocalStream(stream);
  }

  /** Camera and microphone for answering: the ones the call has, or new ones. */
  protected openLocalStream(): Promise<MediaStream> {
    return this.#media.openLocal();
  }

  /** Sets the media up while it rings (callMedia.ts); `hold` keeps camera and microphone off until answered. */
  protected warmMedia(hold: boolean): void {
    if (this.#state === 'ringing') this.#media.warm(hold);
  }

  /** Answered here: a warm-up's held camera and microphone go live (still forwarded to nobody). */
  protected answeringMedia(): void {
    this.#media.answering();
  }

  /** Joins the call's media room and publishes camera/microphone; resolves once published. */
  protected joinMedia(): Promise<void> {
    this.#joining ??= this.#media.join().catch(async (err: unknown) => {
      if (this.isOver()) return;
      if (
        err instanceof SignalingError &&
        (err.code === ErrorCode.CallEnded || err.code === ErrorCode.NotInCall)
      ) {
        // The call ended (or went on without us) while we were joining: say why, not "error".
        const view = await this.host
          .request('callGet', { callId: this.callId })
          .then((r) => r.call)
          .catch(() => undefined);
        if (view) this[APPLY](view);
        if (this.isOver()) return;
      }
      this.emit('error', err as Error);
      // Without media this device cannot take part: leave the call rather than sit in it silently.
      this.host.request('callHangup', { callId: this.callId }).catch(() => undefined);
      this[END]('error');
    });
    return this.#joining;
  }

  #person(p: CallView['participants'][number]): CallParticipant {
    const all = this.tracksOf(p.userId);
    const tracks = all.filter((t) => !t.remote.source?.startsWith('screen'));
    const latestTrack = (kind: 'audio' | 'video'): CallTrack | undefined =>
      tracks.filter((t) => t.kind === kind).at(-1);
    const latest = (kind: 'audio' | 'video'): MediaStreamTrack | null => latestTrack(kind)?.track ?? null;
    const paused = (kind: 'audio' | 'video'): boolean => {
      const t = latestTrack(kind);
      return t !== undefined && (this.session?.isPaused(t.remote.producerId) ?? false);
    };
    return {
      userId: p.userId,
      name: p.name,
      photo: p.photo,
      state: p.state,
      ringingDevices: p.ringingDevices,
      isCaller: p.userId === this.#view.callerId,
      audio: latest('audio'),
      video: latest('video'),
      screen: all.filter((t) => t.kind === 'video' && t.remote.source === 'screen').at(-1)?.track ?? null,
      screenAudio: all.filter((t) => t.remote.source === 'screen-audio').at(-1)?.track ?? null,
      audioMuted: paused('audio'),
      videoOff: paused('video'),
    };
  }

  #reasonFor(view: CallView, mine: CallParticipantState | undefined): CallEndedReason {
    if (mine === 'missed') return 'missed';
    if (mine === 'declined') return 'declined';
    if (!this.answeredHere && (mine === 'joined' || mine === 'left')) return 'answered-elsewhere';
    return view.endReason ?? 'hung-up';
  }

  /** Sends a request that ends the call here; a call the server already ended ends with its reason. */
  async #finish(method: 'callCancel' | 'callDecline' | 'callHangup', reason: CallEndedReason): Promise<void> {
    try {
      await this.host.request(method, { callId: this.callId });
    } catch (err) {
      if (!(err instanceof SignalingError)) throw err;
      if (err.code === ErrorCode.CallNotRinging && method === 'callCancel') {
        // Answered meanwhile: hang up instead.
        return this.#finish('callHangup', 'hung-up');
      }
      if (
        err.code === ErrorCode.CallEnded ||
        err.code === ErrorCode.NotInCall ||
        err.code === ErrorCode.CallNotRinging
      ) {
        const view = await this.host
          .request('callGet', { callId: this.callId })
          .then((r) => r.call)
          .catch(() => undefined);
        if (view) this[APPLY](view);
        return this[END](this.#state === 'ended' ? this.#endReason! : reason);
      }
      throw err;
    }
    this[END](reason);
  }
}

/** A call this device placed. */
export class OutgoingCall extends Call {
  readonly direction = 'outgoing' as const;

  /** @internal created by CallClient.call() */
  constructor(host: CallHost, view: CallView, localStream: MediaStream) {
    super(host, view, true);
    this.setLocalStream(localStream);
    this[APPLY](view);
    // While it rings, so the answer finds our media up: the callee's first frame waits for less.
    this.warmMedia(false);
  }

  /** Stops the ringing before anyone answered (the callees get a missed call). */
  async cancel(): Promise<void> {
    await this.hangup();
  }
}

/** A call that rings (or rang) on this device. */
export class IncomingCall extends Call {
  readonly direction = 'incoming' as const;
  readonly caller: UserSummary;
  #accepting: Promise<void> | undefined;

  /**
   * @internal created by CallClient; `answeredWith` when our own call() answered it (glare), with the
   * camera/microphone that call() opened.
   */
  constructor(host: CallHost, view: CallView, caller: UserSummary, answeredWith?: MediaStream) {
    super(host, view, answeredWith !== undefined);
    this.caller = caller;
    if (answeredWith) this.setLocalStream(answeredWith);
    this[APPLY](view);
    // Warm up while it rings only where camera and microphone are already allowed: ringing must
    // never raise a permission prompt. Held: nothing is encoded until this device answers.
    if (!answeredWith && this.state === 'ringing')
      void host.mayWarmIncoming(view.media).then(
        (ok) => ok && this.warmMedia(true),
        () => undefined,
      );
  }

  /** Tells the server (and so the caller) that this device is ringing. Sent automatically by default. */
  async confirmRinging(): Promise<void> {
    if (this.state !== 'ringing' || this.answeredHere) return;
    await this.host.request('callRinging', { callId: this.callId }).catch((err: unknown) => {
      // Answered, declined or ended meanwhile: the notification that says so is on its way.
      if (!(err instanceof SignalingError)) throw err;
    });
  }

  /**
   * Answers on this device (every other device of yours stops ringing), then joins the media with
   * camera and microphone. Resolves once published; rejects if the call was answered elsewhere or
   * ended meanwhile (the call then ends here with that reason).
   */
  accept(): Promise<void> {
    this.#accepting ??= this.#accept().finally(() => {
      if (this.state === 'ringing') this.#accepting = undefined;
    });
    return this.#accepting;
  }

  async #accept(): Promise<void> {
    if (this.state === 'ended') throw new Error(`the call has ended (${this.endReason})`);
    // Camera and microphone first: a refused permission must not answer the call.
    const stream = await this.openLocalStream();
    if (this.isOver()) {
      for (const t of stream.getTracks()) t.stop();
      throw new Error(`the call has ended (${this.endReason})`);
    }
    this.setLocalStream(stream);
    this.answeringMedia();
    let view: CallView;
    this.accepting = true;
    try {
      view = (await this.host.request('callAccept', { callId: this.callId })).call;
    } catch (err) {
      this.accepting = false;
      if (err instanceof SignalingError && err.code === ErrorCode.AlreadyAnswered) this[ELSEWHERE]();
      else if (err instanceof SignalingError) {
        const latest = await this.host
          .request('callGet', { callId: this.callId })
          .then((r) => r.call)
          .catch(() => undefined);
        if (latest) this[APPLY](latest);
      }
      if (!this.isOver()) for (const t of stream.getTracks()) t.stop();
      throw err;
    }
    this.answeredHere = true;
    this.accepting = false;
    this[APPLY](view);
    await this.joinMedia();
    if (this.isOver()) throw new Error(`the call has ended (${this.endReason})`);
  }

  /** Declines on every device of yours (a 1:1 caller hears "declined"). */
  async decline(): Promise<void> {
    await this.hangup();
  }
}

/** A call of either direction; `direction` tells them apart (and narrows the type). */
export type AnyCall = OutgoingCall | IncomingCall;
