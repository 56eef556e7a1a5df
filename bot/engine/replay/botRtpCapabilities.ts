/**
 * What a replay bot can receive: Opus and VP8 without RTX or header extensions, so every
 * consumer is a single SSRC of plain RTP that the bot parses itself.
 */
import type { types } from 'mediasoup-client';

export const REPLAY_RTP_CAPABILITIES: types.RtpCapabilities = {
  codecs: [
    {
      kind: 'audio',
      mimeType: 'audio/opus',
      clockRate: 48000,
      channels: 2,
      preferredPayloadType: 100,
      rtcpFeedback: [],
    },
    {
      kind: 'video',
      mimeType: 'video/VP8',
      clockRate: 90000,
      preferredPayloadType: 101,
      rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
    },
  ],
  headerExtensions: [],
};

/** The router must offer what the bot sends: Opus and VP8. */
export function routerSupportsReplay(router: types.RtpCapabilities): boolean {
  const mimes = new Set((router.codecs ?? []).map((c) => c.mimeType.toLowerCase()));
  return mimes.has('audio/opus') && mimes.has('video/vp8');
}
