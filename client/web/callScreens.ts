/**
 * Messenger calls on the page: the device's CallClient, and the incoming, outgoing ("Calling…",
 * "Ringing…"), in-call and "call over" screens. While a call rings or runs, its screen replaces the
 * others (app.ts asks `active`), except that History and Profile can be opened during a call
 * without leaving it (`setCovered`). Ringing rings (ringer.ts), flashes the title and notifies
 * (attention.ts), and moves focus to Accept; keyboard shortcuts: Alt+A accept, Alt+D decline,
 * Alt+M mute, Alt+V camera, Alt+S screen share, Alt+H hang up.
 */
import {
  ApiError,
  CallClient,
  type AccountClient,
  type AnyCall,
  type CallMedia,
  type IncomingCall,
  type UserSummary,
} from '@calling/sdk';
import { Attention } from './attention.js';
import { CallTiles } from './callTiles.js';
import { duration, endMessage, mediaWord, nameList } from './callText.js';
import type { DevicePicker } from './devicePicker.js';
import { Ringer } from './ringer.js';
import type { ContactsView } from './contacts.js';
import { $, busy, showError } from './dom.js';
import type { HistoryView } from './history.js';
import { describeError } from './messages.js';
import type { PhotoLoader } from './photos.js';

/** Participant states that keep a tile on the in-call screen. */
const ON_SCREEN = new Set(['calling', 'ringing', 'joined']);

export interface CallScreensOptions {
  account: AccountClient;
  photos: PhotoLoader;
  contacts: ContactsView;
  history: HistoryView;
  /** The page should re-render (a call screen appeared or went away). */
  onChange: () => void;
  /** Before answering or placing a call: e.g. leave the room call. */
  beforeCall: () => Promise<void>;
  /** "Back to the call" was clicked on another screen. */
  onReturn?: () => void;
  /** The header's connection status. */
  setStatus: (text: string) => void;
  devices: DevicePicker;
}

export class CallScreens {
  readonly #o: CallScreensOptions;
  #client: CallClient | undefined;
  #current: AnyCall | undefined;
  /** An outgoing call between the click and the server's answer. */
  #pending: { userIds: string[]; media: CallMedia; cancelled: boolean } | undefined;
  readonly #tracked = new WeakSet<AnyCall>();
  #generation = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #tiles: CallTiles;
  readonly ringer = new Ringer();
  readonly attention = new Attention();
  /** The incoming panel was on screen at the last render (focus moves to Accept when it appears). */
  #incomingShown = false;
  /** History or Profile is open over the in-call screen. */
  #covered = false;
  /** The active speaker the tiles show. */
  #shownSpeaker: string | null = null;

  constructor(opts: CallScreensOptions) {
    this.#o = opts;
    this.#tiles = new CallTiles($('callTiles'), opts.photos, opts.devices);
    $('callShare').addEventListener('click', () => void this.#toggleShare());
    $('callDevices').addEventListener('click', () => void this.#toggleDevices());
    $('returnToCallButton').addEventListener('click', () => this.#o.onReturn?.());
    document.addEventListener('keydown', (ev) => this.#shortcut(ev));
    $('acceptCall').addEventListener('click', () => void this.#accept());
    $('declineCall').addEventListener('click', () => {
      const c = this.#current;
      if (c?.direction === 'incoming')
        void busy($<HTMLButtonElement>('declineCall'), () =>
          c.decline().catch((e: unknown) => this.#fail(e)),
        );
    });
    $('cancelCall').addEventListener('click', () => {
      if (this.#pending) this.#pending.cancelled = true;
      const c = this.#current;
      if (c)
        void busy($<HTMLButtonElement>('cancelCall'), () => c.hangup().catch((e: unknown) => this.#fail(e)));
    });
    $('callHangup').addEventListener('click', () => {
      const c = this.#current;
      if (c)
        void busy($<HTMLButtonElement>('callHangup'), () => c.hangup().catch((e: unknown) => this.#fail(e)));
    });
    $('callMute').addEventListener('click', () => void this.#toggle('audio'));
    $('callCamera').addEventListener('click', () => void this.#toggle('video'));
    $('callAdd').addEventListener('click', () => this.#toggleAddPanel());
    $('callEndedClose').addEventListener('click', () => this.#showEnded(''));
  }

  get client(): CallClient | undefined {
    return this.#client;
  }

  get current(): AnyCall | undefined {
    return this.#current;
  }

  /** A call screen is up: placing, ringing or in a call. */
  get active(): boolean {
    return this.#pending !== undefined || (this.#current !== undefined && !this.#current.isOver());
  }

  /** Connects this device for calls (retrying while the server cannot be reached). */
  async start(): Promise<void> {
    const generation = ++this.#generation;
    for (let attempt = 0; generation === this.#generation; attempt++) {
      try {
        const client = await CallClient.connect({
          url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`,
          getToken: (rejected) => this.#o.account.getAccessToken(rejected),
          // The camera and microphone chosen on the device panel.
          getUserMedia: (media) => this.#o.devices.getUserMedia(media),
        });
        if (generation !== this.#generation) {
          void client.close();
          return;
        }
        this.#client = client;
        this.#wire(client, generation);
        this.#o.history.use(client);
        this.#o.setStatus('Ready for calls');
        return;
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) return; // signed out meanwhile
        console.warn('calls: cannot connect', describeError(err));
        this.#o.setStatus('Offline: cannot reach the server');
        await new Promise((r) => setTimeout(r, Math.min(30_000, 1000 * 2 ** attempt)));
      }
    }
  }

  /** Signed out: hang up, disconnect, forget. */
  async stop(): Promise<void> {
    this.#generation++;
    const client = this.#client;
    this.#client = undefined;
    this.#current = undefined;
    this.#pending = undefined;
    this.#o.history.use(undefined);
    this.#showEnded('');
    this.#render();
    this.#o.setStatus('Signed out');
    await client?.close();
  }

  /** Calls one contact (1:1) or several (a group call). */
  async startCall(userIds: string[], media: CallMedia): Promise<void> {
    const client = this.#client;
    if (!client) {
      this.#showEnded('Not connected for calls yet. Please try again in a moment.');
      return;
    }
    const c = this.#current;
    // Calling back the one person who is ringing you is glare: the server joins the two into one call.
    const callingBack =
      c?.direction === 'incoming' &&
      c.state === 'ringing' &&
      userIds.length === 1 &&
      userIds[0] === c.callerId;
    if (this.#pending || (c && !c.isOver() && !callingBack)) return; // the call screen is up anyway
    this.#showEnded('');
    // Placing a call shows intent: a good moment to ask whether calls may notify.
    this.attention.askPermission();
    this.#pending = { userIds, media, cancelled: false };
    this.#o.onChange();
    this.#render();
    let call: AnyCall;
    try {
      await this.#o.beforeCall();
      call = await client.call(userIds, media);
    } catch (err) {
      this.#pending = undefined;
      this.#showEnded(describeCallError(err));
      this.#render();
      this.#o.onChange();
      return;
    }
    const pending = this.#pending;
    this.#pending = undefined;
    if (call.isOver()) {
      this.#showEnded(endMessage(call, call.endReason ?? 'hung-up'));
      void this.#o.history.refresh();
    } else {
      this.#current = call;
      this.#track(call);
      if (pending?.cancelled) void call.hangup().catch((e: unknown) => this.#fail(e));
    }
    this.#render();
    this.#o.onChange();
  }

  // ---- events --------------------------------------------------------------------------------------

  #wire(client: CallClient, generation: number): void {
    client.on('incomingCall', (call) => {
      if (generation !== this.#generation) return;
      if (this.active) {
        // The server does not ring someone who is in a call; if it happens anyway, keep the current one.
        console.warn('incoming call while in a call', call.callId);
        return;
      }
      this.#current = call;
      this.#track(call);
      this.#showEnded('');
      this.#render();
      this.#o.onChange();
    });
    client.on('callEnded', () => void this.#o.history.refresh());
    // Another device of this user saw the missed calls: the badge goes here too.
    client.on('missedCallsChanged', (count) => this.#o.history.showBadge(count));
    client.on('connectionStateChanged', (state) => {
      if (generation !== this.#generation) return;
      this.#o.setStatus(
        state === 'connected' ? 'Ready for calls' : state === 'reconnecting' ? 'Reconnecting…' : 'Offline',
      );
      if (state === 'closed' && this.#client === client) {
        this.#client = undefined;
        void this.start();
      }
    });
  }

  #track(call: AnyCall): void {
    if (this.#tracked.has(call)) return;
    this.#tracked.add(call);
    const mine = (): boolean => this.#current === call;
    call.on('stateChanged', () => {
      if (!mine()) return;
      this.#render();
      this.#o.onChange();
    });
    call.on('participantsChanged', () => {
      if (mine()) this.#render();
    });
    call.on('mediaStateChanged', () => {
      if (mine()) this.#render();
    });
    call.on('activeSpeaker', (userId) => {
      if (!mine()) return;
      this.#shownSpeaker = userId;
      this.#tiles.setSpeaker(userId);
    });
    call.on('connectionQuality', (userId, quality) => {
      if (mine()) this.#tiles.setQuality(userId, quality);
    });
    call.on('screenShare', () => {
      if (mine()) this.#render();
    });
    call.on('error', (err) => console.warn('call error', err));
    call.on('ended', (reason) => {
      if (!mine()) return;
      this.#current = undefined;
      this.#showEnded(endMessage(call, reason));
      this.#render();
      this.#o.onChange();
    });
  }

  async #accept(): Promise<void> {
    const c = this.#current;
    if (c?.direction !== 'incoming') return;
    showError($('incomingError'), '');
    this.attention.askPermission();
    await busy($<HTMLButtonElement>('acceptCall'), async () => {
      try {
        await this.#o.beforeCall();
        await (c as IncomingCall).accept();
      } catch (err) {
        // A call that ended meanwhile says so through its `ended` event.
        if (!c.isOver()) showError($('incomingError'), describeCallError(err));
      }
    });
  }

  async #toggle(kind: 'audio' | 'video'): Promise<void> {
    const c = this.#current;
    if (!c) return;
    const muted = !c.muted[kind];
    // The call takes the new state at once (the server is told meanwhile): show it at once.
    const done = c.setMuted(kind, muted);
    this.#renderControls(c);
    try {
      await done;
    } catch (err) {
      showError($('callError'), describeCallError(err));
    }
    this.#renderControls(c);
  }

  #fail(err: unknown): void {
    showError($('callError'), describeCallError(err));
  }

  #showEnded(message: string): void {
    $('callEndedMessage').textContent = message;
    $('callEnded').hidden = message === '';
  }

  // ---- rendering -----------------------------------------------------------------------------------

  #render(): void {
    const c = this.#current && !this.#current.isOver() ? this.#current : undefined;
    const incoming = c?.direction === 'incoming' && c.state === 'ringing';
    const outgoing = this.#pending !== undefined || (c?.direction === 'outgoing' && c.state === 'ringing');
    const inCall = c?.state === 'active';
    $('incomingCall').hidden = !incoming;
    $('outgoingCall').hidden = !outgoing;
    $('inCall').hidden = !inCall || this.#covered;
    $('returnToCall').hidden = !inCall || !this.#covered;
    if (incoming) this.#renderIncoming(c as IncomingCall);
    if (outgoing) this.#renderOutgoing(c);
    if (inCall) this.#renderInCall(c);
    else this.#clearInCall();
    this.#ring(incoming ? (c as IncomingCall) : undefined, outgoing);
    // Focus moves to Accept when the call starts ringing here (and only then: not on every update).
    if (incoming && !this.#incomingShown) $('acceptCall').focus();
    this.#incomingShown = incoming;
  }

  /** History or Profile open over a call: the call goes on, with a way back to it. */
  setCovered(covered: boolean): void {
    this.#covered = covered;
    this.#render();
  }

  /** Ringtone, title and notification while it rings here; ringback while the other side rings. */
  #ring(incoming: IncomingCall | undefined, outgoing: boolean): void {
    if (incoming) {
      this.ringer.start('incoming');
      this.attention.ring(`📞 ${incoming.caller.name} is calling`, `Incoming ${mediaWord(incoming.media)}`);
      return;
    }
    this.attention.stop();
    const ringingThere = this.#current?.participants.some((p) => p.ringingDevices > 0) ?? false;
    if (outgoing && ringingThere) this.ringer.start('outgoing');
    else this.ringer.stop();
  }

  #renderIncoming(c: IncomingCall): void {
    const others = c.participants
      .filter((p) => p.userId !== c.callerId && ON_SCREEN.has(p.state))
      .map((p) => p.name);
    $('incomingName').textContent = c.caller.name;
    $('incomingKind').textContent =
      others.length > 0
        ? `Incoming group ${mediaWord(c.media)} with ${nameList(others)}`
        : `Incoming ${mediaWord(c.media)}`;
    this.#showPhoto('incomingPhoto', 'incomingInitials', c.caller);
  }

  #renderOutgoing(c: AnyCall | undefined): void {
    const people: UserSummary[] = c
      ? c.participants
      : (this.#pending?.userIds ?? []).map((id) => {
          const contact = this.#o.contacts.find(id);
          return { userId: id, name: contact?.name ?? 'Someone', photo: contact?.photo ?? null };
        });
    $('outgoingName').textContent = nameList(people.map((p) => p.name));
    const ringing = c?.participants.some((p) => p.ringingDevices > 0) ?? false;
    const outgoingState = $('outgoingState');
    outgoingState.textContent = ringing ? 'Ringing…' : 'Calling…';
    outgoingState.dataset.state = ringing ? 'ringing' : 'calling';
    if (people[0]) this.#showPhoto('outgoingPhoto', 'outgoingInitials', people[0]);
    const preview = $<HTMLVideoElement>('outgoingPreview');
    const stream = c?.media === 'video' ? c.localStream : undefined;
    if (preview.srcObject !== (stream ?? null)) preview.srcObject = stream ?? null;
    preview.hidden = !stream;
    $<HTMLButtonElement>('cancelCall').disabled = this.#pending?.cancelled ?? false;
  }

  #renderInCall(c: AnyCall): void {
    const present = c.participants.filter((p) => ON_SCREEN.has(p.state));
    const joined = present.filter((p) => p.state === 'joined');
    // The title names everyone of the call, also once they have left (never "Someone").
    const named = present.length > 0 ? present : c.participants;
    $('inCallNames').textContent = nameList(named.map((p) => p.name));
    $('returnToCallNames').textContent = nameList(named.map((p) => p.name));
    $('callAlone').textContent =
      joined.length > 0
        ? ''
        : present.length > 0
          ? 'You are the only one here. Waiting for the others to answer…'
          : 'You are the only one here. Everyone else has left.';
    $('inCallKind').textContent = mediaWord(c.media);
    const mediaState = $('callMediaState');
    mediaState.textContent =
      c.mediaState === 'connecting'
        ? '· connecting…'
        : c.mediaState === 'reconnecting'
          ? '· reconnecting…'
          : '';
    mediaState.dataset.state = c.mediaState;
    const me = c.self;
    this.#tiles.renderSelf({
      stream: c.localStream ?? null,
      videoOff: c.media !== 'video' || c.muted.video,
      audioMuted: c.muted.audio,
      me: me ? { userId: me.userId, name: me.name, photo: me.photo } : null,
    });
    this.#renderControls(c);
    this.#tiles.render(present);
    if (c.activeSpeaker !== this.#shownSpeaker) {
      this.#shownSpeaker = c.activeSpeaker;
      this.#tiles.setSpeaker(c.activeSpeaker);
    }
    if (!$('addPanel').hidden) this.#renderAddList(c);
    this.#timer ??= setInterval(() => this.#tick(), 1000);
    this.#tick();
  }

  #renderControls(c: AnyCall): void {
    const mute = $<HTMLButtonElement>('callMute');
    mute.setAttribute('aria-pressed', String(c.muted.audio));
    // A fixed name; aria-pressed says whether it is on ("Mute, pressed" = muted).
    mute.textContent = 'Mute';
    const camera = $<HTMLButtonElement>('callCamera');
    camera.hidden = c.media !== 'video';
    camera.setAttribute('aria-pressed', String(c.muted.video));
    camera.textContent = 'Camera off';
    const share = $<HTMLButtonElement>('callShare');
    const sharing = c.screenStream !== undefined;
    // Browsers without getDisplayMedia (phones) cannot share a screen.
    share.hidden = !navigator.mediaDevices?.getDisplayMedia;
    share.setAttribute('aria-pressed', String(sharing));
    $('callSharing').textContent = sharing ? 'You are sharing your screen.' : '';
  }

  async #toggleShare(): Promise<void> {
    const c = this.#current;
    if (!c || c.state !== 'active') return;
    showError($('callError'), '');
    await busy($<HTMLButtonElement>('callShare'), async () => {
      try {
        if (c.screenStream) await c.stopScreenShare();
        else await c.shareScreen();
      } catch (err) {
        // Cancelling the browser's picker is a choice, not an error.
        if (!(err instanceof DOMException && err.name === 'NotAllowedError'))
          showError($('callError'), `Could not share the screen: ${describeError(err)}`);
      }
    });
    this.#renderControls(c);
  }

  async #toggleDevices(): Promise<void> {
    const button = $('callDevices');
    const devices = this.#o.devices;
    if (devices.isOpen && button.getAttribute('aria-expanded') === 'true') {
      devices.close();
      button.setAttribute('aria-expanded', 'false');
      return;
    }
    button.setAttribute('aria-expanded', 'true');
    await devices.open($('callDevicesSlot'), { preview: false, call: this.#current });
  }

  /** Keyboard shortcuts (Alt+letter: typing in a field never triggers them). */
  #shortcut(ev: KeyboardEvent): void {
    if (!ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const c = this.#current;
    if (!c || c.isOver()) return;
    const click = (id: string): void => {
      const el = $<HTMLButtonElement>(id);
      if (el.hidden || el.disabled || el.closest('[hidden]')) return;
      ev.preventDefault();
      el.click();
    };
    switch (ev.code) {
      case 'KeyA':
        return click('acceptCall');
      case 'KeyD':
        return click('declineCall');
      case 'KeyM':
        return click('callMute');
      case 'KeyV':
        return click('callCamera');
      case 'KeyS':
        return click('callShare');
      case 'KeyH':
        return click(c.state === 'active' ? 'callHangup' : 'cancelCall');
    }
  }

  #tick(): void {
    const since = this.#current?.activeSince;
    $('callDuration').textContent = duration(since ? (Date.now() - since) / 1000 : 0);
  }

  #clearInCall(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#tiles.clear();
    this.#shownSpeaker = null;
    $<HTMLVideoElement>('callLocalVideo').srcObject = null;
    if ($('callDevices').getAttribute('aria-expanded') === 'true') {
      this.#o.devices.close();
      $('callDevices').setAttribute('aria-expanded', 'false');
    }
    $('addPanel').hidden = true;
    $('callAdd').setAttribute('aria-expanded', 'false');
    showError($('callError'), '');
  }

  #toggleAddPanel(): void {
    const panel = $('addPanel');
    panel.hidden = !panel.hidden;
    $('callAdd').setAttribute('aria-expanded', String(!panel.hidden));
    if (!panel.hidden && this.#current) this.#renderAddList(this.#current);
  }

  #renderAddList(c: AnyCall): void {
    const inCall = new Set(c.participants.filter((p) => ON_SCREEN.has(p.state)).map((p) => p.userId));
    const candidates = this.#o.contacts.contacts.filter((x) => !inCall.has(x.userId));
    $('addEmpty').hidden = candidates.length > 0;
    $('addList').replaceChildren(
      ...candidates.map((x) => {
        const li = document.createElement('li');
        li.className = 'contact';
        li.dataset.userId = x.userId;
        const name = document.createElement('span');
        name.className = 'contact-name';
        name.textContent = x.name;
        const add = document.createElement('button');
        add.type = 'button';
        add.className = 'add-participant';
        add.dataset.userId = x.userId;
        add.textContent = 'Add';
        add.setAttribute('aria-label', `Add ${x.name} to the call`);
        add.addEventListener('click', () => {
          void busy(add, async () => {
            try {
              await c.addParticipants([x.userId]);
              $('addPanel').hidden = true;
              $('callAdd').setAttribute('aria-expanded', 'false');
            } catch (err) {
              showError($('callError'), describeCallError(err));
            }
          });
        });
        li.append(name, ' ', add);
        return li;
      }),
    );
  }

  #showPhoto(imgId: string, initialsId: string, who: UserSummary): void {
    // Photo URLs carry their version (?v=etag), so the URL itself identifies the picture.
    const photo = who.photo ? { ...who.photo, etag: who.photo.url } : null;
    void this.#o.photos.show($<HTMLImageElement>(imgId), $(initialsId), photo, 'full', who.name);
  }
}

/** Why placing, answering or changing a call failed, for people. */
function describeCallError(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  switch (code) {
    case 'ALREADY_IN_CALL':
      return 'You are already in a call (perhaps on another device).';
    case 'UNKNOWN_USER':
      return 'That person no longer has an account.';
    case 'ALREADY_ANSWERED':
      return 'Answered on another device';
    case 'CALL_ENDED':
      return 'The call has already ended.';
    case 'DISCONNECTED':
    case 'TIMEOUT':
      return 'Cannot reach the server. Check your connection and try again.';
    default:
      return describeError(err, 'call');
  }
}
