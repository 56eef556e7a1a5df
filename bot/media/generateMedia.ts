/**
 * Encodes the replay engine's media once with ffmpeg (a moving test pattern as VP8 in IVF and
 * a 440 Hz tone as Opus in Ogg) and caches the files outside the repository, keyed by the
 * encoding parameters. Concurrent callers are safe: each writes temp files and renames them.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BotError } from '../errors.js';

export interface MediaSpec {
  width: number;
  height: number;
  fps: number;
  videoKbps: number;
  /** Keyframe interval; short so a keyframe request is answered quickly by jumping ahead. */
  gopSeconds: number;
  /** Length of the clip the sender loops over. */
  seconds: number;
}

export const DEFAULT_MEDIA_SPEC: MediaSpec = {
  width: 640,
  height: 480,
  fps: 20,
  videoKbps: 800,
  gopSeconds: 2,
  seconds: 10,
};

export interface MediaFiles {
  videoPath: string;
  audioPath: string;
}

const FFMPEG_TIMEOUT_MS = 120_000;

export function defaultMediaCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'calling-service', 'bot-media');
}

export function ffmpegArgs(spec: MediaSpec, videoOut: string, audioOut: string): string[] {
  const gop = String(Math.max(1, Math.round(spec.gopSeconds * spec.fps)));
  return [
    ...['-hide_banner', '-loglevel', 'error', '-y'],
    ...['-f', 'lavfi', '-i', `testsrc2=size=${spec.width}x${spec.height}:rate=${spec.fps}`],
    ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'],
    ...['-t', String(spec.seconds), '-map', '0:v'],
    ...['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', `${spec.videoKbps}k`],
    // No alt-ref/lag: every IVF frame is a displayable frame that can be sent on its own.
    ...['-g', gop, '-keyint_min', gop, '-auto-alt-ref', '0', '-lag-in-frames', '0', '-error-resilient', '1'],
    ...['-f', 'ivf', videoOut],
    ...['-t', String(spec.seconds), '-map', '1:a'],
    ...['-c:a', 'libopus', '-b:a', '32k', '-frame_duration', '20', '-application', 'voip'],
    ...['-f', 'ogg', audioOut],
  ];
}

/** Returns cached files for `spec`, running ffmpeg first if they do not exist yet. */
export async function ensureMediaFiles(
  spec: MediaSpec = DEFAULT_MEDIA_SPEC,
  cacheDir: string = defaultMediaCacheDir(),
): Promise<MediaFiles> {
  const key = createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
  const dir = path.join(cacheDir, key);
  const files: MediaFiles = {
    videoPath: path.join(dir, 'video.ivf'),
    audioPath: path.join(dir, 'audio.ogg'),
  };
  if (existsSync(files.videoPath) && existsSync(files.audioPath)) return files;

  mkdirSync(dir, { recursive: true });
  const tmp = `.${process.pid}-${Date.now()}`;
  const videoTmp = `${files.videoPath}${tmp}`;
  const audioTmp = `${files.audioPath}${tmp}`;
  try {
    await runFfmpeg(ffmpegArgs(spec, videoTmp, audioTmp));
    renameSync(videoTmp, files.videoPath);
    renameSync(audioTmp, files.audioPath);
  } finally {
    rmSync(videoTmp, { force: true });
    rmSync(audioTmp, { force: true });
  }
  return files;
}

function runFfmpeg(args: string[]): Promise<void> {
  const bin = process.env.FFMPEG_BIN ?? 'ffmpeg';
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: FFMPEG_TIMEOUT_MS, maxBuffer: 1024 * 1024 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(
          new BotError(
            'FFMPEG_MISSING',
            `${bin} not found: the replay engine encodes its media with ffmpeg (Debian: apt-get install ffmpeg)`,
          ),
        );
      }
      reject(new BotError('MEDIA_FILES', `ffmpeg failed: ${stderr.trim() || err.message}`, { cause: err }));
    });
  });
}
