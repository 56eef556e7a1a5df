/**
 * Finds keyframe requests in a (compound) RTCP packet: PLI (RFC 4585 §6.3.1) and FIR
 * (RFC 5104 §4.3.1), both payload-specific feedback, packet type 206.
 */

const PT_PSFB = 206;
const FMT_PLI = 1;
const FMT_FIR = 4;

/** The media SSRCs a keyframe is requested for (empty when the packet asks for none). */
export function keyframeRequestSsrcs(packet: Uint8Array): number[] {
  const out: number[] = [];
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  let offset = 0;
  // Each sub-packet advances by its declared length, so the loop ends within packet.length / 4 steps.
  while (offset + 4 <= packet.length) {
    const b0 = packet[offset]!;
    if (b0 >> 6 !== 2) break;
    const fmt = b0 & 0x1f;
    const pt = packet[offset + 1]!;
    const bytes = (view.getUint16(offset + 2) + 1) * 4;
    if (offset + bytes > packet.length) break;
    if (pt === PT_PSFB && fmt === FMT_PLI && bytes >= 12) {
      out.push(view.getUint32(offset + 8));
    } else if (pt === PT_PSFB && fmt === FMT_FIR && bytes >= 12) {
      // FIR carries its targets in FCI entries (SSRC + seq), the media SSRC field is unused.
      for (let fci = offset + 12; fci + 8 <= offset + bytes; fci += 8) out.push(view.getUint32(fci));
    }
    offset += bytes;
  }
  return out;
}

/** Builds a PLI, for tests (and for a receiver that wants to ask for a keyframe). */
export function buildPli(senderSsrc: number, mediaSsrc: number): Buffer {
  const packet = Buffer.alloc(12);
  packet[0] = 0x80 | FMT_PLI;
  packet[1] = PT_PSFB;
  packet.writeUInt16BE(2, 2);
  packet.writeUInt32BE(senderSsrc >>> 0, 4);
  packet.writeUInt32BE(mediaSsrc >>> 0, 8);
  return packet;
}
