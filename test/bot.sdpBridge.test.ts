/**
 * The SDP bridge: mediasoup transport parameters → remote SDP for node-datachannel, and
 * node-datachannel's local SDP → the DTLS and RTP parameters the signaling protocol wants.
 * Local SDPs come from a real node-datachannel PeerConnection (no network needed for that).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Audio, PeerConnection, Video } from 'node-datachannel';
import type { TransportOptions } from '../protocol/signaling.js';
import {
  buildRecvOffer,
  buildSendAnswer,
  localDtlsParameters,
  localIceParameters,
  remoteCandidates,
  sendRtpParameters,
  type RecvStream,
} from '../bot/engine/replay/sdpBridge.js';
import { parseSdp } from '../bot/engine/replay/sdpText.js';

const server: TransportOptions = {
  id: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
  iceParameters: { usernameFragment: 'srvufrag1234', password: 'srvpassword0123456789abcd', iceLite: true },
  iceCandidates: [
    {
      foundation: 'udpcandidate',
      priority: 1076302079,
      address: '127.0.0.1',
      ip: '127.0.0.1',
      protocol: 'udp',
      port: 40000,
      type: 'host',
    },
    {
      foundation: 'tcpcandidate',
      priority: 1076276479,
      address: '127.0.0.1',
      ip: '127.0.0.1',
      protocol: 'tcp',
      port: 40000,
      type: 'host',
      tcpType: 'passive',
    },
  ],
  dtlsParameters: {
    role: 'auto',
    fingerprints: [
      { algorithm: 'sha-1', value: '11:22:33:44:55:66:77:88:99:00:AA:BB:CC:DD:EE:FF:11:22:33:44' },
      {
        algorithm: 'sha-256',
        value:
          'AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89',
      },
    ],
  },
};

const peers: PeerConnection[] = [];
afterAll(() => {
  for (const pc of peers) pc.close();
});

/** A local offer exactly as the replay engine's send transport makes it. */
function sendOffer(): string {
  const pc = new PeerConnection('bridge-test-send', { iceServers: [], bindAddress: '127.0.0.1' });
  peers.push(pc);
  const audio = new Audio('0', 'SendOnly');
  audio.addOpusCodec(111);
  audio.addSSRC(1111, 'botcname', 'stream', 'track-a');
  const video = new Video('1', 'SendOnly');
  video.addVP8Codec(96);
  video.addSSRC(2222, 'botcname', 'stream', 'track-v');
  pc.addTrack(audio);
  pc.addTrack(video);
  pc.setLocalDescription();
  return pc.localDescription()!.sdp;
}

const audioStream: RecvStream = {
  mid: '0',
  kind: 'audio',
  active: true,
  streamId: 'peer-a',
  rtpParameters: {
    mid: '0',
    codecs: [
      {
        mimeType: 'audio/opus',
        payloadType: 100,
        clockRate: 48000,
        channels: 2,
        parameters: { useinbandfec: 1 },
        rtcpFeedback: [],
      },
    ],
    headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 1 }],
    encodings: [{ ssrc: 333333 }],
    rtcp: { cname: 'peercname', reducedSize: true },
  },
};
const videoStream: RecvStream = {
  mid: '1',
  kind: 'video',
  active: true,
  streamId: 'peer-a',
  rtpParameters: {
    mid: '1',
    codecs: [
      {
        mimeType: 'video/VP8',
        payloadType: 101,
        clockRate: 90000,
        parameters: {},
        rtcpFeedback: [
          { type: 'nack' },
          { type: 'nack', parameter: 'pli' },
          { type: 'ccm', parameter: 'fir' },
        ],
      },
    ],
    headerExtensions: [],
    encodings: [{ ssrc: 444444 }],
    rtcp: { cname: 'peercname', reducedSize: true },
  },
};

describe('local SDP → signaling parameters', () => {
  const offer = sendOffer();

  it('takes our DTLS fingerprint and makes us the DTLS client', () => {
    const dtls = localDtlsParameters(offer);
    const line = offer.split(/\r?\n/).find((l) => l.startsWith('a=fingerprint:'))!;
    expect(dtls).toEqual({
      role: 'client',
      fingerprints: [{ algorithm: 'sha-256', value: line.split(' ')[1] }],
    });
  });

  it('reads the ICE credentials', () => {
    const ice = localIceParameters(offer);
    expect(ice.usernameFragment).toMatch(/^\S{4,}$/);
    expect(ice.password.length).toBeGreaterThanOrEqual(22);
  });

  it('maps the audio m-line to Opus rtpParameters with our SSRC, mid and cname', () => {
    const { kind, rtpParameters } = sendRtpParameters(offer, '0');
    expect(kind).toBe('audio');
    expect(rtpParameters).toMatchObject({
      mid: '0',
      codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }],
      encodings: [{ ssrc: 1111 }],
      rtcp: { cname: 'botcname', reducedSize: true },
      headerExtensions: [],
    });
    expect(rtpParameters.codecs[0]!.parameters).toMatchObject({ useinbandfec: 1, stereo: 1 });
  });

  it('maps the video m-line to VP8 with its RTCP feedback', () => {
    const { kind, rtpParameters } = sendRtpParameters(offer, '1');
    expect(kind).toBe('video');
    expect(rtpParameters.codecs).toEqual([
      expect.objectContaining({ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000 }),
    ]);
    expect(rtpParameters.codecs[0]!.rtcpFeedback).toEqual(
      expect.arrayContaining([{ type: 'nack' }, { type: 'nack', parameter: 'pli' }]),
    );
    expect(rtpParameters.encodings).toEqual([{ ssrc: 2222 }]);
  });

  it('fails with a typed error for a missing mid', () => {
    expect(() => sendRtpParameters(offer, '9')).toThrow(
      expect.objectContaining({ code: 'MEDIA_SETUP_FAILED' }),
    );
  });
});

describe('server parameters → remote SDP', () => {
  it('answers our offer as an ICE-lite, DTLS-passive mediasoup', () => {
    const offer = sendOffer();
    const answer = buildSendAnswer(offer, server);
    const sdp = parseSdp(answer);
    expect(sdp.attributes.map((a) => a.name)).toContain('ice-lite');
    expect(answer).toContain('a=group:BUNDLE 0 1');
    expect(sdp.media.map((m) => [m.kind, m.formats])).toEqual([
      ['audio', ['111']],
      ['video', ['96']],
    ]);
    for (const m of sdp.media) {
      const names = m.attributes.map((a) => `${a.name}:${a.value}`);
      expect(names).toContain('setup:passive');
      expect(names).toContain('recvonly:');
      expect(names).toContain('rtcp-mux:');
      expect(names).toContain('ice-ufrag:srvufrag1234');
      expect(names).toContain('ice-pwd:srvpassword0123456789abcd');
      // sha-256 is preferred over the sha-1 the server lists first.
      expect(names).toContain(`fingerprint:sha-256 ${server.dtlsParameters.fingerprints[1]!.value}`);
    }
    expect(answer).toContain('a=rtpmap:111 opus/48000/2');
    expect(answer).toContain('a=rtpmap:96 VP8/90000');
    // Candidates are added separately, after connectTransport.
    expect(answer).not.toContain('a=candidate');
  });

  it('turns UDP candidates into candidate strings and skips TCP (libjuice has no ICE-TCP)', () => {
    expect(remoteCandidates(server)).toEqual([
      'candidate:udpcandidate 1 udp 1076302079 127.0.0.1 40000 typ host',
    ]);
  });

  it('describes every consumer in the receive offer; closed ones go inactive', () => {
    const offer = buildRecvOffer(server, [audioStream, { ...videoStream, active: false }], 3);
    const sdp = parseSdp(offer);
    expect(offer).toMatch(/^o=mediasoup \d+ 3 IN IP4/m);
    expect(offer).toContain('a=group:BUNDLE 0 1');
    const [audio, video] = sdp.media;
    const attrs = (m: typeof audio): string[] => m!.attributes.map((a) => `${a.name}:${a.value}`);
    expect(audio!.formats).toEqual(['100']);
    expect(attrs(audio)).toEqual(
      expect.arrayContaining([
        'mid:0',
        'sendonly:',
        'rtpmap:100 opus/48000/2',
        'fmtp:100 useinbandfec=1',
        'extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid',
        'ssrc:333333 cname:peercname',
        'setup:passive',
      ]),
    );
    expect(attrs(video)).toEqual(
      expect.arrayContaining(['mid:1', 'inactive:', 'rtcp-fb:101 nack pli', 'rtcp-fb:101 ccm fir']),
    );
    expect(attrs(video).some((a) => a.startsWith('ssrc:'))).toBe(false);
  });

  it('produces offers node-datachannel accepts, answering as the DTLS client', () => {
    const pc = new PeerConnection('bridge-test-recv', { iceServers: [], bindAddress: '127.0.0.1' });
    peers.push(pc);
    const mids: string[] = [];
    pc.onTrack((t) => mids.push(t.mid()));
    pc.setRemoteDescription(buildRecvOffer(server, [audioStream], 1), 'offer');
    const answer = pc.localDescription()!.sdp;
    expect(answer).toContain('a=setup:active');
    expect(answer).toMatch(/a=mid:0[\s\S]*a=recvonly/);
    expect(localDtlsParameters(answer).role).toBe('client');
    // Renegotiation: one more consumer in the next version of the offer.
    pc.setRemoteDescription(buildRecvOffer(server, [audioStream, videoStream], 2), 'offer');
    expect(pc.localDescription()!.sdp).toContain('a=mid:1');
  });
});
