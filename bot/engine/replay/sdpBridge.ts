/**
 * The SDP bridge between mediasoup's transport/RTP parameters and node-datachannel, which only
 * speaks SDP. Pure functions: server params in, SDP text out; local SDP in, the parameters the
 * signaling protocol wants out.
 *
 * mediasoup is ICE-lite and we make it the DTLS server: the remote SDP says `a=ice-lite` and
 * `a=setup:passive`, and connectTransport sends `role: 'client'` with our fingerprint.
 */
import type { types } from 'mediasoup-client';
import type { TransportOptions } from '../../../protocol/signaling.js';
import { BotError } from '../../errors.js';
import { attribute, attributes, mediaOrSessionAttribute, parseSdp, type SdpMedia } from './sdpText.js';

const EOL = '\r\n';
const FINGERPRINT_PREFERENCE = ['sha-256', 'sha-384', 'sha-512', 'sha-1', 'sha-224'];

export type MediaKind = 'audio' | 'video';

/** One consumer as it appears in the receive-side offer. */
export interface RecvStream {
  mid: string;
  kind: MediaKind;
  rtpParameters: types.RtpParameters;
  /** Closed consumers keep their m-line (mids are never reused) but go inactive. */
  active: boolean;
  streamId: string;
}

/** Our DTLS parameters for connectTransport: the fingerprint from the local SDP, role client. */
export function localDtlsParameters(localSdp: string): types.DtlsParameters {
  const sdp = parseSdp(localSdp);
  const raw =
    attribute(sdp.attributes, 'fingerprint') ??
    sdp.media.map((m) => attribute(m.attributes, 'fingerprint')).find((v) => v !== undefined);
  if (!raw) throw new BotError('MEDIA_SETUP_FAILED', 'local SDP has no a=fingerprint');
  const [algorithm, value] = raw.trim().split(/\s+/);
  if (!algorithm || !value || !FINGERPRINT_PREFERENCE.includes(algorithm.toLowerCase())) {
    throw new BotError('MEDIA_SETUP_FAILED', `unusable local fingerprint: ${raw}`);
  }
  return {
    role: 'client',
    fingerprints: [{ algorithm: algorithm.toLowerCase() as types.FingerprintAlgorithm, value }],
  };
}

export function localIceParameters(localSdp: string): types.IceParameters {
  const sdp = parseSdp(localSdp);
  const media = sdp.media[0];
  const ufrag = media
    ? mediaOrSessionAttribute(sdp, media, 'ice-ufrag')
    : attribute(sdp.attributes, 'ice-ufrag');
  const pwd = media ? mediaOrSessionAttribute(sdp, media, 'ice-pwd') : attribute(sdp.attributes, 'ice-pwd');
  if (!ufrag || !pwd) throw new BotError('MEDIA_SETUP_FAILED', 'local SDP has no ICE credentials');
  return { usernameFragment: ufrag, password: pwd };
}

/** What `produce` needs for the m-line `mid` of our local offer. */
export function sendRtpParameters(
  localSdp: string,
  mid: string,
): { kind: MediaKind; rtpParameters: types.RtpParameters } {
  const sdp = parseSdp(localSdp);
  const media = sdp.media.find((m) => attribute(m.attributes, 'mid') === mid);
  if (!media) throw new BotError('MEDIA_SETUP_FAILED', `local SDP has no m-line with mid ${mid}`);
  const kind = mediaKind(media);
  const codecs = media.formats.map((pt) => codecFromSdp(media, kind, Number(pt)));
  const ssrcLines = attributes(media.attributes, 'ssrc').map(parseSsrcLine);
  const first = ssrcLines[0];
  if (!first) throw new BotError('MEDIA_SETUP_FAILED', `local m-line ${mid} has no a=ssrc`);
  const cname = ssrcLines.find((s) => s.ssrc === first.ssrc && s.name === 'cname')?.value;
  return {
    kind,
    rtpParameters: {
      mid,
      codecs,
      headerExtensions: [],
      encodings: [{ ssrc: first.ssrc }],
      rtcp: { cname: cname ?? `bot-${first.ssrc}`, reducedSize: true },
    },
  };
}

/**
 * The remote answer to our send-side offer: the same m-lines, received by mediasoup. The codecs
 * are echoed from the offer, since mediasoup accepts whatever `produce` declares and checks it.
 */
export function buildSendAnswer(localOffer: string, server: TransportOptions): string {
  const offer = parseSdp(localOffer);
  const mids = offer.media.map((m) => requiredMid(m));
  const lines = sessionLines(server, mids, 1);
  for (const media of offer.media) {
    const kind = mediaKind(media);
    lines.push(`m=${kind} 7 UDP/TLS/RTP/SAVPF ${media.formats.join(' ')}`);
    lines.push('c=IN IP4 127.0.0.1');
    lines.push(`a=mid:${requiredMid(media)}`);
    lines.push('a=recvonly');
    for (const attr of media.attributes) {
      if (attr.name === 'rtpmap' || attr.name === 'fmtp' || attr.name === 'rtcp-fb') {
        lines.push(`a=${attr.name}:${attr.value}`);
      }
    }
    lines.push(...transportLines(server));
  }
  return lines.join(EOL) + EOL;
}

/** The remote offer that describes every consumer of the receive transport (version grows). */
export function buildRecvOffer(
  server: TransportOptions,
  streams: readonly RecvStream[],
  version: number,
): string {
  if (streams.length === 0)
    throw new BotError('MEDIA_SETUP_FAILED', 'a receive offer needs at least one stream');
  const lines = sessionLines(
    server,
    streams.map((s) => s.mid),
    version,
  );
  for (const stream of streams) {
    const { rtpParameters: rtp } = stream;
    lines.push(`m=${stream.kind} 7 UDP/TLS/RTP/SAVPF ${rtp.codecs.map((c) => c.payloadType).join(' ')}`);
    lines.push('c=IN IP4 127.0.0.1');
    lines.push(`a=mid:${stream.mid}`);
    lines.push(stream.active ? 'a=sendonly' : 'a=inactive');
    for (const codec of rtp.codecs) lines.push(...codecLines(codec));
    for (const ext of rtp.headerExtensions ?? []) lines.push(`a=extmap:${ext.id} ${ext.uri}`);
    lines.push(...transportLines(server));
    lines.push('a=rtcp-rsize');
    const encoding = rtp.encodings?.[0];
    if (stream.active && encoding?.ssrc !== undefined) {
      const cname = rtp.rtcp?.cname ?? 'mediasoup';
      const trackId = `${stream.streamId}-${stream.kind}`;
      lines.push(`a=msid:${stream.streamId} ${trackId}`);
      if (encoding.rtx?.ssrc !== undefined)
        lines.push(`a=ssrc-group:FID ${encoding.ssrc} ${encoding.rtx.ssrc}`);
      for (const ssrc of [encoding.ssrc, encoding.rtx?.ssrc]) {
        if (ssrc === undefined) continue;
        lines.push(`a=ssrc:${ssrc} cname:${cname}`, `a=ssrc:${ssrc} msid:${stream.streamId} ${trackId}`);
      }
    }
  }
  return lines.join(EOL) + EOL;
}

/** The server's UDP candidates as `candidate:` strings for addRemoteCandidate (libjuice has no ICE-TCP). */
export function remoteCandidates(server: TransportOptions): string[] {
  return server.iceCandidates
    .filter((c) => c.protocol === 'udp')
    .map((c) => `candidate:${c.foundation} 1 udp ${c.priority} ${c.address ?? c.ip} ${c.port} typ ${c.type}`);
}

function sessionLines(server: TransportOptions, mids: readonly string[], version: number): string[] {
  // The session id only has to be stable per transport; derive it from the transport id.
  let sessionId = 0;
  for (const ch of server.id) sessionId = (sessionId * 31 + ch.charCodeAt(0)) % 1_000_000_007;
  return [
    'v=0',
    `o=mediasoup ${sessionId} ${version} IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'a=ice-lite',
    `a=group:BUNDLE ${mids.join(' ')}`,
    'a=msid-semantic: WMS *',
  ];
}

function transportLines(server: TransportOptions): string[] {
  const fingerprint = serverFingerprint(server.dtlsParameters);
  return [
    `a=ice-ufrag:${server.iceParameters.usernameFragment}`,
    `a=ice-pwd:${server.iceParameters.password}`,
    `a=fingerprint:${fingerprint.algorithm} ${fingerprint.value}`,
    'a=setup:passive',
    'a=rtcp-mux',
  ];
}

function serverFingerprint(dtls: types.DtlsParameters): types.DtlsFingerprint {
  for (const algorithm of FINGERPRINT_PREFERENCE) {
    const found = dtls.fingerprints.find((f) => f.algorithm === algorithm);
    if (found) return found;
  }
  throw new BotError('MEDIA_SETUP_FAILED', 'the server sent no usable DTLS fingerprint');
}

function codecLines(codec: types.RtpCodecParameters): string[] {
  const [, name] = codec.mimeType.split('/');
  const channels = codec.channels && codec.channels > 1 ? `/${codec.channels}` : '';
  const lines = [`a=rtpmap:${codec.payloadType} ${name}/${codec.clockRate}${channels}`];
  const params = Object.entries(codec.parameters ?? {}).map(([k, v]) => `${k}=${String(v)}`);
  if (params.length > 0) lines.push(`a=fmtp:${codec.payloadType} ${params.join(';')}`);
  for (const fb of codec.rtcpFeedback ?? []) {
    lines.push(`a=rtcp-fb:${codec.payloadType} ${fb.type}${fb.parameter ? ` ${fb.parameter}` : ''}`);
  }
  return lines;
}

function codecFromSdp(media: SdpMedia, kind: MediaKind, pt: number): types.RtpCodecParameters {
  const rtpmap = attributes(media.attributes, 'rtpmap').find((v) => v.startsWith(`${pt} `));
  if (!rtpmap) throw new BotError('MEDIA_SETUP_FAILED', `no a=rtpmap for payload type ${pt}`);
  const [name, clock, channels] = rtpmap.slice(String(pt).length + 1).split('/');
  if (!name || !clock) throw new BotError('MEDIA_SETUP_FAILED', `bad a=rtpmap: ${rtpmap}`);
  const fmtp = attributes(media.attributes, 'fmtp').find((v) => v.startsWith(`${pt} `));
  const parameters: Record<string, string | number> = {};
  for (const pair of fmtp ? fmtp.slice(String(pt).length + 1).split(';') : []) {
    const [k, v] = pair.split('=').map((s) => s.trim());
    if (!k || v === undefined) continue;
    parameters[k] = /^-?\d+$/.test(v) ? Number(v) : v;
  }
  const rtcpFeedback = attributes(media.attributes, 'rtcp-fb')
    .map((v) => v.split(' '))
    .filter(([p]) => p === String(pt) || p === '*')
    .map(([, type, parameter]) => (parameter ? { type: type!, parameter } : { type: type! }));
  return {
    mimeType: `${kind}/${name}`,
    payloadType: pt,
    clockRate: Number(clock),
    ...(kind === 'audio' ? { channels: channels ? Number(channels) : 1 } : {}),
    parameters,
    rtcpFeedback,
  };
}

function parseSsrcLine(value: string): { ssrc: number; name: string; value: string } {
  const match = /^(\d+) ([^:]+):?(.*)$/.exec(value);
  if (!match) throw new BotError('MEDIA_SETUP_FAILED', `bad a=ssrc: ${value}`);
  return { ssrc: Number(match[1]), name: match[2]!, value: match[3]! };
}

function mediaKind(media: SdpMedia): MediaKind {
  if (media.kind !== 'audio' && media.kind !== 'video') {
    throw new BotError('MEDIA_SETUP_FAILED', `unsupported m-line kind ${media.kind}`);
  }
  return media.kind;
}

function requiredMid(media: SdpMedia): string {
  const mid = attribute(media.attributes, 'mid');
  if (mid === undefined) throw new BotError('MEDIA_SETUP_FAILED', 'm-line without a=mid');
  return mid;
}
