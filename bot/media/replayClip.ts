/**
 * The pre-encoded clip every replay bot loops over, loaded once per process and shared: VP8
 * frames already sliced for RTP, Opus packets with their durations.
 */
import { readFile } from 'node:fs/promises';
import { BotError } from '../errors.js';
import { opusPacketSamples } from '../rtp/opusToc.js';
import { isVp8Keyframe, sliceFrame, VP8_DESCRIPTOR_BYTES } from '../rtp/vp8Payload.js';
import { RTP_HEADER_BYTES } from '../rtp/rtpPacket.js';
import type { MediaFiles } from './generateMedia.js';
import { parseIvf } from './ivf.js';
import { oggOpusPackets } from './ogg.js';

/** Largest RTP packet we send; leaves room for SRTP's auth tag and IP/UDP under a 1280 MTU. */
export const MAX_RTP_PACKET_BYTES = 1200;
export const VIDEO_CLOCK_RATE = 90_000;
export const AUDIO_CLOCK_RATE = 48_000;

export interface ClipVideoFrame {
  slices: Uint8Array[];
  keyframe: boolean;
  /** Time until the next frame, in 90 kHz ticks. */
  durationTicks: number;
  bytes: number;
}

export interface ClipAudioPacket {
  data: Uint8Array;
  /** Duration in 48 kHz samples. */
  samples: number;
}

export interface ReplayClip {
  width: number;
  height: number;
  video: ClipVideoFrame[];
  audio: ClipAudioPacket[];
}

export async function loadReplayClip(files: MediaFiles): Promise<ReplayClip> {
  const [ivfBytes, oggBytes] = await Promise.all([readFile(files.videoPath), readFile(files.audioPath)]);
  const ivf = parseIvf(ivfBytes);
  if (ivf.fourcc !== 'VP80') throw new BotError('MEDIA_FILES', `expected VP8 in IVF, got ${ivf.fourcc}`);
  if (ivf.frames.length === 0 || ivf.timebaseDen === 0) throw new BotError('MEDIA_FILES', 'empty IVF file');
  const ticksPerPts = (VIDEO_CLOCK_RATE * ivf.timebaseNum) / ivf.timebaseDen;
  const maxSlice = MAX_RTP_PACKET_BYTES - RTP_HEADER_BYTES - VP8_DESCRIPTOR_BYTES;
  const video = ivf.frames.map((f, i): ClipVideoFrame => {
    const next = ivf.frames[i + 1] ?? ivf.frames[i - 1];
    const ptsDelta = next ? Math.abs(next.pts - f.pts) || 1 : 1;
    return {
      slices: sliceFrame(f.data, maxSlice),
      keyframe: isVp8Keyframe(f.data),
      durationTicks: Math.round(ptsDelta * ticksPerPts),
      bytes: f.data.length,
    };
  });
  // The sender starts (and loops back) at frame 0, which must be decodable on its own.
  if (!video[0]!.keyframe) throw new BotError('MEDIA_FILES', 'the clip does not start with a keyframe');

  const audio = oggOpusPackets(oggBytes)
    .map((data) => ({ data, samples: opusPacketSamples(data) }))
    .filter((p) => p.samples > 0);
  if (audio.length === 0) throw new BotError('MEDIA_FILES', 'no Opus packets in the Ogg file');
  return { width: ivf.width, height: ivf.height, video, audio };
}
