/**
 * RTP fixed header (RFC 3550 §5.1) encode/decode. Only what the bot needs: no CSRC list on
 * send, and header extensions skipped (not interpreted) on receive.
 */

export const RTP_HEADER_BYTES = 12;

export interface RtpHeader {
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  marker: boolean;
}

export interface ParsedRtp extends RtpHeader {
  /** Offset of the payload inside the packet (after CSRCs and extension). */
  payloadOffset: number;
  /** Payload length without padding. */
  payloadLength: number;
}

/**
 * Builds header + payload parts in one allocation (the send path runs for every packet of every
 * bot, and a VP8 payload is a per-packet descriptor followed by a shared slice of the frame).
 */
export function buildRtpPacket(header: RtpHeader, ...payload: Uint8Array[]): Buffer {
  let length = RTP_HEADER_BYTES;
  for (const part of payload) length += part.length;
  const packet = Buffer.allocUnsafe(length);
  packet[0] = 0x80; // V=2, no padding, no extension, no CSRC
  packet[1] = (header.marker ? 0x80 : 0) | (header.payloadType & 0x7f);
  packet.writeUInt16BE(header.sequenceNumber & 0xffff, 2);
  packet.writeUInt32BE(header.timestamp >>> 0, 4);
  packet.writeUInt32BE(header.ssrc >>> 0, 8);
  let offset = RTP_HEADER_BYTES;
  for (const part of payload) {
    packet.set(part, offset);
    offset += part.length;
  }
  return packet;
}

/**
 * RTP and RTCP share the port (rtcp-mux); RFC 5761 §4 tells them apart by the second byte:
 * RTCP packet types 192-223 land there, RTP payload types (with the marker bit) never do.
 */
export function isRtcp(packet: Uint8Array): boolean {
  if (packet.length < 2) return false;
  const pt = packet[1]!;
  return pt >= 192 && pt <= 223;
}

/** Returns undefined for anything that is not a well-formed RTP version 2 packet. */
export function parseRtp(packet: Uint8Array): ParsedRtp | undefined {
  if (packet.length < RTP_HEADER_BYTES || packet[0]! >> 6 !== 2 || isRtcp(packet)) return undefined;
  const b0 = packet[0]!;
  const b1 = packet[1]!;
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  let offset = RTP_HEADER_BYTES + (b0 & 0x0f) * 4;
  if (b0 & 0x10) {
    if (packet.length < offset + 4) return undefined;
    offset += 4 + view.getUint16(offset + 2) * 4;
  }
  let end = packet.length;
  if (b0 & 0x20) end -= packet[packet.length - 1]!;
  if (offset > end) return undefined;
  return {
    payloadType: b1 & 0x7f,
    marker: (b1 & 0x80) !== 0,
    sequenceNumber: view.getUint16(2),
    timestamp: view.getUint32(4),
    ssrc: view.getUint32(8),
    payloadOffset: offset,
    payloadLength: end - offset,
  };
}
