/**
 * The send transport of a replay bot: a node-datachannel PeerConnection with one sendonly
 * Opus and one sendonly VP8 track, connected to mediasoup through the SDP bridge, with both
 * producers created. Raw RTP goes out through `track.sendMessageBinary`.
 */
import { randomUUID } from 'node:crypto';
import { Audio, PeerConnection, Video, type Track } from 'node-datachannel';
import type { SignalingClient } from '../../../client/sdk/signalingClient.js';
import type { TransportOptions } from '../../../protocol/signaling.js';
import { BotError, withTimeout } from '../../errors.js';
import { isRtcp } from '../../rtp/rtpPacket.js';
import { keyframeRequestSsrcs } from '../../rtp/rtcpFeedback.js';
import { buildSendAnswer, localDtlsParameters, remoteCandidates, sendRtpParameters } from './sdpBridge.js';
import type { SendStream } from './replaySender.js';

export const AUDIO_PT = 111;
export const VIDEO_PT = 96;
const AUDIO_MID = '0';
const VIDEO_MID = '1';
const OPEN_TIMEOUT_MS = 10_000;

export interface SendPeerOptions {
  name: string;
  /** Requests go through the bot's connection (which may replace its socket on a resume). */
  signaling: Pick<SignalingClient, 'request'>;
  transport: TransportOptions;
  bindAddress: string | undefined;
  onKeyframeRequest: () => void;
  onStateChange: (state: string) => void;
  /** Audio and video in one `produceMany` (the server made our transports: it knows the request). */
  together?: boolean;
}

export class SendPeer {
  readonly pc: PeerConnection;
  readonly audio: SendStream;
  readonly video: SendStream;
  readonly producerIds: string[] = [];
  // Held so the native tracks stay alive as long as this peer does.
  readonly #audioTrack: Track;
  readonly #videoTrack: Track;
  readonly #opts: SendPeerOptions;
  readonly #opened: Promise<unknown>;

  constructor(opts: SendPeerOptions) {
    this.#opts = opts;
    const cname = `${opts.name}-${Math.random().toString(36).slice(2, 10)}`;
    const audioSsrc = randomSsrc();
    const videoSsrc = randomSsrc();
    this.pc = new PeerConnection(opts.name, {
      iceServers: [],
      ...(opts.bindAddress ? { bindAddress: opts.bindAddress } : {}),
    });
    this.pc.onStateChange((s) => opts.onStateChange(s));

    const audio = new Audio(AUDIO_MID, 'SendOnly');
    audio.addOpusCodec(AUDIO_PT);
    audio.addSSRC(audioSsrc, cname, cname, `${cname}-a`);
    const video = new Video(VIDEO_MID, 'SendOnly');
    video.addVP8Codec(VIDEO_PT);
    video.addSSRC(videoSsrc, cname, cname, `${cname}-v`);
    this.#audioTrack = this.pc.addTrack(audio);
    this.#videoTrack = this.pc.addTrack(video);
    // Registered right away: node-datachannel does not replay an open that happened earlier.
    this.#opened = Promise.all([opened(this.#audioTrack), opened(this.#videoTrack)]);
    this.#videoTrack.onMessage((msg) => {
      // Only RTCP arrives on a sendonly track; mediasoup asks for keyframes with PLI (or FIR).
      if (isRtcp(msg) && keyframeRequestSsrcs(msg).includes(videoSsrc)) opts.onKeyframeRequest();
    });

    const audioTrack = this.#audioTrack;
    const videoTrack = this.#videoTrack;
    this.audio = { ssrc: audioSsrc, payloadType: AUDIO_PT, send: (p) => audioTrack.sendMessageBinary(p) };
    this.video = { ssrc: videoSsrc, payloadType: VIDEO_PT, send: (p) => videoTrack.sendMessageBinary(p) };
  }

  /** Offer → connectTransport (before ICE, so mediasoup knows its DTLS role) → answer → produce. */
  async connectAndProduce(): Promise<void> {
    const { signaling, transport } = this.#opts;
    this.pc.setLocalDescription();
    const local = this.pc.localDescription()?.sdp;
    if (!local) throw new BotError('MEDIA_SETUP_FAILED', 'node-datachannel produced no local offer');
    await signaling.request('connectTransport', {
      transportId: transport.id,
      dtlsParameters: localDtlsParameters(local),
    });
    this.pc.setRemoteDescription(buildSendAnswer(local, transport), 'answer');
    for (const candidate of remoteCandidates(transport)) this.pc.addRemoteCandidate(candidate, AUDIO_MID);

    const producers = [AUDIO_MID, VIDEO_MID].map((mid) => {
      const { kind, rtpParameters } = sendRtpParameters(local, mid);
      // The protocol's zod-inferred shape is looser than mediasoup-client's type; same data.
      return { kind, rtpParameters: rtpParameters as never, appData: { bot: true } };
    });
    if (this.#opts.together) {
      // A server that took our capabilities with the join (mediaSetup) takes both in one request.
      const { producerIds } = await signaling.request('produceMany', {
        transportId: transport.id,
        producers: producers.map((p) => ({ ...p, id: randomUUID() })),
      });
      this.producerIds.push(...producerIds);
    } else {
      for (const p of producers) {
        const { producerId } = await signaling.request('produce', { transportId: transport.id, ...p });
        this.producerIds.push(producerId);
      }
    }
    await withTimeout(this.#opened, OPEN_TIMEOUT_MS, 'send transport DTLS');
  }

  close(): void {
    try {
      this.pc.close();
    } catch {
      // Already closed by the native side.
    }
  }
}

/** Call right after the track is created, before the event loop can deliver its open. */
function opened(track: Track): Promise<void> {
  return new Promise((resolve) => track.onOpen(() => resolve()));
}

function randomSsrc(): number {
  return 1 + Math.floor(Math.random() * 0xfffffffe);
}
