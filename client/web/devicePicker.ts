/**
 * Camera, microphone and speaker choice: three selects filled from `enumerateDevices`, a preview of
 * the chosen camera before any call, the choice remembered in localStorage and used for the next
 * call's `getUserMedia`; during a call a new choice is switched in place (`Call.switchDevice`,
 * replaceTrack: the call goes on) and the speaker is applied with `setSinkId` on every remote
 * audio element. The panel is one element that moves to where it is used (contacts or call screen).
 */
import type { AnyCall, CallMedia } from '@calling/sdk';
import { $, showError } from './dom.js';

const STORAGE_KEY = 'calls.devices';

type Kind = 'audioinput' | 'videoinput' | 'audiooutput';

interface Chosen {
  audioinput?: string;
  videoinput?: string;
  audiooutput?: string;
}

/** `setSinkId` where the browser has it (not in every browser's typings). */
type SinkElement = HTMLMediaElement & { setSinkId?: (id: string) => Promise<void> };

export class DevicePicker {
  readonly #panel = $('devicePanel');
  readonly #preview = $<HTMLVideoElement>('devicePreview');
  readonly #error = $('deviceError');
  readonly #selects: Record<Kind, HTMLSelectElement> = {
    audioinput: $<HTMLSelectElement>('micSelect'),
    videoinput: $<HTMLSelectElement>('cameraSelect'),
    audiooutput: $<HTMLSelectElement>('speakerSelect'),
  };
  #chosen: Chosen = load();
  #previewStream: MediaStream | undefined;
  /** The call whose tracks a new choice switches, while there is one. */
  #call: AnyCall | undefined;

  constructor() {
    for (const kind of Object.keys(this.#selects) as Kind[]) {
      this.#selects[kind].addEventListener('change', () => void this.#choose(kind));
    }
    navigator.mediaDevices?.addEventListener('devicechange', () => void this.refresh());
    // Without `setSinkId` (Firefox, Safari) the speaker is the system's.
    $('speakerLabel').hidden = !('setSinkId' in HTMLMediaElement.prototype);
  }

  /** Camera and microphone for a call, from the chosen devices (falling back to any). */
  async getUserMedia(media: CallMedia): Promise<MediaStream> {
    const pick = (id: string | undefined): MediaTrackConstraints => (id ? { deviceId: { ideal: id } } : {});
    return navigator.mediaDevices.getUserMedia({
      audio: pick(this.#chosen.audioinput),
      video: media === 'video' ? { width: 640, height: 480, ...pick(this.#chosen.videoinput) } : false,
    });
  }

  /** Shows the panel inside `container`; with `preview`, the chosen camera plays in it. */
  async open(container: HTMLElement, opts: { preview: boolean; call?: AnyCall }): Promise<void> {
    container.append(this.#panel);
    this.#panel.hidden = false;
    this.#call = opts.call;
    showError(this.#error, '');
    if (opts.preview) await this.#startPreview();
    else this.#stopPreview();
    await this.refresh();
  }

  close(): void {
    this.#panel.hidden = true;
    this.#call = undefined;
    this.#stopPreview();
  }

  get isOpen(): boolean {
    return !this.#panel.hidden;
  }

  /** Plays remote audio through the chosen speaker. */
  applySink(el: HTMLMediaElement): void {
    const id = this.#chosen.audiooutput;
    const sink = el as SinkElement;
    if (id && sink.setSinkId) sink.setSinkId(id).catch((err: unknown) => console.warn('speaker', err));
  }

  /** Fills the selects (labels appear once the page had camera/microphone permission). */
  async refresh(): Promise<void> {
    let devices: MediaDeviceInfo[];
    try {
      devices = await navigator.mediaDevices.enumerateDevices();
    } catch (err) {
      showError(this.#error, `Cannot list devices: ${String(err)}`);
      return;
    }
    for (const kind of Object.keys(this.#selects) as Kind[]) {
      const select = this.#selects[kind];
      const list = devices.filter((d) => d.kind === kind && d.deviceId);
      const inUse = this.#inUse(kind) ?? this.#chosen[kind];
      select.replaceChildren(
        ...list.map((d, i) => {
          const option = document.createElement('option');
          option.value = d.deviceId;
          option.textContent = d.label || `${KIND_NAMES[kind]} ${i + 1}`;
          option.selected = d.deviceId === inUse;
          return option;
        }),
      );
      select.disabled = list.length === 0;
    }
  }

  /** The device of the call's current track of this kind, if the browser says. */
  #inUse(kind: Kind): string | undefined {
    const stream = this.#call?.localStream ?? this.#previewStream;
    const track =
      kind === 'audioinput'
        ? stream?.getAudioTracks()[0]
        : kind === 'videoinput'
          ? stream?.getVideoTracks()[0]
          : undefined;
    return track?.getSettings().deviceId;
  }

  async #choose(kind: Kind): Promise<void> {
    const id = this.#selects[kind].value;
    this.#chosen = { ...this.#chosen, [kind]: id };
    save(this.#chosen);
    showError(this.#error, '');
    try {
      if (kind === 'audiooutput') {
        for (const el of document.querySelectorAll<HTMLMediaElement>('audio')) this.applySink(el);
        return;
      }
      const call = this.#call;
      if (call && !call.isOver() && call.localStream) {
        // Video only in a video call: an audio call has no camera to switch.
        if (kind === 'videoinput' && call.media !== 'video') return;
        await call.switchDevice(kind === 'audioinput' ? 'audio' : 'video', id);
      } else if (this.#previewStream && kind === 'videoinput') {
        await this.#startPreview();
      }
    } catch (err) {
      showError(this.#error, `Could not switch: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  async #startPreview(): Promise<void> {
    this.#stopPreview();
    try {
      const id = this.#chosen.videoinput;
      this.#previewStream = await navigator.mediaDevices.getUserMedia({
        video: { width: 640, height: 480, ...(id ? { deviceId: { ideal: id } } : {}) },
      });
      this.#preview.srcObject = this.#previewStream;
      this.#preview.hidden = false;
    } catch (err) {
      showError(this.#error, `No camera preview: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  #stopPreview(): void {
    for (const t of this.#previewStream?.getTracks() ?? []) t.stop();
    this.#previewStream = undefined;
    this.#preview.srcObject = null;
    this.#preview.hidden = true;
  }
}

const KIND_NAMES: Record<Kind, string> = {
  audioinput: 'Microphone',
  videoinput: 'Camera',
  audiooutput: 'Speaker',
};

function load(): Chosen {
  try {
    const raw: unknown = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}');
    if (!raw || typeof raw !== 'object') return {};
    const out: Chosen = {};
    for (const kind of ['audioinput', 'videoinput', 'audiooutput'] as const) {
      const v = (raw as Record<string, unknown>)[kind];
      if (typeof v === 'string') out[kind] = v;
    }
    return out;
  } catch {
    return {};
  }
}

function save(chosen: Chosen): void {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(chosen));
  } catch {
    // storage full or disabled: the choice lasts for this page only
  }
}
