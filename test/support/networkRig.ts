/**
 * The impairment suite's setup, shared with `bench:networks`: a client namespace (netnsClient.ts),
 * the real service listening on and announcing the namespace link's host address, optionally a
 * coturn on the same address whose credentials the service hands out, one Chromium on the host
 * (the clean side) and one inside the namespace (the impaired side). `call()` puts one of each in
 * a fresh room: the clean one creates it, publishes camera and microphone and invites the other.
 * `close()` undoes everything in reverse and is safe after a partial start.
 */
import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { fetchDevToken } from '../../client/sdk/devToken.js';
import { launchChromium } from './browser.js';
import { startCoturn, type CoturnProcess } from './coturnProcess.js';
import { NetnsClient } from './netnsClient.js';
import type { JoinRequest } from './networkPage.js';
import { networkPageScript } from './networkPageBundle.js';
import { startTestService } from './testService.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

export interface NetworkCall {
  room: string;
  clean: Page;
  impaired: Page;
  cleanPeerId: string;
  impairedPeerId: string;
  /** When the impaired side's join began (epoch ms, its clock = the host's). */
  impairedStartedAt: number;
}

export interface CallOptions {
  /**
   * Tokens for the impaired side from this function (called again whenever the SDK needs a fresh
   * one), e.g. an AccountClient's `getAccessToken`; default: one development token.
   */
  impairedTokens?: (rejected?: string) => Promise<string>;
  cleanTokens?: (rejected?: string) => Promise<string>;
  /** What the impaired side publishes (default audio and video). */
  publish?: JoinRequest['publish'];
  iceTransportPolicy?: RTCIceTransportPolicy;
  iceRecovery?: JoinRequest['iceRecovery'];
}

export class NetworkRig {
  readonly ns: NetnsClient;
  service: Service | undefined;
  turn: CoturnProcess | undefined;
  #hostBrowser: Browser | undefined;
  #nsBrowser: Browser | undefined;

  private constructor(ns: NetnsClient) {
    this.ns = ns;
  }

  static async start(
    opts: { links?: 1 | 2; turn?: boolean; env?: Record<string, string> } = {},
  ): Promise<NetworkRig> {
    const rig = new NetworkRig(NetnsClient.create(opts.links ?? 1));
    try {
      const address = rig.ns.serverAddress;
      if (opts.turn) rig.turn = await startCoturn(address);
      rig.service = await startTestService('memory', {
        HOST: address,
        RTC_LISTEN_IP: address,
        RTC_ANNOUNCED_ADDRESS: address,
        ...(rig.turn ? { TURN_URLS: rig.turn.urls.join(','), TURN_SECRET: rig.turn.secret } : {}),
        ...opts.env,
      });
      // The service is on a veth address over plain HTTP: let the page use the (fake) camera there.
      const extraArgs = [`--unsafely-treat-insecure-origin-as-secure=${rig.service.url}`];
      rig.#hostBrowser = await launchChromium({ extraArgs });
      rig.#nsBrowser = await launchChromium({ executablePath: rig.ns.chromiumWrapper, extraArgs });
      return rig;
    } catch (err) {
      await rig.close();
      throw err;
    }
  }

  get url(): string {
    return this.service!.url;
  }

  /**
   * The two browsers, for tests that drive a page of their own (e.g. the web app) rather than the
   * network test page: `clean` on the host, `impaired` inside the namespace.
   */
  get browsers(): { clean: Browser; impaired: Browser } {
    return { clean: this.#hostBrowser!, impaired: this.#nsBrowser! };
  }

  get wsUrl(): string {
    return `${this.url.replace(/^http/, 'ws')}/ws`;
  }

  async #page(browser: Browser, tokens?: (rejected?: string) => Promise<string>): Promise<Page> {
    // The service's CSP allows only its own scripts; the test page is injected, so bypass it here.
    const context = await browser.newContext({ bypassCSP: true });
    if (tokens) await context.exposeFunction('csGetToken', tokens);
    const page = await context.newPage();
    await page.goto(`${this.url}/healthz`);
    await page.addScriptTag({ content: await networkPageScript() });
    return page;
  }

  async call(opts: CallOptions = {}): Promise<NetworkCall> {
    const room = `net-${randomUUID().slice(0, 8)}`;
    const [cleanToken, impairedToken] = await Promise.all([
      fetchDevToken(this.url, 'Clean'),
      fetchDevToken(this.url, 'Impaired'),
    ]);
    // The token sources are exposed to the pages as window.csGetToken (networkPage.ts asks it).
    const clean = await this.#page(this.#hostBrowser!, opts.cleanTokens);
    const impaired = await this.#page(this.#nsBrowser!, opts.impairedTokens);
    const url = this.wsUrl;
    const cleanJoin = await clean.evaluate((req) => window.net.join(req), {
      url,
      ...(opts.cleanTokens ? {} : { token: cleanToken.token }),
      room,
      publish: 'av',
    } satisfies JoinRequest);
    const invite = await clean.evaluate(() => window.net.createInvite());
    const req: JoinRequest = {
      url,
      ...(opts.impairedTokens ? {} : { token: impairedToken.token }),
      room,
      invite,
      publish: opts.publish ?? 'av',
      ...(opts.iceTransportPolicy ? { iceTransportPolicy: opts.iceTransportPolicy } : {}),
      ...(opts.iceRecovery ? { iceRecovery: opts.iceRecovery } : {}),
    };
    const joined = await impaired.evaluate((r) => window.net.join(r), req);
    return {
      room,
      clean,
      impaired,
      cleanPeerId: cleanJoin.peerId,
      impairedPeerId: joined.peerId,
      impairedStartedAt: joined.startedAt,
    };
  }

  /** Leaves and closes both pages of a call (the browsers stay for the next one). */
  async hangUp(call: NetworkCall): Promise<void> {
    for (const page of [call.impaired, call.clean]) {
      await page.evaluate(() => window.net.leave()).catch(() => undefined);
      await page
        .context()
        .close()
        .catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.#nsBrowser?.close().catch(() => undefined);
    await this.#hostBrowser?.close().catch(() => undefined);
    await this.service?.close().catch(() => undefined);
    await this.turn?.stop();
    this.ns.close();
  }
}
