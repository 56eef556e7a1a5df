/** Duration of an Opus packet from its TOC byte (RFC 6716 §3.1), in 48 kHz samples. */

const SILK_MS = [10, 20, 40, 60];
const HYBRID_MS = [10, 20];
const CELT_MS = [2.5, 5, 10, 20];

export function opusPacketSamples(packet: Uint8Array): number {
  if (packet.length === 0) return 0;
  const toc = packet[0]!;
  const config = toc >> 3;
  const frameMs =
    config < 12 ? SILK_MS[config % 4]! : config < 16 ? HYBRID_MS[config % 2]! : CELT_MS[config % 4]!;
  const code = toc & 0x03;
  const frames = code === 0 ? 1 : code < 3 ? 2 : packet.length > 1 ? packet[1]! & 0x3f : 0;
  return Math.round(frames * frameMs * 48);
}
