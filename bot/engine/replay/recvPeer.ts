/**
 * The receive transport of a replay bot: a node-datachannel PeerConnection that answers the
 * offers the SDP bridge builds from consumer parameters. Every new batch of consumers is one
 * renegotiation (a new remote offer with more m-lines); node-datachannel announces each new
 * m-line as a Track, whose RTP is handed to `onRtp` with its mid.
 */
import { PeerConnection, type Track } from 'node-datachannel';
import type { SignalingClient } from '../../../client/sdk/signalingClient.js';
import type { TransportOptions } from '../../../protocol/signaling.js';
import { BotError, withTimeout } from '../../errors.js';
import { buildRecvOffer, localDtlsParameters, remoteCandidates, type RecvStream } from './sdpBridge.js';

const TRACK_TIMEOUT_MS = 10_000;

export interface RecvPeerOptions {
  name: string;
  /** Requests go through the bot's connection (which may replace its socket on a resume). */
  signaling: Pick<SignalingClient, 'request'>;
  transport: TransportOptions;
  bindAddress: string | undefined;
  onRtp: (mid: string, packet: Buffer) => void;
  onStateChange: (state: string) => void;
}

export class RecvPeer {
  readonly #opts: RecvPeerOptions;
  readonly #streams: RecvStream[] = [];
  /** A Track that is only referenced natively is collected and stops receiving: keep them all. */
  readonly #tracks = new Map<string, Track>();
  readonly #trackWaiters = new Map<string, () => void>();
  #pc: PeerConnection | undefined;
  #version = 0;
  #closed = false;

  constructor(opts: RecvPeerOptions) {
    this.#opts = opts;
  }

  /**
   * Adds consumers in one renegotiation and resolves once a Track exists for every new mid,
   * i.e. when it is safe to resume those consumers.
   */
  async add(added: readonly RecvStream[]): Promise<void> {
    if (this.#closed) throw new BotError('MEDIA_SETUP_FAILED', 'receive transport closed');
    if (added.length === 0) return;
    this.#streams.push(...added);
    const waits = added.map((s) => this.#whenTrack(s.mid));
    const first = this.#pc === undefined;
    const pc = (this.#pc ??= this.#createPeerConnection());
    this.#version++;
    pc.setRemoteDescription(buildRecvOffer(this.#opts.transport, this.#streams, this.#version), 'offer');
    if (first) {
      const local = pc.localDescription()?.sdp;
      if (!local) throw new BotError('MEDIA_SETUP_FAILED', 'node-datachannel produced no local answer');
      const { signaling, transport } = this.#opts;
      await signaling.request('connectTransport', {
        transportId: transport.id,
        dtlsParameters: localDtlsParameters(local),
      });
      // Candidates only after mediasoup knows its DTLS role, so our ClientHello is not dropped.
      const mid = this.#streams[0]!.mid;
      for (const candidate of remoteCandidates(transport)) pc.addRemoteCandidate(candidate, mid);
    }
    await withTimeout(Promise.all(waits), TRACK_TIMEOUT_MS, 'receive track');
  }

  /** A closed consumer's m-line goes inactive in the next offer (mids are never reused). */
  deactivate(mid: string): void {
    const stream = this.#streams.find((s) => s.mid === mid);
    if (stream) stream.active = false;
  }

  close(): void {
    this.#closed = true;
    try {
      this.#pc?.close();
    } catch {
      // Already closed by the native side.
    }
    this.#tracks.clear();
  }

  #createPeerConnection(): PeerConnection {
    const pc = new PeerConnection(`${this.#opts.name}-recv`, {
      iceServers: [],
      ...(this.#opts.bindAddress ? { bindAddress: this.#opts.bindAddress } : {}),
    });
    pc.onStateChange((s) => this.#opts.onStateChange(s));
    pc.onTrack((track) => {
      const mid = track.mid();
      this.#tracks.set(mid, track);
      track.onMessage((msg) => this.#opts.onRtp(mid, msg));
      this.#trackWaiters.get(mid)?.();
      this.#trackWaiters.delete(mid);
    });
    return pc;
  }

  #whenTrack(mid: string): Promise<void> {
    if (this.#tracks.has(mid)) return Promise.resolve();
    return new Promise((resolve) => this.#trackWaiters.set(mid, resolve));
  }
}
