/**
 * mediasoup's channel to a worker cannot be poisoned by one bad request.
 *
 * mediasoup builds every request in one FlatBuffers builder shared by the whole channel. Before our
 * patch (patches/mediasoup+3.27.1.patch), a value that throws while a request is being built
 * (`maxBitrate: 1.5` → `BigInt(1.5)`) left that builder half-way through a table, so every later
 * request to the worker failed with "object serialization must not be nested". This drives
 * mediasoup directly (no schema in front of it) to prove the patched channel recovers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { loadConfig } from '../server/config.js';
import { mediaCodecs } from '../sfu/mediaCodecs.js';

const config = loadConfig({ ...process.env, NODE_ENV: 'test' });

/** What a Chromium send transport declares for VP8, with a bitrate mediasoup cannot serialize. */
function vp8WithBitrate(maxBitrate: number): types.RtpParameters {
  return {
    mid: '0',
    codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, parameters: {}, rtcpFeedback: [] }],
    headerExtensions: [],
    encodings: [{ ssrc: 1111, maxBitrate }],
    rtcp: { cname: 'poison', reducedSize: true },
  };
}

describe('mediasoup channel', () => {
  let worker: types.Worker | undefined;
  afterEach(() => {
    worker?.close();
    worker = undefined;
  });

  it('serves the next request after one that threw while it was being built', async () => {
    worker = await mediasoup.createWorker({ workerBin: config.mediasoup.workerBin, logLevel: 'error' });
    const router = await worker.createRouter({ mediaCodecs });
    const transport = await router.createWebRtcTransport({
      listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }],
    });

    // The throw happens inside mediasoup's request building, on the Node side.
    await expect(transport.produce({ kind: 'video', rtpParameters: vp8WithBitrate(1.5) })).rejects.toThrow(
      /BigInt|integer/i,
    );

    // Every kind of later request still reaches the worker: on the same transport, the router, the worker.
    const producer = await transport.produce({ kind: 'video', rtpParameters: vp8WithBitrate(1_500_000) });
    expect(producer.closed).toBe(false);
    const second = await router.createWebRtcTransport({
      listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }],
    });
    expect(second.id).not.toBe(transport.id);
    expect((await worker.getResourceUsage()).ru_maxrss).toBeGreaterThan(0);
  });

  it('recovers after many poisoned requests in a row, interleaved with good ones', async () => {
    worker = await mediasoup.createWorker({ workerBin: config.mediasoup.workerBin, logLevel: 'error' });
    const router = await worker.createRouter({ mediaCodecs });
    const transport = await router.createWebRtcTransport({
      listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }],
    });
    for (let i = 0; i < 20; i++) {
      const [bad, good] = await Promise.allSettled([
        transport.produce({ kind: 'video', rtpParameters: vp8WithBitrate(0.5 + i) }),
        worker.dump(),
      ]);
      expect(bad.status).toBe('rejected');
      expect(good.status).toBe('fulfilled');
    }
    await transport.setMaxIncomingBitrate(1_000_000);
    expect((await router.dump()).transportIds).toContain(transport.id);
  });
});
