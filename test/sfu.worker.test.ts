/** The self-built worker is the one in use, links OpenSSL-backed SRTP (no NSS), and works. */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import * as mediasoup from 'mediasoup';
import { loadConfig } from '../server/config.js';
import { mediaCodecs } from '../sfu/mediaCodecs.js';

describe('mediasoup worker', () => {
  const config = loadConfig({ ...process.env, NODE_ENV: 'test' });

  it('is found without configuration, links OpenSSL and a static OpenSSL-backed libsrtp (no NSS)', () => {
    expect(config.mediasoup.workerBin, 'run scripts/setup.sh to build the worker').toBeDefined();
    const ldd = execFileSync('ldd', [config.mediasoup.workerBin!], { encoding: 'utf8' });
    expect(ldd).toMatch(/libuv\.so/);
    expect(ldd).toMatch(/libssl\.so/);
    expect(ldd).not.toMatch(/libnss3|libsrtp2/);
  });

  it('creates a worker, a router and a WebRTC transport with loopback candidates', async () => {
    const worker = await mediasoup.createWorker({ workerBin: config.mediasoup.workerBin, logLevel: 'warn' });
    try {
      const router = await worker.createRouter({ mediaCodecs });
      expect(router.rtpCapabilities.codecs?.map((c) => c.mimeType)).toEqual(
        expect.arrayContaining(['audio/opus', 'video/VP8', 'video/H264']),
      );
      const transport = await router.createWebRtcTransport({
        listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }],
      });
      expect(transport.iceCandidates[0]).toMatchObject({ address: '127.0.0.1', protocol: 'udp' });
      expect(transport.dtlsParameters.fingerprints.length).toBeGreaterThan(0);
      const usage = await worker.getResourceUsage();
      expect(usage.ru_maxrss).toBeGreaterThan(0);
    } finally {
      worker.close();
    }
  });
});
