/**
 * The CLI as a user runs it: `tsx bot/cli.ts` against the real service, stopped with SIGINT
 * mid-run. The bots must leave, and the report must still be written and summarised.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, serverRoomView } from './support/botServerView.js';
import { startTestService } from './support/testService.js';

describe('npm run bot', () => {
  let service: Awaited<ReturnType<typeof startTestService>>;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bot-cli-test-'));

  beforeAll(async () => {
    service = await startTestService('memory');
  });
  afterAll(async () => {
    await service?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs replay bots, stops cleanly on Ctrl-C and still writes the report', async () => {
    const prefix = `cli-e2e-${Date.now().toString(36)}`;
    const reportDir = path.join(dir, 'report');
    const child = spawn(
      path.join('node_modules', '.bin', 'tsx'),
      [
        'bot/cli.ts',
        '--url',
        service.url,
        '--rooms',
        '1',
        '--per-room',
        '2',
        '--duration',
        '120',
        '--ramp',
        '10',
        '--room-prefix',
        prefix,
        '--report-dir',
        reportDir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const room = `${prefix}-1`;
      await eventually(
        () =>
          serverRoomView(service, room)?.perParticipant.every((p) => p.resumedConsumers === 2) === true &&
          serverRoomView(service, room)?.participants === 2,
        20_000,
        'both bots to be in the room and consuming',
      );
      await new Promise((r) => setTimeout(r, 1_500)); // let some media flow
      child.kill('SIGINT');
      const code = await Promise.race([
        exited,
        new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000)),
      ]);
      expect(code, `stderr: ${stderr}\nstdout: ${stdout}`).toBe(0);
      await eventually(() => !service.rooms.room(room), 5_000, 'the room to close');
    } finally {
      child.kill('SIGKILL');
    }

    // Not a TTY: plain progress lines, then the summary.
    expect(stdout).toMatch(/^t=\d+s \| joined \d\/2 \|/m);
    expect(stdout).not.toContain('\r');
    expect(stdout).toContain('stopping: bots are leaving');
    expect(stdout).toContain('bots: 2/2 joined, 0 failed');
    expect(stdout).toContain('(stopped early)');
    const report = JSON.parse(readFileSync(path.join(reportDir, 'report.json'), 'utf8')) as {
      run: { aborted: boolean; engine: string };
      summary: { joined: number; coverage: { pairs: number; audio: number; video: number } };
    };
    expect(report.run).toMatchObject({ aborted: true, engine: 'replay' });
    expect(report.summary.joined).toBe(2);
    expect(report.summary.coverage).toEqual(expect.objectContaining({ pairs: 2, audio: 2, video: 2 }));
    expect(existsSync(path.join(reportDir, 'report.html'))).toBe(true);
  }, 45_000);
});
