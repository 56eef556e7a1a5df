/**
 * The real thing: two Chromium pages join one room through the web page, through our server,
 * our mediasoup worker (DTLS/SRTP) and Redis, and see and hear each other. The first creates the
 * room and copies its invite link; the second opens that link; a third, with the bare name, is refused.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './support/browser.js';
import { startTestService } from './support/testService.js';
import { poll, videoBrightness } from './support/pageMedia.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

/** Signed out, the room form is behind the developers' link (never beside the phone sign-up). */
async function openRoomForm(page: Page, url: string): Promise<void> {
  await page.goto(url);
  // An invite link opens the room form by itself; otherwise the link does.
  if (!url.includes('#room=')) await page.click('#showDevJoin');
  await page.waitForSelector('#joinForm:not([hidden])');
  expect(await page.isHidden('#signIn')).toBe(true);
}

async function joinThroughUi(page: Page, url: string, name: string, room?: string): Promise<void> {
  await openRoomForm(page, url);
  await page.fill('#displayName', name);
  if (room !== undefined) await page.fill('#roomName', room);
  await page.click('#join');
  await page.waitForSelector('#call:not([hidden])');
}

/** Clicks "Copy invite link" and reads the link the page shows (the clipboard may be refused). */
async function copyInviteLink(page: Page): Promise<string> {
  await page.click('#copyInvite');
  await page.waitForSelector('#inviteInfo:not([hidden])');
  return page.inputValue('#inviteLink');
}

/** Inbound RTP totals as the page's own WebRTC stack reports them. */
function inboundStats(
  page: Page,
): Promise<{ framesDecoded: number; audioPackets: number; videoPackets: number }> {
  return page.evaluate(async () => {
    const session = window.callApp.session();
    let framesDecoded = 0;
    let audioPackets = 0;
    let videoPackets = 0;
    if (!session) return { framesDecoded, audioPackets, videoPackets };
    for (const report of (await session.getReceiveStats()).values()) {
      report.forEach(
        (s: { type: string; kind?: string; framesDecoded?: number; packetsReceived?: number }) => {
          if (s.type !== 'inbound-rtp') return;
          if (s.kind === 'video') {
            framesDecoded += s.framesDecoded ?? 0;
            videoPackets += s.packetsReceived ?? 0;
          } else if (s.kind === 'audio') audioPackets += s.packetsReceived ?? 0;
        },
      );
    }
    return { framesDecoded, audioPackets, videoPackets };
  });
}

describe('two browsers in one room', () => {
  let service: Service;
  let browser: Browser;

  beforeAll(async () => {
    service = await startTestService('redis');
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await service?.close();
  });

  it('exchange audio and video through the SFU, and leaving removes the tile and the participant', async () => {
    const room = 'e2e-room';
    const alice = await (await browser.newContext()).newPage();
    const bob = await (await browser.newContext()).newPage();
    const pageErrors: string[] = [];
    for (const p of [alice, bob]) p.on('pageerror', (e) => pageErrors.push(e.message));

    await joinThroughUi(alice, service.url, 'Alice', room);
    const link = await copyInviteLink(alice);
    expect(link).toMatch(new RegExp(`^${service.url}/#room=${room}&invite=v1\\.`));
    // Bob opens the link: the room is filled in, and joining takes the invite along.
    await bob.goto(link);
    expect(await bob.inputValue('#roomName')).toBe(room);
    expect(await bob.textContent('#invitedHint')).toContain(room);
    await joinThroughUi(bob, link, 'Bob');

    // Each side decodes the other's video and receives audio.
    for (const page of [alice, bob]) {
      const stats = await poll(
        () => inboundStats(page),
        (s) => s.framesDecoded > 0 && s.audioPackets > 0,
        'remote media never arrived',
      );
      expect(stats.videoPackets).toBeGreaterThan(0);
      const brightness = await poll(
        () => videoBrightness(page, '.tile.remote video'),
        (b) => b > 10,
        'remote video stayed black',
      );
      expect(brightness).toBeGreaterThan(10);
    }
    expect(await alice.locator('.tile.remote figcaption').allTextContents()).toEqual(['Bob']);
    expect(await bob.locator('.tile.remote figcaption').allTextContents()).toEqual(['Alice']);

    // The server's own mediasoup stats show bytes in through producers and out through consumers.
    const participants = [...(service.rooms.room(room)?.participants ?? [])];
    expect(participants).toHaveLength(2);
    for (const p of participants) {
      const { producers, consumers } = await p.mediaBytes();
      expect(producers.map((pr) => pr.kind).sort()).toEqual(['audio', 'video']);
      for (const producer of producers) {
        expect(producer.bytes, `${producer.kind} producer bytes`).toBeGreaterThan(0);
      }
      expect(consumers).toHaveLength(2);
      for (const consumer of consumers) {
        expect(consumer.bytes, `${consumer.kind} consumer bytes`).toBeGreaterThan(0);
      }
    }
    const listed = await service.store.listParticipants(room);
    expect(listed.map((p) => p.displayName).sort()).toEqual(['Alice', 'Bob']);

    mkdirSync('test-results', { recursive: true });
    await alice.screenshot({ path: path.join('test-results', 'room-call-alice.png') });

    // Bob leaves: Alice's tile for him goes, and Redis no longer lists him.
    const bobPeerId = await bob.evaluate(() => window.callApp.session()?.peerId);
    await bob.click('#leave');
    await bob.waitForSelector('#joinForm:not([hidden])');
    await alice.waitForSelector('.tile.remote', { state: 'detached' });
    await poll(
      () => service.store.listParticipants(room),
      (ps) => ps.length === 1,
      'Redis still lists Bob',
    );
    const remaining = await service.store.listParticipants(room);
    expect(remaining.map((p) => p.peerId)).not.toContain(bobPeerId);
    expect(remaining[0]!.displayName).toBe('Alice');
    expect(pageErrors).toEqual([]);
  });

  it("refuses joining someone else's room by its bare name, with a clear message", async () => {
    const room = 'e2e-private';
    const alice = await (await browser.newContext()).newPage();
    const mallory = await (await browser.newContext()).newPage();
    await joinThroughUi(alice, service.url, 'Alice', room);
    await openRoomForm(mallory, service.url);
    await mallory.fill('#displayName', 'Mallory');
    await mallory.fill('#roomName', room);
    await mallory.click('#join');
    await mallory.waitForSelector('#joinError:text-matches("not a member")');
    expect(await mallory.textContent('#joinError')).toMatch(/ask a member for an invite link/);
    expect(await mallory.isHidden('#call')).toBe(true);
    expect((await service.store.listParticipants(room)).map((p) => p.displayName)).toEqual(['Alice']);
    expect(await alice.locator('.tile.remote').count()).toBe(0);
  });
});
