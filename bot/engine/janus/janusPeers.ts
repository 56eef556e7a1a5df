/**
 * The two node-datachannel PeerConnections of a Janus bot. Unlike mediasoup (ICE-lite, params
 * in JSON), Janus speaks full ICE and SDP offer/answer, so these peers exchange whole SDPs with
 * every candidate inside (no trickle): the bot offers to publish, Janus offers to subscribe.
 */
import { Audio, PeerConnection, Video, type Track } from 'node-datachannel';
import { BotError, withTimeout } from '../../errors.js';
import { isRtcp } from '../../rtp/rtpPacket.js';
import { keyframeRequestSsrcs } from '../../rtp/rtcpFeedback.js';
import type { SendStream } from '../replay/replaySender.js';
import { AUDIO_PT, VIDEO_PT } from '../replay/sendPeer.js';

const GATHER_TIMEOUT_MS = 10_000;
const OPEN_TIMEOUT_MS = 10_000;

function createPeerConnection(name: string, bindAddress: string | undefined): PeerConnection {
  return new PeerConnection(name, { iceServers: [], ...(bindAddress ? { bindAddress } : {}) });
}

/** The local description once every candidate is in it. */
async function completeLocalSdp(pc: PeerConnection): Promise<string> {
  if (pc.gatheringState() !== 'complete') {
    await withTimeout(
      new Promise<void>((resolve) =>
        pc.onGatheringStateChange((s) => {
          if (s === 'complete') resolve();
        }),
      ),
      GATHER_TIMEOUT_MS,
      'ICE gathering',
    );
  }
  const sdp = pc.localDescription()?.sdp;
  if (!sdp) throw new BotError('MEDIA_SETUP_FAILED', 'node-datachannel produced no local description');
  return sdp;
}

function randomSsrc(): number {
  return 1 + Math.floor(Math.random() * 0xfffffffe);
}

export class JanusSendPeer {
  readonly audio: SendStream;
  readonly video: SendStream;
  readonly #pc: PeerConnection;
  // Held so the native tracks stay alive as long as this peer does.
  readonly #tracks: Track[];
  readonly #opened: Promise<unknown>;

  constructor(name: string, bindAddress: string | undefined, onKeyframeRequest: () => void) {
    this.#pc = createPeerConnection(name, bindAddress);
    const cname = `${name}-${Math.random().toString(36).slice(2, 10)}`;
    const audioSsrc = randomSsrc();
    const videoSsrc = randomSsrc();
    const audio = new Audio('0', 'SendOnly');
    audio.addOpusCodec(AUDIO_PT);
    audio.addSSRC(audioSsrc, cname, cname, `${cname}-a`);
    const video = new Video('1', 'SendOnly');
    video.addVP8Codec(VIDEO_PT);
    video.addSSRC(videoSsrc, cname, cname, `${cname}-v`);
    const audioTrack = this.#pc.addTrack(audio);
    const videoTrack = this.#pc.addTrack(video);
    this.#tracks = [audioTrack, videoTrack];
    // Registered right away: node-datachannel does not replay an open that happened earlier.
    this.#opened = Promise.all(this.#tracks.map((t) => new Promise<void>((r) => t.onOpen(() => r()))));
    videoTrack.onMessage((msg) => {
      if (isRtcp(msg) && keyframeRequestSsrcs(msg).includes(videoSsrc)) onKeyframeRequest();
    });
    this.audio = { ssrc: audioSsrc, payloadType: AUDIO_PT, send: (p) => audioTrack.sendMessageBinary(p) };
    this.video = { ssrc: videoSsrc, payloadType: VIDEO_PT, send: (p) => videoTrack.sendMessageBinary(p) };
  }

  async offer(): Promise<string> {
    this.#pc.setLocalDescription();
    return completeLocalSdp(this.#pc);
  }

  /** Applies Janus's answer and waits until DTLS is up on both tracks. */
  async accept(answerSdp: string): Promise<void> {
    this.#pc.setRemoteDescription(answerSdp, 'answer');
    await withTimeout(this.#opened, OPEN_TIMEOUT_MS, 'send transport DTLS');
  }

  close(): void {
    try {
      this.#pc.close();
    } catch {
      // Already closed by the native side.
    }
  }
}

export class JanusRecvPeer {
  readonly #pc: PeerConnection;
  /** A Track that is only referenced natively is collected and stops receiving: keep them all. */
  readonly #tracks = new Map<string, Track>();

  constructor(name: string, bindAddress: string | undefined, onRtp: (mid: string, packet: Buffer) => void) {
    this.#pc = createPeerConnection(`${name}-recv`, bindAddress);
    this.#pc.onTrack((track) => {
      const mid = track.mid();
      this.#tracks.set(mid, track);
      track.onMessage((msg) => onRtp(mid, msg));
    });
  }

  /** Applies an offer from Janus (first or renegotiated) and returns the complete answer. */
  async answer(offerSdp: string): Promise<string> {
    this.#pc.setRemoteDescription(offerSdp, 'offer');
    return completeLocalSdp(this.#pc);
  }

  close(): void {
    try {
      this.#pc.close();
    } catch {
      // Already closed by the native side.
    }
    this.#tracks.clear();
  }
}
