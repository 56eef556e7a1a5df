/**
 * Ogg pages (RFC 3533) to logical packets, for the Opus stream ffmpeg writes: the first two
 * packets are OpusHead and OpusTags (RFC 7845), the rest are Opus packets.
 */
import { BotError } from '../errors.js';

const PAGE_HEADER = 27;

export function oggPackets(file: Buffer): Buffer[] {
  const packets: Buffer[] = [];
  let partial: Buffer[] = [];
  let offset = 0;
  // Each page consumes at least its 27-byte header, so this ends.
  while (offset + PAGE_HEADER <= file.length) {
    if (file.toString('latin1', offset, offset + 4) !== 'OggS') {
      throw new BotError('MEDIA_FILES', `bad Ogg page at byte ${offset}`);
    }
    const segments = file[offset + 26]!;
    const table = offset + PAGE_HEADER;
    let body = table + segments;
    if (body > file.length) throw new BotError('MEDIA_FILES', 'truncated Ogg page');
    for (let i = 0; i < segments; i++) {
      const lacing = file[table + i]!;
      if (body + lacing > file.length) throw new BotError('MEDIA_FILES', 'truncated Ogg segment');
      partial.push(file.subarray(body, body + lacing));
      body += lacing;
      // A lacing value below 255 ends the packet; 255 means it continues (maybe on the next page).
      if (lacing < 255) {
        packets.push(Buffer.concat(partial));
        partial = [];
      }
    }
    offset = body;
  }
  return packets;
}

/** The Opus packets of an Ogg Opus file, without the two header packets. */
export function oggOpusPackets(file: Buffer): Buffer[] {
  const packets = oggPackets(file);
  if (packets[0]?.toString('latin1', 0, 8) !== 'OpusHead') {
    throw new BotError('MEDIA_FILES', 'not an Ogg Opus file (no OpusHead)');
  }
  return packets.slice(2);
}
