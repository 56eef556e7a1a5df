/** IVF container (what `ffmpeg -f ivf` writes): a 32-byte file header, then size+pts+frame. */
import { BotError } from '../errors.js';

export interface IvfFile {
  fourcc: string;
  width: number;
  height: number;
  /** Time base of `pts`: seconds = pts * timebaseNum / timebaseDen. */
  timebaseNum: number;
  timebaseDen: number;
  frames: { pts: number; data: Buffer }[];
}

const FILE_HEADER = 32;
const FRAME_HEADER = 12;

export function parseIvf(file: Buffer): IvfFile {
  if (file.length < FILE_HEADER || file.toString('latin1', 0, 4) !== 'DKIF') {
    throw new BotError('MEDIA_FILES', 'not an IVF file');
  }
  const headerSize = file.readUInt16LE(6);
  const out: IvfFile = {
    fourcc: file.toString('latin1', 8, 12),
    width: file.readUInt16LE(12),
    height: file.readUInt16LE(14),
    timebaseDen: file.readUInt32LE(16),
    timebaseNum: file.readUInt32LE(20),
    frames: [],
  };
  let offset = headerSize;
  // Every iteration consumes at least FRAME_HEADER bytes, so this ends.
  while (offset + FRAME_HEADER <= file.length) {
    const size = file.readUInt32LE(offset);
    const pts = Number(file.readBigUInt64LE(offset + 4));
    const start = offset + FRAME_HEADER;
    if (start + size > file.length) throw new BotError('MEDIA_FILES', 'truncated IVF frame');
    out.frames.push({ pts, data: file.subarray(start, start + size) });
    offset = start + size;
  }
  return out;
}
