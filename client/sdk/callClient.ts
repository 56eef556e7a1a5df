/**
 * Messenger calls: ringing 1:1 and group calls between accounts, as typed objects and events.
 *
 * One `CallClient` per device keeps one signaling connection open (its token comes from
 * `AccountClient.getAccessToken`; a 4001 close refreshes it and reconnects, other drops reconnect with
 * back-off). It reports `incomingCall`, places calls with `call()`, and reads the history.
 *
 * Each call is an object whose `state` follows the server's (ringing → active → ended, see
 * calls/callStateMachine.ts) as this device sees it: a call this device declined, missed, left, or that
 * another of the user's devices answered is `ended` here even while it goes on for others. Once the
 * call is active and answered on this device, the call joins its media room through `RoomSession`
 * (the room flow, not a second media path), on this connection, or on a second connection to the
 * node hosting the room when the server answers ROOM_HOSTED_ELSEWHERE; it publishes the camera and
 * microphone and exposes the remote tracks per participant.
 *
 *   const calls = await CallClient.connect({ url, getToken: (r) => account.getAccessToken(r) });
 *   calls.on('incomingCall', (call) => { show(call); });   // the client confirms "ringing" itself
 *   const call = await calls.call([bobId], 'video');
 *   call.on('ended', (reason) => ...);                       // 'declined', 'busy', 'missed', ...
 */
import type { types } from 'mediasoup-client';
import { CloseCode, ErrorCode } from '../../protocol/errors.js';
import type {
  CallEndReason,
  CallHistoryEntry,
  CallMedia,
  CallParticipantState,
  CallState,
  CallView,
  Method,
  RequestData,
  ResponseData,
  UserSummary,
} from '../../protocol/signaling.js';
import { RoomSession, type RemoteTrack, type RoomEntry } from './roomSession.js';
import { SignalingClient, SignalingError, type WebSocketFactory } from './signalingClient.js';
import { TypedEmitter } from './typedEmitter.js';

/** Why a call ended for this device. */
export type CallEndedReason =
  | CallEndReason
  /** Another of your devices answered. */
  | 'answered-elsewhere'
  /** This device could not take part (no camera/microphone, media could not connect, signed out). */
  | 'error';

/** The call's media on this device. */
export type CallMediaState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

export type CallConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface CallParticipant extends UserSummary {
  state: CallParticipantState;
  /** How many of this person's devices confirmed they are ringing. */
  ringingDevices: number;
  isCaller: boolean;
  /** This person's media as this device receives it; null until it arrives (or while it is off). */
  audio: MediaStreamTrack | null;
  video: MediaStreamTrack | null;
}

export interface CallTrack {
  userId: string;
  kind: 'audio' | 'video';
  track: MediaStreamTrack;
  /** The underlying room track (peer, consumer and producer ids). */
  remote: RemoteTrack;
}

type CallEvents = {
  stateChanged: [CallState];
  /** Someone's call state (ringing, joined, declined, left…) or media changed. */
  participantsChanged: [CallParticipant[]];
  track: [CallTrack];
  trackEnded: [CallTrack];
  mediaStateChanged: [CallMediaState];
  /** Another of your devices answered this call (`ended` follows with 'answered-elsewhere'). */
  answeredElsewhere: [];
  ended: [CallEndedReason];
  error: [Error];
};

export interface CallClientOptions {
  /** ws:// or wss:// URL of the signaling endpoint, e.g. ws://host:3000/ws */
  url: string;
  /** Access tokens: `(rejected) => accountClient.getAccessToken(rejected)`. */
  getToken: (rejectedToken?: string) => Promise<string>;
  /** Camera and microphone for a call (default: getUserMedia, 640×480 video for video calls). */
  getUserMedia?: (media: CallMedia) => Promise<MediaStream>;
  deviceOptions?: types.DeviceOptions;
  webSocketFactory?: WebSocketFactory;
  /** Reconnecting after the connection dropped: attempts (default 6), first back-off (default 500 ms, doubling). */
  reconnect?: { attempts?: number; backoffMs?: number };
  /** Send `callRinging` for an incoming call as soon as it is delivered (default true). */
  autoRinging?: boolean;
  /** Publish video as simulcast (default true). */
  simulcast?: boolean;
}

type CallClientEvents = {
  /** Someone is calling: show it (the client has told the server this device is ringing). */
  incomingCall: [IncomingCall];
  connectionStateChanged: [CallConnectionState];
  /** Any call of this device ended (its own `ended` fires as well). */
  callEnded: [AnyCall, CallEndedReason];
  error: [Error];
};

/** What a call needs from its client; not part of the public API. */
interface CallHost {
  readonly userId: string;
  readonly deviceOptions: types.DeviceOptions | undefined;
  readonly simulcast: boolean;
  request<M extends Method>(method: M, data: RequestData<M>): Promise<ResponseData[M]>;
  enterMedia(callId: string, ctx: { rejectedToken?: string }): Promise<RoomEntry>;
  getUserMedia(media: CallMedia): Promise<MediaStream>;
  ended(call: Call, reason: CallEndedReason): void;
}

// Methods the client calls on its calls, keyed by symbols this module does not export.
const APPLY = Symbol('apply');
const ELSEWHERE = Symbol('answeredElsewhere');
const GLARE = Symbol('acceptedByGlare');
const END = Symbol('end');

const STATE_RANK: Record<CallState, number> = { ringing: 0, active: 1, ended: 2 };
const CALL_ROOM_PREFIX = 'call-';

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
  #session: RoomSession | undefined;
  #joining: Promise<void> | undefined;
  #mediaState: CallMediaState = 'idle';
  #localStream: MediaStream | undefined;
  readonly #muted = { audio: false, video: false };
  /** Remote tracks by consumer id. */
  readonly #tracks = new Map<string, CallTrack>();
  #activeSince: number | null = null;

  protected constructor(host: CallHost, view: CallView, answeredHere: boolean) {
    super();
    this.host = host;
    this.callId = view.callId;
    this.media = view.media;
    this.answeredHere = answeredHere;
    this.#view = { ...view, state: 'ringing' };
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
    return this.#session;
  }

  get mediaState(): CallMediaState {
    return this.#mediaState;
  }

  /** This device's camera and microphone while the call has them. */
  get localStream(): MediaStream | undefined {
    return this.#localStream;
  }

  get muted(): Readonly<{ audio: boolean; video: boolean }> {
    return { ...this.#muted };
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
    this.#muted[kind] = muted;
    for (const t of kind === 'audio'
      ? (this.#localStream?.getAudioTracks() ?? [])
      : (this.#localStream?.getVideoTracks() ?? []))
      t.enabled = !muted;
    await this.#session?.setMuted(kind, muted);
  }

  /** This participant's remote tracks (audio and/or video). */
  tracksOf(userId: string): CallTrack[] {
    return [...this.#tracks.values()].filter((t) => t.userId === userId);
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
    // Notifications of one call can overtake each other (several nodes): never go backwards.
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
    this.#localStream ??= localStream;
    if (this.#localStream !== localStream) for (const t of localStream.getTracks()) t.stop();
    this[APPLY](view);
  }

  /** Over on this device: leaves the media, releases camera and microphone, tells listeners. */
  [END](reason: CallEndedReason): void {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    this.#endReason = reason;
    const session = this.#session;
    this.#session = undefined;
    void session?.leave();
    this.#stopLocal();
    this.#tracks.clear();
    this.#setMediaState('closed');
    this.emit('stateChanged', 'ended');
    this.emit('participantsChanged', this.participants);
    this.emit('ended', reason);
    this.host.ended(this, reason);
  }

  // ---- media -------------------------------------------------------------------------------------

  protected setLocalStream(stream: MediaStream): void {
    this.#localStream = stream;
    for (const t of stream.getAudioTracks()) t.enabled = !this.#muted.audio;
    for (const t of stream.getVideoTracks()) t.enabled = !this.#muted.video;
  }

  /** Joins the call's media room and publishes camera/microphone; resolves once published. */
  protected joinMedia(): Promise<void> {
    this.#joining ??= this.#joinMedia().catch(async (err: unknown) => {
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

  async #joinMedia(): Promise<void> {
    this.#setMediaState('connecting');
    if (!this.#localStream) this.setLocalStream(await this.host.getUserMedia(this.media));
    if (this.#state === 'ended') return this.#stopLocal();
    const session = await RoomSession.attach({
      room: `${CALL_ROOM_PREFIX}${this.callId}`,
      enter: (ctx) => this.host.enterMedia(this.callId, ctx),
      // The client reconnects its connection after anything but a deliberate close or a revoked device.
      reconnectOn: (code) => code !== 1000 && code !== CloseCode.TokenInvalid,
      deviceOptions: this.host.deviceOptions,
    });
    if (this.isOver()) {
      await session.leave();
      return;
    }
    this.#session = session;
    this.#wire(session);
    for (const t of session.remoteTracks.values()) this.#addTrack(session, t);
    const stream = this.#localStream!;
    await session.publish({
      audio: stream.getAudioTracks()[0],
      video: this.media === 'video' ? stream.getVideoTracks()[0] : undefined,
      simulcast: this.host.simulcast,
    });
    for (const kind of ['audio', 'video'] as const) if (this.#muted[kind]) await session.setMuted(kind, true);
    if (this.#session === session) this.#setMediaState('connected');
  }

  #wire(s: RoomSession): void {
    s.on('track', (t) => this.#addTrack(s, t));
    s.on('trackEnded', (t) => {
      const ct = this.#tracks.get(t.consumerId);
      if (!ct || this.#session !== s) return;
      this.#tracks.delete(t.consumerId);
      this.emit('trackEnded', ct);
      this.emit('participantsChanged', this.participants);
    });
    s.on('peerJoined', () => {
      if (this.#session === s) this.emit('participantsChanged', this.participants);
    });
    s.on('peerLeft', () => {
      if (this.#session === s) this.emit('participantsChanged', this.participants);
    });
    s.on('reconnecting', () => this.#setMediaState('reconnecting'));
    s.on('reconnected', () => this.#setMediaState('connected'));
    s.on('error', (err) => this.emit('error', err));
    s.on('closed', (reason) => {
      if (this.#session !== s || this.#state === 'ended') return;
      // The media is gone for good while the call goes on: hang up rather than stay without it.
      this.#session = undefined;
      this.emit('error', new Error(`call media closed: ${reason}`));
      this.host.request('callHangup', { callId: this.callId }).catch(() => undefined);
      this[END]('error');
    });
  }

  #addTrack(s: RoomSession, t: RemoteTrack): void {
    if (this.#session !== s && this.#session !== undefined) return;
    const userId = s.peers.get(t.peerId)?.userId;
    if (!userId) return;
    const ct: CallTrack = { userId, kind: t.kind, track: t.track, remote: t };
    this.#tracks.set(t.consumerId, ct);
    this.emit('track', ct);
    this.emit('participantsChanged', this.participants);
  }

  #setMediaState(state: CallMediaState): void {
    if (this.#mediaState === state) return;
    this.#mediaState = state;
    this.emit('mediaStateChanged', state);
  }

  #stopLocal(): void {
    for (const t of this.#localStream?.getTracks() ?? []) t.stop();
  }

  #person(p: CallView['participants'][number]): CallParticipant {
    const tracks = this.tracksOf(p.userId);
    const latest = (kind: 'audio' | 'video'): MediaStreamTrack | null =>
      tracks.filter((t) => t.kind === kind).at(-1)?.track ?? null;
    return {
      userId: p.userId,
      name: p.name,
      photo: p.photo,
      state: p.state,
      ringingDevices: p.ringingDevices,
      isCaller: p.userId === this.#view.callerId,
      audio: latest('audio'),
      video: latest('video'),
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
    const stream = this.localStream ?? (await this.host.getUserMedia(this.media));
    if (this.isOver()) {
      for (const t of stream.getTracks()) t.stop();
      throw new Error(`the call has ended (${this.endReason})`);
    }
    this.setLocalStream(stream);
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

export class CallClient extends TypedEmitter<CallClientEvents> {
  readonly #opts: CallClientOptions;
  readonly #host: CallHost;
  readonly #calls = new Map<string, AnyCall>();
  #userId = '';
  #signaling: SignalingClient | undefined;
  #token: string | undefined;
  #state: CallConnectionState = 'connecting';
  #reconnecting: Promise<SignalingClient> | undefined;
  #closed = false;
  /** Callees of invites in flight (1:1): an incoming call from one of them may be glare. */
  readonly #inviting = new Map<string, number>();
  /**
   * Incoming calls held back while an invite to their caller is in flight, with the latest view the
   * server sent meanwhile (applied only once the invite has settled: it may answer this very call).
   */
  readonly #deferred = new Map<string, CallView | null>();

  private constructor(opts: CallClientOptions) {
    super();
    this.#opts = opts;
    const userId = (): string => this.#userId;
    this.#host = {
      get userId() {
        return userId();
      },
      deviceOptions: opts.deviceOptions,
      simulcast: opts.simulcast ?? true,
      request: (method, data) => this.#request(method, data),
      enterMedia: (callId, ctx) => this.#enterMedia(callId, ctx),
      getUserMedia: (media) => (opts.getUserMedia ?? defaultUserMedia)(media),
      ended: (call, reason) => {
        this.#deferred.delete(call.callId);
        const tracked = this.#calls.get(call.callId);
        if (tracked !== call) return;
        this.#calls.delete(call.callId);
        this.emit('callEnded', tracked, reason);
      },
    };
  }

  /** Opens the device's signaling connection; rejects if the server refuses the token. */
  static async connect(opts: CallClientOptions): Promise<CallClient> {
    const client = new CallClient(opts);
    await client.#open(undefined);
    return client;
  }

  /** The signed-in user (from the access token). */
  get userId(): string {
    return this.#userId;
  }

  get connectionState(): CallConnectionState {
    return this.#state;
  }

  /** The current connection (a new one after a reconnect). */
  get signaling(): SignalingClient | undefined {
    return this.#signaling;
  }

  /** Calls that are not over on this device. */
  get calls(): AnyCall[] {
    return [...this.#calls.values()];
  }

  /**
   * Rings `userIds` (one person: a 1:1 call; several: a group call). Opens camera/microphone first.
   * The call may already be over when this resolves (`state` 'ended', e.g. `endReason` 'busy').
   * Glare: if the one person you call is calling you at this moment, the server answers their call
   * instead, and you get that call (an IncomingCall, already answered here) rather than a second one.
   */
  async call(userIds: string[], media: CallMedia): Promise<OutgoingCall | IncomingCall> {
    const targets = [...new Set(userIds)];
    const single = targets.length === 1 ? targets[0]! : undefined;
    if (single) this.#inviting.set(single, (this.#inviting.get(single) ?? 0) + 1);
    let resultId: string | undefined;
    try {
      const stream = await this.#host.getUserMedia(media);
      let view: CallView;
      try {
        view = (await this.#request('callInvite', { userIds: targets, media })).call;
      } catch (err) {
        for (const t of stream.getTracks()) t.stop();
        throw err;
      }
      resultId = view.callId;
      if (view.callerId === this.#userId) {
        const call = new OutgoingCall(this.#host, view, stream);
        if (call.state !== 'ended') this.#calls.set(call.callId, call);
        return call;
      }
      // Glare: the server answered the call that was ringing for us.
      this.#deferred.delete(view.callId);
      const known = this.#calls.get(view.callId);
      if (known instanceof IncomingCall) {
        known[GLARE](view, stream);
        return known;
      }
      const callerView = view.participants.find((p) => p.userId === view.callerId);
      const caller = {
        userId: view.callerId,
        name: callerView?.name ?? 'Unknown',
        photo: callerView?.photo ?? null,
      };
      const call = new IncomingCall(this.#host, view, caller, stream);
      if (!call.isOver()) this.#calls.set(call.callId, call);
      return call;
    } finally {
      if (single) {
        const left = (this.#inviting.get(single) ?? 1) - 1;
        if (left > 0) this.#inviting.set(single, left);
        else this.#inviting.delete(single);
      }
      this.#flushDeferred(resultId);
    }
  }

  /** The call with this id, if it is live on this device. */
  get(callId: string): AnyCall | undefined {
    return this.#calls.get(callId);
  }

  /** Your calls, newest first, and how many missed calls you have not seen yet. */
  history(limit = 50): Promise<{ entries: CallHistoryEntry[]; missedUnseen: number }> {
    return this.#request('callHistory', { limit });
  }

  /** Marks missed calls as seen (the unseen count goes to 0). */
  async markHistorySeen(): Promise<void> {
    await this.#request('callHistorySeen', {});
  }

  /** Hangs up (or declines) every live call, then closes the connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await Promise.all(this.calls.map((c) => c.hangup().catch(() => c[END]('hung-up'))));
    this.#closed = true;
    this.#signaling?.close();
    this.#setState('closed');
  }

  // ---- connection ----------------------------------------------------------------------------------

  async #open(rejectedToken: string | undefined): Promise<SignalingClient> {
    const token = await this.#opts.getToken(rejectedToken);
    if (!this.#userId) this.#userId = subjectOf(token);
    const s = await SignalingClient.connect(this.#opts.url, token, { factory: this.#opts.webSocketFactory });
    if (this.#closed) {
      s.close();
      throw new SignalingError('DISCONNECTED', 'the call client is closed');
    }
    this.#token = token;
    this.#signaling = s;
    this.#wire(s);
    this.#setState('connected');
    return s;
  }

  #wire(s: SignalingClient): void {
    const current = (): boolean => s === this.#signaling && !this.#closed;
    s.on('callIncoming', ({ call: view, caller }) => {
      if (current()) this.#onIncoming(view, caller);
    });
    s.on('callUpdated', ({ call: view }) => {
      if (!current()) return;
      if (this.#deferred.has(view.callId)) this.#deferred.set(view.callId, view);
      else this.#calls.get(view.callId)?.[APPLY](view);
    });
    s.on('callAnsweredElsewhere', ({ callId }) => {
      if (current() && !this.#deferred.has(callId)) this.#calls.get(callId)?.[ELSEWHERE]();
    });
    s.on('close', ({ code }) => {
      if (!current()) return;
      if (code === CloseCode.TokenInvalid) {
        // Signed out or revoked: nothing to come back to.
        for (const c of this.calls) c[END]('error');
        this.#closed = true;
        this.#setState('closed');
        return;
      }
      void this.#reconnect(code).catch(() => undefined);
    });
  }

  #reconnect(code: number): Promise<SignalingClient> {
    this.#reconnecting ??= (async () => {
      this.#setState('reconnecting');
      const attempts = Math.max(1, this.#opts.reconnect?.attempts ?? 6);
      const backoffMs = this.#opts.reconnect?.backoffMs ?? 500;
      let lastError: unknown;
      for (let attempt = 1; attempt <= attempts && !this.#closed; attempt++) {
        if (attempt > 1) await sleep(backoffMs * 2 ** (attempt - 2) * (1 + Math.random() * 0.3));
        if (this.#closed) break;
        try {
          const s = await this.#open(code === CloseCode.TokenExpired ? this.#token : undefined);
          void this.#resync();
          return s;
        } catch (err) {
          lastError = err;
          if (isFatalTokenError(err)) break;
        }
      }
      for (const c of this.calls) c[END]('error');
      this.#closed = true;
      this.#setState('closed');
      throw lastError instanceof Error ? lastError : new SignalingError('DISCONNECTED', 'cannot reconnect');
    })().finally(() => {
      this.#reconnecting = undefined;
    });
    return this.#reconnecting;
  }

  /** After a reconnect: catch up with what happened to live calls meanwhile. */
  async #resync(): Promise<void> {
    await Promise.all(
      this.calls.map(async (c) => {
        try {
          c[APPLY]((await this.#request('callGet', { callId: c.callId })).call);
        } catch (err) {
          if (
            err instanceof SignalingError &&
            (err.code === ErrorCode.NotInCall || err.code === ErrorCode.NotFound)
          )
            c[END]('hung-up');
        }
      }),
    );
  }

  /** The open connection, waiting for a reconnect in progress. */
  async #connection(): Promise<SignalingClient> {
    if (this.#closed) throw new SignalingError('DISCONNECTED', 'the call client is closed');
    const s = this.#signaling;
    if (s && !s.closed) return s;
    if (this.#reconnecting) return this.#reconnecting;
    throw new SignalingError('DISCONNECTED', 'not connected');
  }

  async #request<M extends Method>(method: M, data: RequestData<M>): Promise<ResponseData[M]> {
    return (await this.#connection()).request(method, data);
  }

  /** Joins a call's media room here, or on the node that hosts it (a connection of its own). */
  async #enterMedia(callId: string, ctx: { rejectedToken?: string }): Promise<RoomEntry> {
    const main = await this.#connection();
    try {
      const joined = await main.request('callJoinMedia', { callId });
      return { signaling: main, joined, ownsSignaling: false };
    } catch (err) {
      const url =
        err instanceof SignalingError && err.code === ErrorCode.RoomHostedElsewhere && err.details.url;
      if (!url) throw err;
      const token = await this.#opts.getToken(ctx.rejectedToken);
      const remote = await SignalingClient.connect(signalingUrlFor(url, this.#opts.url), token, {
        factory: this.#opts.webSocketFactory,
      });
      try {
        const joined = await remote.request('callJoinMedia', { callId });
        return { signaling: remote, joined, ownsSignaling: true, token };
      } catch (e) {
        remote.close();
        throw e;
      }
    }
  }

  // ---- incoming ------------------------------------------------------------------------------------

  #onIncoming(view: CallView, caller: UserSummary): void {
    const known = this.#calls.get(view.callId);
    if (known) {
      // Announced again (this device reconnected while it rings): still ringing here.
      known[APPLY](view);
      if (
        known instanceof IncomingCall &&
        this.#opts.autoRinging !== false &&
        !this.#deferred.has(known.callId)
      )
        void known.confirmRinging();
      return;
    }
    const me = view.participants.find((p) => p.userId === this.#userId);
    if (view.state === 'ended' || me?.state !== 'ringing') return;
    const call = new IncomingCall(this.#host, view, caller);
    if (call.state === 'ended') return;
    this.#calls.set(call.callId, call);
    const oneToOne = view.participants.length === 2;
    if (oneToOne && this.#inviting.has(caller.userId)) {
      // We are calling them right now: our invite decides (glare → it returns this very call).
      this.#deferred.set(call.callId, null);
      return;
    }
    this.#deliver(call);
  }

  #deliver(call: IncomingCall): void {
    this.emit('incomingCall', call);
    if (this.#opts.autoRinging !== false && call.state === 'ringing') void call.confirmRinging();
  }

  #flushDeferred(exceptCallId: string | undefined): void {
    for (const [callId, latest] of [...this.#deferred]) {
      const call = this.#calls.get(callId);
      if (callId === exceptCallId || !(call instanceof IncomingCall)) {
        this.#deferred.delete(callId);
        continue;
      }
      if (this.#inviting.has(call.callerId)) continue;
      this.#deferred.delete(callId);
      if (latest) call[APPLY](latest);
      if (call.state === 'ringing') this.#deliver(call);
    }
  }

  #setState(state: CallConnectionState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.emit('connectionStateChanged', state);
  }
}

function defaultUserMedia(media: CallMedia): Promise<MediaStream> {
  return navigator.mediaDevices.getUserMedia({
    audio: true,
    video: media === 'video' ? { width: 640, height: 480 } : false,
  });
}

/** The signaling endpoint of the node at `address` (its HTTP URL, as the server reports it). */
export function signalingUrlFor(address: string, like: string): string {
  const target = new URL(address);
  const secure = target.protocol === 'https:' || target.protocol === 'wss:';
  target.protocol = secure ? 'wss:' : 'ws:';
  if (target.pathname === '/' || target.pathname === '') target.pathname = new URL(like).pathname;
  return target.toString();
}

/** The user id (`sub`) in an access token. */
function subjectOf(token: string): string {
  try {
    const payload = token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes)) as { sub?: unknown };
    if (typeof claims.sub === 'string') return claims.sub;
  } catch {
    // fall through
  }
  throw new Error('the access token carries no user id');
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function isFatalTokenError(err: unknown): boolean {
  const status = (err as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 408 && status !== 429;
}
