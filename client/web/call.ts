/** The room call: camera and microphone, a tile per remote peer, mute toggles, invite link, leave. */
import { RoomSession, roomInviteLink, type JoinOptions, type RemoteTrack } from '@calling/sdk';
import { $ } from './dom.js';

/** Either a fixed token (development sign-in) or an account's token source (reconnects on expiry). */
export type TokenSource = Pick<JoinOptions, 'token' | 'getToken'>;

export class CallView {
  readonly #tiles = $('tiles');
  readonly #localVideo = $<HTMLVideoElement>('localVideo');
  readonly #toggleAudio = $<HTMLButtonElement>('toggleAudio');
  readonly #toggleVideo = $<HTMLButtonElement>('toggleVideo');
  readonly #setStatus: (text: string) => void;
  readonly #onChange: () => void;
  #session: RoomSession | undefined;
  #localStream: MediaStream | undefined;
  #joining = false;

  constructor(opts: { setStatus: (text: string) => void; onChange: () => void }) {
    this.#setStatus = opts.setStatus;
    this.#onChange = opts.onChange;
    $('leave').addEventListener('click', () => void this.leave());
    $('copyInvite').addEventListener('click', () => void this.#copyInvite());
    this.#toggleAudio.addEventListener('click', () => void this.#toggle('audio'));
    this.#toggleVideo.addEventListener('click', () => void this.#toggle('video'));
  }

  get session(): RoomSession | undefined {
    return this.#session;
  }

  /** In a room, or getting there. */
  get active(): boolean {
    return this.#session !== undefined || this.#joining;
  }

  /** `invite` (from an invite link) lets this user into someone else's room. */
  async join(room: string, displayName: string, auth: TokenSource, invite?: string): Promise<void> {
    this.#joining = true;
    try {
      this.#setStatus('Getting camera and microphone…');
      this.#localStream = await navigator.mediaDevices.getUserMedia({
        audio: true,
        video: { width: 640, height: 480 },
      });
      this.#localVideo.srcObject = this.#localStream;
      this.#setStatus('Connecting…');
      const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
      const s = await RoomSession.join({ url: wsUrl, ...auth, room, displayName, invite });
      this.#session = s;
      this.#wire(s, room);
      for (const peer of s.peers.values()) this.#tileFor(peer.peerId, peer.displayName);
      for (const t of s.remoteTracks.values()) this.#attach(t);
      this.#resetToggles();
      this.#onChange();
      this.#setStatus(`In ${room}`);
      await s.publish({
        audio: this.#localStream.getAudioTracks()[0],
        video: this.#localStream.getVideoTracks()[0],
      });
    } catch (err) {
      const joined = this.#session;
      this.#cleanUp('Not connected');
      void joined?.leave();
      throw err;
    } finally {
      this.#joining = false;
      this.#onChange();
    }
  }

  async leave(): Promise<void> {
    await this.#session?.leave();
  }

  /**
   * Shows an invite link to this room and copies it to the clipboard. The link stays on screen, as
   * the browser may refuse the clipboard (no permission, or the page not focused).
   */
  async #copyInvite(): Promise<void> {
    const s = this.#session;
    if (!s) return;
    const button = $<HTMLButtonElement>('copyInvite');
    button.disabled = true;
    try {
      const { invite } = await s.createInvite();
      const link = roomInviteLink(location.href.split('#')[0]!, s.room, invite);
      $<HTMLInputElement>('inviteLink').value = link;
      $('inviteInfo').hidden = false;
      const copied = await navigator.clipboard?.writeText(link).then(
        () => true,
        () => false,
      );
      this.#setStatus(copied ? 'Invite link copied' : 'Invite link ready to copy');
    } catch (err) {
      this.#setStatus(`No invite link: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      button.disabled = false;
    }
  }

  #wire(s: RoomSession, room: string): void {
    s.on('peerJoined', (p) => this.#tileFor(p.peerId, p.displayName));
    s.on('peerLeft', (peerId) => this.#tileElement(peerId)?.remove());
    s.on('track', (t) => this.#attach(t));
    s.on('trackEnded', (t) => this.#detach(t));
    s.on('activeSpeaker', (peerId) => {
      for (const tile of this.#tiles.querySelectorAll<HTMLElement>('.tile')) {
        tile.classList.toggle('speaking', peerId !== null && tile.dataset.peerId === peerId);
      }
    });
    s.on('transportState', (direction, state) => this.#setStatus(`In ${room} · ${direction} ${state}`));
    s.on('reconnecting', (attempt) =>
      this.#setStatus(`Reconnecting to ${room}${attempt > 1 ? ` (attempt ${attempt})` : ''}…`),
    );
    s.on('reconnected', () => this.#setStatus(`In ${room}`));
    s.on('closed', (reason) => {
      $('inviteInfo').hidden = true;
      if (this.#session === s) this.#cleanUp(reason === 'left' ? 'Left the room' : `Disconnected: ${reason}`);
    });
    s.on('error', (err) => console.warn('call error', err));
  }

  #tileElement(peerId: string): HTMLElement | null {
    return this.#tiles.querySelector<HTMLElement>(`.tile[data-peer-id="${CSS.escape(peerId)}"]`);
  }

  #tileFor(peerId: string, displayName: string): HTMLElement {
    let tile = this.#tileElement(peerId);
    if (!tile) {
      tile = document.createElement('figure');
      tile.className = 'tile remote';
      tile.dataset.peerId = peerId;
      const video = document.createElement('video');
      video.autoplay = true;
      video.playsInline = true;
      video.muted = true; // audio plays through its own element so video autoplay is never blocked
      const audio = document.createElement('audio');
      audio.autoplay = true;
      const caption = document.createElement('figcaption');
      caption.textContent = displayName;
      tile.append(video, audio, caption);
      this.#tiles.append(tile);
    }
    return tile;
  }

  #attach(t: RemoteTrack): void {
    const peer = this.#session?.peers.get(t.peerId);
    const tile = this.#tileFor(t.peerId, peer?.displayName ?? 'Guest');
    const el = tile.querySelector<HTMLMediaElement>(t.kind === 'video' ? 'video' : 'audio')!;
    el.srcObject = new MediaStream([t.track]);
    el.play().catch(() => undefined);
  }

  #detach(t: RemoteTrack): void {
    const el = this.#tileElement(t.peerId)?.querySelector<HTMLMediaElement>(
      t.kind === 'video' ? 'video' : 'audio',
    );
    if (el) el.srcObject = null;
  }

  async #toggle(kind: 'audio' | 'video'): Promise<void> {
    const button = kind === 'audio' ? this.#toggleAudio : this.#toggleVideo;
    const on = button.getAttribute('aria-pressed') !== 'true';
    await this.#session?.setMuted(kind, on);
    button.setAttribute('aria-pressed', String(on));
    if (kind === 'audio') button.textContent = on ? 'Unmute microphone' : 'Mute microphone';
    else button.textContent = on ? 'Turn camera on' : 'Turn camera off';
  }

  #resetToggles(): void {
    this.#toggleAudio.setAttribute('aria-pressed', 'false');
    this.#toggleAudio.textContent = 'Mute microphone';
    this.#toggleVideo.setAttribute('aria-pressed', 'false');
    this.#toggleVideo.textContent = 'Turn camera off';
  }

  #cleanUp(message: string): void {
    this.#session = undefined;
    for (const t of this.#localStream?.getTracks() ?? []) t.stop();
    this.#localStream = undefined;
    this.#localVideo.srcObject = null;
    for (const tile of this.#tiles.querySelectorAll('.tile.remote')) tile.remove();
    this.#setStatus(message);
    this.#onChange();
  }
}
