/**
 * Messenger calls through the web page in real Chromium, against the real server (one in-process
 * node, plus a second node as a child process for the cross-node test) and real Redis: ringing on
 * two devices, answered elsewhere, audio and video both ways, decline, no answer, busy, cancel,
 * glare, a group call with someone added and someone leaving, and a call across two processes.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { CallView } from '../protocol/signaling.js';
import { makePhoto, shownImage } from './support/accountsBrowser.js';
import { launchChromium } from './support/browser.js';
import {
  addContacts,
  callButton,
  currentCallId,
  endedMessage,
  expectMediaFrom,
  expectStillFlowing,
  historyOf,
  historyOnScreen,
  inboundFrom,
  poll,
  signedInPerson,
  text,
  type Person,
} from './support/callsBrowser.js';
import { signUp, waitForCall } from './support/callTestKit.js';
import type { RawSignaling } from './support/rawSignaling.js';
import { startServerProcess, type ServerProcess } from './support/serverProcess.js';
import { startTestService } from './support/testService.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

/** This file's test numbers: +12015550160..179 and 190..199 (other files use 100..159 and 180..181). */
const phone = (n: number): string => `+12015550${n}`;
const RESULTS = 'test-results';

describe('messenger calls in the browser', () => {
  /** Node A: in-process, with the default key prefix so that a child-process node can share its Redis keys. */
  let main: Service;
  let browser: Browser;
  let people: Person[] = [];
  const sockets: RawSignaling[] = [];

  beforeAll(async () => {
    main = await startTestService('redis', { NODE_ID: 'calls-node-a' }, { keyPrefix: 'cs:' });
    browser = await launchChromium();
    mkdirSync(RESULTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await main?.close();
  });
  afterEach(async () => {
    await Promise.all(sockets.splice(0).map((s) => s.close()));
    await Promise.all(people.map((p) => p.context.close().catch(() => undefined)));
    people = [];
  });

  const person = async (
    baseUrl: string,
    n: number,
    name: string,
    opts: Parameters<typeof signedInPerson>[4] = {},
  ): Promise<Person> => {
    const p = await signedInPerson(browser, baseUrl, phone(n), name, opts);
    people.push(p);
    return p;
  };
  const noPageErrors = (): void => {
    for (const p of people) expect(p.errors, `page errors of ${p.name}`).toEqual([]);
  };

  it('rings both of Bob’s devices; one answers, the other shows "answered elsewhere"; media both ways; history', async () => {
    const red = await makePhoto('png', { width: 200, height: 200 }, { r: 210, g: 40, b: 40 });
    const alice = await person(main.url, 160, 'Alice One', {
      photo: { name: 'alice.png', mimeType: 'image/png', buffer: red },
    });
    const bobPhone = await person(main.url, 161, 'Bob One');
    const bobLaptop = await person(main.url, 161, 'Bob One');
    expect(bobLaptop.userId).toBe(bobPhone.userId);
    const bob = bobPhone;

    await addContacts(alice, [bob]);
    expect(await text(alice.page, `li.contact[data-user-id="${bob.userId}"] .contact-name`)).toBe('Bob One');
    await alice.page.click(callButton(bob.userId, 'video'));
    await alice.page.waitForSelector('#outgoingCall:not([hidden])');

    // Both devices ring, with Alice's name and photo (fetched with the account's token).
    for (const device of [bobPhone, bobLaptop]) {
      await device.page.waitForSelector('#incomingCall:not([hidden])');
      expect(await text(device.page, '#incomingName')).toBe('Alice One');
      expect(await text(device.page, '#incomingKind')).toBe('Incoming video call');
      await device.page.waitForSelector('#incomingPhoto[data-etag]:not([hidden])');
      const photo = await shownImage(device.page, '#incomingPhoto');
      expect(photo.type).toBe('image/webp');
      expect(Math.abs(photo.centre[0] - 210)).toBeLessThan(25);
    }
    // Each device confirmed it rings: the caller sees "Ringing…" for two devices.
    await poll(
      () => alice.page.evaluate(() => window.callApp.currentCall()?.participants[0]?.ringingDevices),
      (n) => n === 2,
      'Alice never saw both devices ringing',
    );
    expect(await text(alice.page, '#outgoingState')).toBe('Ringing…');
    await bobPhone.page.screenshot({ path: path.join(RESULTS, 'calls-incoming.png') });
    const callId = (await currentCallId(alice.page))!;

    await bobLaptop.page.click('#acceptCall');
    expect(await endedMessage(bobPhone.page)).toBe('Answered on another device');
    expect(await bobPhone.page.isHidden('#incomingCall')).toBe(true);
    expect(await bobPhone.page.isHidden('#inCall')).toBe(true);
    await alice.page.waitForSelector('#inCall:not([hidden])');
    await bobLaptop.page.waitForSelector('#inCall:not([hidden])');
    expect(await currentCallId(bobLaptop.page)).toBe(callId);

    // Audio and video both ways, through the SFU.
    const toBob = await expectMediaFrom(bobLaptop.page, alice);
    const toAlice = await expectMediaFrom(alice.page, bobLaptop);
    expect(toBob.videoPackets).toBeGreaterThan(0);
    expect(toAlice.videoPackets).toBeGreaterThan(0);
    expect(await text(alice.page, `.call-tile.remote[data-user-id="${bob.userId}"] .tile-name`)).toBe(
      'Bob One',
    );
    expect(await text(bobLaptop.page, `.call-tile.remote[data-user-id="${alice.userId}"] .tile-name`)).toBe(
      'Alice One',
    );
    const peers = () => main.rooms.snapshot(`call-${callId}`)?.peers ?? [];
    expect(
      peers()
        .map((p) => p.userId)
        .sort(),
    ).toEqual([alice.userId, bob.userId].sort());

    // Mute pauses Alice's microphone producer on the server; unmute resumes it.
    const aliceAudioPaused = (): boolean | undefined =>
      peers()
        .find((p) => p.userId === alice.userId)
        ?.producers.find((pr) => pr.kind === 'audio')?.paused;
    await alice.page.click('#callMute');
    await poll(
      async () => aliceAudioPaused(),
      (v) => v === true,
      'microphone not paused',
    );
    await alice.page.waitForSelector('#callMute[aria-pressed="true"]', { timeout: 5_000 });
    await alice.page.click('#callMute');
    await poll(
      async () => aliceAudioPaused(),
      (v) => v === false,
      'microphone not resumed',
    );
    await alice.page.screenshot({ path: path.join(RESULTS, 'calls-in-call.png') });

    // The call has lasted a moment; Alice hangs up and it ends for both.
    await alice.page.click('#callHangup');
    expect(await endedMessage(alice.page)).toBe('Call ended');
    expect(await endedMessage(bobLaptop.page)).toBe('Call ended');
    await alice.page.waitForSelector('#contacts:not([hidden])');

    for (const p of [alice, bobLaptop]) {
      const entry = await historyOnScreen(p.page, callId);
      expect(entry.seconds, `duration in ${p.name}'s history`).toBeGreaterThan(0);
      expect(entry.outcome).toBe('hung-up');
      expect(entry.classes).not.toContain('missed');
    }
    expect((await historyOnScreen(alice.page, callId)).who).toBe('Bob One');
    expect((await historyOnScreen(bobLaptop.page, callId)).who).toBe('Alice One');
    await bobLaptop.page.screenshot({ path: path.join(RESULTS, 'calls-history.png'), fullPage: true });
    noPageErrors();
  }, 90_000);

  it('decline: the caller hears "Bob declined"; both histories say declined', async () => {
    const alice = await person(main.url, 162, 'Alice Two');
    const bob = await person(main.url, 163, 'Bob Two');
    await addContacts(alice, [bob]);
    await alice.page.click(callButton(bob.userId, 'audio'));
    await bob.page.waitForSelector('#incomingCall:not([hidden])');
    expect(await text(bob.page, '#incomingKind')).toBe('Incoming audio call');
    const callId = (await currentCallId(bob.page))!;
    await bob.page.click('#declineCall');
    expect(await endedMessage(alice.page)).toBe('Bob Two declined');
    expect(await endedMessage(bob.page)).toBe('Call declined');
    expect(await bob.page.isHidden('#incomingCall')).toBe(true);
    expect(await alice.page.isHidden('#outgoingCall')).toBe(true);
    const mine = await historyOnScreen(alice.page, callId);
    expect(mine).toMatchObject({ outcome: 'declined', seconds: 0 });
    const theirs = await historyOnScreen(bob.page, callId);
    expect(theirs.outcome).toBe('declined');
    expect(theirs.classes).not.toContain('missed');
    noPageErrors();
  });

  describe('with a 3-second ring timeout', () => {
    let quick: Service;
    beforeAll(async () => {
      quick = await startTestService('redis', { CALL_RING_TIMEOUT_SECONDS: '3' });
    });
    afterAll(async () => {
      await quick?.close();
    });

    it('no answer: "No answer" for the caller, a missed call (marked, counted until seen) for the callee', async () => {
      const alice = await person(quick.url, 164, 'Alice Three');
      const bob = await person(quick.url, 165, 'Bob Three');
      await addContacts(alice, [bob]);
      await alice.page.click(callButton(bob.userId, 'video'));
      await bob.page.waitForSelector('#incomingCall:not([hidden])');
      const callId = (await currentCallId(bob.page))!;

      // Nobody answers: the server's ring timeout ends it on both sides.
      expect(await endedMessage(alice.page)).toBe('No answer');
      expect(await endedMessage(bob.page)).toBe('Missed call from Alice Three');
      expect(await bob.page.isHidden('#incomingCall')).toBe(true);

      // Bob: a badge with one unseen missed call, the entry marked; opening the history clears the badge.
      await bob.page.waitForSelector('#missedBadge:not([hidden])');
      expect(await text(bob.page, '#missedBadge')).toBe('1');
      const missed = await historyOnScreen(bob.page, callId);
      expect(missed.classes).toContain('missed');
      expect(missed.text).toBe('Missed');
      await bob.page.screenshot({ path: path.join(RESULTS, 'calls-history-missed.png'), fullPage: true });
      await bob.page.waitForSelector('#missedBadge', { state: 'hidden' });
      await poll(
        async () => (await historyOf(bob.page)).missedUnseen,
        (n) => n === 0,
        'missed calls not marked seen',
      );
      // Alice: the same call, as an unanswered outgoing one; no badge for her.
      const mine = await historyOnScreen(alice.page, callId);
      expect(mine).toMatchObject({ outcome: 'missed', text: 'No answer', seconds: 0 });
      expect(mine.classes).not.toContain('missed');
      expect(await alice.page.isHidden('#missedBadge')).toBe(true);
      noPageErrors();
    });
  });

  it('busy: calling someone who is in another call says "Bob is busy" and does not ring him', async () => {
    const alice = await person(main.url, 166, 'Alice Four');
    const bob = await person(main.url, 167, 'Bob Four');
    // Carol is a device without a page: a bare signaling socket.
    const carol = await signUp(main.url, phone(168), 'Carol Four');
    const carolWs = await carol.device('carol');
    sockets.push(carolWs);
    const invited = await carolWs.request('callInvite', { userIds: [bob.userId], media: 'audio' });
    if (!invited.ok) throw new Error(JSON.stringify(invited.error));
    const carolCall = (invited.data as { call: CallView }).call.callId;
    await bob.page.waitForSelector('#incomingCall:not([hidden])');
    await bob.page.click('#acceptCall');
    await bob.page.waitForSelector('#inCall:not([hidden])');
    await waitForCall(carolWs, (c) => c.state === 'active');
    expect((await carolWs.request('callJoinMedia', { callId: carolCall })).ok).toBe(true);

    await addContacts(alice, [bob]);
    await alice.page.click(callButton(bob.userId, 'video'));
    expect(await endedMessage(alice.page)).toBe('Bob Four is busy');
    expect(await alice.page.isHidden('#outgoingCall')).toBe(true);
    // Bob's page never rang: still in Carol's call.
    expect(await bob.page.isHidden('#incomingCall')).toBe(true);
    expect(await currentCallId(bob.page)).toBe(carolCall);
    const [aliceCall] = (await historyOf(alice.page)).entries;
    expect(aliceCall).toMatchObject({ outcome: 'busy', direction: 'outgoing', durationSeconds: 0 });
    // Bob's history lists the call he was busy for (not as missed), and Carol's.
    const bobs = (await historyOf(bob.page)).entries;
    expect(bobs.map((e) => e.callId)).toEqual([aliceCall!.callId, carolCall]);
    expect(bobs[0]).toMatchObject({ direction: 'incoming', outcome: 'busy', missed: false });

    await bob.page.click('#callHangup');
    expect(await endedMessage(bob.page)).toBe('Call ended');
    expect((await waitForCall(carolWs, (c) => c.state === 'ended')).endReason).toBe('hung-up');
    noPageErrors();
  });

  it('cancel: the caller gives up while it rings; the callee is left with a missed call', async () => {
    const alice = await person(main.url, 169, 'Alice Five');
    const bob = await person(main.url, 170, 'Bob Five');
    await addContacts(alice, [bob]);
    await alice.page.click(callButton(bob.userId, 'audio'));
    await bob.page.waitForSelector('#incomingCall:not([hidden])');
    await alice.page.waitForSelector('#outgoingState[data-state="ringing"]');
    const callId = (await currentCallId(alice.page))!;
    await alice.page.click('#cancelCall');
    expect(await endedMessage(alice.page)).toBe('Call cancelled');
    expect(await endedMessage(bob.page)).toBe('Missed call from Alice Five');
    expect(await bob.page.isHidden('#incomingCall')).toBe(true);
    await bob.page.waitForSelector('#missedBadge:not([hidden])');
    const missed = await historyOnScreen(bob.page, callId);
    expect(missed.classes).toContain('missed');
    expect((await historyOnScreen(alice.page, callId)).outcome).toBe('cancelled');
    noPageErrors();
  });

  it('glare: both click "call" at the same moment and end up in one call, connected', async () => {
    const alice = await person(main.url, 171, 'Alice Six');
    const bob = await person(main.url, 172, 'Bob Six');
    await addContacts(alice, [bob]);
    await addContacts(bob, [alice]);
    // Both pages click at the same instant of the (shared) clock.
    const at = Date.now() + 400;
    const clickAt = (p: Person, other: Person): Promise<void> =>
      p.page.evaluate(
        ({ selector, at }) =>
          new Promise<void>((resolve) =>
            setTimeout(
              () => {
                document.querySelector<HTMLButtonElement>(selector)!.click();
                resolve();
              },
              Math.max(0, at - Date.now()),
            ),
          ),
        { selector: callButton(other.userId, 'video'), at },
      );
    await Promise.all([clickAt(alice, bob), clickAt(bob, alice)]);

    for (const p of [alice, bob]) await p.page.waitForSelector('#inCall:not([hidden])', { timeout: 20_000 });
    const callId = await currentCallId(alice.page);
    expect(callId).toBeDefined();
    expect(await currentCallId(bob.page)).toBe(callId);
    await expectMediaFrom(alice.page, bob);
    await expectMediaFrom(bob.page, alice);
    // Both really placed a call, and there is one call in both histories, placed by one of them.
    expect(alice.sent.filter((m) => m === 'callInvite')).toHaveLength(1);
    expect(bob.sent.filter((m) => m === 'callInvite')).toHaveLength(1);
    const [a, b] = [(await historyOf(alice.page)).entries, (await historyOf(bob.page)).entries];
    expect(a.map((e) => e.callId)).toEqual([callId]);
    expect(b.map((e) => e.callId)).toEqual([callId]);
    expect([a[0]!.direction, b[0]!.direction].sort()).toEqual(['incoming', 'outgoing']);
    expect(await alice.page.isHidden('#callEnded')).toBe(true);
    expect(await bob.page.isHidden('#callEnded')).toBe(true);

    await bob.page.click('#callHangup');
    expect(await endedMessage(alice.page)).toBe('Call ended');
    noPageErrors();
  });

  it('glare, with the ring overtaken: Bob calls Alice before her ring reaches him, and his call joins hers', async () => {
    // Bob's page gets call notifications late: held back until his own callInvite has been answered.
    const hold = { on: false, inviteId: undefined as number | undefined, held: [] as string[] };
    const alice = await person(main.url, 178, 'Alice Ten');
    const bob = await person(main.url, 179, 'Bob Ten', {
      prepare: (page: Page) =>
        page.routeWebSocket(
          (url) => url.pathname === '/ws',
          (ws) => {
            const server = ws.connectToServer();
            const release = (): void => {
              for (const m of hold.held.splice(0)) ws.send(m);
            };
            ws.onMessage((message) => {
              if (typeof message === 'string') {
                const frame = JSON.parse(message) as { id?: number; method?: string };
                if (frame.method === 'callInvite') hold.inviteId = frame.id;
              }
              server.send(message);
            });
            server.onMessage((message) => {
              const frame =
                typeof message === 'string'
                  ? (JSON.parse(message) as { id?: number; notification?: string })
                  : {};
              if (hold.on && frame.notification?.startsWith('call')) {
                hold.held.push(message as string);
                return;
              }
              ws.send(message);
              if (hold.on && frame.id !== undefined && frame.id === hold.inviteId) {
                hold.on = false;
                release();
              }
            });
          },
        ),
    });
    await addContacts(alice, [bob]);
    await addContacts(bob, [alice]);
    hold.on = true;
    await alice.page.click(callButton(bob.userId, 'audio'));
    // Alice's call rings for Bob on the server, but his page has not heard of it.
    await poll(
      async () => hold.held.some((m) => m.includes('"callIncoming"')),
      (v) => v,
      'the ring never reached Bob’s connection',
    );
    expect(await bob.page.isHidden('#incomingCall')).toBe(true);
    await bob.page.click(callButton(alice.userId, 'audio'));

    for (const p of [alice, bob]) await p.page.waitForSelector('#inCall:not([hidden])');
    const callId = await currentCallId(alice.page);
    expect(await currentCallId(bob.page)).toBe(callId);
    expect(await bob.page.evaluate(() => window.callApp.currentCall()?.direction)).toBe('incoming');
    // Audio call: audio both ways.
    for (const [p, from] of [
      [alice, bob],
      [bob, alice],
    ] as const)
      await poll(
        () => inboundFrom(p.page, from.userId),
        (s) => s.audioPackets > 0,
        `no audio from ${from.name}`,
      );
    expect((await historyOf(bob.page)).entries.map((e) => e.callId)).toEqual([callId]);
    expect(await bob.page.isHidden('#callEnded')).toBe(true);
    await alice.page.click('#callHangup');
    expect(await endedMessage(bob.page)).toBe('Call ended');
    noPageErrors();
  });

  it('group call: three people (one added during the call); one leaves, the other two still see each other', async () => {
    const alice = await person(main.url, 173, 'Alice Seven');
    const bob = await person(main.url, 174, 'Bob Seven');
    const carol = await person(main.url, 175, 'Carol Seven');
    await addContacts(alice, [bob, carol]);

    // Alice ticks Bob and Carol and starts a group video call.
    for (const p of [bob, carol])
      await alice.page.check(`li.contact[data-user-id="${p.userId}"] .contact-select`);
    await alice.page.screenshot({ path: path.join(RESULTS, 'calls-contacts.png'), fullPage: true });
    await alice.page.click('#groupCallVideo');
    for (const p of [bob, carol]) {
      await p.page.waitForSelector('#incomingCall:not([hidden])');
      expect(await text(p.page, '#incomingName')).toBe('Alice Seven');
    }
    expect(await text(bob.page, '#incomingKind')).toBe('Incoming group video call with Carol Seven');
    const callId = (await currentCallId(bob.page))!;

    // Carol declines at first; the call goes on ringing for Bob, who answers.
    await carol.page.click('#declineCall');
    expect(await endedMessage(carol.page)).toBe('Call declined');
    await bob.page.click('#acceptCall');
    await alice.page.waitForSelector('#inCall:not([hidden])');
    await bob.page.waitForSelector('#inCall:not([hidden])');

    // Alice adds Carol back from the in-call screen; Carol's page rings again and she answers.
    await alice.page.click('#callAdd');
    await alice.page.click(`#addList button.add-participant[data-user-id="${carol.userId}"]`);
    await carol.page.waitForSelector('#incomingCall:not([hidden])');
    expect(await currentCallId(carol.page)).toBe(callId);
    await alice.page.waitForSelector(
      `.call-tile.remote[data-user-id="${carol.userId}"][data-state="ringing"]`,
    );
    await carol.page.click('#acceptCall');
    await carol.page.waitForSelector('#inCall:not([hidden])');

    // Everyone sees and hears both others.
    for (const [p, others] of [
      [alice, [bob, carol]],
      [bob, [alice, carol]],
      [carol, [alice, bob]],
    ] as const) {
      for (const o of others) await expectMediaFrom(p.page, o, 30_000);
      expect(await p.page.locator('#callTiles .call-tile.remote').count()).toBe(2);
    }
    await carol.page.screenshot({ path: path.join(RESULTS, 'calls-group.png') });

    // Alice leaves: the call goes on for Bob and Carol, media still flowing between them.
    await alice.page.click('#callHangup');
    expect(await endedMessage(alice.page)).toBe('Call ended');
    for (const p of [bob, carol])
      await p.page.waitForSelector(`.call-tile.remote[data-user-id="${alice.userId}"]`, {
        state: 'detached',
      });
    await expectStillFlowing(bob.page, carol);
    await expectStillFlowing(carol.page, bob);
    expect(await bob.page.isHidden('#inCall')).toBe(false);
    expect(await inboundFrom(bob.page, alice.userId)).toMatchObject({ framesDecoded: 0 });

    // The last two leave; the call is over.
    await bob.page.click('#callHangup');
    expect(await endedMessage(bob.page)).toBe('Call ended');
    await carol.page.click('#callHangup');
    expect(await endedMessage(carol.page)).toBe('Call ended');
    const entries = (await historyOf(carol.page)).entries.filter((e) => e.callId === callId);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.durationSeconds).toBeGreaterThan(0);
    noPageErrors();
  }, 120_000);

  describe('with 10-second access tokens', () => {
    let shortLived: Service;
    beforeAll(async () => {
      shortLived = await startTestService('redis', { JWT_TTL_SECONDS: '10' });
    });
    afterAll(async () => {
      await shortLived?.close();
    });

    it('a call outlives its access tokens: the call connection and the media reconnect (4001) and go on', async () => {
      const alice = await person(shortLived.url, 176, 'Alice Nine');
      const bob = await person(shortLived.url, 177, 'Bob Nine');
      await addContacts(alice, [bob]);
      await alice.page.click(callButton(bob.userId, 'video'));
      await bob.page.waitForSelector('#incomingCall:not([hidden])');
      await bob.page.click('#acceptCall');
      for (const p of [alice, bob]) await p.page.waitForSelector('#inCall:not([hidden])');
      await expectMediaFrom(alice.page, bob);
      await expectMediaFrom(bob.page, alice);
      const callId = (await currentCallId(alice.page))!;

      // The server closes each socket (4001) as its token expires; each page gets a fresh token,
      // reconnects, and joins the call's media again (new peer id) in the same call.
      const mediaPeer = (p: Person): Promise<string | undefined> =>
        p.page.evaluate(() => window.callApp.currentCall()?.session?.peerId);
      const before = { alice: await mediaPeer(alice), bob: await mediaPeer(bob) };
      for (const [p, was] of [
        [alice, before.alice],
        [bob, before.bob],
      ] as const)
        await poll(
          () => mediaPeer(p),
          (id) => id !== undefined && id !== was,
          `${p.name}'s media did not rejoin after the token expired`,
          25_000,
        );
      for (const p of [alice, bob]) {
        expect(await currentCallId(p.page)).toBe(callId);
        expect(await p.page.evaluate(() => window.callApp.calls()?.connectionState)).toBe('connected');
      }
      await expectStillFlowing(alice.page, bob, 20_000);
      await expectStillFlowing(bob.page, alice, 20_000);
      expect(await alice.page.locator('#callTiles .call-tile.remote').count()).toBe(1);

      await alice.page.click('#callHangup');
      expect(await endedMessage(bob.page)).toBe('Call ended');
      noPageErrors();
    }, 90_000);
  });

  describe('across two server processes sharing Redis', () => {
    let nodeB: ServerProcess;
    beforeAll(async () => {
      nodeB = await startServerProcess({
        REDIS_URL: inject('redisUrl'),
        NODE_ID: 'calls-node-b',
        ...main.databaseEnv,
      });
    });
    afterAll(async () => {
      await nodeB?.stop();
    });

    it("Alice on node A calls Bob on node B: it rings across nodes and node B relays Bob's media session to node A", async () => {
      const alice = await person(main.url, 190, 'Alice Eight');
      // Bob's page comes from node B. Its first callJoinMedia is held until Alice's media room exists
      // on node A, so that Bob (not Alice) is the one relayed to the other node, every time.
      const held: string[] = [];
      const bob = await person(nodeB.url, 191, 'Bob Eight', {
        prepare: (page: Page) =>
          page.routeWebSocket(
            (url) => url.pathname === '/ws',
            (ws) => {
              const server = ws.connectToServer();
              const toNodeB = new URL(ws.url()).port === String(nodeB.port);
              ws.onMessage(async (message) => {
                const frame =
                  typeof message === 'string'
                    ? (JSON.parse(message) as { method?: string; data?: { callId?: string } })
                    : {};
                if (toNodeB && frame.method === 'callJoinMedia' && frame.data?.callId) {
                  held.push(frame.data.callId);
                  const room = `call-${frame.data.callId}`;
                  await poll(
                    async () => main.rooms.room(room) !== undefined,
                    (v) => v,
                    'no media room on node A',
                    20_000,
                    50,
                  );
                }
                server.send(message);
              });
            },
          ),
      });
      expect(new URL(bob.page.url()).port).toBe(String(nodeB.port));
      expect(main.signaling.connectionCount).toBeGreaterThanOrEqual(1);

      await addContacts(alice, [bob]);
      await alice.page.click(callButton(bob.userId, 'video'));
      await bob.page.waitForSelector('#incomingCall:not([hidden])');
      expect(await text(bob.page, '#incomingName')).toBe('Alice Eight');
      await alice.page.waitForSelector('#outgoingState[data-state="ringing"]');
      await bob.page.click('#acceptCall');
      for (const p of [alice, bob]) await p.page.waitForSelector('#inCall:not([hidden])');
      const callId = (await currentCallId(alice.page))!;

      await expectMediaFrom(bob.page, alice, 30_000);
      await expectMediaFrom(alice.page, bob, 30_000);
      expect(held).toEqual([callId]);
      // Bob's call signaling and his media session both stay on node B's one socket; node B relays
      // the media session to node A, which hosts the room (media itself goes straight to node A).
      const urls = await bob.page.evaluate(() => ({
        calls: window.callApp.calls()!.signaling!.url,
        media: window.callApp.currentCall()!.session!.signaling.url,
      }));
      expect(new URL(urls.calls).port).toBe(String(nodeB.port));
      expect(new URL(urls.media).port).toBe(String(nodeB.port));
      const peers = main.rooms.snapshot(`call-${callId}`)?.peers ?? [];
      expect(peers.map((p) => p.userId).sort()).toEqual([alice.userId, bob.userId].sort());
      expect(main.relay.counts.hosted).toBe(1);

      await bob.page.click('#callHangup');
      expect(await endedMessage(bob.page)).toBe('Call ended');
      expect(await endedMessage(alice.page)).toBe('Call ended');
      const entry = await historyOnScreen(alice.page, callId);
      expect(entry.seconds).toBeGreaterThan(0);
      noPageErrors();
    }, 90_000);
  });
});
