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

interface Summary {
  joined: number;
  failed: number;
  reconnects: number;
  resumes: number;
  lossPct: number;
  coverage: { pairs: number; audio: number; video: number };
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

  /** Runs `npm run bot` under `profile`; resolves with its output once it exited 0 within `timeoutMs`. */
  async function runBots(
    profile: string,
    perRoom: number,
    durationSeconds: number,
    timeoutMs: number,
  ): Promise<{ stdout: string; summary: Summary }> {
    const before = ourNamespaces();
    const reportDir = path.join(dir, `report-${profile}`);
    const child = spawn(
      path.join('node_modules', '.bin', 'tsx'),
      [
        'bot/cli.ts',
        ...['--url', service.url, '--rooms', '1', '--per-room', String(perRoom), '--ramp', '10'],
        ...['--duration', String(durationSeconds), '--netns-profile', profile, '--report-dir', reportDir],
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
        new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs)),
      ]);
      expect(code, `stderr: ${stderr}\nstdout: ${stdout}`).toBe(0);
      seenInside = new RegExp(`\\[netns\\] network namespace (\\S+): profile ${profile}`).exec(stdout)?.[1];
    } finally {
      if (child.exitCode === null) {
        // Ctrl-C first: the parent forwards it to the bots inside and removes the namespace.
        child.kill('SIGINT');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
        child.kill('SIGKILL');
      }
    }
    expect(seenInside, stdout).toMatch(new RegExp(`^${NETNS_PREFIX}`));
    // The namespace is gone with the run (and nothing else of ours was left behind).
    expect(ourNamespaces().filter((n) => !before.includes(n))).toEqual([]);
    const report = JSON.parse(readFileSync(path.join(reportDir, 'report.json'), 'utf8')) as {
      summary: Summary;
    };
    return { stdout, summary: report.summary };
  }

  it('three replay bots complete a call under 5 % loss each way and report the loss and resumes', async () => {
    const { stdout, summary: s } = await runBots('loss5', 3, 12, 60_000);
    console.log(`[bot netns] loss5: ${JSON.stringify({ lossPct: s.lossPct, resumes: s.resumes })}`);
    // The bots' own report says why one failed (it failed once under full-suite load, 2026-12-02).
    expect(s.joined, stdout).toBe(3);
    expect(s.failed, stdout).toBe(0);
    expect(s.coverage).toEqual(expect.objectContaining({ pairs: 6, audio: 6, video: 6 }));
    // 5 % dropped on the sender's uplink and again on the receiver's downlink (both bots are in the
    // namespace): ~10 % of packets expected lost as the receivers count them (replay bots send no
    // NACKs). Proves the bots really ran impaired, not on the clean host network.
    expect(s.lossPct).toBeGreaterThan(4);
    expect(s.lossPct).toBeLessThan(20);
    expect(stdout).toMatch(/bots: 3\/3 joined, 0 failed, \d+ reconnects, \d+ resumes/);
  }, 90_000);

  it('under blackout (everything dropped 10 s in every 40 s) the bots resume: same sessions, no re-entry', async () => {
    // The first blackout starts 30 s into the run and ends at 40 s; the run holds 45 s after the joins.
    const { stdout, summary: s } = await runBots('blackout', 2, 45, 90_000);
    console.log(`[bot netns] blackout: ${JSON.stringify({ resumes: s.resumes, reconnects: s.reconnects })}`);
    expect(stdout).toContain('[netns] blackout: all traffic dropped for 10 s');
    expect(stdout).toContain('[netns] blackout over');
    expect(s.joined).toBe(2);
    expect(s.failed).toBe(0);
    // Both sides notice a 10 s blackout (5 s pings each way), well inside the 15 s grace.
    expect(s.resumes).toBeGreaterThanOrEqual(2);
    expect(s.reconnects).toBe(0);
  }, 120_000);
});
