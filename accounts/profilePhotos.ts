/**
 * Turns an uploaded picture into the two WebP renditions we serve. The format is taken from the
 * bytes, never from the file name or Content-Type, and decoding is bounded so a crafted image
 * (a "pixel bomb") cannot exhaust memory.
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { ErrorCode, ServiceError } from '../protocol/errors.js';
import type { PhotoRecord } from '../state/accountStore.js';

export const MAX_PHOTO_BYTES = 5 * 1024 * 1024;
export const FULL_SIZE = 512;
export const THUMB_SIZE = 96;
const ACCEPTED = new Set(['jpeg', 'png', 'webp']);
const MAX_INPUT_PIXELS = 40_000_000;

export async function processProfilePhoto(input: Buffer): Promise<PhotoRecord> {
  if (input.length === 0) throw new ServiceError(ErrorCode.UnsupportedMediaType, 'empty upload', 415);
  if (input.length > MAX_PHOTO_BYTES) {
    throw new ServiceError(
      ErrorCode.MessageTooLarge,
      `photos are limited to ${MAX_PHOTO_BYTES / 1024 / 1024} MB`,
      413,
    );
  }
  let format: string | undefined;
  try {
    format = (await sharp(input, { limitInputPixels: MAX_INPUT_PIXELS }).metadata()).format;
  } catch {
    throw new ServiceError(ErrorCode.UnsupportedMediaType, 'not an image (JPEG, PNG or WebP expected)', 415);
  }
  if (!format || !ACCEPTED.has(format)) {
    throw new ServiceError(
      ErrorCode.UnsupportedMediaType,
      `${format ?? 'unknown'} images are not accepted; use JPEG, PNG or WebP`,
      415,
    );
  }
  const render = (size: number): Promise<Buffer> =>
    sharp(input, { limitInputPixels: MAX_INPUT_PIXELS, animated: false })
      .rotate() // honour EXIF orientation before metadata is dropped
      .resize(size, size, { fit: 'cover', position: 'attention' })
      .webp({ quality: 80 })
      .toBuffer();
  let full: Buffer;
  let thumb: Buffer;
  try {
    [full, thumb] = await Promise.all([render(FULL_SIZE), render(THUMB_SIZE)]);
  } catch {
    throw new ServiceError(ErrorCode.UnsupportedMediaType, 'the image could not be decoded', 415);
  }
  const etag = createHash('sha256').update(full).digest('base64url').slice(0, 27);
  return { etag, full, thumb };
}
