/** `npm run bot` options: defaults, parsing and the errors a typo gets. */
import { describe, expect, it } from 'vitest';
import { parseCliArgs, parseVideoSpec } from '../bot/cli/args.js';
import { progressLine } from '../bot/cli/progress.js';
import { reconnectPolicyFor } from '../bot/runner/backoff.js';
import { defaultBindAddress, parseTargetUrl, signalingUrl } from '../bot/targetUrl.js';
import { withoutProfileFlag } from '../bot/netns/impairedRun.js';

describe('--netns-profile', () => {
  it('takes a named profile with a non-loopback target, and is stripped for the child inside', () => {
    const o = parseCliArgs(['--url', 'http://192.0.2.10:3000', '--netns-profile', 'loss5']);
    expect(o.netnsProfile).toBe('loss5');
    expect(parseCliArgs([]).netnsProfile).toBeUndefined();
    expect(
      withoutProfileFlag(['--rooms', '2', '--netns-profile', 'thin300', '--netns-profile=blackout', '-h']),
    ).toEqual(['--rooms', '2', '-h']);
  });

  it('refuses an unknown profile, and a loopback target the namespace cannot reach', () => {
    expect(() => parseCliArgs(['--url', 'http://192.0.2.10:3000', '--netns-profile', 'loss50'])).toThrow(
      /--netns-profile must be one of loss5, loss15, thin300, blackout/,
    );
    expect(() => parseCliArgs(['--netns-profile', 'loss5'])).toThrow(/other than loopback/);
    expect(() => parseCliArgs(['--url', 'http://localhost:3000', '--netns-profile', 'blackout'])).toThrow(
      /other than loopback/,
    );
  });
});

describe('parseCliArgs', () => {
  it('has defaults for everything', () => {
    const o = parseCliArgs([], new Date('2026-01-02T03:04:05.678Z'));
    expect(o).toMatchObject({
      url: 'http://127.0.0.1:3000',
      rooms: 1,
      perRoom: 2,
      durationSeconds: 30,
      rampPerSecond: 5,
      engine: 'replay',
      video: { width: 640, height: 480, fps: 20 },
      simulcast: true,
      help: false,
    });
    expect(o.reportDir).toContain('2026-01-02T03-04-05-678Z');
  });

  it('parses the documented flags', () => {
    const o = parseCliArgs([
      '--url',
      'http://10.0.0.5:3000',
      '--rooms',
      '4',
      '--per-room',
      '5',
      '--duration',
      '60',
      '--engine',
      'real',
      '--ramp',
      '0.5',
      '--report-dir',
      '/tmp/r',
      '--video',
      '320x240@15',
      '--no-simulcast',
    ]);
    expect(o).toMatchObject({
      url: 'http://10.0.0.5:3000',
      rooms: 4,
      perRoom: 5,
      durationSeconds: 60,
      engine: 'real',
      rampPerSecond: 0.5,
      reportDir: '/tmp/r',
      video: { width: 320, height: 240, fps: 15 },
      simulcast: false,
    });
  });

  it.each([
    [['--rooms', '0'], /--rooms must be an integer from 1/],
    [['--per-room', '2.5'], /--per-room/],
    [['--engine', 'chrome'], /--engine must be replay or real/],
    [['--ramp', '0'], /--ramp/],
    [['--url', 'ftp://x'], /must be http/],
    [['--video', '640x480'], /--video must look like/],
    [['--rooms', '1000', '--per-room', '100'], /at most 2000 bots/],
    [['--bogus'], /Unknown option/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(
      expect.objectContaining({ code: 'BAD_ARGUMENTS', message: expect.stringMatching(message) }),
    );
  });

  it('parses video specs', () => {
    expect(parseVideoSpec('1280x720@30')).toEqual({ width: 1280, height: 720, fps: 30 });
  });
});

describe('target URL helpers', () => {
  it('derives the signaling URL and the bind address', () => {
    expect(signalingUrl(parseTargetUrl('http://127.0.0.1:3000'))).toBe('ws://127.0.0.1:3000/ws');
    expect(signalingUrl(parseTargetUrl('https://calls.example.com'))).toBe('wss://calls.example.com/ws');
    expect(defaultBindAddress(parseTargetUrl('http://localhost:3000'))).toBe('127.0.0.1');
    expect(defaultBindAddress(parseTargetUrl('http://10.1.2.3:3000'))).toBeUndefined();
  });
});

describe('backoff and progress', () => {
  it('backs off exponentially with jitter, capped', () => {
    const backoff = { maxAttempts: 5, baseDelayMs: 500, maxDelayMs: 8000 };
    const delay = (retryCount: number, random: number, maxAttempts = backoff.maxAttempts): number | null =>
      reconnectPolicyFor({ ...backoff, maxAttempts }, () => random).nextRetryDelayInMs({
        retryCount,
        elapsedMs: 0,
      });
    expect(delay(0, 0)).toBe(250);
    expect(delay(0, 1)).toBe(500);
    expect(delay(3, 1)).toBe(4000);
    expect(delay(10, 1, 20)).toBe(8000);
    // Bounded: no attempt after maxAttempts.
    expect(delay(5, 1)).toBeNull();
  });

  it('formats one progress line', () => {
    const line = progressLine(
      {
        tMs: 12_300,
        states: { pending: 0, joining: 1, joined: 8, reconnecting: 0, failed: 0, stopped: 0 },
        packetsReceived: 1,
        bytesReceived: 1,
        lossPct: 0.25,
        kbpsReceived: 1234.4,
        cpuPct: 37.2,
      },
      9,
    );
    expect(line).toBe(
      't=12s | joined 8/9 | joining 1 | reconnecting 0 | failed 0 | rx 1234 kbit/s | loss 0.25% | cpu 37%',
    );
  });
});
