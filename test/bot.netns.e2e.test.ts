/**
 * Load tests over bad networks: `npm run bot -- --netns-profile loss5` as a user runs it (tsx
 * bot/cli.ts, which starts itself again inside a network namespace of its own, bot/netns/netnsClient.ts).
 * The service listens on this machine's non-loopback address (inside the namespace 127.0.0.1 is
 * the namespace's own). Three replay bots call each other through 5 % random loss each way: they
 * must all join and get each other's audio and video, the report must show the loss they saw and
 * count resumes, and the namespace must be gone afterwards.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NETNS_PREFIX } from '../bot/netns/netnsClient.js';
import { startTestService } from './support/testService.js';

/** This machine's first non-loopback IPv4 address: the one the namespace reaches the service on. */
function hostAddress(): string {
  for (const addrs of Object.values(os.networkInterfaces()))
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  throw new Error(
    'this test needs a non-loopback IPv4 address on the host (the namespace cannot reach 127.0.0.1)',
  );
}

function ourNamespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'])
    .toString()
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(NETNS_PREFIX));
}

describe('npm run bot -- --netns-profile', () => {
  let service: Awaited<ReturnType<typeof startTestService>>;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bot-netns-test-'));
  const address = hostAddress();

  beforeAll(async () => {
    service = await startTestService('memory', {
      HOST: address,
      RTC_LISTEN_IP: address,
      RTC_ANNOUNCED_ADDRESS: address,
    });
  });
  afterAll(async () => {
    await service?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('three replay bots complete a call under 5 % loss each way and report the loss and resumes', async () => {
    const before = ourNamespaces();
    const reportDir = path.join(dir, 'report');
    const child = spawn(
      path.join('node_modules', '.bin', 'tsx'),
      [
        'bot/cli.ts',
        ...['--url', service.url, '--rooms', '1', '--per-room', '3', '--duration', '12', '--ramp', '10'],
        ...['--netns-profile', 'loss5', '--report-dir', reportDir],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let seenInside: string | undefined;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const code = await Promise.race([
        exited,
        new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 60_000)),
      ]);
      expect(code, `stderr: ${stderr}\nstdout: ${stdout}`).toBe(0);
      seenInside = /\[netns\] network namespace (\S+): profile loss5/.exec(stdout)?.[1];
    } finally {
      child.kill('SIGKILL');
    }
    expect(seenInside, stdout).toMatch(new RegExp(`^${NETNS_PREFIX}`));
    // The namespace is gone with the run (and nothing else of ours was left behind).
    expect(ourNamespaces().filter((n) => !before.includes(n))).toEqual([]);

    const report = JSON.parse(readFileSync(path.join(reportDir, 'report.json'), 'utf8')) as {
      summary: {
        joined: number;
        failed: number;
        resumes: number;
        lossPct: number;
        coverage: { pairs: number; audio: number; video: number };
      };
    };
    const s = report.summary;
    console.log(`[bot netns] loss5: ${JSON.stringify({ lossPct: s.lossPct, resumes: s.resumes })}`);
    expect(s.joined).toBe(3);
    expect(s.failed).toBe(0);
    expect(s.coverage).toEqual(expect.objectContaining({ pairs: 6, audio: 6, video: 6 }));
    // 5 % dropped on the sender's uplink and again on the receiver's downlink (both bots are in the
    // namespace): ~10 % of packets expected lost as the receivers count them (replay bots send no
    // NACKs). Proves the bots really ran impaired, not on the clean host network.
    expect(s.lossPct).toBeGreaterThan(4);
    expect(s.lossPct).toBeLessThan(20);
    expect(stdout).toMatch(/bots: 3\/3 joined, 0 failed, \d+ reconnects, \d+ resumes/);
  }, 90_000);
});
