/** Command-line options of `npm run bot`, parsed and range-checked. */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { EngineKind } from '../engine/botEngine.js';
import { BotError } from '../errors.js';
import { parseTargetUrl } from '../targetUrl.js';
import { checkImpairedRun, parseNetnsProfile, type NetnsProfile } from '../netns/impairedRun.js';

export interface CliOptions {
  url: string;
  rooms: number;
  perRoom: number;
  durationSeconds: number;
  rampPerSecond: number;
  engine: EngineKind;
  reportDir: string;
  video: { width: number; height: number; fps: number };
  videoKbps: number;
  simulcast: boolean;
  roomPrefix: string | undefined;
  /** Run the bots inside a network namespace with this impairment (bot/netns/impairedRun.ts). */
  netnsProfile: NetnsProfile | undefined;
  help: boolean;
}

export const USAGE = `Usage: npm run bot -- [options]

  --url URL            service base URL (default http://127.0.0.1:3000); bots contact only this
  --rooms N            number of rooms (default 1)
  --per-room M         bots per room (default 2)
  --duration S         seconds to hold after the last bot started joining (default 30)
  --engine E           replay (pre-encoded RTP, cheap) or real (libwebrtc encode/decode) (default replay)
  --ramp R             joins per second (default 5)
  --report-dir DIR     where report.json and report.html go (default: a new dir under ${path.join(os.tmpdir(), 'calling-bot-reports')})
  --video WxH@FPS      video size and rate (default 640x480@20)
  --video-kbps K       replay engine: encoder bitrate of the clip (default 800)
  --no-simulcast       real engine: publish one video layer instead of three
  --room-prefix P      room names are P-1 … P-N (default: random, so runs never share rooms)
  --netns-profile P    run the bots in a network namespace of their own with loss5 / loss15 (random
                       drop each way), thin300 (300 kbit/s each way) or blackout (everything dropped
                       10 s in every 40 s); needs root and a --url on a non-loopback address
  -h, --help           this text

Ctrl-C stops early: bots leave, and the report is still written.`;

const LIMITS = {
  rooms: [1, 1000],
  perRoom: [1, 100],
  bots: [1, 2000],
  duration: [1, 86_400],
  ramp: [0.01, 1000],
} as const;

function int(
  name: string,
  raw: string | undefined,
  fallback: number,
  [min, max]: readonly [number, number],
): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new BotError('BAD_ARGUMENTS', `--${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return n;
}

function num(
  name: string,
  raw: string | undefined,
  fallback: number,
  [min, max]: readonly [number, number],
): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new BotError('BAD_ARGUMENTS', `--${name} must be a number from ${min} to ${max}, got "${raw}"`);
  }
  return n;
}

export function parseVideoSpec(raw: string): { width: number; height: number; fps: number } {
  const m = /^(\d+)x(\d+)@(\d+)$/.exec(raw);
  const [width, height, fps] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
  if (!m || width < 16 || height < 16 || width > 1920 || height > 1080 || fps < 1 || fps > 60) {
    throw new BotError(
      'BAD_ARGUMENTS',
      `--video must look like 640x480@20 (up to 1920x1080@60), got "${raw}"`,
    );
  }
  return { width, height, fps };
}

export function parseCliArgs(argv: string[], now: Date = new Date()): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: 'string' },
        rooms: { type: 'string' },
        'per-room': { type: 'string' },
        duration: { type: 'string' },
        engine: { type: 'string' },
        ramp: { type: 'string' },
        'report-dir': { type: 'string' },
        video: { type: 'string' },
        'video-kbps': { type: 'string' },
        'no-simulcast': { type: 'boolean' },
        'room-prefix': { type: 'string' },
        'netns-profile': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new BotError('BAD_ARGUMENTS', (err as Error).message);
  }
  const url = values.url ?? 'http://127.0.0.1:3000';
  const target = parseTargetUrl(url);
  const netnsProfile = parseNetnsProfile(values['netns-profile']);
  if (netnsProfile) checkImpairedRun(target);
  const engine = values.engine ?? 'replay';
  if (engine !== 'replay' && engine !== 'real') {
    throw new BotError('BAD_ARGUMENTS', `--engine must be replay or real, got "${engine}"`);
  }
  const rooms = int('rooms', values.rooms, 1, LIMITS.rooms);
  const perRoom = int('per-room', values['per-room'], 2, LIMITS.perRoom);
  if (rooms * perRoom > LIMITS.bots[1]) {
    throw new BotError('BAD_ARGUMENTS', `at most ${LIMITS.bots[1]} bots per process (rooms × per-room)`);
  }
  const prefix = values['room-prefix'];
  if (prefix !== undefined && !/^[\p{L}\p{N}_.-]{1,40}$/u.test(prefix)) {
    throw new BotError('BAD_ARGUMENTS', '--room-prefix: up to 40 letters, digits, "_", "." or "-"');
  }
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  return {
    url,
    rooms,
    perRoom,
    durationSeconds: int('duration', values.duration, 30, LIMITS.duration),
    rampPerSecond: num('ramp', values.ramp, 5, LIMITS.ramp),
    engine,
    reportDir: values['report-dir'] ?? path.join(os.tmpdir(), 'calling-bot-reports', stamp),
    video: parseVideoSpec(values.video ?? '640x480@20'),
    videoKbps: int('video-kbps', values['video-kbps'], 800, [50, 10_000]),
    simulcast: !values['no-simulcast'],
    roomPrefix: prefix,
    netnsProfile,
    help: values.help ?? false,
  };
}
