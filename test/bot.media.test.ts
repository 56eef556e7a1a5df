/**
 * The replay engine's media path without a network: RTP/RTCP/VP8/Opus bytes, the IVF and Ogg
 * readers on a clip ffmpeg really encoded, and the sender's pacing and keyframe handling.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { Tickable, TickerLike } from '../bot/engine/mediaTicker.js';
import { ReplaySender, type SendStream } from '../bot/engine/replay/replaySender.js';
import { ensureMediaFiles } from '../bot/media/generateMedia.js';
import { parseIvf } from '../bot/media/ivf.js';
import { loadReplayClip, MAX_RTP_PACKET_BYTES, type ReplayClip } from '../bot/media/replayClip.js';
import { opusPacketSamples } from '../bot/rtp/opusToc.js';
import { buildPli, keyframeRequestSsrcs } from '../bot/rtp/rtcpFeedback.js';
import { buildRtpPacket, isRtcp, parseRtp } from '../bot/rtp/rtpPacket.js';
import { isVp8Keyframe, parseVp8Descriptor, sliceFrame, vp8Descriptor } from '../bot/rtp/vp8Payload.js';

describe('RTP and RTCP bytes', () => {
  it('builds and parses an RTP packet from several payload parts', () => {
    const packet = buildRtpPacket(
      { payloadType: 96, sequenceNumber: 65535, timestamp: 2 ** 32 - 1, ssrc: 0xdeadbeef, marker: true },
      Buffer.from([1, 2]),
      Buffer.from([3]),
    );
    expect(packet.length).toBe(15);
    expect(parseRtp(packet)).toEqual({
      payloadType: 96,
      sequenceNumber: 65535,
      timestamp: 2 ** 32 - 1,
      ssrc: 0xdeadbeef,
      marker: true,
      payloadOffset: 12,
      payloadLength: 3,
    });
  });

  it('skips CSRCs, header extensions and padding', () => {
    const p = Buffer.alloc(12 + 4 + 8 + 3 + 2);
    p[0] = 0x80 | 0x20 | 0x10 | 1; // padding, extension, one CSRC
    p[1] = 100;
    p.writeUInt16BE(1, 16 + 2); // extension length: 1 word
    p[p.length - 1] = 2; // two bytes of padding
    expect(parseRtp(p)).toMatchObject({ payloadOffset: 24, payloadLength: 3 });
  });

  it('tells RTCP from RTP (RFC 5761) and finds PLI and FIR targets in compound packets', () => {
    const rr = Buffer.from([0x80, 201, 0, 1, 0, 0, 0, 9]); // empty receiver report
    const pli = buildPli(9, 1234);
    const fir = Buffer.alloc(20);
    fir[0] = 0x84;
    fir[1] = 206;
    fir.writeUInt16BE(4, 2);
    fir.writeUInt32BE(5678, 12);
    const compound = Buffer.concat([rr, pli, fir]);
    expect(isRtcp(compound)).toBe(true);
    expect(
      isRtcp(buildRtpPacket({ payloadType: 96, sequenceNumber: 1, timestamp: 1, ssrc: 1, marker: true })),
    ).toBe(false);
    expect(keyframeRequestSsrcs(compound)).toEqual([1234, 5678]);
    expect(keyframeRequestSsrcs(rr)).toEqual([]);
    expect(keyframeRequestSsrcs(Buffer.from([0x81, 206, 0, 40]))).toEqual([]); // length beyond the packet
  });

  it('writes and reads the VP8 payload descriptor with a 15-bit PictureID', () => {
    expect(parseVp8Descriptor(vp8Descriptor(true, 0x1234))).toEqual({
      startOfFrame: true,
      partitionId: 0,
      pictureId: 0x1234,
      length: 4,
    });
    expect(parseVp8Descriptor(vp8Descriptor(false, 7))?.startOfFrame).toBe(false);
    expect(isVp8Keyframe(Buffer.from([0x10]))).toBe(true);
    expect(isVp8Keyframe(Buffer.from([0x11]))).toBe(false);
  });

  it('slices a frame into equal parts no larger than the limit', () => {
    const slices = sliceFrame(Buffer.alloc(2500), 1000);
    expect(slices.map((s) => s.length)).toEqual([834, 834, 832]);
    expect(sliceFrame(Buffer.alloc(10), 1000).map((s) => s.length)).toEqual([10]);
  });

  it('reads Opus packet durations from the TOC byte', () => {
    expect(opusPacketSamples(Buffer.from([31 << 3]))).toBe(960); // CELT 20 ms
    expect(opusPacketSamples(Buffer.from([1 << 3]))).toBe(960); // SILK 20 ms
    expect(opusPacketSamples(Buffer.from([(15 << 3) | 1]))).toBe(1920); // hybrid 20 ms × 2
    expect(opusPacketSamples(Buffer.from([(31 << 3) | 3, 3]))).toBe(2880); // 3 frames
  });

  it('rejects files that are not IVF', () => {
    expect(() => parseIvf(Buffer.from('not an ivf file at all, just text'))).toThrow(
      expect.objectContaining({ code: 'MEDIA_FILES' }),
    );
  });
});

describe('the replay clip (ffmpeg-encoded)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bot-media-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('encodes, caches and loads VP8 frames and Opus packets', async () => {
    const spec = { width: 160, height: 120, fps: 10, videoKbps: 200, gopSeconds: 1, seconds: 3 };
    const files = await ensureMediaFiles(spec, dir);
    expect(await ensureMediaFiles(spec, dir)).toEqual(files); // second call: cached
    const clip = await loadReplayClip(files);
    expect(clip).toMatchObject({ width: 160, height: 120 });
    expect(clip.video).toHaveLength(30);
    // A keyframe every gopSeconds × fps frames, starting with the first.
    expect(clip.video.flatMap((f, i) => (f.keyframe ? [i] : []))).toEqual([0, 10, 20]);
    expect(clip.video.every((f) => f.durationTicks === 9000)).toBe(true);
    for (const f of clip.video) {
      expect(Math.max(...f.slices.map((s) => s.length))).toBeLessThanOrEqual(MAX_RTP_PACKET_BYTES - 16);
    }
    expect(clip.audio.length).toBeGreaterThanOrEqual(149);
    expect(clip.audio.every((p) => p.samples === 960)).toBe(true);
  }, 30_000);
});

/** A ticker the test advances by hand. */
class ManualTicker implements TickerLike {
  readonly subs = new Set<Tickable>();
  add(s: Tickable): void {
    this.subs.add(s);
  }
  remove(s: Tickable): void {
    this.subs.delete(s);
  }
  run(fromMs: number, toMs: number, stepMs = 10): void {
    for (let t = fromMs; t <= toMs; t += stepMs) for (const s of this.subs) s.tick(t);
  }
}

function capture(ssrc: number, payloadType: number): SendStream & { packets: Buffer[] } {
  const packets: Buffer[] = [];
  return { ssrc, payloadType, packets, send: (p) => (packets.push(p), true) };
}

/** 20 fps, keyframes at 0 and 5; each frame's first byte encodes its type, the second its index. */
function syntheticClip(): ReplayClip {
  return {
    width: 2,
    height: 2,
    video: Array.from({ length: 10 }, (_, i) => {
      const keyframe = i % 5 === 0;
      const frame = Buffer.from([keyframe ? 0x10 : 0x11, i, 0, 0]);
      return { slices: [frame.subarray(0, 2), frame.subarray(2)], keyframe, durationTicks: 4500, bytes: 4 };
    }),
    audio: [{ data: Buffer.from([0xf8, 1]), samples: 960 }],
  };
}

describe('ReplaySender', () => {
  const videoOf = (packets: Buffer[]) =>
    packets.map((p) => {
      const rtp = parseRtp(p)!;
      const payload = p.subarray(rtp.payloadOffset);
      const d = parseVp8Descriptor(payload)!;
      return { rtp, d, body: payload.subarray(d.length) };
    });

  it('paces audio at 50 packets/s and video at the clip rate, starting on a keyframe', () => {
    const ticker = new ManualTicker();
    const audio = capture(1, 111);
    const video = capture(2, 96);
    const sender = new ReplaySender(syntheticClip(), audio, video, ticker);
    sender.start(0);
    ticker.run(0, 990);
    expect(audio.packets).toHaveLength(50);
    const v = videoOf(video.packets);
    expect(v).toHaveLength(2 * 20); // 20 frames, 2 packets each
    expect(v[0]!.d.startOfFrame).toBe(true);
    expect(isVp8Keyframe(v[0]!.body)).toBe(true);
    // Sequence numbers continue without gaps (mod 2^16), timestamps step 4500 per frame.
    for (let i = 1; i < v.length; i++) {
      expect(v[i]!.rtp.sequenceNumber).toBe((v[i - 1]!.rtp.sequenceNumber + 1) & 0xffff);
    }
    expect((v[2]!.rtp.timestamp - v[0]!.rtp.timestamp) >>> 0).toBe(4500);
    // Marker on the last packet of each frame only; S bit on the first; one PictureID per frame.
    expect(v.map((x) => x.rtp.marker)).toEqual(v.map((_, i) => i % 2 === 1));
    expect(v.map((x) => x.d.startOfFrame)).toEqual(v.map((_, i) => i % 2 === 0));
    expect(v[0]!.d.pictureId).toBe(v[1]!.d.pictureId);
    expect(v[2]!.d.pictureId).toBe(((v[0]!.d.pictureId ?? 0) + 1) & 0x7fff);
    // It loops over the clip: frame index 0..9, 0..9.
    expect(v.filter((x) => x.d.startOfFrame).map((x) => x.body[1])).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
    ]);
    sender.stop();
    expect(ticker.subs.size).toBe(0);
  });

  it('answers a keyframe request by jumping to the next keyframe', () => {
    const ticker = new ManualTicker();
    const video = capture(2, 96);
    const sender = new ReplaySender(syntheticClip(), capture(1, 111), video, ticker);
    sender.start(0);
    ticker.run(0, 100); // frames 0, 1, 2
    sender.requestKeyframe();
    ticker.run(110, 200); // next frames: 5 (keyframe), 6
    const frames = videoOf(video.packets)
      .filter((x) => x.d.startOfFrame)
      .map((x) => x.body[1]);
    expect(frames).toEqual([0, 1, 2, 5, 6]);
    expect(sender.counters.keyframeRequests).toBe(1);
  });

  it('skips ahead after a stall instead of bursting, and restarts video on a keyframe', () => {
    const ticker = new ManualTicker();
    const audio = capture(1, 111);
    const video = capture(2, 96);
    const sender = new ReplaySender(syntheticClip(), audio, video, ticker);
    sender.start(0);
    ticker.run(0, 60); // frames 0..1
    ticker.run(2000, 2000); // the event loop was blocked for ~2 s
    expect(audio.packets.length).toBeLessThan(20);
    const frames = videoOf(video.packets).filter((x) => x.d.startOfFrame);
    expect(isVp8Keyframe(frames.at(-1)!.body)).toBe(true);
    // The RTP clock still follows wall time across the stall.
    const gap = (frames.at(-1)!.rtp.timestamp - frames.at(-2)!.rtp.timestamp) >>> 0;
    expect(gap).toBeGreaterThan(90 * 1800);
  });
});
