/** Helpers for driving the web page's messenger-call screens in Chromium. */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { CallHistoryEntry } from '../../protocol/signaling.js';
import { signInThroughUi } from './accountsBrowser.js';
import { poll, videoBrightness } from './pageMedia.js';

export { poll };

export interface Person {
  name: string;
  phone: string;
  userId: string;
  page: Page;
  context: BrowserContext;
  /** Uncaught errors on the page. */
  errors: string[];
  /** Signaling methods the page sent, in order (all its WebSockets). */
  sent: string[];
  /** Notifications the page received, by name, in order (all its WebSockets). */
  received: string[];
}

/**
 * A new browser context (a device of its own: own localStorage) signed in to `phone` through the
 * sign-in screen (registering `name` the first time), with its call connection up.
 */
export async function signedInPerson(
  browser: Browser,
  baseUrl: string,
  phone: string,
  name: string,
  opts: {
    photo?: { name: string; mimeType: string; buffer: Buffer };
    /** Set up before the page loads (e.g. WebSocket routing). */
    prepare?: (page: Page) => Promise<void>;
  } = {},
): Promise<Person> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const sent: string[] = [];
  const received: string[] = [];
  /** One field of a JSON frame, if it is a string (other frames are not ours to read). */
  const field = (payload: string | Buffer, name: string): string | undefined => {
    if (typeof payload !== 'string') return undefined;
    try {
      const value = (JSON.parse(payload) as Record<string, unknown>)[name];
      return typeof value === 'string' ? value : undefined;
    } catch {
      return undefined;
    }
  };
  page.on('websocket', (ws) => {
    ws.on('framesent', ({ payload }) => {
      const method = field(payload, 'method');
      if (method) sent.push(method);
    });
    ws.on('framereceived', ({ payload }) => {
      const notification = field(payload, 'notification');
      if (notification) received.push(notification);
    });
  });
  await opts.prepare?.(page);
  await page.goto(baseUrl);
  await page.waitForSelector('#phoneForm:not([hidden])');
  await signInThroughUi(page, phone, { name, ...(opts.photo ? { photo: opts.photo } : {}) });
  await page.waitForFunction(() => window.callApp.calls()?.connectionState === 'connected', undefined, {
    timeout: 15_000,
  });
  const userId = await page.evaluate(() => window.callApp.account.user!.userId);
  return { name, phone, userId, page, context, errors, sent, received };
}

/** Adds contacts by phone number through the contacts screen and waits until they are listed. */
export async function addContacts(person: Person, people: Person[]): Promise<void> {
  const { page } = person;
  await page.fill('#contactPhones', people.map((p) => p.phone).join('\n'));
  await page.click('#addContacts');
  for (const p of people) await page.waitForSelector(`li.contact[data-user-id="${p.userId}"]`);
}

export const callButton = (userId: string, media: 'audio' | 'video'): string =>
  `li.contact[data-user-id="${userId}"] button.call-${media}`;

export const text = (page: Page, selector: string): Promise<string> =>
  page.locator(selector).innerText({ timeout: 5_000 });

/** The "call over" banner's message, once it shows. */
export async function endedMessage(page: Page, timeout = 15_000): Promise<string> {
  await page.waitForSelector('#callEnded:not([hidden])', { timeout });
  return text(page, '#callEndedMessage');
}

export interface Inbound {
  framesDecoded: number;
  videoPackets: number;
  audioPackets: number;
}

/** Inbound RTP from one participant of the page's current call, as the page's WebRTC stack reports it. */
export function inboundFrom(page: Page, userId: string): Promise<Inbound> {
  return page.evaluate(async (uid) => {
    const out = { framesDecoded: 0, videoPackets: 0, audioPackets: 0 };
    const call = window.callApp.currentCall();
    const session = call?.session;
    if (!call || !session) return out;
    const consumers = new Set(call.tracksOf(uid).map((t) => t.remote.consumerId));
    for (const [consumerId, report] of await session.getReceiveStats()) {
      if (!consumers.has(consumerId)) continue;
      report.forEach(
        (s: { type: string; kind?: string; framesDecoded?: number; packetsReceived?: number }) => {
          if (s.type !== 'inbound-rtp') return;
          if (s.kind === 'video') {
            out.framesDecoded += s.framesDecoded ?? 0;
            out.videoPackets += s.packetsReceived ?? 0;
          } else if (s.kind === 'audio') out.audioPackets += s.packetsReceived ?? 0;
        },
      );
    }
    return out;
  }, userId);
}

/** Mean brightness (0-255) of a participant's tile video, drawn onto a canvas. */
export function tileBrightness(page: Page, userId: string): Promise<number> {
  return videoBrightness(page, `#callTiles .call-tile.remote[data-user-id="${userId}"] video`);
}

/** Waits until `page` decodes video and receives audio from `from`, and draws that video (not black). */
export async function expectMediaFrom(page: Page, from: Person, timeoutMs = 25_000): Promise<Inbound> {
  const stats = await poll(
    () => inboundFrom(page, from.userId),
    (s) => s.framesDecoded > 0 && s.audioPackets > 0,
    `no media from ${from.name}`,
    timeoutMs,
  );
  await poll(
    () => tileBrightness(page, from.userId),
    (b) => b > 10,
    `the video of ${from.name} stayed black`,
    timeoutMs,
  );
  return stats;
}

/** Frames decoded from `from` go on increasing (the media still flows). */
export async function expectStillFlowing(page: Page, from: Person, timeoutMs = 15_000): Promise<void> {
  const before = await inboundFrom(page, from.userId);
  await poll(
    () => inboundFrom(page, from.userId),
    (s) => s.framesDecoded > before.framesDecoded + 10 && s.audioPackets > before.audioPackets,
    `media from ${from.name} stopped`,
    timeoutMs,
  );
}

/** The current call's id on the page (undefined when none). */
export const currentCallId = (page: Page): Promise<string | undefined> =>
  page.evaluate(() => window.callApp.currentCall()?.callId);

/** Opens the history screen and returns its entries as the page shows them. */
export async function historyOnScreen(
  page: Page,
  callId: string,
): Promise<{ classes: string; outcome: string; seconds: number; who: string; text: string }> {
  await page.click('#navHistory');
  const item = page.locator(`#historyList li.history-entry[data-call-id="${callId}"]`);
  await item.waitFor({ timeout: 10_000 });
  return {
    classes: (await item.getAttribute('class')) ?? '',
    outcome: (await item.getAttribute('data-outcome')) ?? '',
    seconds: Number(await item.locator('.history-duration').getAttribute('data-seconds')),
    who: await item.locator('.history-who').innerText(),
    text: await item.locator('.history-outcome').innerText(),
  };
}

/** The history as the SDK reads it. */
export const historyOf = (page: Page): Promise<{ entries: CallHistoryEntry[]; missedUnseen: number }> =>
  page.evaluate(() => window.callApp.calls()!.history(20));
