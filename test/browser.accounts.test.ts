/**
 * Phone accounts through the web page in real Chromium, against the real server and Redis:
 * sign-up with a photo, profile edits, a call as the account, sign-out and sign-in again; and a
 * call that outlives its access token (close 4001 → refresh → reconnect → media again).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Cookie, Page } from 'playwright-core';
import { launchChromium } from './support/browser.js';
import { startTestService } from './support/testService.js';
import {
  isWebp,
  makePhoto,
  shownImage,
  signInThroughUi,
  testPhone,
  TEST_CODE,
} from './support/accountsBrowser.js';
import { poll } from './support/pageMedia.js';
import { signUp } from './support/signUp.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

/** Frames decoded from remote video, summed over the page's current consumers. */
function framesDecoded(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const session = window.callApp.session();
    let frames = 0;
    if (!session) return -1;
    for (const report of (await session.getReceiveStats()).values()) {
      report.forEach((s: { type: string; kind?: string; framesDecoded?: number }) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded ?? 0;
      });
    }
    return frames;
  });
}

/** The HttpOnly refresh-token cookie the browser holds for this page's origin, as Chromium sees it. */
async function refreshCookie(page: Page): Promise<Cookie | undefined> {
  // Path=/api/v1/auth: ask for the cookies the browser would send to the refresh endpoint.
  const refreshUrl = new URL('/api/v1/auth/refresh', page.url()).href;
  return (await page.context().cookies(refreshUrl)).find((c) => c.name === 'calling_refresh');
}

const text = (page: Page, selector: string): Promise<string> =>
  page.locator(selector).innerText({ timeout: 5_000 });

describe('phone accounts in the browser', () => {
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

  it('signs up with a photo, edits the profile, calls as the account, signs out and back in', async () => {
    const phone = testPhone();
    const name = 'Zoë Ångström';
    const page = await (await browser.newContext()).newPage();
    const pageErrors = watchErrors(page);
    await page.goto(service.url);

    // Signed out: the sign-in screen; server errors in plain words.
    await page.waitForSelector('#phoneForm:not([hidden])');
    expect(await page.isHidden('#account')).toBe(true);
    await page.fill('#phone', '+1 555');
    await page.click('#sendCode');
    await expect.poll(() => text(page, '#authError')).toMatch(/not a valid phone number/i);

    await page.fill('#phone', phone.typed);
    await page.click('#sendCode');
    await page.waitForSelector('#codeForm:not([hidden])');
    expect(await text(page, '#codeSentTo')).toContain(phone.e164);
    expect(await page.isDisabled('#resendCode')).toBe(true); // cool-down from resendAfterSeconds

    await page.fill('#code', '000000');
    await page.click('#verify');
    await expect.poll(() => text(page, '#authError')).toMatch(/code is wrong.*4 more times/i);
    expect(await page.getAttribute('#authError', 'role')).toBe('alert');

    // The right code for a new number asks for a name and an optional photo.
    await page.fill('#code', TEST_CODE);
    const verified = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/verify'));
    await page.click('#verify');
    expect(((await (await verified).json()) as { status: string }).status).toBe('registration-required');
    await page.waitForSelector('#registerForm:not([hidden])');
    const red = await makePhoto('png', { width: 300, height: 200 }, { r: 200, g: 30, b: 30 });
    await page.fill('#regName', name);
    await page.setInputFiles('#regPhoto', { name: 'red.png', mimeType: 'image/png', buffer: red });
    await page.waitForSelector('#regPhotoPreview:not([hidden])');
    await page.click('#register');

    // Signed in: the header shows the name and the (server's) thumbnail.
    await page.waitForSelector('#account:not([hidden])');
    expect(await text(page, '#headerName')).toBe(name);
    await page.waitForSelector('#headerThumb[data-etag]:not([hidden])');
    const thumb = await shownImage(page, '#headerThumb');
    expect(thumb.type).toBe('image/webp');
    expect(isWebp(thumb.bytes)).toBe(true);
    expect(Math.max(thumb.naturalWidth, thumb.naturalHeight)).toBeLessThanOrEqual(96);

    // Profile: the photo shown is the server's re-encoded WebP, byte for byte.
    await page.click('#navProfile');
    await page.waitForSelector('#profilePhoto[data-etag]:not([hidden])');
    const shown = await shownImage(page, '#profilePhoto');
    expect(shown.type).toBe('image/webp');
    expect(isWebp(shown.bytes)).toBe(true);
    expect(Math.max(shown.naturalWidth, shown.naturalHeight)).toBeGreaterThan(0);
    expect(Math.max(shown.naturalWidth, shown.naturalHeight)).toBeLessThanOrEqual(512);
    expectColour(shown.centre, [200, 30, 30]);
    const { token, photoUrl, userId } = await page.evaluate(async () => {
      const account = window.callApp.account;
      return {
        token: await account.getAccessToken(),
        photoUrl: account.user!.photo!.url,
        userId: account.user!.userId,
      };
    });
    const served = await fetch(new URL(photoUrl, service.url), {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(served.status).toBe(200);
    expect(Buffer.from(shown.bytes).equals(Buffer.from(await served.arrayBuffer()))).toBe(true);
    expect(await text(page, '#profilePhone')).toContain(phone.e164);

    // A new photo from the profile screen: preview first, then the server's version replaces it.
    const blue = await makePhoto('jpeg', { width: 900, height: 700 }, { r: 20, g: 40, b: 220 });
    await page.setInputFiles('#photoInput', { name: 'blue.jpg', mimeType: 'image/jpeg', buffer: blue });
    await page.waitForSelector('#photoPreviewBox:not([hidden])');
    expectColour((await shownImage(page, '#photoPreview')).centre, [20, 40, 220]);
    await page.click('#uploadPhoto');
    await page.waitForSelector(`#profilePhoto[data-etag]:not([data-etag="${shown.etag}"])`);
    const replaced = await shownImage(page, '#profilePhoto');
    expect(replaced.type).toBe('image/webp');
    expectColour(replaced.centre, [20, 40, 220]);
    expect(Math.max(replaced.naturalWidth, replaced.naturalHeight)).toBe(512); // 900×700 scaled down
    expect(await page.isHidden('#photoPreviewBox')).toBe(true);
    await expect.poll(() => text(page, '#profileStatus')).toBe('Photo updated.');
    await page.waitForSelector(`#headerThumb[data-etag="${replaced.etag}"]`);

    // Rename; the header follows.
    const renamed = 'Zoë Å.';
    await page.fill('#profileName', renamed);
    await page.click('#saveName');
    await expect.poll(() => text(page, '#headerName')).toBe(renamed);

    // This browser is the one signed-in device.
    await page.waitForSelector('#devices li');
    expect(await page.locator('#devices li').count()).toBe(1);
    expect(await text(page, '#devices li.current')).toMatch(/Chrome on Linux\s+This device/);

    mkdirSync('test-results', { recursive: true });
    await page.screenshot({ path: path.join('test-results', 'accounts-profile.png'), fullPage: true });

    // The call, joined as the account: no name field, the account's name and id in the room.
    await page.click('#navCall');
    await page.waitForSelector('#joinForm:not([hidden])');
    expect(await page.isHidden('#displayName')).toBe(true);
    const room = `accounts-${phone.e164.slice(-3)}`;
    await page.fill('#roomName', room);
    await page.click('#join');
    await page.waitForSelector('#call:not([hidden])');
    const listed = await poll(
      () => service.store.listParticipants(room),
      (ps) => ps.length === 1,
      'the account never appeared in the room',
    );
    expect(listed[0]).toMatchObject({ userId, displayName: renamed });
    await page.click('#leave');
    await page.waitForSelector('#joinForm:not([hidden])');

    // Nothing that signs anyone in is readable by the page's script: the refresh token is an HttpOnly,
    // SameSite=Strict cookie on the auth path only, the access token lives in memory; Web Storage holds
    // only who is signed in.
    const refresh = await refreshCookie(page);
    expect(refresh).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/api/v1/auth' });
    const storage = await page.evaluate(() => ({
      local: Object.keys(localStorage).map((k) => localStorage.getItem(k)),
      session: Object.keys(sessionStorage).map((k) => sessionStorage.getItem(k)),
      cookies: document.cookie,
      accessToken: window.callApp.account.session?.accessToken,
    }));
    expect(storage.cookies).not.toContain('calling_refresh');
    expect(storage.accessToken).toEqual(expect.any(String));
    const stored = [...storage.local, ...storage.session].join('\n');
    expect(stored).toContain(userId);
    expect(stored).not.toContain(refresh!.value);
    expect(stored).not.toContain(storage.accessToken!);
    expect(stored).not.toMatch(/refreshToken|accessToken/);

    // Sign out: back to the sign-in screen, nothing stored, the cookie gone and its token dead.
    await page.click('#signOut');
    await page.waitForSelector('#signIn:not([hidden])');
    expect(await page.isHidden('#account')).toBe(true);
    expect(await page.evaluate(() => localStorage.getItem('calling.session'))).toBeNull();
    expect(await refreshCookie(page)).toBeUndefined();
    const dead = await fetch(new URL('/api/v1/auth/refresh', service.url), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-calling-session': 'cookie',
        cookie: `calling_refresh=${refresh!.value}`,
      },
      body: '{}',
    });
    expect(dead.status).toBe(401);

    // Sign in again with the same number: straight in, no registration step, same account.
    expect(await signInThroughUi(page, phone.typed)).toBe('signed-in');
    expect(await page.isHidden('#registerForm')).toBe(true);
    expect(await text(page, '#headerName')).toBe(renamed);
    await page.waitForSelector(`#headerThumb[data-etag="${replaced.etag}"]`);
    expect(await page.evaluate(() => window.callApp.account.user?.userId)).toBe(userId);

    // A reload keeps the session (the cookie) and shows the account without signing in.
    await page.reload();
    await page.waitForSelector('#account:not([hidden])');
    expect(await text(page, '#headerName')).toBe(renamed);

    // Refreshes racing in this tab and in a second tab sharing the stored session run one at a time:
    // the server never sees a rotated-away refresh token, so the device stays signed in.
    const second = await page.context().newPage();
    pageErrors.push(...watchErrors(second));
    await second.goto(service.url);
    await second.waitForSelector('#account:not([hidden])');
    // Both tabs start at the same instant (one machine, one clock), so their refreshes overlap.
    const refreshRace = (p: Page, at: number): Promise<void> =>
      p.evaluate(async (startAt) => {
        const account = window.callApp.account;
        const token = await account.getAccessToken();
        await new Promise((resolve) => setTimeout(resolve, startAt - Date.now()));
        await Promise.all([account.refresh(), account.refresh(), account.getAccessToken(token)]);
      }, at);
    const startAt = Date.now() + 500;
    await Promise.all([refreshRace(page, startAt), refreshRace(second, startAt)]);
    // Both tabs are still signed in (a 401 here would mean the device was revoked for token reuse),
    // on one device, and each holds its own access token only in memory.
    for (const p of [page, second]) {
      const me = await p.evaluate(async () => (await window.callApp.account.me()).userId);
      expect(me).toBe(userId);
    }
    const devices = await page.evaluate(async () => window.callApp.account.listDevices());
    expect(devices).toHaveLength(1);
    expect(await refreshCookie(page)).toMatchObject({ httpOnly: true });
    expect(await page.evaluate(() => localStorage.getItem('calling.session'))).not.toMatch(
      /refreshToken|accessToken/,
    );

    // Signing out in one tab signs the other one out as well.
    await second.click('#signOut');
    await page.waitForSelector('#signIn:not([hidden])');
    expect(await text(page, '#authError')).toBe('You signed out in another window.');
    expect(pageErrors).toEqual([]);
  });

  it('moves a refresh token an older page version left in localStorage into the cookie', async () => {
    // What LocalStorageTokenStore (the page before the cookie) saved: the whole session.
    const old = await signUp(service.url, testPhone().e164, 'Legacy Lee');
    const page = await (await browser.newContext()).newPage();
    const pageErrors = watchErrors(page);
    await page.goto(service.url);
    await page.evaluate((session) => {
      const now = Date.now();
      const legacy = {
        ...session,
        accessTokenLocalExpiresAt: now + 60_000,
        accessTokenRefreshAt: now + 30_000,
      };
      localStorage.setItem('calling.session', JSON.stringify(legacy));
    }, old);
    await page.reload();
    await page.waitForSelector('#account:not([hidden])');
    expect(await text(page, '#headerName')).toBe('Legacy Lee');
    // The first refresh presents the old token once; from then on it is the cookie's.
    await page.evaluate(async () => window.callApp.account.refresh());
    expect(await refreshCookie(page)).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(await page.evaluate(() => localStorage.getItem('calling.session'))).not.toMatch(
      /refreshToken|accessToken/,
    );
    await page.reload();
    await page.waitForSelector('#account:not([hidden])');
    expect(await page.evaluate(async () => (await window.callApp.account.me()).name)).toBe('Legacy Lee');
    expect(pageErrors).toEqual([]);
    await page.context().close();
  });

  describe('with 15-second access tokens', () => {
    let shortLived: Service;
    beforeAll(async () => {
      shortLived = await startTestService('redis', { JWT_TTL_SECONDS: '15' });
    });
    afterAll(async () => {
      await shortLived?.close();
    });

    it('a call outlives its access token: refresh, reconnect, rejoin and media again', async () => {
      const room = 'token-expiry';
      const alice = await (await browser.newContext()).newPage();
      const bob = await (await browser.newContext()).newPage();
      const pageErrors = [...watchErrors(alice), ...watchErrors(bob)];
      await alice.goto(shortLived.url);
      await signInThroughUi(alice, testPhone().typed, { name: 'Alice Account' });
      await alice.fill('#roomName', room);
      await alice.click('#join');
      await alice.waitForSelector('#call:not([hidden])');
      // Bob joins with a development token (name only) through Alice's invite link; his session
      // reconnects the same way (as a member by then: the invite is needed only once).
      await alice.click('#copyInvite');
      await alice.waitForSelector('#inviteInfo:not([hidden])');
      await bob.goto(await alice.inputValue('#inviteLink'));
      await bob.fill('#displayName', 'Bob Dev');
      expect(await bob.inputValue('#roomName')).toBe(room);
      await bob.click('#join');
      await bob.waitForSelector('#call:not([hidden])');
      for (const page of [alice, bob])
        await poll(
          () => framesDecoded(page),
          (f) => f > 0,
          'no video',
        );

      const peerIdOf = (page: Page): Promise<string | undefined> =>
        page.evaluate(() => window.callApp.session()?.peerId);
      const firstRefresh = (await refreshCookie(alice))?.value;
      expect(firstRefresh).toEqual(expect.any(String));
      const before = { alice: await peerIdOf(alice), bob: await peerIdOf(bob) };

      // The server closes each socket with 4001 when its token expires; both sessions rejoin.
      for (const [page, was] of [
        [alice, before.alice],
        [bob, before.bob],
      ] as const) {
        await poll(
          () => peerIdOf(page),
          (id) => id !== undefined && id !== was,
          'the session did not rejoin after its token expired',
          30_000,
        );
      }
      // Media flows again over the new transports, both ways, with one tile per remote peer.
      for (const page of [alice, bob]) {
        await poll(
          () => framesDecoded(page),
          (f) => f > 0,
          'no video after the reconnect',
        );
        await poll(
          () => page.locator('.tile.remote').count(),
          (n) => n === 1,
          'stale tiles after the reconnect',
        );
        expect(await page.isHidden('#call')).toBe(false);
      }
      const participants = await shortLived.store.listParticipants(room);
      expect(participants.map((p) => p.displayName).sort()).toEqual(['Alice Account', 'Bob Dev']);
      const producers = (shortLived.rooms.snapshot(room)?.peers ?? []).map((p) =>
        p.producers.map((pr) => pr.kind).sort(),
      );
      expect(producers).toEqual([
        ['audio', 'video'],
        ['audio', 'video'],
      ]);

      // Alice's tokens rotated without ever reusing one: the device is still signed in.
      await alice.evaluate(async () => window.callApp.account.me());
      const now = (await refreshCookie(alice))?.value;
      expect(now).toEqual(expect.any(String));
      expect(now).not.toBe(firstRefresh);
      expect(await alice.isHidden('#account')).toBe(false);

      await alice.click('#leave');
      await bob.click('#leave');
      expect(pageErrors).toEqual([]);
    }, 90_000);
  });
});

function expectColour(actual: [number, number, number], expected: [number, number, number]): void {
  for (let i = 0; i < 3; i++)
    expect(Math.abs(actual[i]! - expected[i]!), `channel ${i} of ${actual}`).toBeLessThan(20);
}
