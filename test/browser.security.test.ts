/**
 * The web page under its Content-Security-Policy in real Chromium: a whole sign-up (with a photo
 * preview from a blob: URL), the profile screen and a call room (WebSocket, camera) run without a
 * single CSP violation; the same listener does see one when an inline script is injected, so a zero
 * means something; and another origin cannot frame the page.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './support/browser.js';
import { startTestService } from './support/testService.js';
import { makePhoto, testPhone } from './support/accountsBrowser.js';
import { poll } from './support/pageMedia.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

interface Violation {
  directive: string;
  blocked: string;
}

/** Records every securitypolicyviolation the page's documents report, from before any app script. */
async function watchViolations(page: Page): Promise<() => Promise<Violation[]>> {
  await page.addInitScript(() => {
    const seen: { directive: string; blocked: string }[] = [];
    (window as unknown as { cspViolations: typeof seen }).cspViolations = seen;
    document.addEventListener('securitypolicyviolation', (e) =>
      seen.push({ directive: e.effectiveDirective, blocked: e.blockedURI }),
    );
  });
  return () => page.evaluate(() => (window as unknown as { cspViolations: Violation[] }).cspViolations);
}

describe('the web page under its CSP', () => {
  let service: Service;
  let browser: Browser;
  let framer: http.Server | undefined;

  beforeAll(async () => {
    service = await startTestService('memory');
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await service?.close();
    await new Promise<void>((r) => (framer ? framer.close(() => r()) : r()));
  });

  it('signs up with a photo, shows the profile and joins a call without a CSP violation', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const violations = await watchViolations(page);
    await page.goto(service.url);
    await page.waitForSelector('#phoneForm:not([hidden])');

    const photo = await makePhoto('png', { width: 300, height: 300 }, { r: 200, g: 30, b: 30 });
    const phone = testPhone();
    await page.fill('#phone', phone.typed);
    await page.click('#sendCode');
    await page.waitForSelector('#codeForm:not([hidden])');
    await page.fill('#code', '123456');
    await page.click('#verify');
    await page.waitForSelector('#registerForm:not([hidden])');
    await page.fill('#regName', 'Csp Tester');
    await page.setInputFiles('#regPhoto', { name: 'red.png', mimeType: 'image/png', buffer: photo });
    await page.click('#register');
    await page.waitForSelector('#account:not([hidden])');
    // The header thumbnail is fetched with the token and shown from a blob: URL.
    await page.waitForSelector('#headerThumb:not([hidden])');

    await page.click('#navProfile');
    await page.waitForSelector('#devices li.current');
    await page.click('#navCall');
    await page.waitForSelector('#joinForm:not([hidden])');
    const room = `csp-${phone.e164.slice(-3)}`;
    await page.fill('#roomName', room);
    await page.click('#join');
    await page.waitForSelector('#call:not([hidden])');
    await poll(
      () => service.store.listParticipants(room),
      (ps) => ps.length === 1,
      'the page never joined the room',
    );
    await page.click('#leave');
    await page.waitForSelector('#joinForm:not([hidden])');

    expect(await violations()).toEqual([]);
    expect(pageErrors).toEqual([]);

    // The listener works: an injected inline script is refused and reported.
    await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.injected = true';
      document.body.append(s);
    });
    const reported = await poll(violations, (v) => v.length > 0, 'no violation reported for inline script');
    expect(reported[0]).toMatchObject({ directive: 'script-src-elem', blocked: 'inline' });
    expect(await page.evaluate(() => (window as unknown as { injected?: boolean }).injected)).toBeUndefined();
    await context.close();
  });

  it('cannot be framed by another origin', async () => {
    framer = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><iframe id="victim" src="${service.url}/"></iframe>`);
    });
    await new Promise<void>((r) => framer!.listen(0, '127.0.0.1', () => r()));
    const framerUrl = `http://localhost:${(framer.address() as AddressInfo).port}/`;
    const context = await browser.newContext();
    const page = await context.newPage();
    const refused = page.waitForEvent('console', {
      predicate: (m) => /frame-ancestors|Refused to (display|frame)/i.test(m.text()),
      timeout: 10_000,
    });
    await page.goto(framerUrl);
    expect((await refused).text()).toMatch(/frame-ancestors/);
    // Nothing of the call UI rendered inside the frame.
    const frame = page.frames().find((f) => f !== page.mainFrame());
    const hasUi = frame
      ? await frame
          .locator('#phoneForm')
          .count()
          .catch(() => 0)
      : 0;
    expect(hasUi).toBe(0);
    await context.close();
  });
});
