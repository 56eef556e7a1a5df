/**
 * VP8 RTP payload (RFC 7741): splits an encoded frame into packet-sized slices and writes the
 * payload descriptor in front of each. The descriptor always carries a 15-bit PictureID, as
 * browsers send it, so the SFU sees the same shape of stream it gets from Chrome.
 */

/** X|R|N|S|R|PID + I-byte + 15-bit PictureID. */
export const VP8_DESCRIPTOR_BYTES = 4;

/** A VP8 frame is a keyframe when the P bit of its frame tag (RFC 6386 §9.1) is 0. */
export function isVp8Keyframe(frame: Uint8Array): boolean {
  return frame.length > 0 && (frame[0]! & 0x01) === 0;
}

/** Slices of `frame`, none larger than `maxSlice` bytes, in order (views, not copies). */
export function sliceFrame(frame: Uint8Array, maxSlice: number): Uint8Array[] {
  if (maxSlice <= 0) throw new RangeError('maxSlice must be positive');
  const count = Math.max(1, Math.ceil(frame.length / maxSlice));
  // Equal-sized slices (as libwebrtc does) rather than full ones and a runt at the end.
  const size = Math.ceil(frame.length / count);
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) out.push(frame.subarray(i * size, Math.min(frame.length, (i + 1) * size)));
  return out;
}

export function vp8Descriptor(startOfFrame: boolean, pictureId: number): Buffer {
  const d = Buffer.allocUnsafe(VP8_DESCRIPTOR_BYTES);
  d[0] = 0x80 | (startOfFrame ? 0x10 : 0); // X=1, S on the first packet, PID=0
  d[1] = 0x80; // I: PictureID present
  d[2] = 0x80 | ((pictureId >> 8) & 0x7f); // M=1: 15-bit PictureID
  d[3] = pictureId & 0xff;
  return d;
}

export interface Vp8DescriptorInfo {
  startOfFrame: boolean;
  partitionId: number;
  pictureId: number | undefined;
  /** Bytes before the VP8 payload proper. */
  length: number;
}

/** Parses a received descriptor, so a receiver can tell frame starts and keyframes apart. */
export function parseVp8Descriptor(payload: Uint8Array): Vp8DescriptorInfo | undefined {
  if (payload.length < 1) return undefined;
  const b0 = payload[0]!;
  let offset = 1;
  let pictureId: number | undefined;
  if (b0 & 0x80) {
    if (payload.length < 2) return undefined;
    const x = payload[1]!;
    offset = 2;
    if (x & 0x80) {
      if (payload.length < offset + 1) return undefined;
      const m = payload[offset]!;
      if (m & 0x80) {
        if (payload.length < offset + 2) return undefined;
        pictureId = ((m & 0x7f) << 8) | payload[offset + 1]!;
        offset += 2;
      } else {
        pictureId = m & 0x7f;
        offset += 1;
      }
    }
    if (x & 0x40) offset += 1; // TL0PICIDX
    if (x & 0x30) offset += 1; // TID/Y/KEYIDX
  }
  if (offset > payload.length) return undefined;
  return { startOfFrame: (b0 & 0x10) !== 0, partitionId: b0 & 0x0f, pictureId, length: offset };
}
