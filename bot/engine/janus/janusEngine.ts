/**
 * The replay bot on Janus's VideoRoom instead of our service, for side-by-side benchmarks: the
 * same pre-encoded clip, sender, RTP parsing and statistics as ReplayEngine, signalled through
 * Janus's JSON API. Each bot publishes on one handle and receives every other publisher of its
 * room on one multistream subscriber handle (one PeerConnection each way, like our service).
 * `signalingUrl` is Janus's WebSocket (ws://host:8188); no token is needed.
 */
import { TypedEmitter } from '../../../client/sdk/typedEmitter.js';
import { BotError, errorMessage } from '../../errors.js';
import { AUDIO_CLOCK_RATE, VIDEO_CLOCK_RATE, type ReplayClip } from '../../media/replayClip.js';
import { isRtcp, parseRtp } from '../../rtp/rtpPacket.js';
import { RtpStreamStats } from '../../stats/rtpStreamStats.js';
import type { BotEngine, EngineContext, EngineEvents, EngineStats, StreamStats } from '../botEngine.js';
import { sharedTicker, type TickerLike } from '../mediaTicker.js';
import { ReplaySender } from '../replay/replaySender.js';
import { JanusRecvPeer, JanusSendPeer } from './janusPeers.js';
import { JanusPluginError, JanusSession, type JanusMessage } from './janusSession.js';

const VIDEOROOM = 'janus.plugin.videoroom';
/** VideoRoom's "room already exists" error code. */
const ROOM_EXISTS = 427;

/** Janus rooms are numbered: a stable positive 31-bit id for each room name (FNV-1a). */
export function janusRoomId(name: string): number {
  let h = 0x811c9dc5;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h & 0x7fffffff || 1;
}

export interface JanusEngineOptions {
  clip: ReplayClip;
  /** Room settings for the VideoRoom `create` request (the first bot of a room creates it). */
  maxPublishers: number;
  ticker?: TickerLike;
}

interface SubscribedStream {
  mid: string;
  feedId: number;
  kind: 'audio' | 'video';
  stats: RtpStreamStats;
  subscribeAt: number;
  firstPacketAt: number | undefined;
  closed: boolean;
}

interface StreamInfo {
  mid?: string;
  type?: string;
  feed_id?: number;
  active?: boolean;
}

interface PublisherInfo {
  id: number;
  streams?: { type?: string; disabled?: boolean }[];
}

export class JanusEngine extends TypedEmitter<EngineEvents> implements BotEngine {
  readonly kind = 'replay' as const;
  readonly #ctx: EngineContext;
  readonly #opts: JanusEngineOptions;
  readonly #ticker: TickerLike;
  readonly #room: number;
  #session: JanusSession | undefined;
  #pubHandle = 0;
  #subHandle = 0;
  #privateId: number | undefined;
  #feedId: number | undefined;
  #send: JanusSendPeer | undefined;
  #recv: JanusRecvPeer | undefined;
  #sender: ReplaySender | undefined;
  readonly #streams = new Map<string, SubscribedStream>();
  readonly #subscribedFeeds = new Set<number>();
  readonly #pendingFeeds: number[] = [];
  /** Janus-initiated offers on the subscriber handle (a feed went away) wait here. */
  readonly #pendingOffers: string[] = [];
  #ready = false;
  #draining: Promise<void> | undefined;
  #closing = false;
  #connectAt: number | undefined;
  #joinedAt: number | undefined;
  #publishedAt: number | undefined;
  #firstPacketAt: number | undefined;

  constructor(ctx: EngineContext, opts: JanusEngineOptions) {
    super();
    this.#ctx = ctx;
    this.#opts = opts;
    this.#ticker = opts.ticker ?? sharedTicker;
    this.#room = janusRoomId(ctx.room);
  }

  async join(): Promise<void> {
    this.#connectAt = performance.now();
    const session = await JanusSession.connect(this.#ctx.signalingUrl, {
      ...(this.#ctx.bindAddress ? { localAddress: this.#ctx.bindAddress } : {}),
    });
    this.#session = session;
    session.on('close', (reason) => {
      if (!this.#closing) this.emit('disconnected', `janus session closed: ${reason}`);
    });
    session.on('handleEvent', (handle, m) => this.#onHandleEvent(handle, m));
    this.#pubHandle = await session.attach(VIDEOROOM);
    await this.#ensureRoom(session);
    const joined = await session.message(this.#pubHandle, {
      request: 'join',
      ptype: 'publisher',
      room: this.#room,
      display: this.#ctx.displayName,
    });
    this.#joinedAt = performance.now();
    const data = joined.plugindata?.data ?? {};
    this.#feedId = Number(data.id);
    this.#privateId = data.private_id === undefined ? undefined : Number(data.private_id);
    this.#enqueuePublishers(data.publishers);
    this.#ready = true;
    this.#kick();
  }

  async publish(): Promise<void> {
    const session = this.#session;
    if (!session) throw new BotError('MEDIA_SETUP_FAILED', 'publish before join');
    const send = new JanusSendPeer(this.#ctx.displayName, this.#ctx.bindAddress, () =>
      this.#sender?.requestKeyframe(),
    );
    this.#send = send;
    const offer = await send.offer();
    const answer = await session.message(
      this.#pubHandle,
      { request: 'publish', audio: true, video: true, data: false },
      { type: 'offer', sdp: offer, trickle: false },
    );
    if (!answer.jsep) throw new BotError('MEDIA_SETUP_FAILED', 'janus answered publish without SDP');
    await send.accept(answer.jsep.sdp);
    if (this.#closing) return;
    this.#publishedAt = performance.now();
    this.#sender = new ReplaySender(this.#opts.clip, send.audio, send.video, this.#ticker);
    this.#sender.start();
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#sender?.stop();
    await this.#session?.close();
    this.#send?.close();
    this.#recv?.close();
  }

  stats(nowMs: number): EngineStats {
    const streams: StreamStats[] = [...this.#streams.values()].map((s) => ({
      ...s.stats.snapshot(s.closed || this.#closing ? undefined : nowMs),
      consumerId: `${this.#subHandle}/${s.mid}`,
      producerId: `${s.feedId}/${s.kind}`,
      peerId: String(s.feedId),
      kind: s.kind,
      firstPacketMs: s.firstPacketAt !== undefined ? s.firstPacketAt - s.subscribeAt : undefined,
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
      peerId: this.#feedId === undefined ? undefined : String(this.#feedId),
    };
  }

  async #ensureRoom(session: JanusSession): Promise<void> {
    try {
      await session.message(this.#pubHandle, {
        request: 'create',
        room: this.#room,
        description: this.#ctx.room,
        publishers: this.#opts.maxPublishers,
        // No bitrate cap (the replayed clip ignores REMB anyway) and no periodic keyframe requests.
        bitrate: 0,
        fir_freq: 0,
        audiocodec: 'opus',
        videocodec: 'vp8',
        notify_joining: false,
        permanent: false,
      });
    } catch (err) {
      // Several bots of a room race to create it; all but one are told it exists.
      if (!(err instanceof JanusPluginError && err.janusCode === ROOM_EXISTS)) throw err;
    }
  }

  #onHandleEvent(handle: number, m: JanusMessage): void {
    if (m.janus === 'hangup' && !this.#closing) {
      this.emit('error', new BotError('MEDIA_SETUP_FAILED', `janus hung up handle ${handle}`));
    }
    const data = m.plugindata?.data;
    if (handle === this.#pubHandle && data) {
      this.#enqueuePublishers(data.publishers);
      const gone = data.unpublished ?? data.leaving;
      if (typeof gone === 'number') this.#closeFeed(gone);
    } else if (handle === this.#subHandle && m.jsep?.type === 'offer') {
      this.#pendingOffers.push(m.jsep.sdp);
      if (data) this.#applyStreams(data.streams, performance.now());
      this.#kick();
    }
  }

  #enqueuePublishers(publishers: unknown): void {
    if (!Array.isArray(publishers)) return;
    for (const p of publishers as PublisherInfo[]) {
      const hasMedia = (p.streams ?? []).some((s) => !s.disabled);
      if (p.id === this.#feedId || !hasMedia || this.#subscribedFeeds.has(p.id)) continue;
      this.#subscribedFeeds.add(p.id);
      this.#pendingFeeds.push(p.id);
    }
    this.#kick();
  }

  #kick(): void {
    if (!this.#ready || this.#draining || this.#closing) return;
    if (this.#pendingFeeds.length === 0 && this.#pendingOffers.length === 0) return;
    this.#draining = this.#drain()
      .catch((err: unknown) => {
        if (!this.#closing) this.emit('error', new BotError('MEDIA_SETUP_FAILED', errorMessage(err)));
      })
      .finally(() => {
        this.#draining = undefined;
        this.#kick();
      });
  }

  /** One negotiation at a time: subscribe to every feed queued so far, or answer Janus's offer. */
  async #drain(): Promise<void> {
    const session = this.#session!;
    const feeds = this.#pendingFeeds.splice(0);
    let offer: string | undefined;
    const at = performance.now();
    if (feeds.length > 0) {
      const streams = feeds.map((feed) => ({ feed }));
      let answer: JanusMessage;
      if (!this.#subHandle) {
        this.#subHandle = await session.attach(VIDEOROOM);
        answer = await session.message(this.#subHandle, {
          request: 'join',
          ptype: 'subscriber',
          room: this.#room,
          streams,
          ...(this.#privateId !== undefined ? { private_id: this.#privateId } : {}),
        });
      } else {
        answer = await session.message(this.#subHandle, { request: 'subscribe', streams });
      }
      this.#applyStreams(answer.plugindata?.data.streams, at);
      offer = answer.jsep?.sdp;
    } else {
      offer = this.#pendingOffers.shift();
    }
    if (!offer || this.#closing) return;
    this.#recv ??= new JanusRecvPeer(this.#ctx.displayName, this.#ctx.bindAddress, (mid, p) =>
      this.#onRtp(mid, p),
    );
    const answerSdp = await this.#recv.answer(offer);
    await session.message(
      this.#subHandle,
      { request: 'start' },
      { type: 'answer', sdp: answerSdp, trickle: false },
    );
  }

  #applyStreams(streams: unknown, at: number): void {
    if (!Array.isArray(streams)) return;
    for (const s of streams as StreamInfo[]) {
      if (s.mid === undefined || (s.type !== 'audio' && s.type !== 'video') || s.feed_id === undefined)
        continue;
      const existing = this.#streams.get(s.mid);
      if (existing) {
        if (s.active === false) existing.closed = true;
        continue;
      }
      this.#streams.set(s.mid, {
        mid: s.mid,
        feedId: s.feed_id,
        kind: s.type,
        stats: new RtpStreamStats(s.type === 'video' ? VIDEO_CLOCK_RATE : AUDIO_CLOCK_RATE, {
          freezeGapMs: s.type === 'video' ? 500 : Number.POSITIVE_INFINITY,
        }),
        subscribeAt: at,
        firstPacketAt: undefined,
        closed: false,
      });
    }
  }

  #onRtp(mid: string, packet: Buffer): void {
    if (isRtcp(packet)) return;
    const stream = this.#streams.get(mid);
    const rtp = parseRtp(packet);
    if (!stream || !rtp) return;
    const now = performance.now();
    stream.firstPacketAt ??= now;
    this.#firstPacketAt ??= now;
    stream.stats.onPacket(rtp.sequenceNumber, rtp.timestamp, now, packet.length);
  }

  #closeFeed(feedId: number): void {
    for (const s of this.#streams.values()) if (s.feedId === feedId) s.closed = true;
  }
}
