/**
 * Messenger calls on one device: ringing 1:1 and group calls between accounts, as typed objects and
 * events (call.ts), with their media (callMedia.ts).
 *
 * One `CallClient` per device keeps one signaling connection open (connection.ts: its token comes
 * from `AccountClient.getAccessToken`; a 4001 close refreshes it, other drops reconnect as the
 * reconnect policy allows, and live calls are caught up on the new socket). It reports
 * `incomingCall`, places calls with `call()` (sorting out glare: both sides calling each other at
 * once), and reads the history. A call's media joins on this same connection, whichever node hosts
 * the call's room (the server relays to it).
 *
 *   const calls = await CallClient.connect({ url, getToken: (r) => account.getAccessToken(r) });
 *   calls.on('incomingCall', (call) => { show(call); });   // the client confirms "ringing" itself
 *   const call = await calls.call([bobId], 'video');
 *   call.on('ended', (reason) => ...);                       // 'declined', 'busy', 'missed', ...
 */
import type { Device, types } from 'mediasoup-client';
import { ErrorCode } from '../../protocol/errors.js';
import type {
  CallHistoryEntry,
  CallMedia,
  CallView,
  Method,
  RequestData,
  ResponseData,
  UserSummary,
} from '../../protocol/signaling.js';
import { IncomingCall, OutgoingCall, type AnyCall, type CallHost } from './call.js';
import { APPLY, ELSEWHERE, END, GLARE, type CallEndedReason } from './callTypes.js';
import { SignalingConnection, type ConnectionState } from './connection.js';
import { subjectOf } from './jwt.js';
import { preloadDevice } from './mediaDevice.js';
import { DefaultReconnectPolicy, type ReconnectPolicy } from './reconnectPolicy.js';
import type { RoomEntry } from './roomSession.js';
import { SignalingError, type SignalingClient, type WebSocketFactory } from './signalingClient.js';
import { TypedEmitter } from './typedEmitter.js';

export type CallConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

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
  reconnect?: { attempts?: number; backoffMs?: number; policy?: ReconnectPolicy };
  /** Send `callRinging` for an incoming call as soon as it is delivered (default true). */
  autoRinging?: boolean;
  /** Publish video as simulcast (default true). */
  simulcast?: boolean;
  /**
   * Warm up an incoming call's media while it rings (camera and microphone opened but disabled,
   * transports connected, nothing sent to anyone until answered): 'when-permitted' (default) only
   * if camera/microphone permission is granted already, so ringing never prompts; 'always'; 'never'.
   * Outgoing calls always warm up (their camera is open anyway).
   */
  warmIncoming?: 'when-permitted' | 'always' | 'never';
}

type CallClientEvents = {
  /** Someone is calling: show it (the client has told the server this device is ringing). */
  incomingCall: [IncomingCall];
  connectionStateChanged: [CallConnectionState];
  /** Any call of this device ended (its own `ended` fires as well). */
  callEnded: [AnyCall, CallEndedReason];
  /** The unseen missed calls changed elsewhere (another device of yours opened the history). */
  missedCallsChanged: [missedUnseen: number];
  error: [Error];
};

export class CallClient extends TypedEmitter<CallClientEvents> {
  readonly #opts: CallClientOptions;
  readonly #host: CallHost;
  readonly #calls = new Map<string, AnyCall>();
  readonly #connection: SignalingConnection;
  readonly #userId: string;
  /** The Device, loaded at connect (undefined on a server without `mediaCapabilities`). */
  #device: Promise<Device | undefined> = Promise.resolve(undefined);
  #state: CallConnectionState = 'connected';
  #closed = false;
  /** Callees of invites in flight (1:1): an incoming call from one of them may be glare. */
  readonly #inviting = new Map<string, number>();
  /**
   * Incoming calls held back while an invite to their caller is in flight, with the latest view the
   * server sent meanwhile (applied only once the invite has settled: it may answer this very call).
   */
  readonly #deferred = new Map<string, CallView | null>();

  private constructor(opts: CallClientOptions, connection: SignalingConnection, userId: string) {
    super();
    this.#opts = opts;
    this.#connection = connection;
    this.#userId = userId;
    this.#host = {
      userId,
      deviceOptions: opts.deviceOptions,
      simulcast: opts.simulcast ?? true,
      request: (method, data) => this.#request(method, data),
      enterMedia: (callId, _ctx, how) => this.#enterMedia(callId, how),
      getUserMedia: (media) => (opts.getUserMedia ?? defaultUserMedia)(media),
      mayWarmIncoming: async (media) => {
        const mode = opts.warmIncoming ?? 'when-permitted';
        return mode === 'always' || (mode === 'when-permitted' && (await mediaPermitted(media)));
      },
      ended: (call, reason) => {
        this.#deferred.delete(call.callId);
        const tracked = this.#calls.get(call.callId);
        if (tracked !== call) return;
        this.#calls.delete(call.callId);
        this.emit('callEnded', tracked, reason);
      },
    };
  }

  /** Opens the device's signaling connection; rejects if the token source or the server refuses. */
  static async connect(opts: CallClientOptions): Promise<CallClient> {
    const connection = await SignalingConnection.open({
      url: opts.url,
      getToken: opts.getToken,
      webSocketFactory: opts.webSocketFactory,
      policy:
        opts.reconnect?.policy ??
        new DefaultReconnectPolicy({
          maxAttempts: opts.reconnect?.attempts ?? 6,
          baseDelayMs: opts.reconnect?.backoffMs ?? 500,
        }),
    });
    let userId: string;
    try {
      userId = subjectOf(connection.token ?? '');
    } catch (err) {
      connection.close();
      throw err;
    }
    const client = new CallClient(opts, connection, userId);
    client.#wire();
    // Cold start: the Device loads now, not between the answer and the first frame.
    client.#device = preloadDevice(connection, opts.deviceOptions);
    return client;
  }

  /** The signed-in user (from the access token). */
  get userId(): string {
    return this.#userId;
  }

  get connectionState(): CallConnectionState {
    return this.#state;
  }

  /** The device's signaling connection (it replaces its socket when it reconnects). */
  get signaling(): SignalingConnection {
    return this.#connection;
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
    this.#connection.close();
    this.#setState('closed');
  }

  // ---- connection ----------------------------------------------------------------------------------

  #wire(): void {
    const c = this.#connection;
    c.on('callIncoming', ({ call: view, caller }) => {
      if (!this.#closed) this.#onIncoming(view, caller);
    });
    c.on('callUpdated', ({ call: view }) => {
      if (this.#closed) return;
      if (this.#deferred.has(view.callId)) this.#deferred.set(view.callId, view);
      else this.#calls.get(view.callId)?.[APPLY](view);
    });
    c.on('callAnsweredElsewhere', ({ callId }) => {
      if (!this.#closed && !this.#deferred.has(callId)) this.#calls.get(callId)?.[ELSEWHERE]();
    });
    c.on('callHistoryChanged', ({ missedUnseen }) => {
      if (!this.#closed) this.emit('missedCallsChanged', missedUnseen);
    });
    c.on('stateChanged', (state) => {
      if (!this.#closed) this.#setState(connectionStateOf(state));
    });
    c.on('error', (err) => this.emit('error', err));
    c.on('closed', () => {
      // Signed out, revoked, or reconnecting gave up: nothing to come back to.
      if (this.#closed) return;
      for (const call of this.calls) call[END]('error');
      this.#closed = true;
      this.#setState('closed');
    });
    c.onResync((socket) => this.#resync(socket));
  }

  /** After a reconnect, on the new socket: catch up with what happened to live calls meanwhile. */
  async #resync(socket: SignalingClient): Promise<void> {
    await Promise.all(
      this.calls.map(async (c) => {
        try {
          c[APPLY]((await socket.request('callGet', { callId: c.callId })).call);
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

  async #request<M extends Method>(method: M, data: RequestData<M>): Promise<ResponseData[M]> {
    if (this.#closed)
      throw new SignalingError('DISCONNECTED', 'the call client is closed', {}, { fatal: true });
    return this.#connection.request(method, data);
  }

  /**
   * Joins a call's media room, or warms up in it (a hidden peer while it rings), on this connection
   * (the server relays to the node hosting it). With the Device loaded, the request carries its
   * capabilities and the answer the transports.
   */
  async #enterMedia(callId: string, how: 'join' | 'warm'): Promise<RoomEntry> {
    const device = await this.#device;
    const withDevice = device ? { device } : {};
    if (how === 'warm') {
      if (!device) throw new Error('this server cannot warm up calls');
      const mediaSetup = { rtpCapabilities: device.rtpCapabilities as never };
      const joined = await this.#request('callWarmMedia', { callId, mediaSetup });
      return { signaling: this.#connection, joined, ownsSignaling: false, device };
    }
    const joined = await this.#request('callJoinMedia', {
      callId,
      ...(device ? { mediaSetup: { rtpCapabilities: device.rtpCapabilities as never } } : {}),
    });
    return { signaling: this.#connection, joined, ownsSignaling: false, ...withDevice };
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

/** Whether the browser lets this page use camera (video calls) and microphone without asking. */
async function mediaPermitted(media: CallMedia): Promise<boolean> {
  const names = media === 'video' ? ['camera', 'microphone'] : ['microphone'];
  try {
    const states = await Promise.all(
      names.map((name) => navigator.permissions.query({ name: name as PermissionName })),
    );
    return states.every((s) => s.state === 'granted');
  } catch {
    // No permissions API (or these names unknown to it): do not risk a prompt while it rings.
    return false;
  }
}

function defaultUserMedia(media: CallMedia): Promise<MediaStream> {
  return navigator.mediaDevices.getUserMedia({
    audio: true,
    video: media === 'video' ? { width: 640, height: 480 } : false,
  });
}

function connectionStateOf(state: ConnectionState): CallConnectionState {
  return state === 'resuming' ? 'reconnecting' : state;
}
