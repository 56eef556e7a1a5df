/**
 * The web app's SDK in real Chromium keeps the access token out of the WebSocket URL: seen from the
 * server side of the wire (a recording proxy in front of the service), every upgrade the page makes
 * asks for plain `/ws` and carries the token only as a `calling.token.<jwt>` subprotocol.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchChromium } from './support/browser.js';
import { signInThroughUi, testPhone } from './support/accountsBrowser.js';
import { until } from './support/poll.js';
import { startRecordingProxy, type RecordingProxy } from './support/recordingProxy.js';
import { startTestService } from './support/testService.js';

describe('the SDK in Chromium sends its token as a subprotocol', () => {
  let service: Awaited<ReturnType<typeof startTestService>>;
  let proxy: RecordingProxy;
  let browser: Browser;

  beforeAll(async () => {
    service = await startTestService('memory');
    proxy = await startRecordingProxy(service.url);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await service?.close();
  });

  it('signs up, connects for calls, and never puts the token in the request URL', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(proxy.url);
    await signInThroughUi(page, testPhone().typed, { name: 'Tess' });
    // The signed-in page keeps a signaling connection for incoming calls: it must be authenticated.
    await until(() => service.signaling.connectionCount >= 1, {
      timeoutMs: 15_000,
      what: 'the page’s signaling connection',
    });
    expect(proxy.upgrades.length).toBeGreaterThanOrEqual(1);
    for (const u of proxy.upgrades) {
      expect(u.url).toBe('/ws');
      expect(u.protocols).toMatch(/^calling\.v1, calling\.token\.[\w-]+\.[\w-]+\.[\w-]+$/);
    }
    await page.context().close();
  });
});
