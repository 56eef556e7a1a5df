/**
 * Calls warm up while they ring (issue 12): the caller's and each ringing callee's device set the
 * call's media up ahead — transports connected, producers created — as hidden peers, and answering
 * only reveals them. Proven in real Chromium through the web page, against the real server and
 * mediasoup: nothing of the callee reaches the caller before the answer (zero packets, no consumer
 * of the callee's producers) while the callee's warm transport is connected; after the answer media
 * flows both ways without the old setup round trips; and the warm peers are gone from the server
 * (`calling_warm_peers` back to 0) after an answer, a decline, a missed call and an answer on
 * another device.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './support/browser.js';
import {
  addContacts,
  callButton,
  currentCallId,
  endedMessage,
  expectMediaFrom,
  poll,
  signedInPerson,
  type Person,
} from './support/callsBrowser.js';
import { startTestService } from './support/testService.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

/** This file's test numbers: +12015550183..189. */
const phone = (n: number): string => `+12015550${n}`;

describe('calls warm up while they ring', () => {
  let service: Service;
  let browser: Browser;
  let people: Person[] = [];

  beforeAll(async () => {
    // Long enough for a loaded machine to warm up before the answer, short enough to test "missed".
    service = await startTestService('redis', { CALL_RING_TIMEOUT_SECONDS: '20' });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await service?.close();
  });
  afterEach(async () => {
    await Promise.all(people.map((p) => p.context.close().catch(() => undefined)));
    people = [];
  });

  /** A signed-in device that has granted camera and microphone before (so ringing may warm up). */
  const person = async (n: number, name: string): Promise<Person> => {
    const p = await signedInPerson(browser, service.url, phone(n), name);
    await p.context.grantPermissions(['camera', 'microphone'], { origin: service.url });
    people.push(p);
    return p;
  };

  const warmPeersMetric = async (): Promise<number> => {
    const text = await (await fetch(`${service.url}/metrics`)).text();
    const line = /^calling_warm_peers (\d+)$/m.exec(text);
    if (!line) throw new Error('no calling_warm_peers in /metrics');
    return Number(line[1]);
  };
  const warmIn = (callId: string): number => service.rooms.room(`call-${callId}`)?.warmCount ?? 0;
  const waitForWarm = (callId: string, n: number): Promise<number> =>
    poll(
      async () => warmIn(callId),
      (count) => count === n,
      `expected ${n} warm peers in call ${callId}`,
      20_000,
    );
  const waitForNoWarmPeers = (): Promise<number> =>
    poll(warmPeersMetric, (n) => n === 0, 'warm peers left on the server', 15_000);

  /** Alice calls Bob (video) from the contacts screen; resolves with the call id once it rings for Bob. */
  const ring = async (alice: Person, bobs: Person[]): Promise<string> => {
    await addContacts(alice, [bobs[0]!]);
    await alice.page.click(callButton(bobs[0]!.userId, 'video'));
    for (const bob of bobs) await bob.page.waitForSelector('#incomingCall:not([hidden])');
    return (await currentCallId(bobs[0]!.page))!;
  };

  /** Everything the page's current call has received, over all its receivers. */
  const received = (page: Page): Promise<{ consumers: number; packets: number }> =>
    page.evaluate(async () => {
      const out = { consumers: 0, packets: 0 };
      const session = window.callApp.currentCall()?.session;
      if (!session) return out;
      for (const report of (await session.getReceiveStats()).values()) {
        out.consumers++;
        report.forEach((s: { type: string; packetsReceived?: number }) => {
          if (s.type === 'inbound-rtp') out.packets += s.packetsReceived ?? 0;
        });
      }
      return out;
    });

  it('nothing of the callee reaches the caller before the answer; after it, media both ways', async () => {
    const alice = await person(183, 'Alice Warm');
    const bob = await person(184, 'Bob Warm');
    const callId = await ring(alice, [bob]);
    await waitForWarm(callId, 2);
    expect(await warmPeersMetric()).toBe(2);
    const room = service.rooms.room(`call-${callId}`)!;
    const bobWarm = [...room.warmPeers].find((p) => p.userId === bob.userId)!;
    expect(bobWarm).toBeDefined();

    // Bob's warm peer is fully up: its send transport connected (ICE + DTLS) and its producers
    // receiving (black frames and silence: his tracks stay disabled until he answers).
    await poll(
      async () =>
        (await bobWarm.transportStats()).some((s) => (s as { dtlsState?: string }).dtlsState === 'connected'),
      (connected) => connected,
      "Bob's warm transport never connected",
      20_000,
    );
    await poll(
      () => bobWarm.mediaBytes(),
      (m) => m.producers.length === 2 && m.producers.every((p) => p.bytes > 0),
      "Bob's warm producers received nothing",
      20_000,
    );
    expect(
      await bob.page.evaluate(() =>
        window.callApp
          .currentCall()!
          .localStream!.getTracks()
          .map((t) => t.enabled),
      ),
    ).toEqual([false, false]);

    // …and yet Alice has received nothing. Her page has its receivers of Bob's audio and video
    // already (consumed ahead, so the answer only has to resume them) and its receive transport is
    // up, but every consumer in the room is paused in mediasoup and she counts zero packets. Nobody
    // is visible in the room yet.
    const aliceWarm = [...room.warmPeers].find((p) => p.userId === alice.userId)!;
    await poll(
      async () => ({
        pageConsumers: (await received(alice.page)).consumers,
        dtlsConnected: (await aliceWarm.transportStats()).filter(
          (s) => (s as { dtlsState?: string }).dtlsState === 'connected',
        ).length,
      }),
      // Both of her transports: the receive one too, with nothing on it yet.
      (r) => r.pageConsumers === 2 && r.dtlsConnected === 2,
      "Alice's receive side was never set up ahead",
      20_000,
    );
    expect(room.snapshot().peers).toEqual([]);
    for (const p of room.warmPeers) {
      const consumers = p.snapshot().consumers;
      expect(consumers, `consumers of ${p.userId}`).toHaveLength(2);
      expect(
        consumers.every((c) => c.paused),
        `consumers of ${p.userId} paused`,
      ).toBe(true);
    }
    expect(await received(alice.page)).toEqual({ consumers: 2, packets: 0 });
    // Not even how Bob's media is doing: no score or layer report of a consumer made ahead.
    for (const name of ['consumerScore', 'consumerLayers', 'peerJoined'])
      expect(alice.received, `Alice got ${name} before Bob answered`).not.toContain(name);
    expect(alice.sent).toContain('callWarmMedia');
    expect(bob.sent).toContain('callWarmMedia');

    const sentBeforeAccept = bob.sent.length;
    await bob.page.click('#acceptCall');
    for (const p of [alice, bob]) await p.page.waitForSelector('#inCall:not([hidden])');
    const toBob = await expectMediaFrom(bob.page, alice);
    const toAlice = await expectMediaFrom(alice.page, bob);
    expect(toBob.videoPackets).toBeGreaterThan(0);
    expect(toAlice.videoPackets).toBeGreaterThan(0);
    // Once both are in, the scores do come (the check above could see them).
    await poll(
      async () => alice.received.includes('consumerScore'),
      (got) => got,
      'Alice never got a consumer score after the answer',
      10_000,
    );
    // The answer only revealed the warm peers: no transports or consumers were asked for after it.
    const afterAccept = bob.sent.slice(sentBeforeAccept);
    expect(afterAccept).toContain('callJoinMedia');
    for (const setup of ['setRtpCapabilities', 'createTransport', 'consume', 'produce'])
      expect(afterAccept, `Bob sent ${setup} after answering`).not.toContain(setup);
    expect(
      room
        .snapshot()
        .peers.map((p) => p.userId)
        .sort(),
    ).toEqual([alice.userId, bob.userId].sort());
    expect(warmIn(callId)).toBe(0);
    expect(await warmPeersMetric()).toBe(0);

    await alice.page.click('#callHangup');
    expect(await endedMessage(bob.page)).toBe('Call with Alice Warm ended');
    for (const p of people) expect(p.errors, `page errors of ${p.name}`).toEqual([]);
  }, 90_000);

  it('a declined call releases the warm peers', async () => {
    const alice = await person(185, 'Alice Decline');
    const bob = await person(186, 'Bob Decline');
    const callId = await ring(alice, [bob]);
    await waitForWarm(callId, 2);
    await bob.page.click('#declineCall');
    expect(await endedMessage(alice.page)).toMatch(/declined/i);
    expect(await waitForNoWarmPeers()).toBe(0);
    expect(service.rooms.room(`call-${callId}`)).toBeUndefined();
  }, 60_000);

  it('a missed call releases the warm peers', async () => {
    const alice = await person(187, 'Alice Missed');
    const bob = await person(188, 'Bob Missed');
    const callId = await ring(alice, [bob]);
    await waitForWarm(callId, 2);
    expect(await endedMessage(alice.page, 40_000)).toBe('No answer');
    expect(await waitForNoWarmPeers()).toBe(0);
    expect(service.rooms.room(`call-${callId}`)).toBeUndefined();
  }, 90_000);

  it('answered on another device: that device’s warm peer is released, the answering one revealed', async () => {
    const alice = await person(189, 'Alice Elsewhere');
    const bobPhone = await person(182, 'Bob Elsewhere');
    const bobLaptop = await signedInPerson(browser, service.url, phone(182), 'Bob Elsewhere');
    await bobLaptop.context.grantPermissions(['camera', 'microphone'], { origin: service.url });
    people.push(bobLaptop);
    const callId = await ring(alice, [bobPhone, bobLaptop]);
    await waitForWarm(callId, 3);
    await bobLaptop.page.click('#acceptCall');
    expect(await endedMessage(bobPhone.page)).toBe('Answered on another device');
    await expectMediaFrom(bobLaptop.page, alice);
    await expectMediaFrom(alice.page, bobLaptop);
    expect(await waitForNoWarmPeers()).toBe(0);
    const room = service.rooms.room(`call-${callId}`)!;
    expect(
      room
        .snapshot()
        .peers.map((p) => p.userId)
        .sort(),
    ).toEqual([alice.userId, bobPhone.userId].sort());
    await alice.page.click('#callHangup');
    expect(await endedMessage(bobLaptop.page)).toBe('Call with Alice Elsewhere ended');
  }, 90_000);
});
