/**
 * The cheap engine: joins through the SDK's SignalingConnection, sends the pre-encoded clip over a
 * node-datachannel send transport and measures every consumer's RTP on a receive transport.
 * No encoder or decoder runs, so one process holds hundreds of these.
 * A dropped signaling socket is resumed like the SDK does (the connection core's resume: same peer,
 * missed notifications replayed); only a session the server cannot give back is reported lost. The
 * bot's media sockets are not touched by a signaling drop, so no ICE restart is made here.
 */
import { SignalingConnection } from '../../../client/sdk/connection.js';
import { CloseCode } from '../../../protocol/errors.js';
import { DefaultReconnectPolicy } from '../../../client/sdk/reconnectPolicy.js';
import { TypedEmitter } from '../../../client/sdk/typedEmitter.js';
import type {
  NotificationData,
  PeerInfo,
  ProducerInfo,
  ResponseData,
  TransportOptions,
} from '../../../protocol/signaling.js';
import { BotError, errorMessage, withTimeout } from '../../errors.js';
import { AUDIO_CLOCK_RATE, VIDEO_CLOCK_RATE, type ReplayClip } from '../../media/replayClip.js';
import { isRtcp, parseRtp } from '../../rtp/rtpPacket.js';
import { RtpStreamStats } from '../../stats/rtpStreamStats.js';
import type { BotEngine, EngineContext, EngineEvents, EngineStats, StreamStats } from '../botEngine.js';
import { nodeWebSocketFactory } from '../webSocketFactory.js';
import { REPLAY_RTP_CAPABILITIES, routerSupportsReplay } from './botRtpCapabilities.js';
import { sharedTicker, type TickerLike } from '../mediaTicker.js';
import { RecvPeer } from './recvPeer.js';
import { ReplaySender } from './replaySender.js';
import { SendPeer } from './sendPeer.js';

const LEAVE_TIMEOUT_MS = 3_000;
/** Upper bound on consume batches per drain; each batch takes everything queued so far. */
const MAX_DRAIN_ROUNDS = 1_000;
/**
 * Resume attempts after a drop: jittered from the first one (a room's bots lost the same server at
 * once), within the server's default grace of 15 s; then the controller rejoins with its backoff.
 */
const RESUME_POLICY = { maxAttempts: 5, baseDelayMs: 200, maxDelayMs: 3_000, firstAttemptImmediate: false };

interface ReceivedStream {
  consumerId: string;
  producerId: string;
  peerId: string;
  kind: 'audio' | 'video';
  mid: string;
  ssrc: number | undefined;
  rtpParameters: ResponseData['consume']['rtpParameters'];
  stats: RtpStreamStats;
  consumeAt: number;
  firstPacketAt: number | undefined;
  closed: boolean;
}

export interface ReplayEngineOptions {
  clip: ReplayClip;
  ticker?: TickerLike;
}

export class ReplayEngine extends TypedEmitter<EngineEvents> implements BotEngine {
  readonly kind = 'replay' as const;
  readonly #ctx: EngineContext;
  readonly #clip: ReplayClip;
  readonly #ticker: TickerLike;
  #signaling: SignalingConnection | undefined;
  #sendTransport: TransportOptions | undefined;
  #recvTransportId: string | undefined;
  #recv: RecvPeer | undefined;
  #send: SendPeer | undefined;
  #sender: ReplaySender | undefined;
  readonly #streams = new Map<string, ReceivedStream>();
  /** Producers to consume (old flow), or consumers the server pushed (`newConsumer`, mediaSetup). */
  readonly #pending: (
    { peerId: string; producer: ProducerInfo } | { pushed: NotificationData['newConsumer']; at: number }
  )[] = [];
  /** The server made our transports with the join and pushes our consumers. */
  #pushed = false;
  /** Producers queued or consumed once: a producer made while we join is both in the join answer's
   * peers and in a newProducer notification held back until after it; consuming it twice would
   * count its stream twice. */
  readonly #queuedProducers = new Set<string>();
  #ready = false;
  #draining: Promise<void> | undefined;
  #closing = false;
  #peerId: string | undefined;
  #connectAt: number | undefined;
  #joinedAt: number | undefined;
  #publishedAt: number | undefined;
  #firstPacketAt: number | undefined;

  constructor(ctx: EngineContext, opts: ReplayEngineOptions) {
    super();
    this.#ctx = ctx;
    this.#clip = opts.clip;
    this.#ticker = opts.ticker ?? sharedTicker;
  }

  async join(): Promise<void> {
    this.#connectAt = performance.now();
    const signaling = await SignalingConnection.open({
      url: this.#ctx.signalingUrl,
      // The bot's one token: an expired one cannot come back (4001 ends the session, the
      // controller signs in again), anything else resumes with it.
      getToken: () => this.#ctx.token,
      webSocketFactory: nodeWebSocketFactory,
      policy: new DefaultReconnectPolicy(RESUME_POLICY),
      reconnectOn: (code) =>
        code !== 1000 && code !== CloseCode.TokenInvalid && code !== CloseCode.TokenExpired,
    });
    this.#signaling = signaling;
    this.#listen(signaling);
    let joined: ResponseData['join'];
    try {
      // Capabilities with the join: the answer carries both transports, consumers are pushed.
      joined = await signaling.request('join', {
        room: this.#ctx.room,
        displayName: this.#ctx.displayName,
        ...(this.#ctx.invite ? { invite: this.#ctx.invite } : {}),
        mediaSetup: { rtpCapabilities: REPLAY_RTP_CAPABILITIES as never },
      });
    } catch (err) {
      signaling.close();
      throw err;
    }
    this.#joinedAt = performance.now();
    this.#peerId = joined.peerId;
    signaling.resumeWith(joined.resumeToken);
    if (!routerSupportsReplay(joined.routerRtpCapabilities)) {
      throw new BotError(
        'MEDIA_SETUP_FAILED',
        'the router offers no Opus/VP8, which the replay engine sends',
      );
    }
    let sendTransport: TransportOptions;
    let recvTransport: TransportOptions;
    if (joined.transports?.send) {
      this.#pushed = true;
      sendTransport = joined.transports.send;
      recvTransport = joined.transports.recv;
    } else {
      // An older server ignored mediaSetup: the old round trips.
      // The zod-inferred request type is looser than mediasoup-client's RtpCapabilities; same data.
      await signaling.request('setRtpCapabilities', { rtpCapabilities: REPLAY_RTP_CAPABILITIES as never });
      [sendTransport, recvTransport] = await Promise.all([
        signaling.request('createTransport', { direction: 'send' }),
        signaling.request('createTransport', { direction: 'recv' }),
      ]);
    }
    this.#sendTransport = sendTransport;
    this.#recvTransportId = recvTransport.id;
    this.#recv = new RecvPeer({
      name: `${this.#ctx.displayName}-recv`,
      signaling,
      transport: recvTransport,
      bindAddress: this.#ctx.bindAddress,
      onRtp: (mid, packet) => this.#onRtp(mid, packet),
      onStateChange: (s) => this.#onTransportState('recv', s),
    });
    if (!this.#pushed) this.#enqueuePeers(joined.peers);
    this.#ready = true;
    this.#kick();
  }

  async createInvite(): Promise<string> {
    if (!this.#signaling) throw new BotError('MEDIA_SETUP_FAILED', 'invite before join');
    return (await this.#signaling.request('roomInvite', {})).invite;
  }

  async publish(): Promise<void> {
    const signaling = this.#signaling;
    const transport = this.#sendTransport;
    if (!signaling || !transport) throw new BotError('MEDIA_SETUP_FAILED', 'publish before join');
    const send = new SendPeer({
      name: this.#ctx.displayName,
      signaling,
      transport,
      bindAddress: this.#ctx.bindAddress,
      onKeyframeRequest: () => this.#sender?.requestKeyframe(),
      onStateChange: (s) => this.#onTransportState('send', s),
      together: this.#pushed,
    });
    this.#send = send;
    await send.connectAndProduce();
    if (this.#closing) return;
    this.#publishedAt = performance.now();
    this.#sender = new ReplaySender(this.#clip, send.audio, send.video, this.#ticker);
    this.#sender.start();
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#sender?.stop();
    const signaling = this.#signaling;
    if (signaling && signaling.state !== 'closed') {
      signaling.resumeWith(undefined);
      const socket = signaling.socket;
      if (socket)
        await withTimeout(socket.request('leave', {}), LEAVE_TIMEOUT_MS, 'leave').catch(() => undefined);
      signaling.close();
    }
    this.#send?.close();
    this.#recv?.close();
  }

  stats(nowMs: number): EngineStats {
    const streams: StreamStats[] = [...this.#streams.values()].map((s) => ({
      ...s.stats.snapshot(s.closed || this.#closing ? undefined : nowMs),
      consumerId: s.consumerId,
      producerId: s.producerId,
      peerId: s.peerId,
      kind: s.kind,
      firstPacketMs: s.firstPacketAt !== undefined ? s.firstPacketAt - s.consumeAt : undefined,
      firstFrameMs: undefined,
      framesDecoded: undefined,
      closed: s.closed,
    }));
    const since = (t: number | undefined, from: number | undefined): number | undefined =>
      t !== undefined && from !== undefined ? t - from : undefined;
    return {
      joinMs: since(this.#joinedAt, this.#connectAt),
      joinToFirstPacketMs: since(this.#firstPacketAt, this.#joinedAt),
      joinToFirstFrameMs: undefined,
      publishMs: since(this.#publishedAt, this.#joinedAt),
      streams,
      sent: { packets: this.#sender?.counters.packets ?? 0, bytes: this.#sender?.counters.bytes ?? 0 },
      peerId: this.#peerId,
    };
  }

  #listen(s: SignalingConnection): void {
    s.on('newProducer', ({ peerId, producer }) => {
      if (this.#pushed) return;
      this.#queue(peerId, producer);
      this.#kick();
    });
    s.on('newConsumer', (pushed) => {
      this.#pending.push({ pushed, at: performance.now() });
      this.#kick();
    });
    s.on('consumerClosed', ({ consumerId }) => this.#closeWhere((st) => st.consumerId === consumerId));
    s.on('producerClosed', ({ producerId }) => this.#closeWhere((st) => st.producerId === producerId));
    s.on('peerLeft', ({ peerId }) => this.#closeWhere((st) => st.peerId === peerId));
    s.on('roomClosed', ({ reason }) => this.#lost(`room closed: ${reason}`));
    s.on('closed', ({ code }) => this.#lost(`signaling closed (${code})`));
    s.on('reconnected', ({ resumed, elapsedMs, replayed }) => {
      if (resumed) this.emit('resumed', { elapsedMs, replayed });
      else this.#lost('signaling reconnected, but the session was not resumed');
    });
  }

  #lost(reason: string): void {
    if (this.#closing) return;
    this.emit('disconnected', reason);
  }

  #onTransportState(direction: 'send' | 'recv', state: string): void {
    if (state === 'failed' && !this.#closing) {
      this.emit('error', new BotError('MEDIA_SETUP_FAILED', `${direction} transport failed`));
    }
  }

  #enqueuePeers(peers: PeerInfo[]): void {
    for (const peer of peers) for (const producer of peer.producers) this.#queue(peer.peerId, producer);
  }

  #queue(peerId: string, producer: ProducerInfo): void {
    if (this.#queuedProducers.has(producer.producerId)) return;
    this.#queuedProducers.add(producer.producerId);
    this.#pending.push({ peerId, producer });
  }

  #kick(): void {
    if (!this.#ready || this.#draining || this.#closing) return;
    this.#draining = this.#drain().finally(() => {
      this.#draining = undefined;
      // Producers announced during the last round's awaits are picked up by a new drain.
      if (this.#pending.length > 0) this.#kick();
    });
  }

  async #drain(): Promise<void> {
    const signaling = this.#signaling;
    const recv = this.#recv;
    const transportId = this.#recvTransportId;
    // #ready is set only once all three exist.
    if (!signaling || !recv || !transportId) return;
    for (let round = 0; round < MAX_DRAIN_ROUNDS && this.#pending.length > 0 && !this.#closing; round++) {
      const batch = this.#pending.splice(0);
      const added: ReceivedStream[] = [];
      for (const entry of batch) {
        if ('pushed' in entry) {
          added.push(this.#received(entry.pushed, entry.at));
          continue;
        }
        const { peerId, producer } = entry;
        try {
          added.push(await this.#consume(signaling, transportId, peerId, producer));
        } catch (err) {
          this.emit(
            'error',
            new BotError('MEDIA_SETUP_FAILED', `consume ${producer.kind} of ${peerId}: ${errorMessage(err)}`),
          );
        }
      }
      if (added.length === 0 || this.#closing) continue;
      try {
        await recv.add(
          added.map((s) => ({
            mid: s.mid,
            kind: s.kind,
            rtpParameters: s.rtpParameters,
            active: !s.closed,
            streamId: s.peerId,
          })),
        );
        await Promise.all(
          added.map((s) => signaling.request('resumeConsumer', { consumerId: s.consumerId })),
        );
      } catch (err) {
        if (!this.#closing)
          this.emit('error', new BotError('MEDIA_SETUP_FAILED', `receive setup: ${errorMessage(err)}`));
      }
    }
  }

  async #consume(
    signaling: SignalingConnection,
    transportId: string,
    peerId: string,
    producer: ProducerInfo,
  ): Promise<ReceivedStream> {
    const consumeAt = performance.now();
    const answer = await signaling.request('consume', {
      transportId,
      producerId: producer.producerId,
    });
    return this.#received({ ...answer, peerId }, consumeAt);
  }

  /** A consumer (answered or pushed) as a stream this bot receives and measures. */
  #received(answer: ResponseData['consume'], consumeAt: number): ReceivedStream {
    const { peerId } = answer;
    const mid = answer.rtpParameters.mid;
    if (mid === undefined) throw new BotError('MEDIA_SETUP_FAILED', 'consumer has no mid');
    const stream: ReceivedStream = {
      consumerId: answer.consumerId,
      producerId: answer.producerId,
      peerId,
      kind: answer.kind,
      mid,
      ssrc: answer.rtpParameters.encodings?.[0]?.ssrc,
      rtpParameters: answer.rtpParameters,
      stats: new RtpStreamStats(
        answer.kind === 'video' ? VIDEO_CLOCK_RATE : AUDIO_CLOCK_RATE,
        // Opus from the clip never pauses (no DTX), so only video silences are freezes.
        { freezeGapMs: answer.kind === 'video' ? 500 : Number.POSITIVE_INFINITY },
      ),
      consumeAt,
      firstPacketAt: undefined,
      closed: false,
    };
    this.#streams.set(mid, stream);
    return stream;
  }

  #onRtp(mid: string, packet: Buffer): void {
    if (isRtcp(packet)) return;
    const stream = this.#streams.get(mid);
    const rtp = parseRtp(packet);
    if (!stream || !rtp || (stream.ssrc !== undefined && rtp.ssrc !== stream.ssrc)) return;
    const now = performance.now();
    stream.firstPacketAt ??= now;
    this.#firstPacketAt ??= now;
    stream.stats.onPacket(rtp.sequenceNumber, rtp.timestamp, now, packet.length);
  }

  #closeWhere(match: (s: ReceivedStream) => boolean): void {
    for (const s of this.#streams.values()) {
      if (s.closed || !match(s)) continue;
      s.closed = true;
      this.#recv?.deactivate(s.mid);
    }
  }
}
