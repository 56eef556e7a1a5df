/**
 * The in-call stage: one tile per person (video, or their photo when the camera is off or there is
 * no video — never a frozen last frame), a muted-microphone icon, the active speaker outlined, a
 * connection-quality badge, screen shares as large tiles, and the layout: a grid that fills the
 * screen for 1 to 9 people, a speaker view (the speaker large, the others in a strip) above that or
 * while someone shares a screen, and yourself as a small picture-in-picture tile.
 */
import type { CallParticipant, UserSummary } from '@calling/sdk';
import type { DevicePicker } from './devicePicker.js';
import type { PhotoLoader } from './photos.js';

/** The connection-quality levels of the SDK's `connectionQuality` event (network work, client/sdk/connectionQuality.ts). */
export type ConnectionQuality = 'excellent' | 'good' | 'poor' | 'lost';

/** Above this many people the grid turns into a speaker view. */
const GRID_MAX = 9;

const QUALITY_TEXT: Record<ConnectionQuality, string> = {
  excellent: 'Excellent connection',
  good: 'Good connection',
  poor: 'Poor connection',
  lost: 'Connection lost',
};

export class CallTiles {
  readonly #tiles: HTMLElement;
  readonly #photos: PhotoLoader;
  readonly #devices: DevicePicker;
  #speaker: string | null = null;
  /**
   * The last level per person ('self': you). Kept apart from the tiles because the SDK reports a
   * level once per change, which may come before the person's tile exists.
   */
  readonly #quality = new Map<string, ConnectionQuality>();
  /** Each remote tile's spoken summary without the quality, so a level change can re-label it. */
  readonly #labels = new WeakMap<HTMLElement, string>();

  constructor(tiles: HTMLElement, photos: PhotoLoader, devices: DevicePicker) {
    this.#tiles = tiles;
    this.#photos = photos;
    this.#devices = devices;
  }

  /** Draws the people on screen (in call order) and picks the layout. */
  render(present: CallParticipant[]): void {
    const keep = new Set(present.map((p) => p.userId));
    for (const tile of this.#tiles.querySelectorAll<HTMLElement>('.call-tile.remote'))
      if (!keep.has(tile.dataset.userId ?? '')) tile.remove();
    for (const tile of this.#tiles.querySelectorAll<HTMLElement>('.screen-tile'))
      if (!present.some((p) => p.userId === tile.dataset.userId && p.screen)) tile.remove();
    for (const p of present) {
      this.#renderPerson(p);
      if (p.screen) this.#renderScreen(p);
    }
    this.#layout(present.length);
  }

  /** Outlines the loudest person (a user id; null: nobody). */
  setSpeaker(userId: string | null): void {
    this.#speaker = userId;
    for (const tile of this.#tiles.querySelectorAll<HTMLElement>('.call-tile')) {
      const speaking = userId !== null && tile.dataset.userId === userId;
      tile.classList.toggle('speaking', speaking);
    }
    this.#layout(this.#tiles.querySelectorAll('.call-tile.remote').length);
  }

  /** Shows a connection-quality badge on a person's tile ('self': your own). */
  setQuality(userId: string | 'self', quality: ConnectionQuality): void {
    this.#quality.set(userId, quality);
    const tile =
      userId === 'self'
        ? this.#tiles.querySelector<HTMLElement>('.call-tile.local')
        : this.#remoteTile(userId);
    if (tile) this.#showQuality(tile, quality);
  }

  /** The badge (shown only when the link is poor or lost) and, on a person's tile, its spoken name. */
  #showQuality(tile: HTMLElement, quality: ConnectionQuality | undefined): void {
    const badge = tile.querySelector<HTMLElement>('.tile-quality');
    if (!badge) return;
    const flagged = quality === 'poor' || quality === 'lost';
    if (quality) {
      badge.dataset.quality = quality;
      badge.setAttribute('aria-label', QUALITY_TEXT[quality]);
      badge.title = QUALITY_TEXT[quality];
    } else {
      delete badge.dataset.quality;
      badge.removeAttribute('aria-label');
      badge.removeAttribute('title');
    }
    badge.hidden = !flagged;
    const label = this.#labels.get(tile);
    if (label !== undefined)
      tile.setAttribute('aria-label', flagged ? `${label}, ${QUALITY_TEXT[quality].toLowerCase()}` : label);
  }

  /** Your own tile: your camera, or your photo when it is off (or in an audio call). */
  renderSelf(opts: {
    stream: MediaStream | null;
    videoOff: boolean;
    audioMuted: boolean;
    me: UserSummary | null;
  }): void {
    const tile = this.#tiles.querySelector<HTMLElement>('.call-tile.local');
    if (!tile) return;
    const video = tile.querySelector('video')!;
    if (video.srcObject !== opts.stream) video.srcObject = opts.stream;
    tile.classList.toggle('no-video', opts.videoOff);
    tile.querySelector<HTMLElement>('.tile-muted')!.hidden = !opts.audioMuted;
    this.#showQuality(tile, this.#quality.get('self'));
    if (opts.me && tile.dataset.userId !== opts.me.userId) {
      tile.dataset.userId = opts.me.userId;
      this.#showPhoto(tile, opts.me);
    }
  }

  clear(): void {
    for (const tile of this.#tiles.querySelectorAll('.call-tile.remote, .screen-tile')) tile.remove();
    const local = this.#tiles.querySelector<HTMLElement>('.call-tile.local');
    if (local) delete local.dataset.userId;
    // The next call starts with no level known (its own SDK session reports afresh).
    this.#quality.clear();
    if (local) this.#showQuality(local, undefined);
    this.#speaker = null;
    this.#layout(0);
  }

  #renderPerson(p: CallParticipant): void {
    const tile = this.#remoteTile(p.userId) ?? this.#newTile(p);
    attach(tile.querySelector('video')!, p.video);
    const audio = tile.querySelector('audio')!;
    if (attach(audio, p.audio)) this.#devices.applySink(audio);
    // Camera off (paused) or no video yet: the photo, not a frozen frame.
    tile.classList.toggle('no-video', !p.video || p.videoOff);
    tile.classList.toggle('speaking', this.#speaker === p.userId);
    tile.dataset.state = p.state;
    tile.dataset.audio = p.audioMuted ? 'muted' : 'on';
    tile.dataset.video = p.videoOff ? 'off' : p.video ? 'on' : 'none';
    tile.querySelector<HTMLElement>('.tile-muted')!.hidden = !p.audioMuted;
    tile.querySelector('.tile-state')!.textContent =
      p.state === 'ringing'
        ? 'Ringing…'
        : p.state === 'calling'
          ? 'Calling…'
          : !p.audio && !p.video
            ? 'Connecting…'
            : p.videoOff && p.video
              ? 'Camera off'
              : '';
    this.#labels.set(tile, describe(p));
    this.#showQuality(tile, this.#quality.get(p.userId));
  }

  #renderScreen(p: CallParticipant): void {
    let tile = this.#tiles.querySelector<HTMLElement>(`.screen-tile[data-user-id="${CSS.escape(p.userId)}"]`);
    if (!tile) {
      tile = document.createElement('figure');
      tile.className = 'tile screen-tile';
      tile.dataset.userId = p.userId;
      const video = document.createElement('video');
      video.autoplay = true;
      video.playsInline = true;
      video.muted = true;
      const audio = document.createElement('audio');
      audio.autoplay = true;
      const caption = document.createElement('figcaption');
      caption.textContent = `${p.name}’s screen`;
      tile.append(video, audio, caption);
      // The screen goes first: the layout shows it large.
      this.#tiles.prepend(tile);
    }
    attach(tile.querySelector('video')!, p.screen);
    const audio = tile.querySelector('audio')!;
    if (attach(audio, p.screenAudio)) this.#devices.applySink(audio);
  }

  #layout(people: number): void {
    const sharing = this.#tiles.querySelector('.screen-tile') !== null;
    const layout = sharing ? 'screen' : people > GRID_MAX ? 'speaker' : 'grid';
    this.#tiles.dataset.layout = layout;
    this.#tiles.dataset.count = String(people);
    // Columns that fill the screen: 1, 2, 2×2, 3×3.
    const cols = people <= 1 ? 1 : people <= 4 ? 2 : 3;
    this.#tiles.style.setProperty('--cols', String(cols));
    // Speaker view: the loudest person (or the first) is featured; a shared screen is featured instead.
    const remote = [...this.#tiles.querySelectorAll<HTMLElement>('.call-tile.remote')];
    const featured =
      layout === 'speaker'
        ? (remote.find((t) => t.dataset.userId === this.#speaker) ?? remote[0])
        : undefined;
    for (const t of remote) t.classList.toggle('featured', t === featured);
  }

  #remoteTile(userId: string): HTMLElement | null {
    return this.#tiles.querySelector<HTMLElement>(`.call-tile.remote[data-user-id="${CSS.escape(userId)}"]`);
  }

  #newTile(p: CallParticipant): HTMLElement {
    const tile = document.createElement('figure');
    tile.className = 'tile call-tile remote';
    tile.dataset.userId = p.userId;
    tile.setAttribute('role', 'group');
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true; // audio plays through its own element so video autoplay is never blocked
    const audio = document.createElement('audio');
    audio.autoplay = true;
    const avatar = document.createElement('span');
    avatar.className = 'tile-avatar';
    avatar.setAttribute('aria-hidden', 'true');
    const img = document.createElement('img');
    img.alt = '';
    img.hidden = true;
    const initials = document.createElement('span');
    initials.className = 'initials';
    avatar.append(img, initials);
    const caption = document.createElement('figcaption');
    const name = document.createElement('span');
    name.className = 'tile-name';
    name.textContent = p.name;
    const muted = document.createElement('span');
    muted.className = 'tile-muted';
    muted.setAttribute('role', 'img');
    muted.setAttribute('aria-label', `${p.name}’s microphone is muted`);
    muted.textContent = '🔇';
    muted.hidden = true;
    const state = document.createElement('span');
    state.className = 'tile-state';
    const quality = document.createElement('span');
    quality.className = 'tile-quality';
    quality.setAttribute('role', 'img');
    quality.hidden = true;
    caption.append(name, ' ', muted, ' ', state, ' ', quality);
    tile.append(video, audio, avatar, caption);
    this.#tiles.append(tile);
    this.#showPhoto(tile, p);
    return tile;
  }

  #showPhoto(tile: HTMLElement, who: UserSummary): void {
    const img = tile.querySelector<HTMLImageElement>('.tile-avatar img')!;
    const initials = tile.querySelector<HTMLElement>('.tile-avatar .initials')!;
    // Photo URLs carry their version (?v=etag), so the URL itself identifies the picture.
    const photo = who.photo ? { ...who.photo, etag: who.photo.url } : null;
    void this.#photos.show(img, initials, photo, 'full', who.name);
  }
}

/** What a screen reader hears for a tile: "Alice, microphone muted, camera off". */
function describe(p: CallParticipant): string {
  const parts = [p.name];
  if (p.state === 'ringing') parts.push('ringing');
  if (p.audioMuted) parts.push('microphone muted');
  if (p.videoOff) parts.push('camera off');
  return parts.join(', ');
}

/** Plays `track` in `el` (once per track); returns true when it changed. */
function attach(el: HTMLMediaElement, track: MediaStreamTrack | null): boolean {
  if ((el.dataset.trackId ?? '') === (track?.id ?? '')) return false;
  el.dataset.trackId = track?.id ?? '';
  el.srcObject = track ? new MediaStream([track]) : null;
  if (track) el.play().catch(() => undefined);
  return true;
}
