/**
 * Strict schemas for the mediasoup objects a client sends: RTP parameters (`produce`), RTP
 * capabilities (`setRtpCapabilities`) and DTLS parameters (`connectTransport`).
 *
 * Why strict: mediasoup serializes these into a FlatBuffers request on the Node side, and a value of
 * the wrong kind (a fractional bitrate becomes `BigInt(1.5)`, an SSRC above 2^32 overflows a uint32,
 * an unknown header-extension URI has no FlatBuffers enum value) throws in the middle of that
 * serialization. Everything that reaches mediasoup is therefore bounded here to what its wire
 * format can carry: integers in the range of their FlatBuffers type, known codecs and header
 * extensions, bounded counts and string lengths. Unknown keys are stripped (not rejected): browsers
 * add fields mediasoup does not read (`scaleResolutionDownBy`, `active`, `priority`, ...), and what
 * mediasoup never sees cannot hurt it.
 *
 * What real clients send must keep passing: mediasoup-client's Chrome111 handler (browser and the
 * realistic bot) and the replay bot's SDP bridge (bot/engine/replay/sdpBridge.ts); the browser and
 * bot e2e tests prove it, test/mediaSchemas.test.ts pins their shapes.
 */
import { z } from 'zod';
import { mediaCodecs } from '../sfu/mediaCodecs.js';

const UINT8_MAX = 0xff;
const UINT32_MAX = 0xffff_ffff;
const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;

/** Codecs the router offers, plus RTX (mediasoup adds one per video codec); compared lowercase as mediasoup does. */
export const KNOWN_MIME_TYPES: ReadonlySet<string> = new Set([
  ...mediaCodecs.map((c) => c.mimeType.toLowerCase()),
  'video/rtx',
]);

/** The header extensions mediasoup 3.27 can serialize (rtpHeaderExtensionUriToFbs); any other URI throws there. */
export const KNOWN_HEADER_EXTENSION_URIS = [
  'urn:ietf:params:rtp-hdrext:sdes:mid',
  'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
  'urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
  'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  'https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension',
  'urn:3gpp:video-orientation',
  'urn:ietf:params:rtp-hdrext:toffset',
  'http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time',
  'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay',
  'urn:mediasoup:params:rtp-hdrext:packet-id',
] as const;

const kind = z.enum(['audio', 'video']);
const uint32 = z.number().int().min(0).max(UINT32_MAX);
const payloadType = z.number().int().min(0).max(127);
const clockRate = z.number().int().min(1).max(UINT32_MAX);
/** Opus announces 2; mediasoup stores channels in a uint8. */
const channels = z.number().int().min(1).max(8);
const mimeType = z
  .string()
  .max(32)
  .refine((m) => KNOWN_MIME_TYPES.has(m.toLowerCase()), {
    message: `mimeType must be one of ${[...KNOWN_MIME_TYPES].join(', ')}`,
  });
const headerExtensionUri = z.enum(KNOWN_HEADER_EXTENSION_URIS);
const headerExtensionId = z.number().int().min(1).max(UINT8_MAX);

/**
 * Codec and header-extension parameters (fmtp): mediasoup serializes booleans, int32 or double
 * numbers, strings and int32 arrays, and throws on anything else.
 */
const parameterValue = z.union([
  z.boolean(),
  // Integers go out as int32 and others as double: an integer beyond int32 would silently wrap.
  z.number().refine((v) => !Number.isInteger(v) || (v >= INT32_MIN && v <= INT32_MAX), {
    message: 'integers must fit in 32 bits',
  }),
  z.string().max(256),
  z.array(z.number().int().min(INT32_MIN).max(INT32_MAX)).max(16),
]);
const parameters = z
  .record(z.string().min(1).max(64), parameterValue)
  .refine((p) => Object.keys(p).length <= 16, { message: 'at most 16 parameters' });

const rtcpFeedback = z
  .array(
    z.object({
      type: z
        .string()
        .max(32)
        .regex(/^[A-Za-z0-9-]+$/),
      parameter: z
        .string()
        .max(32)
        .regex(/^[A-Za-z0-9-]*$/)
        .optional(),
    }),
  )
  .max(16);

/** rid-id (RFC 8851): alphanumerics, "-" and "_"; browsers use short ones such as "r0". */
const rid = z
  .string()
  .min(1)
  .max(32)
  .regex(/^[A-Za-z0-9_-]+$/);
/** L<spatial>T<temporal> or S<spatial>T<temporal> with the suffixes WebRTC-SVC defines. */
const scalabilityMode = z.string().regex(/^[LS][1-9]T[1-9](?:h|_KEY(?:_SHIFT)?)?$/);

const encoding = z.object({
  ssrc: uint32.optional(),
  rid: rid.optional(),
  codecPayloadType: payloadType.optional(),
  rtx: z.object({ ssrc: uint32 }).optional(),
  dtx: z.boolean().optional(),
  scalabilityMode: scalabilityMode.optional(),
  /** mediasoup converts it with BigInt(): a fraction would throw while the request is built. */
  maxBitrate: uint32.optional(),
});

const rtpCodecParameters = z.object({
  mimeType,
  payloadType,
  clockRate,
  channels: channels.optional(),
  parameters: parameters.optional(),
  rtcpFeedback: rtcpFeedback.optional(),
});

const rtpHeaderExtensionParameters = z.object({
  uri: headerExtensionUri,
  id: headerExtensionId,
  encrypt: z.boolean().optional(),
  parameters: parameters.optional(),
});

export const rtpParametersSchema = z.object({
  mid: z
    .string()
    .min(1)
    .max(32)
    .regex(/^[A-Za-z0-9_-]+$/)
    .optional(),
  codecs: z.array(rtpCodecParameters).min(1).max(16),
  headerExtensions: z.array(rtpHeaderExtensionParameters).max(16).optional(),
  encodings: z.array(encoding).max(8).optional(),
  rtcp: z
    .object({
      // Chromium sends an empty CNAME for simulcast; mediasoup then assigns the transport's own.
      cname: z.string().max(256).optional(),
      reducedSize: z.boolean().optional(),
      mux: z.boolean().optional(),
    })
    .optional(),
  msid: z.string().max(256).optional(),
});

export const rtpCapabilitiesSchema = z.object({
  codecs: z
    .array(
      z.object({
        kind,
        mimeType,
        preferredPayloadType: payloadType.optional(),
        clockRate,
        channels: channels.optional(),
        parameters: parameters.optional(),
        rtcpFeedback: rtcpFeedback.optional(),
      }),
    )
    .max(32),
  headerExtensions: z
    .array(
      z.object({
        kind,
        uri: headerExtensionUri,
        preferredId: headerExtensionId,
        preferredEncrypt: z.boolean().optional(),
        direction: z.enum(['sendrecv', 'sendonly', 'recvonly', 'inactive']).optional(),
      }),
    )
    .max(32)
    .optional(),
});

export const dtlsParametersSchema = z.object({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z
    .array(
      z.object({
        algorithm: z.enum(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']),
        // Hex bytes separated by colons: 20 (sha-1) to 64 (sha-512) of them.
        value: z.string().regex(/^(?:[0-9A-Fa-f]{2}:){19,63}[0-9A-Fa-f]{2}$/),
      }),
    )
    .min(1)
    .max(8),
});
