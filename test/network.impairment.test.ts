/**
 * The impairment suite: a real Chromium in a network namespace of its own (test/support/netnsClient.ts)
 * calls a Chromium on the host through the real service and mediasoup, while the namespace's link
 * drops packets at random, is rate-limited, or lets only some traffic through. Each test states
 * the bound it asserts and why; the measured numbers are printed (and `npm run bench:networks`
 * repeats the same profiles for percentiles in BENCHMARKS.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetworkRig } from './support/networkRig.js';
import {
  pageReport,
  measureLoss,
  measureRecovery,
  measureThinLink,
  timeToFirstFrame,
  waitForFlowingVideo,
} from './support/networkProfiles.js';

describe('calls over impaired networks', () => {
  let rig: NetworkRig;

  beforeAll(async () => {
    rig = await NetworkRig.start({ turn: true });
  }, 90_000);
  afterAll(async () => {
    await rig?.close();
  });

  it('keeps decoding video at 5 % random loss each way (NACK/RTX, PLI): no freeze over 1 s', async () => {
    const call = await rig.call();
    try {
      await waitForFlowingVideo(call.impaired);
      rig.ns.apply({ kind: 'loss', percent: 5 });
      const m = await measureLoss(call.impaired, 15_000);
      rig.ns.apply({ kind: 'clear' });
      console.log(`[network] loss 5%: ${JSON.stringify(m)}`);
      // 5 % each way is repaired by retransmissions: the stream keeps decoding at most of its
      // ~20 fps and no presented-frame gap reaches 1 s (a freeze a user would call "stuck").
      expect(m.fps).toBeGreaterThan(10);
      expect(m.maxFrameGapMs).toBeLessThan(1000);
      expect(m.nacks).toBeGreaterThan(0);
      expect(m.audioPackets).toBeGreaterThan(0);
      // Opus in-band FEC is negotiated both ways: what we send and what the SFU forwards to us.
      const { opusFmtp } = await call.impaired.evaluate(() => window.net.report());
      expect(opusFmtp.send).toMatch(/useinbandfec=1/);
      expect(opusFmtp.recv).toMatch(/useinbandfec=1/);
    } finally {
      await rig.hangUp(call);
    }
  });

  it('keeps decoding video at 15 % random loss each way, with freezes bounded and reported', async () => {
    const call = await rig.call();
    try {
      await waitForFlowingVideo(call.impaired);
      rig.ns.apply({ kind: 'loss', percent: 15 });
      const m = await measureLoss(call.impaired, 15_000);
      const seen = await pageReport(call.impaired);
      const seenByOther = await pageReport(call.clean);
      rig.ns.apply({ kind: 'clear' });
      const quality = { self: seen.quality[seen.peerId], byOther: seenByOther.quality[call.impairedPeerId] };
      console.log(`[network] loss 15%: ${JSON.stringify({ ...m, quality })}`);
      // 15 % each way is well past what a call shows as fine: the client's own level drops.
      expect(['good', 'poor']).toContain(quality.self);
      // At 15 % each way a retransmission is itself lost ~15 % of the time and keyframe requests
      // too: video degrades but keeps going — at least a few frames every second, and freezes
      // (Chromium's own count) take less than half of the window.
      expect(m.fps).toBeGreaterThan(5);
      expect(m.freezeSeconds).toBeLessThan(7.5);
      expect(m.maxFrameGapMs).toBeLessThan(3000);
      expect(m.audioPackets).toBeGreaterThan(0);
    } finally {
      await rig.hangUp(call);
    }
  });

  it('after a 2 s blackout the SFU gets the sender to make a keyframe and video resumes on it', async () => {
    const call = await rig.call();
    try {
      const before = await waitForFlowingVideo(call.impaired);
      const askedBefore = (await pageReport(call.clean)).sentVideoKeyFrameRequests;
      const m = await measureRecovery(call.impaired, () => rig.ns.apply({ kind: 'blackhole' }), {
        lift: () => rig.ns.apply({ kind: 'clear' }),
        liftAfterMs: 2000,
        timeoutMs: 10_000,
      });
      const after = await waitForFlowingVideo(call.impaired);
      const asked = (await pageReport(call.clean)).sentVideoKeyFrameRequests - askedBefore;
      console.log(
        `[network] 2 s blackout: ${JSON.stringify({ ...m, plis: after.pliCount - before.pliCount, senderAsked: asked })}`,
      );
      // Two seconds of packets are past any retransmission buffer: only a new keyframe lets the
      // receiver decode again. The sender is asked through mediasoup, by the receiver's PLI/FIR, or
      // by the SFU itself when the receiver's path moved (its SDK found the socket dead during the
      // blackout and resumed with an ICE restart: sfu/mediaEndpoint.ts requests keyframes then).
      expect(asked).toBeGreaterThan(0);
      expect(after.keyFramesDecoded).toBeGreaterThan(before.keyFramesDecoded);
      expect(m.mediaBackMs).toBeLessThan(3000);
    } finally {
      rig.ns.apply({ kind: 'clear' });
      await rig.hangUp(call);
    }
  });

  it('on a 200 kbit/s link the receiver gets the lowest simulcast layer within seconds, audio stays clean, quality poor', async () => {
    const call = await rig.call({ publish: 'audio' });
    try {
      const before = await waitForFlowingVideo(call.impaired);
      // 200, not 300 kbit/s: at 300 Chromium's middle layer of the fake camera (320×240, ~250 kbit/s)
      // fits, so the SFU rightly keeps it (bench:networks at 300: p50 4.5 s, one run in five never
      // switched; a CI run at 300 stayed on the middle layer). 200 leaves room for the lowest layer only.
      rig.ns.apply({ kind: 'thin', kbit: 200 });
      const m = await measureThinLink(call.impaired, 25_000);
      rig.ns.apply({ kind: 'clear' });
      // Whether the SDK took the thin link for a dead one (a resume costs audio): in the log.
      const resumes = await call.impaired.evaluate(
        () => window.net.events().filter((e) => e.type === 'resuming').length,
      );
      console.log(
        `[network] thin 200 kbit/s: ${JSON.stringify({ widthBefore: before.frameWidth, ...m, resumes })}`,
      );
      expect(m.lowestLayerAfterMs, 'switched to the lowest layer').not.toBeNull();
      // mediasoup lowers the layer once its estimate of our downlink (transport-cc) falls below the
      // layer's bitrate. bench:networks measured p50 4.5 s, p95 13.3 s (300 ms tbf queue), and one
      // run in five stayed on the middle layer for 20 s: Chromium's middle layer (320×240 of the
      // fake camera, ~250 kbit/s) nearly fits in 300 kbit/s. 20 s is the bound that held in 4/5.
      expect(m.lowestLayerAfterMs!).toBeLessThan(20_000);
      expect(m.poorAfterMs, 'own quality reads poor').not.toBeNull();
      // Audio (~40 kbit/s) fits next to the lowest layer (~150 kbit/s): under 5 % concealed.
      expect(m.audioConcealedRatio).toBeLessThan(0.05);
    } finally {
      await rig.hangUp(call);
    }
  });

  it('connects over ICE-TCP to the worker when UDP is blocked', async () => {
    rig.ns.apply({ kind: 'blockUdp' });
    const call = await rig.call();
    try {
      const ttff = await timeToFirstFrame(call.impaired, call.impairedStartedAt);
      const report = await call.impaired.evaluate(() => window.net.report());
      console.log(`[network] UDP blocked: ttffMs=${ttff} pair=${JSON.stringify(report.pair)}`);
      // Chromium's active TCP candidate shows as host or peer-reflexive; the far end is the
      // worker's own TCP listener (not a relay).
      expect(report.pair?.protocol).toBe('tcp');
      expect(['host', 'prflx']).toContain(report.pair?.localType);
      expect(report.pair).toMatchObject({ remoteType: 'host' });
      expect(report.pair?.remoteAddress.startsWith(`${rig.ns.serverAddress}:`)).toBe(true);
    } finally {
      rig.ns.apply({ kind: 'clear' });
      await rig.hangUp(call);
    }
  });

  it('connects through TURN over TCP when only TCP to the TURN port (and signaling) gets out', async () => {
    const turn = rig.turn!;
    rig.ns.apply({
      kind: 'onlyTcp',
      address: rig.ns.serverAddress,
      ports: [turn.port, Number(new URL(rig.url).port)],
    });
    const call = await rig.call();
    try {
      const ttff = await timeToFirstFrame(call.impaired, call.impairedStartedAt);
      const report = await call.impaired.evaluate(() => window.net.report());
      console.log(`[network] TCP to TURN only: ttffMs=${ttff} pair=${JSON.stringify(report.pair)}`);
      expect(report.pair).toMatchObject({ localType: 'relay', relayProtocol: 'tcp' });
    } finally {
      rig.ns.apply({ kind: 'clear' });
      await rig.hangUp(call);
    }
  });

  it("iceTransportPolicy 'relay' sends media only through the TURN relay the join answer named", async () => {
    const call = await rig.call({ iceTransportPolicy: 'relay' });
    try {
      const ttff = await timeToFirstFrame(call.impaired, call.impairedStartedAt);
      const report = await pageReport(call.impaired);
      console.log(`[network] relay policy: ttffMs=${ttff} pair=${JSON.stringify(report.pair)}`);
      // Only through the relay. Which of the answer's two TURN listeners ICE nominates is Chromium's
      // choice: since the transports come with the join answer (issue 12) it has often been TCP.
      expect(report.pair).toMatchObject({ localType: 'relay' });
      expect(['udp', 'tcp']).toContain(report.pair?.relayProtocol);
    } finally {
      await rig.hangUp(call);
    }
  });
});
