/**
 * The realistic engine: the browser SDK's RoomSession on mediasoup-client (Chrome111 handler)
 * over libwebrtc from @roamhq/wrtc. It encodes a synthetic camera and microphone and decodes
 * what it receives; decoded frames are counted with RTCVideoSink. Packets, loss and jitter come
 * from libwebrtc's own inbound-rtp stats (wrtcStatsHub.ts polls them twice a second).
 */
import { RoomSession, type RemoteTrack } from '../../../client/sdk/roomSession.js';
import { TypedEmitter } from '../../../client/sdk/typedEmitter.js';
import { BotError, withTimeout } from '../../errors.js';
import { FreezeDetector } from '../../stats/freezeDetector.js';
import type { BotEngine, EngineContext, EngineEvents, EngineStats, StreamStats } from '../botEngine.js';
import { sharedTicker, type TickerLike } from '../mediaTicker.js';
import { nodeWebSocketFactory } from '../webSocketFactory.js';
import { SyntheticMedia, type VideoSpec } from './syntheticMedia.js';
import { RTCVideoSink } from './wrtcGlobals.js';
import { wrtcStats, type InboundCounters, type WrtcStatsHub } from './wrtcStatsHub.js';

const LEAVE_TIMEOUT_MS = 3_000;

export interface RealEngineOptions {
  video: VideoSpec;
  /** Simulcast as the web page publishes it (three layers); off saves encoder CPU. */
  simulcast: boolean;
  ticker?: TickerLike;
  stats?: WrtcStatsHub;
}

interface Received {
  remote: RemoteTrack;
  startedAt: number;
  sink: InstanceType<typeof RTCVideoSink> | undefined;
  frames: number;
  firstFrameAt: number | undefined;
  firstPacketAt: number | undefined;
  freeze: FreezeDetector;
  inbound: InboundCounters;
  unwatch: () => void;
  closed: boolean;
}

export class RealEngine extends TypedEmitter<EngineEvents> implements BotEngine {
  readonly kind = 'real' as const;
  readonly #ctx: EngineContext;
  readonly #opts: RealEngineOptions;
  readonly #ticker: TickerLike;
  readonly #statsHub: WrtcStatsHub;
  readonly #received = new Map<string, Received>();
  readonly #unwatch: (() => void)[] = [];
  readonly #sentByTrack = new Map<string, { packets: number; bytes: number }>();
  #session: RoomSession | undefined;
  #media: SyntheticMedia | undefined;
  #closing = false;
  #connectAt: number | undefined;
  #joinedAt: number | undefined;
  #publishedAt: number | undefined;
  #firstPacketAt: number | undefined;
  #firstFrameAt: number | undefined;

  constructor(ctx: EngineContext, opts: RealEngineOptions) {
    super();
    this.#ctx = ctx;
    this.#opts = opts;
    this.#ticker = opts.ticker ?? sharedTicker;
    this.#statsHub = opts.stats ?? wrtcStats;
  }

  async join(): Promise<void> {
    this.#connectAt = performance.now();
    const session = await RoomSession.join({
      url: this.#ctx.signalingUrl,
      token: this.#ctx.token,
      room: this.#ctx.room,
      invite: this.#ctx.invite,
      displayName: this.#ctx.displayName,
      deviceOptions: { handlerName: 'Chrome111' },
      webSocketFactory: nodeWebSocketFactory,
    });
    this.#joinedAt = performance.now();
    this.#session = session;
    if (this.#closing) {
      await session.leave();
      return;
    }
    session.on('track', (t) => this.#onTrack(t));
    session.on('trackEnded', (t) => this.#onTrackEnded(t.consumerId));
    session.on('error', (err) => this.emit('error', err));
    // The SDK resumes a dropped socket itself (same peer); the report counts it.
    session.on('resumed', (r) => this.emit('resumed', r));
    session.on('closed', (reason) => {
      if (!this.#closing && reason !== 'left') this.emit('disconnected', reason);
    });
    // Tracks of peers already in the room were emitted during join(), before we could listen.
    for (const t of session.remoteTracks.values()) this.#onTrack(t);
  }

  async createInvite(): Promise<string> {
    if (!this.#session) throw new BotError('MEDIA_SETUP_FAILED', 'invite before join');
    return (await this.#session.createInvite()).invite;
  }

  async publish(): Promise<void> {
    const session = this.#session;
    if (!session || this.#closing) return;
    this.#media = new SyntheticMedia(this.#opts.video, this.#ticker);
    for (const track of [this.#media.camera.track, this.#media.microphone.track]) {
      this.#unwatch.push(
        this.#statsHub.watchOutbound(track.id, (c) =>
          this.#sentByTrack.set(track.id, { packets: c.packetsSent, bytes: c.bytesSent }),
        ),
      );
    }
    await session.publish({
      audio: this.#media.microphone.track,
      video: this.#media.camera.track,
      simulcast: this.#opts.simulcast,
    });
    this.#publishedAt = performance.now();
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    for (const unwatch of this.#unwatch) unwatch();
    this.#media?.stop();
    for (const r of this.#received.values()) {
      r.sink?.stop();
      r.unwatch();
    }
    if (this.#session)
      await withTimeout(this.#session.leave(), LEAVE_TIMEOUT_MS, 'leave').catch(() => undefined);
  }

  stats(nowMs: number): EngineStats {
    const streams = [...this.#received.values()].map((r): StreamStats => {
      const { packetsReceived, packetsLost, bytesReceived, jitterMs } = r.inbound;
      const expected = packetsReceived + Math.max(0, packetsLost);
      const frozen =
        r.remote.kind === 'video'
          ? r.freeze.result(r.closed || this.#closing ? undefined : nowMs)
          : undefined;
      return {
        consumerId: r.remote.consumerId,
        producerId: r.remote.producerId,
        peerId: r.remote.peerId,
        kind: r.remote.kind,
        packets: packetsReceived,
        bytes: bytesReceived,
        expected,
        lost: Math.max(0, packetsLost),
        lossRatio: expected > 0 ? Math.max(0, packetsLost) / expected : 0,
        duplicates: 0,
        reordered: 0,
        jitterMs,
        freezes: frozen?.freezes ?? 0,
        freezeMs: frozen?.freezeMs ?? 0,
        firstArrivalMs: r.firstPacketAt,
        lastArrivalMs: undefined,
        firstPacketMs: r.firstPacketAt !== undefined ? r.firstPacketAt - r.startedAt : undefined,
        firstFrameMs: r.firstFrameAt !== undefined ? r.firstFrameAt - r.startedAt : undefined,
        framesDecoded: r.remote.kind === 'video' ? r.frames : undefined,
        closed: r.closed,
      };
    });
    const since = (t: number | undefined, from: number | undefined): number | undefined =>
      t !== undefined && from !== undefined ? t - from : undefined;
    return {
      joinMs: since(this.#joinedAt, this.#connectAt),
      joinToFirstPacketMs: since(this.#firstPacketAt, this.#joinedAt),
      joinToFirstFrameMs: since(this.#firstFrameAt, this.#joinedAt),
      publishMs: since(this.#publishedAt, this.#joinedAt),
      streams,
      sent: {
        packets: [...this.#sentByTrack.values()].reduce((n, c) => n + c.packets, 0),
        bytes: [...this.#sentByTrack.values()].reduce((n, c) => n + c.bytes, 0),
      },
      peerId: this.#session?.peerId,
    };
  }

  #onTrack(remote: RemoteTrack): void {
    if (this.#received.has(remote.consumerId)) return;
    const r: Received = {
      remote,
      // The track event comes right after the consumer is created, before it is resumed.
      startedAt: performance.now(),
      sink: undefined,
      frames: 0,
      firstFrameAt: undefined,
      firstPacketAt: undefined,
      freeze: new FreezeDetector(500),
      inbound: { packetsReceived: 0, packetsLost: 0, bytesReceived: 0, jitterMs: 0 },
      unwatch: () => undefined,
      closed: false,
    };
    r.unwatch = this.#statsHub.watchInbound(remote.track.id, (c) => {
      r.inbound = c;
      if (c.packetsReceived > 0) {
        // Known to the poll's resolution only; the first decoded frame is exact.
        const now = performance.now();
        r.firstPacketAt ??= now;
        this.#firstPacketAt ??= now;
      }
    });
    if (remote.kind === 'video') {
      const sink = new RTCVideoSink(remote.track);
      sink.onframe = () => {
        const now = performance.now();
        r.frames++;
        r.firstFrameAt ??= now;
        this.#firstFrameAt ??= now;
        r.freeze.onArrival(now);
      };
      r.sink = sink;
    }
    this.#received.set(remote.consumerId, r);
  }

  #onTrackEnded(consumerId: string): void {
    const r = this.#received.get(consumerId);
    if (!r) return;
    r.closed = true;
    r.sink?.stop();
    r.unwatch();
  }
}
