/**
 * Sends the pre-encoded clip as RTP in real time: Opus packets every 20 ms and VP8 frames at the
 * clip's frame rate, timestamps and sequence numbers continuing across loops. Starts on a
 * keyframe; a keyframe request (PLI/FIR) makes the next frame sent the clip's next keyframe.
 */
import { AUDIO_CLOCK_RATE, VIDEO_CLOCK_RATE, type ReplayClip } from '../../media/replayClip.js';
import { buildRtpPacket } from '../../rtp/rtpPacket.js';
import { vp8Descriptor } from '../../rtp/vp8Payload.js';
import type { TickerLike, Tickable } from '../mediaTicker.js';

export interface SendStream {
  ssrc: number;
  payloadType: number;
  /** Returns false when the packet could not be handed to the transport. */
  send(packet: Buffer): boolean;
}

export interface SentCounters {
  packets: number;
  bytes: number;
  failed: number;
  keyframeRequests: number;
}

/** After a stall longer than this (event loop blocked), skip ahead instead of bursting. */
const MAX_LAG_MS = 200;
/** Bounds the work of one tick even if the clock jumps. */
const MAX_AUDIO_PER_TICK = 12;

const random32 = (): number => Math.floor(Math.random() * 0x1_0000_0000);
const random16 = (): number => Math.floor(Math.random() * 0x1_0000);

export class ReplaySender implements Tickable {
  readonly #clip: ReplayClip;
  readonly #audio: SendStream;
  readonly #video: SendStream;
  readonly #ticker: TickerLike;
  readonly counters: SentCounters = { packets: 0, bytes: 0, failed: 0, keyframeRequests: 0 };
  #running = false;
  #audioIndex = 0;
  #audioSeq = random16();
  #audioTs = random32();
  #audioDueAt = 0;
  #videoIndex = 0;
  #videoSeq = random16();
  #videoTs = random32();
  #videoDueAt = 0;
  #pictureId = random16() & 0x7fff;
  #keyframeWanted = false;

  constructor(clip: ReplayClip, audio: SendStream, video: SendStream, ticker: TickerLike) {
    this.#clip = clip;
    this.#audio = audio;
    this.#video = video;
    this.#ticker = ticker;
  }

  start(nowMs: number = performance.now()): void {
    if (this.#running) return;
    this.#running = true;
    this.#audioDueAt = nowMs;
    this.#videoDueAt = nowMs;
    this.#videoIndex = 0; // frame 0 is a keyframe (checked when the clip was loaded)
    this.#ticker.add(this);
  }

  stop(): void {
    this.#running = false;
    this.#ticker.remove(this);
  }

  requestKeyframe(): void {
    this.counters.keyframeRequests++;
    this.#keyframeWanted = true;
  }

  tick(nowMs: number): void {
    if (!this.#running) return;
    this.#sendAudio(nowMs);
    this.#sendVideo(nowMs);
  }

  #sendAudio(now: number): void {
    const lag = now - this.#audioDueAt;
    if (lag > MAX_LAG_MS) {
      // Keep the RTP clock true to wall time across the gap, as a real sender's would be.
      this.#audioTs = (this.#audioTs + Math.round((lag * AUDIO_CLOCK_RATE) / 1000)) >>> 0;
      this.#audioDueAt = now;
    }
    for (let n = 0; n < MAX_AUDIO_PER_TICK && now >= this.#audioDueAt; n++) {
      const packet = this.#clip.audio[this.#audioIndex]!;
      this.#emit(
        this.#audio,
        buildRtpPacket(
          {
            payloadType: this.#audio.payloadType,
            sequenceNumber: this.#audioSeq,
            timestamp: this.#audioTs,
            ssrc: this.#audio.ssrc,
            marker: false,
          },
          packet.data,
        ),
      );
      this.#audioSeq = (this.#audioSeq + 1) & 0xffff;
      this.#audioTs = (this.#audioTs + packet.samples) >>> 0;
      this.#audioDueAt += (packet.samples * 1000) / AUDIO_CLOCK_RATE;
      this.#audioIndex = (this.#audioIndex + 1) % this.#clip.audio.length;
    }
  }

  #sendVideo(now: number): void {
    if (now < this.#videoDueAt) return;
    const lag = now - this.#videoDueAt;
    if (lag > MAX_LAG_MS) {
      this.#videoTs = (this.#videoTs + Math.round((lag * VIDEO_CLOCK_RATE) / 1000)) >>> 0;
      this.#videoDueAt = now;
      // Frames were skipped, so the decoder's reference chain is broken: restart on a keyframe.
      this.#keyframeWanted = true;
    }
    if (this.#keyframeWanted) {
      this.#keyframeWanted = false;
      this.#videoIndex = this.#nextKeyframe(this.#videoIndex);
    }
    const frame = this.#clip.video[this.#videoIndex]!;
    const last = frame.slices.length - 1;
    frame.slices.forEach((slice, i) => {
      this.#emit(
        this.#video,
        buildRtpPacket(
          {
            payloadType: this.#video.payloadType,
            sequenceNumber: this.#videoSeq,
            timestamp: this.#videoTs,
            ssrc: this.#video.ssrc,
            marker: i === last,
          },
          vp8Descriptor(i === 0, this.#pictureId),
          slice,
        ),
      );
      this.#videoSeq = (this.#videoSeq + 1) & 0xffff;
    });
    this.#pictureId = (this.#pictureId + 1) & 0x7fff;
    this.#videoTs = (this.#videoTs + frame.durationTicks) >>> 0;
    this.#videoDueAt += (frame.durationTicks * 1000) / VIDEO_CLOCK_RATE;
    this.#videoIndex = (this.#videoIndex + 1) % this.#clip.video.length;
  }

  /** The first keyframe at or after `from`, wrapping (frame 0 always is one). */
  #nextKeyframe(from: number): number {
    const frames = this.#clip.video;
    for (let i = 0; i < frames.length; i++) {
      const idx = (from + i) % frames.length;
      if (frames[idx]!.keyframe) return idx;
    }
    return 0;
  }

  #emit(stream: SendStream, packet: Buffer): void {
    let ok = false;
    try {
      ok = stream.send(packet);
    } catch {
      ok = false;
    }
    if (ok) {
      this.counters.packets++;
      this.counters.bytes += packet.length;
    } else this.counters.failed++;
  }
}
