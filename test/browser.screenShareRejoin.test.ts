/**
 * A screen share survives a full rejoin (issue 13's loose end): a resume keeps the server's
 * producers, but a re-entry (new peer id, new transports) used to drop the share for good. Here
 * resume is off (RESUME_GRACE_MS=0), so cutting the sharer's signaling socket forces a re-entry:
 * the SDK must produce the still-running share again, and the other person's web page must show
 * the screen tile again with moving pictures — then stopping the share still removes it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './support/browser.js';
import {
  addContacts,
  callButton,
  expectMediaFrom,
  poll,
  signedInPerson,
  type Person,
} from './support/callsBrowser.js';
import { TcpProxy } from './support/tcpProxy.js';
import { startTestService } from './support/testService.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

/** Fictional test numbers (the service is this file's own): +12015550172..173. */
const phone = (n: number): string => `+12015550${n}`;

const peerIdOf = (page: Page): Promise<string | undefined> =>
  page.evaluate(() => window.callApp.currentCall()?.session?.peerId);

/** The screen tile of `userId` as the page shows it: its track and the frames it has presented. */
function screenTile(
  page: Page,
  userId: string,
): Promise<{ trackId: string; width: number; frames: number } | null> {
  return page.evaluate((uid) => {
    const video = document.querySelector<HTMLVideoElement>(
      `#callTiles .screen-tile[data-user-id="${CSS.escape(uid)}"] video`,
    );
    if (!video) return null;
    return {
      trackId: video.dataset.trackId ?? '',
      width: video.videoWidth,
      frames: video.getVideoPlaybackQuality().totalVideoFrames,
    };
  }, userId);
}

describe('screen share across a rejoin', () => {
  let service: Service;
  let proxy: TcpProxy;
  let browser: Browser;
  let people: Person[] = [];

  beforeAll(async () => {
    service = await startTestService('memory', { RESUME_GRACE_MS: '0' });
    proxy = await TcpProxy.start({ host: '127.0.0.1', port: service.port });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await proxy?.close();
    await service?.close();
  });
  afterEach(async () => {
    await Promise.all(people.map((p) => p.context.close().catch(() => undefined)));
    people = [];
  });

  it('the other side gets the screen tile again after the sharer re-enters the room', async () => {
    // Alice's signaling goes through the relay (so it can be cut), Bob's directly.
    const alice = await signedInPerson(browser, `http://127.0.0.1:${proxy.port}`, phone(172), 'Alice Share');
    people.push(alice);
    const bob = await signedInPerson(browser, service.url, phone(173), 'Bob Watch');
    people.push(bob);
    await addContacts(bob, [alice]);
    await bob.page.click(callButton(alice.userId, 'video'));
    await alice.page.waitForSelector('#incomingCall:not([hidden])', { timeout: 15_000 });
    await alice.page.click('#acceptCall');
    await expectMediaFrom(bob.page, alice);

    await alice.page.click('#callShare');
    await alice.page.waitForSelector('#callShare[aria-pressed="true"]', { timeout: 10_000 });
    const before = await poll(
      () => screenTile(bob.page, alice.userId),
      (t) => t !== null && t.width > 0 && t.frames > 0,
      'Bob never saw Alice’s screen',
      15_000,
    );
    const sharedTrack = await alice.page.evaluate(
      () => window.callApp.currentCall()!.screenStream!.getVideoTracks()[0]!.id,
    );
    const peerBefore = await peerIdOf(alice.page);
    expect(peerBefore).toBeTruthy();

    // Resume is off: the cut socket makes Alice's SDK enter the room again as a new peer.
    const cutAt = Date.now();
    proxy.cut();
    await poll(
      () => peerIdOf(alice.page),
      (id) => id !== undefined && id !== peerBefore,
      'Alice never re-entered the room (same peer id)',
      20_000,
    );
    const after = await poll(
      () => screenTile(bob.page, alice.userId),
      (t) => t !== null && t.trackId !== before!.trackId && t.width > 0,
      'Bob did not get Alice’s screen tile back after her rejoin',
      20_000,
    );
    console.log(
      `[screen share] rejoin: Bob shows the new screen track ${Date.now() - cutAt} ms after the cut`,
    );
    // Moving pictures, not a tile left over: frames keep being presented from the new track.
    await poll(
      () => screenTile(bob.page, alice.userId),
      (t) => t !== null && t.trackId === after!.trackId && t.frames > after!.frames + 5,
      'the screen tile shows no new frames after the rejoin',
      15_000,
    );
    // Alice still shares the same capture (nothing asked her to pick a screen again).
    expect(await alice.page.getAttribute('#callShare', 'aria-pressed')).toBe('true');
    expect(
      await alice.page.evaluate(() => window.callApp.currentCall()?.screenStream?.getVideoTracks()[0]?.id),
    ).toBe(sharedTrack);
    // Camera and microphone came back too, and the server holds exactly one screen producer of hers.
    await expectMediaFrom(bob.page, alice);
    const room = await alice.page.evaluate(() => window.callApp.currentCall()!.session!.room);
    const screens = service.rooms
      .snapshot(room)
      ?.peers.filter((p) => p.userId === alice.userId)
      .flatMap((p) => p.producers.filter((pr) => pr.source === 'screen'));
    expect(screens).toHaveLength(1);

    // Stopping the share after the rejoin still takes it off Bob's screen.
    await alice.page.click('#callShare');
    await alice.page.waitForSelector('#callShare[aria-pressed="false"]', { timeout: 10_000 });
    await bob.page.waitForSelector(`#callTiles .screen-tile[data-user-id="${alice.userId}"]`, {
      state: 'detached',
      timeout: 10_000,
    });
    for (const p of people) expect(p.errors, `page errors of ${p.name}`).toEqual([]);
  }, 120_000);
});
