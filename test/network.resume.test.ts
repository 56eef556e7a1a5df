/**
 * The impairment profiles that need resume (issue 10 items 1–3): a network change, outages shorter
 * and longer than the resume grace, and a call that outlives many access tokens. Same rig as
 * network.impairment.test.ts: a Chromium in a namespace with two links calls a host Chromium.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { NetworkRig } from './support/networkRig.js';
import { measureRecovery, pageReport, waitForFlowingVideo } from './support/networkProfiles.js';
import { signInAccount } from './support/accountSignIn.js';
import { PhoneNumbers } from './support/phoneNumbers.js';
import type { PageEvent } from './support/networkPage.js';

function events(page: Page, type: string): Promise<PageEvent[]> {
  return page.evaluate((t) => window.net.events().filter((e) => e.type === t), type);
}

describe('calls across network changes and outages', () => {
  let rig: NetworkRig;

  beforeAll(async () => {
    rig = await NetworkRig.start({ links: 2 });
  }, 90_000);
  afterAll(async () => {
    await rig?.close();
  });

  it('a network change (the link in use goes down, the other takes over) brings media back within 2 s, same peer, others see nothing', async () => {
    const call = await rig.call();
    try {
      await waitForFlowingVideo(call.impaired);
      const m = await measureRecovery(call.impaired, () => rig.ns.linkDown(0), { timeoutMs: 20_000 });
      console.log(`[network] network change: ${JSON.stringify(m)}`);
      expect(m.maxFrameGapMs).toBeLessThan(2000);
      expect((await pageReport(call.impaired)).peerId).toBe(call.impairedPeerId);
      expect(await events(call.clean, 'peerLeft')).toEqual([]);
    } finally {
      rig.ns.linkUp(0);
      await rig.hangUp(call);
    }
  });

  it('an 8 s outage resumes: media back, same peer id, no leave or join seen by the others', async () => {
    const call = await rig.call();
    try {
      await waitForFlowingVideo(call.impaired);
      const m = await measureRecovery(call.impaired, () => rig.ns.apply({ kind: 'blackhole' }), {
        lift: () => rig.ns.apply({ kind: 'clear' }),
        liftAfterMs: 8000,
        timeoutMs: 20_000,
      });
      console.log(`[network] outage 8 s: ${JSON.stringify(m)}`);
      expect((await pageReport(call.impaired)).peerId).toBe(call.impairedPeerId);
      expect(await events(call.clean, 'peerLeft')).toEqual([]);
      expect(await events(call.clean, 'peerJoined')).toEqual([]);
      expect(m.mediaBackMs).toBeLessThan(5000);
    } finally {
      rig.ns.apply({ kind: 'clear' });
      await rig.hangUp(call);
    }
  });

  it('a 30 s outage (past the grace) ends in one clean full rejoin: the others see one leave and one join', async () => {
    const call = await rig.call();
    try {
      await waitForFlowingVideo(call.impaired);
      const m = await measureRecovery(call.impaired, () => rig.ns.apply({ kind: 'blackhole' }), {
        lift: () => rig.ns.apply({ kind: 'clear' }),
        liftAfterMs: 30_000,
        timeoutMs: 30_000,
      });
      console.log(`[network] outage 30 s: ${JSON.stringify(m)}`);
      const after = await pageReport(call.impaired);
      expect(after.peerId).not.toBe(call.impairedPeerId);
      expect((await events(call.clean, 'peerLeft')).map((e) => e.detail)).toEqual([call.impairedPeerId]);
      expect((await events(call.clean, 'peerJoined')).map((e) => e.detail)).toEqual([after.peerId]);
    } finally {
      rig.ns.apply({ kind: 'clear' });
      await rig.hangUp(call);
    }
  }, 120_000);
});

describe('a call that outlives many access tokens', () => {
  let rig: NetworkRig;

  beforeAll(async () => {
    rig = await NetworkRig.start({ env: { JWT_TTL_SECONDS: '20' } });
  }, 90_000);
  afterAll(async () => {
    await rig?.close();
  });

  it('two minutes with JWT_TTL_SECONDS=20: no media gap over 500 ms, no peerLeft, same peer id', async () => {
    const phones = new PhoneNumbers(90);
    const [impairedAccount, cleanAccount] = await Promise.all([
      signInAccount(rig.url, phones.next(), 'Long Impaired'),
      signInAccount(rig.url, phones.next(), 'Long Clean'),
    ]);
    const call = await rig.call({
      impairedTokens: (rejected) => impairedAccount.getAccessToken(rejected),
      cleanTokens: (rejected) => cleanAccount.getAccessToken(rejected),
    });
    try {
      await waitForFlowingVideo(call.impaired);
      await call.impaired.evaluate(() => window.net.resetGaps());
      // The call itself is the measurement: two minutes, six token lifetimes.
      await new Promise((r) => setTimeout(r, 120_000));
      const r = await pageReport(call.impaired);
      console.log(`[network] long call: ${JSON.stringify(r.frames)}`);
      expect(r.frames.gapsOver500).toBe(0);
      expect(r.peerId).toBe(call.impairedPeerId);
      expect(await events(call.clean, 'peerLeft')).toEqual([]);
    } finally {
      await rig.hangUp(call);
    }
  }, 200_000);
});
