/**
 * A camera and a microphone for the real engine, fed through wrtc's nonstandard sources:
 * I420 frames of a moving pattern (so the encoder has real motion to code, not a still) and a
 * 440 Hz tone in 10 ms chunks, both paced by the shared media ticker.
 */
import type { TickerLike, Tickable } from '../mediaTicker.js';
import { RTCAudioSource, RTCVideoSource } from './wrtcGlobals.js';

const MAX_LAG_MS = 200;
const SAMPLE_RATE = 48_000;
const CHUNK_SAMPLES = SAMPLE_RATE / 100; // wrtc wants exactly 10 ms per onData call

export interface VideoSpec {
  width: number;
  height: number;
  fps: number;
}

export class SyntheticCamera implements Tickable {
  readonly track: MediaStreamTrack;
  readonly #source = new RTCVideoSource();
  readonly #spec: VideoSpec;
  readonly #base: Uint8Array;
  readonly #frame: Uint8Array;
  #dueAt = 0;
  #n = 0;

  constructor(spec: VideoSpec) {
    // wrtc requires even dimensions for I420 (chroma is subsampled 2×2).
    this.#spec = { ...spec, width: spec.width & ~1, height: spec.height & ~1 };
    const { width, height } = this.#spec;
    this.#base = new Uint8Array((width * height * 3) / 2);
    // A static vertical luma gradient, neutral chroma.
    for (let y = 0; y < height; y++)
      this.#base.fill(32 + Math.floor((y / height) * 160), y * width, (y + 1) * width);
    this.#base.fill(128, width * height);
    this.#frame = new Uint8Array(this.#base.length);
    this.track = this.#source.createTrack();
  }

  tick(now: number): void {
    if (now < this.#dueAt) return;
    this.#dueAt = now - this.#dueAt > MAX_LAG_MS ? now : this.#dueAt;
    this.#dueAt += 1000 / this.#spec.fps;
    const { width, height } = this.#spec;
    this.#frame.set(this.#base);
    // A bright bar sweeping right and a dark one sweeping down: motion in both directions.
    const barW = Math.max(2, width >> 4);
    const x0 = (this.#n * 8) % width;
    for (let y = 0; y < height; y++) {
      const row = y * width;
      this.#frame.fill(235, row + x0, row + Math.min(width, x0 + barW));
    }
    const y0 = (this.#n * 4) % height;
    this.#frame.fill(16, y0 * width, Math.min(height, y0 + (height >> 5)) * width);
    this.#n++;
    this.#source.onFrame({ width, height, data: this.#frame });
  }

  stop(): void {
    this.track.stop();
  }
}

export class SyntheticMicrophone implements Tickable {
  readonly track: MediaStreamTrack;
  readonly #source = new RTCAudioSource();
  readonly #chunk = new Int16Array(CHUNK_SAMPLES);
  #dueAt = 0;
  #sample = 0;

  constructor() {
    this.track = this.#source.createTrack();
  }

  tick(now: number): void {
    if (now - this.#dueAt > MAX_LAG_MS) this.#dueAt = now;
    // At most a few chunks per tick, so a stall never turns into a burst.
    for (let n = 0; n < 5 && now >= this.#dueAt; n++) {
      for (let i = 0; i < CHUNK_SAMPLES; i++, this.#sample++) {
        this.#chunk[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * this.#sample) / SAMPLE_RATE));
      }
      this.#sample %= SAMPLE_RATE; // 440 Hz completes whole cycles every second
      this.#source.onData({
        samples: this.#chunk,
        sampleRate: SAMPLE_RATE,
        channelCount: 1,
        bitsPerSample: 16,
      });
      this.#dueAt += 10;
    }
  }

  stop(): void {
    this.track.stop();
  }
}

/** Drives a camera and a microphone from the shared ticker. */
export class SyntheticMedia {
  readonly camera: SyntheticCamera;
  readonly microphone: SyntheticMicrophone;
  readonly #ticker: TickerLike;

  constructor(video: VideoSpec, ticker: TickerLike) {
    this.camera = new SyntheticCamera(video);
    this.microphone = new SyntheticMicrophone();
    this.#ticker = ticker;
    ticker.add(this.camera);
    ticker.add(this.microphone);
  }

  stop(): void {
    this.#ticker.remove(this.camera);
    this.#ticker.remove(this.microphone);
    this.camera.stop();
    this.microphone.stop();
  }
}
