/**
 * ICE restart without a socket drop (issue 10 item 3): the media path to the SFU breaks while the
 * signaling socket stays up (a firewall or NAT dropping the media flows, a path change under a
 * socket that survived). Here the namespace lets only TCP to the signaling port through, so
 * every media packet (UDP and ICE-TCP) is dropped and the socket keeps answering. The SDK must
 * notice the stall, see that the socket is fine, and restart ICE through `restartIce` (no resume,
 * no re-entry); and if ICE stays down with signaling up, enter the room again after a bounded time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { NetworkRig } from './support/networkRig.js';
import { measureRecovery, pageReport, waitForFlowingVideo } from './support/networkProfiles.js';
import type { PageEvent } from './support/networkPage.js';
import { untilValue } from './support/poll.js';

function events(page: Page, type: string, since: number): Promise<PageEvent[]> {
  return page.evaluate(([t, from]) => window.net.events().filter((e) => e.type === t && e.at >= from), [
    type,
    since,
  ] as const);
}

/** `restartIce` requests the server answered, from its metrics. */
async function restartIceCount(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /calling_signaling_requests_total\{method="restartIce",outcome="ok"\} (\d+)/.exec(text);
  return m ? Number(m[1]) : 0;
}

describe('ICE restart while the signaling socket stays up', () => {
  let rig: NetworkRig;

  beforeAll(async () => {
    rig = await NetworkRig.start();
  }, 90_000);
  afterAll(async () => {
    await rig?.close();
  });

  /** Everything but TCP to the signaling port is dropped: media breaks, the socket does not. */
  const blockMedia = (): void =>
    rig.ns.apply({ kind: 'onlyTcp', address: rig.ns.serverAddress, ports: [Number(new URL(rig.url).port)] });

  it('media blocked for 4 s: ICE is restarted over the live socket and media comes back, same peer, no resume', async () => {
    const call = await rig.call();
    try {
      await waitForFlowingVideo(call.impaired);
      const restartsBefore = await restartIceCount(rig.url);
      const at = Date.now();
      const m = await measureRecovery(call.impaired, blockMedia, {
        lift: () => rig.ns.apply({ kind: 'clear' }),
        liftAfterMs: 4000,
        timeoutMs: 15_000,
      });
      const restarts = (await restartIceCount(rig.url)) - restartsBefore;
      console.log(`[network] media blocked 4 s: ${JSON.stringify({ ...m, restarts })}`);
      expect(restarts).toBeGreaterThan(0);
      // The socket never went: no resume, no re-entry, and the others saw nothing.
      expect(await events(call.impaired, 'resuming', at)).toEqual([]);
      expect(await events(call.impaired, 'rejoined', at)).toEqual([]);
      expect((await pageReport(call.impaired)).peerId).toBe(call.impairedPeerId);
      expect(await events(call.clean, 'peerLeft', at)).toEqual([]);
      // Restarts repeat at most a second apart while media is stalled (mediaStallWatch.ts), and the
      // SFU asks for a keyframe when the path moves: media is back within 3 s of the lift.
      expect(m.mediaBackMs).toBeLessThan(3000);
    } finally {
      rig.ns.apply({ kind: 'clear' });
      await rig.hangUp(call);
    }
  });

  it('ICE that stays down with signaling up ends in one re-entry after the give-up time', async () => {
    const call = await rig.call({ iceRecovery: { retryEveryMs: 1000, giveUpAfterMs: 3000 } });
    try {
      await waitForFlowingVideo(call.impaired);
      const at = Date.now();
      blockMedia();
      // ICE reads `disconnected` a few seconds into the block (Chromium), then 3 s of restarts over
      // the live socket: the session leaves and enters again (new peer id) while media is blocked.
      const rejoined = await untilValue(
        () => events(call.impaired, 'rejoined', at),
        (e) => e.length > 0,
        { what: 'a re-entry after ICE stayed down', timeoutMs: 30_000, intervalMs: 250 },
      );
      rig.ns.apply({ kind: 'clear' });
      await waitForFlowingVideo(call.impaired);
      const after = await pageReport(call.impaired);
      console.log(`[network] ICE down with signaling up: rejoined ${rejoined[0]!.detail}`);
      expect(after.peerId).not.toBe(call.impairedPeerId);
      expect(await events(call.impaired, 'resuming', at)).toEqual([]);
      expect((await events(call.clean, 'peerLeft', at)).map((e) => e.detail)).toEqual([call.impairedPeerId]);
      expect((await events(call.clean, 'peerJoined', at)).map((e) => e.detail)).toEqual([after.peerId]);
    } finally {
      rig.ns.apply({ kind: 'clear' });
      await rig.hangUp(call);
    }
  }, 90_000);
});
