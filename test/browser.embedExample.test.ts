/**
 * The embedding example (examples/embed) against the real server: its page bundled against the SDK
 * installed from the packed tarball, its ten-line node:http backend getting tokens through the server
 * API (API_KEYS), and two Chromium pages (two messenger users) calling each other through the SFU.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './support/browser.js';
import { poll, videoBrightness } from './support/pageMedia.js';
import { packAndInstallSdk, REPO_ROOT, type InstalledSdk } from './support/sdkPackage.js';
import { startTestService } from './support/testService.js';

const API_KEY = 'messenger:the-embedding-example-secret-0123456789';

type Service = Awaited<ReturnType<typeof startTestService>>;

/** Starts the example backend; resolves with its URL once it listens. */
function startExampleBackend(
  dir: string,
  env: Record<string, string>,
): Promise<{ url: string; proc: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['server.mjs'], {
      cwd: dir,
      env: { ...process.env, ...env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`example backend did not start: ${out}`)), 15_000);
    proc.on('error', reject);
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1]!, proc });
      }
    });
    proc.on('exit', (code) => reject(new Error(`example backend exited (${code}): ${out}`)));
  });
}

/** Type-checks `file` in `cwd` as a strict TypeScript app would (declarations included). */
describe('the embedding example', () => {
  let sdk: InstalledSdk | undefined;
  let app: string;
  let service: Service | undefined;
  let backend: { url: string; proc: ChildProcess } | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    sdk = await packAndInstallSdk();
    app = sdk.app;
    service = await startTestService('memory', { API_KEYS: API_KEY });
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    backend?.proc.kill('SIGTERM');
    await service?.close();
    await sdk?.remove();
  });

  it('runs the embedding example: two messenger users call each other through the installed package', async () => {
    for (const f of ['server.mjs', 'index.html', 'page.js'])
      await copyFile(path.join(REPO_ROOT, 'examples', 'embed', f), path.join(app, f));
    // What the example's `npm run build` does, with the tarball's package instead of the workspace's.
    await build({
      absWorkingDir: app,
      entryPoints: ['page.js'],
      outfile: path.join(app, 'app.js'),
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: ['es2022'],
      logLevel: 'error',
    });
    const bundle = await readFile(path.join(app, 'app.js'), 'utf8');
    expect(bundle).not.toContain('@calling/sdk/index.ts');
    backend = await startExampleBackend(app, { CALLING_URL: service!.url, CALLING_API_KEY: API_KEY });

    browser = await launchChromium();
    const pages: Page[] = [];
    const errors: string[] = [];
    for (const user of ['alice', 'bob']) {
      const page = await (await browser.newContext()).newPage();
      page.on('pageerror', (e) => errors.push(`${user}: ${e.message}`));
      // Counts camera/microphone requests: Bob answers the instant it rings, while his warm-up is
      // opening them too — one request must serve both (two streams once left his camera black).
      await page.addInitScript(() => {
        const media = navigator.mediaDevices;
        const open = media.getUserMedia.bind(media);
        (window as unknown as { gumCalls: number }).gumCalls = 0;
        media.getUserMedia = (c) => {
          (window as unknown as { gumCalls: number }).gumCalls++;
          return open(c);
        };
      });
      await page.goto(`${backend.url}/?user=${user}`);
      await page.waitForFunction(
        (u) => document.getElementById('status')?.textContent === `Signed in as ${u}`,
        user,
        { timeout: 20_000 },
      );
      pages.push(page);
    }
    const [alice, bob] = pages as [Page, Page];

    await alice.fill('#callee', 'bob');
    await alice.click('button[type=submit]');
    // Bob's page answers by itself; both see the call active and the other's moving camera picture.
    for (const page of [alice, bob]) {
      await page.waitForFunction(
        () => document.getElementById('status')?.textContent === 'Call active',
        null,
        {
          timeout: 20_000,
        },
      );
      const brightness = await poll(
        () => videoBrightness(page, '#media video'),
        (b) => b > 5,
        'remote video never showed a picture',
      );
      expect(brightness).toBeGreaterThan(5);
      expect(await page.locator('#media audio').count()).toBe(1);
      expect(await page.evaluate(() => (window as unknown as { gumCalls: number }).gumCalls)).toBe(1);
    }
    await alice.click('#hangup');
    await bob.waitForFunction(
      () => document.getElementById('status')?.textContent === 'Call ended: hung-up',
      null,
      { timeout: 10_000 },
    );
    expect(await bob.locator('#media video').count()).toBe(0);
    expect(errors).toEqual([]);

    // The backend handed out tokens for the server API's accounts: both are external accounts now.
    const me = await fetch(`${backend.url}/calling-token?user=bob`).then(
      (r) => r.json() as Promise<{ accessToken: string }>,
    );
    const profile = await fetch(`${service!.url}/api/v1/me`, {
      headers: { authorization: `Bearer ${me.accessToken}` },
    }).then((r) => r.json() as Promise<{ user: { name: string; phone?: string } }>);
    expect(profile.user).toMatchObject({ name: 'Bob' });
    expect(profile.user.phone).toBeUndefined();
  }, 120_000);
});
