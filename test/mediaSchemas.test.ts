/**
 * The media schemas accept what real clients send and refuse what mediasoup cannot serialize.
 * The replay bot's parameters come from a real node-datachannel offer; Chromium's shapes are the
 * ones mediasoup-client's Chrome111 handler produces (the browser e2e tests send the real thing).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Audio, PeerConnection, Video } from 'node-datachannel';
import { localDtlsParameters, sendRtpParameters } from '../bot/engine/replay/sdpBridge.js';
import { REPLAY_RTP_CAPABILITIES } from '../bot/engine/replay/botRtpCapabilities.js';
import {
  dtlsParametersSchema,
  rtpCapabilitiesSchema,
  rtpParametersSchema,
} from '../protocol/mediaSchemas.js';

const peers: PeerConnection[] = [];
afterAll(() => {
  for (const pc of peers) pc.close();
});

function botOffer(): string {
  const pc = new PeerConnection('schema-test', { iceServers: [], bindAddress: '127.0.0.1' });
  peers.push(pc);
  const audio = new Audio('0', 'SendOnly');
  audio.addOpusCodec(111);
  audio.addSSRC(4_000_000_001, 'botcname', 'stream', 'track-a');
  const video = new Video('1', 'SendOnly');
  video.addVP8Codec(96);
  video.addSSRC(2222, 'botcname', 'stream', 'track-v');
  pc.addTrack(audio);
  pc.addTrack(video);
  pc.setLocalDescription();
  return pc.localDescription()!.sdp;
}

/** Chromium simulcast VP8 as mediasoup-client (Chrome111) sends it with the SDK's encodings. */
const chromeVideo = {
  mid: '1',
  codecs: [
    {
      mimeType: 'video/VP8',
      payloadType: 96,
      clockRate: 90000,
      parameters: {},
      rtcpFeedback: [
        { type: 'goog-remb', parameter: '' },
        { type: 'transport-cc', parameter: '' },
        { type: 'ccm', parameter: 'fir' },
        { type: 'nack', parameter: '' },
        { type: 'nack', parameter: 'pli' },
      ],
    },
    { mimeType: 'video/rtx', payloadType: 97, clockRate: 90000, parameters: { apt: 96 }, rtcpFeedback: [] },
  ],
  headerExtensions: [
    { uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4, encrypt: false, parameters: {} },
    {
      uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
      id: 2,
      encrypt: false,
      parameters: {},
    },
    {
      uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
      id: 3,
      encrypt: false,
      parameters: {},
    },
    { uri: 'urn:3gpp:video-orientation', id: 13, encrypt: false, parameters: {} },
    { uri: 'urn:ietf:params:rtp-hdrext:toffset', id: 14, encrypt: false, parameters: {} },
  ],
  encodings: [
    {
      active: true,
      rid: 'r0',
      scaleResolutionDownBy: 4,
      maxBitrate: 150000,
      scalabilityMode: 'L1T3',
      dtx: false,
    },
    {
      active: true,
      rid: 'r1',
      scaleResolutionDownBy: 2,
      maxBitrate: 500000,
      scalabilityMode: 'L1T3',
      dtx: false,
    },
    {
      active: true,
      rid: 'r2',
      scaleResolutionDownBy: 1,
      maxBitrate: 1200000,
      scalabilityMode: 'L1T3',
      dtx: false,
    },
  ],
  // What mediasoup-client's Chrome111 handler really sends for simulcast (an empty CNAME).
  rtcp: { cname: '', reducedSize: true },
  msid: 'stream-id track-id',
};

const chromeAudio = {
  mid: '0',
  codecs: [
    {
      mimeType: 'audio/opus',
      payloadType: 111,
      clockRate: 48000,
      channels: 2,
      parameters: { minptime: 10, useinbandfec: 1 },
      rtcpFeedback: [{ type: 'transport-cc', parameter: '' }],
    },
  ],
  headerExtensions: [
    { uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', id: 1, encrypt: false, parameters: {} },
  ],
  encodings: [{ ssrc: 3_456_789_012, dtx: false }],
  rtcp: { cname: 'xX9+abc/def==', reducedSize: true },
};

describe('rtpParameters', () => {
  it('accepts the replay bot parameters from a real node-datachannel offer', () => {
    const offer = botOffer();
    for (const mid of ['0', '1']) {
      const { rtpParameters } = sendRtpParameters(offer, mid);
      const parsed = rtpParametersSchema.safeParse(rtpParameters);
      expect(parsed.error?.issues ?? []).toEqual([]);
      expect(parsed.data).toEqual(rtpParameters);
    }
  });

  it('accepts Chromium simulcast video and Opus audio, dropping keys mediasoup does not read', () => {
    const video = rtpParametersSchema.parse(chromeVideo);
    expect(video.encodings).toEqual([
      { rid: 'r0', maxBitrate: 150000, scalabilityMode: 'L1T3', dtx: false },
      { rid: 'r1', maxBitrate: 500000, scalabilityMode: 'L1T3', dtx: false },
      { rid: 'r2', maxBitrate: 1200000, scalabilityMode: 'L1T3', dtx: false },
    ]);
    expect(rtpParametersSchema.parse(chromeAudio).encodings).toEqual([{ ssrc: 3_456_789_012, dtx: false }]);
  });

  const bad: [string, (p: typeof chromeVideo) => unknown][] = [
    [
      'a fractional maxBitrate (BigInt(1.5))',
      (p) => ({ ...p, encodings: [{ ssrc: 1111, maxBitrate: 1.5 }] }),
    ],
    ['a maxBitrate above 2^32-1', (p) => ({ ...p, encodings: [{ ssrc: 1111, maxBitrate: 2 ** 32 }] })],
    ['an SSRC above 2^32-1', (p) => ({ ...p, encodings: [{ ssrc: 2 ** 32 }] })],
    ['a negative SSRC', (p) => ({ ...p, encodings: [{ ssrc: -1 }] })],
    ['an RTX SSRC that is a string', (p) => ({ ...p, encodings: [{ ssrc: 1, rtx: { ssrc: '2' } }] })],
    ['nine encodings', (p) => ({ ...p, encodings: Array.from({ length: 9 }, (_, i) => ({ ssrc: i + 1 })) })],
    ['a bad scalabilityMode', (p) => ({ ...p, encodings: [{ rid: 'r0', scalabilityMode: 'L1T3; rm -rf' }] })],
    ['a payload type of 128', (p) => ({ ...p, codecs: [{ ...p.codecs[0]!, payloadType: 128 }] })],
    ['a fractional clock rate', (p) => ({ ...p, codecs: [{ ...p.codecs[0]!, clockRate: 90000.5 }] })],
    ['an unknown codec', (p) => ({ ...p, codecs: [{ ...p.codecs[0]!, mimeType: 'video/AV1X' }] })],
    ['no codec', (p) => ({ ...p, codecs: [] })],
    [
      'an object codec parameter',
      (p) => ({ ...p, codecs: [{ ...p.codecs[0]!, parameters: { a: { b: 1 } } }] }),
    ],
    [
      'an integer parameter beyond int32',
      (p) => ({ ...p, codecs: [{ ...p.codecs[0]!, parameters: { a: 2 ** 40 } }] }),
    ],
    ['an unknown header extension', (p) => ({ ...p, headerExtensions: [{ uri: 'urn:x:evil', id: 5 }] })],
    [
      'a header extension id of 0',
      (p) => ({ ...p, headerExtensions: [{ ...p.headerExtensions[0]!, id: 0 }] }),
    ],
    [
      'a header extension id of 256',
      (p) => ({ ...p, headerExtensions: [{ ...p.headerExtensions[0]!, id: 256 }] }),
    ],
    ['a 1000-character mid', (p) => ({ ...p, mid: 'm'.repeat(1000) })],
    ['encodings that are not an array', (p) => ({ ...p, encodings: { 0: { ssrc: 1 } } })],
  ];
  it.each(bad)('refuses %s', (_name, mutate) => {
    expect(rtpParametersSchema.safeParse(mutate(chromeVideo)).success).toBe(false);
  });
});

describe('rtpCapabilities', () => {
  it("accepts the replay bot's capabilities and a Chromium device's", () => {
    expect(rtpCapabilitiesSchema.safeParse(REPLAY_RTP_CAPABILITIES).error?.issues ?? []).toEqual([]);
    const chrome = {
      codecs: [
        {
          kind: 'audio',
          mimeType: 'audio/opus',
          preferredPayloadType: 100,
          clockRate: 48000,
          channels: 2,
          parameters: { minptime: 10, useinbandfec: 1 },
          rtcpFeedback: [{ type: 'transport-cc', parameter: '' }],
        },
        {
          kind: 'video',
          mimeType: 'video/VP8',
          preferredPayloadType: 101,
          clockRate: 90000,
          parameters: {},
          rtcpFeedback: [{ type: 'nack', parameter: 'pli' }],
        },
        {
          kind: 'video',
          mimeType: 'video/rtx',
          preferredPayloadType: 102,
          clockRate: 90000,
          parameters: { apt: 101 },
          rtcpFeedback: [],
        },
      ],
      headerExtensions: [
        {
          kind: 'video',
          uri: 'urn:ietf:params:rtp-hdrext:sdes:mid',
          preferredId: 1,
          preferredEncrypt: false,
          direction: 'sendrecv',
        },
      ],
    };
    expect(rtpCapabilitiesSchema.parse(chrome)).toEqual(chrome);
  });

  it('refuses unknown codecs, out-of-range payload types and unknown extensions', () => {
    const codec = REPLAY_RTP_CAPABILITIES.codecs![0]!;
    expect(rtpCapabilitiesSchema.safeParse({ codecs: [{ ...codec, mimeType: 'audio/evil' }] }).success).toBe(
      false,
    );
    expect(
      rtpCapabilitiesSchema.safeParse({ codecs: [{ ...codec, preferredPayloadType: 300 }] }).success,
    ).toBe(false);
    expect(rtpCapabilitiesSchema.safeParse({ codecs: Array.from({ length: 33 }, () => codec) }).success).toBe(
      false,
    );
    expect(
      rtpCapabilitiesSchema.safeParse({
        codecs: [codec],
        headerExtensions: [{ kind: 'audio', uri: 'urn:x', preferredId: 1 }],
      }).success,
    ).toBe(false);
  });
});

describe('dtlsParameters', () => {
  it("accepts the bot's real fingerprint and refuses unknown algorithms or garbage values", () => {
    const dtls = localDtlsParameters(botOffer());
    expect(dtlsParametersSchema.parse(dtls)).toEqual(dtls);
    const fp = dtls.fingerprints[0]!;
    expect(dtlsParametersSchema.safeParse({ fingerprints: [{ ...fp, algorithm: 'md5' }] }).success).toBe(
      false,
    );
    expect(dtlsParametersSchema.safeParse({ fingerprints: [{ ...fp, value: 'zz' }] }).success).toBe(false);
    expect(dtlsParametersSchema.safeParse({ fingerprints: [] }).success).toBe(false);
  });
});
