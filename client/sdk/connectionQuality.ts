/**
 * Connection quality per participant — this client and each remote peer — as one of
 * `excellent | good | poor | lost`, the way a call screen shows bars.
 *
 * Inputs, and why each:
 * - the SFU's scores (server → `producerScore`, `consumerScore`, `consumerLayers` notifications,
 *   see rooms/mediaScores.ts): mediasoup scores every RTP stream 0–10 from loss and repairs as
 *   the SFU sees them, on both legs. The remote peer's quality is the score of its streams as
 *   they arrive at the SFU (`producerScore` of the consumers we hold of it); ours is the worse of
 *   our uplink (our producers) and our downlink (our consumers).
 * - the forwarded simulcast layer: the SFU lowers it when our downlink estimate drops, so a thin
 *   link with little loss (the SFU adapted) still reads as limited;
 * - this client's own WebRTC stats: inbound loss since the last sample and the round-trip time
 *   of the selected candidate pair (the SFU's scores lag a few seconds and ignore delay);
 * - the link itself: a transport that is `disconnected`/`failed`, or a signaling connection that
 *   is down, is `lost` at once.
 *
 * `QualityTracker` is the pure part (inputs in, changes out, unit-tested); `ConnectionQualityMonitor`
 * samples the client's stats on a timer for a RoomSession.
 */

import type { NotificationData } from '../../protocol/signaling.js';

export type ConnectionQuality = 'excellent' | 'good' | 'poor' | 'lost';

const RANK: Record<ConnectionQuality, number> = { lost: 0, poor: 1, good: 2, excellent: 3 };

function worst(...qs: ConnectionQuality[]): ConnectionQuality {
  return qs.reduce((a, b) => (RANK[b] < RANK[a] ? b : a), 'excellent');
}

/**
 * mediasoup's score is 10 × (delivered ratio)^4 averaged over recent intervals: ~5 % unrepaired
 * loss gives 8, ~15 % gives 5. 9–10 is a clean link, 7–8 shows occasional loss, 1–6 visible
 * damage, 0 means nothing arrives.
 */
export function qualityOfScore(score: number): ConnectionQuality {
  if (score <= 0) return 'lost';
  if (score <= 6) return 'poor';
  if (score <= 8) return 'good';
  return 'excellent';
}

/** What this client measured itself (ConnectionQualityMonitor), over the last sample period. */
export interface ClientLinkSample {
  /** Inbound packets lost / expected since the previous sample, 0–1 (undefined: nothing received). */
  inboundLoss?: number;
  /** Round-trip time of the selected candidate pair, seconds. */
  rttSeconds?: number;
}

export function qualityOfSample(s: ClientLinkSample): ConnectionQuality {
  let q: ConnectionQuality = 'excellent';
  if (s.inboundLoss !== undefined) {
    if (s.inboundLoss > 0.1) q = worst(q, 'poor');
    else if (s.inboundLoss > 0.02) q = worst(q, 'good');
  }
  if (s.rttSeconds !== undefined) {
    if (s.rttSeconds > 0.4) q = worst(q, 'poor');
    else if (s.rttSeconds > 0.2) q = worst(q, 'good');
  }
  return q;
}

interface ConsumerState {
  peerId: string;
  producerId?: string;
  /**
   * The sender paused what we consume (camera off, microphone muted): the SFU then forwards no
   * layer on purpose (`consumerLayers` null), which says nothing about anyone's link.
   */
  paused?: boolean;
  score?: number;
  producerScore?: number;
  /** Forwarded spatial layer and how many the producer offers (simulcast/SVC video only). */
  spatialLayer?: number | null;
  spatialLayers?: number;
  /** Score per producer stream: a layer the sender does not send (0) is not one we could get. */
  producerScores?: number[];
}

/**
 * The quality of one forwarded video layer: the lowest of three (a fraction of the camera's
 * resolution) is what a receiver gets when its link carries only ~200 kbit/s.
 */
function qualityOfLayer(c: ConsumerState): ConnectionQuality {
  if (c.paused) return 'excellent';
  if (c.spatialLayers === undefined || c.spatialLayer === undefined) return 'excellent';
  // The highest layer that arrives at the SFU (Chromium sends only two of three at 640×480).
  let available = c.spatialLayers;
  if (c.producerScores && c.producerScores.length === c.spatialLayers) {
    available = c.producerScores.reduce((n, score, i) => (score > 0 ? i + 1 : n), 0);
  }
  if (available < 2) return 'excellent';
  if (c.spatialLayer === null || c.spatialLayer === 0) return 'poor';
  return c.spatialLayer < available - 1 ? 'good' : 'excellent';
}

export class QualityTracker {
  readonly #selfId: () => string;
  readonly #onChange: (peerId: string, quality: ConnectionQuality) => void;
  readonly #producers = new Map<string, number>();
  readonly #consumers = new Map<string, ConsumerState>();
  readonly #current = new Map<string, ConnectionQuality>();
  #sample: ClientLinkSample = {};
  #linkLost = false;

  constructor(opts: {
    selfId: () => string;
    onChange: (peerId: string, quality: ConnectionQuality) => void;
  }) {
    this.#selfId = opts.selfId;
    this.#onChange = opts.onChange;
  }

  /** The last computed quality of a participant (undefined until something is known of them). */
  quality(peerId: string): ConnectionQuality | undefined {
    return this.#current.get(peerId);
  }

  all(): Map<string, ConnectionQuality> {
    return new Map(this.#current);
  }

  producerScore(producerId: string, score: number): void {
    this.#producers.set(producerId, score);
    this.evaluate();
  }

  producerGone(producerId: string): void {
    if (this.#producers.delete(producerId)) this.evaluate();
  }

  /**
   * A consumer of `peerId`'s media exists (its layers are known once the SFU reports them);
   * `producerId` and `paused` let `producerPaused` tell a camera turned off from a starved link.
   */
  consumer(consumerId: string, peerId: string, producerId?: string, paused = false): void {
    if (!this.#consumers.has(consumerId)) this.#consumers.set(consumerId, { peerId, producerId, paused });
  }

  /** The sender paused (true) or resumed (false) a producer we may consume. */
  producerPaused(producerId: string, paused: boolean): void {
    let changed = false;
    for (const c of this.#consumers.values()) {
      if (c.producerId !== producerId || c.paused === paused) continue;
      c.paused = paused;
      changed = true;
    }
    if (changed) this.evaluate();
  }

  consumerScore(consumerId: string, score: number, producerScore: number, producerScores?: number[]): void {
    const c = this.#consumers.get(consumerId);
    if (!c) return;
    c.score = score;
    c.producerScore = producerScore;
    if (producerScores) c.producerScores = producerScores;
    this.evaluate();
  }

  consumerLayers(consumerId: string, spatialLayer: number | null, spatialLayers: number): void {
    const c = this.#consumers.get(consumerId);
    if (!c) return;
    c.spatialLayer = spatialLayer;
    c.spatialLayers = spatialLayers;
    this.evaluate();
  }

  consumerGone(consumerId: string): void {
    if (this.#consumers.delete(consumerId)) this.evaluate();
  }

  /** A re-entry replaces every producer, consumer and our own peer id: start over. */
  reset(): void {
    this.#producers.clear();
    this.#consumers.clear();
    this.#current.clear();
    this.#sample = {};
  }

  /** A remote participant left: forget it (no event: the app drops its tile). */
  peerGone(peerId: string): void {
    for (const [id, c] of this.#consumers) if (c.peerId === peerId) this.#consumers.delete(id);
    this.#current.delete(peerId);
  }

  clientSample(sample: ClientLinkSample): void {
    this.#sample = sample;
    this.evaluate();
  }

  /** The media transports or the signaling connection are down (true) or back (false). */
  linkLost(lost: boolean): void {
    this.#linkLost = lost;
    this.evaluate();
  }

  /** Recomputes every participant and reports those whose quality changed. */
  evaluate(): void {
    const next = new Map<string, ConnectionQuality>();
    const self = this.#selfId();
    let own: ConnectionQuality = qualityOfSample(this.#sample);
    for (const score of this.#producers.values()) own = worst(own, qualityOfScore(score));
    for (const c of this.#consumers.values()) {
      if (c.score !== undefined) own = worst(own, qualityOfScore(c.score));
      own = worst(own, qualityOfLayer(c));
      if (c.producerScore !== undefined) {
        const theirs = qualityOfScore(c.producerScore);
        next.set(c.peerId, worst(next.get(c.peerId) ?? 'excellent', theirs));
      }
    }
    next.set(self, this.#linkLost ? 'lost' : own);
    for (const [peerId, q] of next) {
      if (this.#current.get(peerId) === q) continue;
      this.#current.set(peerId, q);
      this.#onChange(peerId, q);
    }
  }
}

interface RtpCounters {
  packetsReceived: number;
  packetsLost: number;
}

/** What the monitor reads from the session each period (the session's own public getters). */
export interface StatsSource {
  receiveStats(): Promise<RTCStatsReport[]>;
  sendStats(): Promise<RTCStatsReport[]>;
}

/** Samples this client's WebRTC stats every `intervalMs` into a QualityTracker. */
export class ConnectionQualityMonitor {
  readonly #tracker: QualityTracker;
  readonly #source: StatsSource;
  readonly #timer: ReturnType<typeof setInterval>;
  /** Inbound counters per RTP stream at the previous sample, for the loss of the last period. */
  #last = new Map<string, RtpCounters>();
  #sampling = false;

  constructor(tracker: QualityTracker, source: StatsSource, intervalMs = 2000) {
    this.#tracker = tracker;
    this.#source = source;
    this.#timer = setInterval(() => void this.sample(), intervalMs);
  }

  async sample(): Promise<void> {
    if (this.#sampling) return;
    this.#sampling = true;
    try {
      const [recv, send] = await Promise.all([this.#source.receiveStats(), this.#source.sendStats()]);
      const now = new Map<string, RtpCounters>();
      let received = 0;
      let lost = 0;
      let rtt: number | undefined;
      for (const report of [...recv, ...send]) {
        report.forEach((s: Record<string, unknown>) => {
          if (s.type === 'inbound-rtp' && typeof s.id === 'string') {
            const c = {
              packetsReceived: Number(s.packetsReceived ?? 0),
              packetsLost: Number(s.packetsLost ?? 0),
            };
            now.set(s.id, c);
            const before = this.#last.get(s.id);
            if (before) {
              received += Math.max(0, c.packetsReceived - before.packetsReceived);
              lost += Math.max(0, c.packetsLost - before.packetsLost);
            }
          } else if (
            s.type === 'candidate-pair' &&
            s.nominated === true &&
            s.state === 'succeeded' &&
            typeof s.currentRoundTripTime === 'number'
          ) {
            rtt = Math.max(rtt ?? 0, s.currentRoundTripTime);
          }
        });
      }
      this.#last = now;
      const expected = received + lost;
      this.#tracker.clientSample({
        inboundLoss: expected > 0 ? lost / expected : undefined,
        rttSeconds: rtt,
      });
    } catch {
      // A transport closing mid-sample: the next period reads the new ones.
    } finally {
      this.#sampling = false;
    }
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

/** The parts of a RoomSession the quality hook uses (its public surface; no import cycle). */
export interface QualitySession {
  readonly peerId: string;
  readonly producers: Map<string, { id: string; getStats(): Promise<RTCStatsReport> }>;
  getReceiveStats(): Promise<Map<string, RTCStatsReport>>;
  /** Whether the server reports this remote producer paused (known from the join on). */
  isPaused(producerId: string): boolean;
  on(
    event: 'track' | 'trackEnded',
    listener: (t: { consumerId: string; peerId: string; producerId: string }) => void,
  ): () => void;
  on(
    event: 'producerPaused' | 'producerResumed',
    listener: (peerId: string, producerId: string) => void,
  ): () => void;
  on(event: 'transportState', listener: (direction: 'send' | 'recv', state: string) => void): () => void;
  on(event: 'peerLeft', listener: (peerId: string) => void): () => void;
  on(event: 'reconnecting', listener: (attempt: number) => void): () => void;
  on(event: 'reconnected', listener: () => void): () => void;
}

/** The score notifications, on whichever connection the session's current entry uses. */
export interface ScoreSource {
  on(event: 'producerScore', listener: (d: NotificationData['producerScore']) => void): () => void;
  on(event: 'consumerScore', listener: (d: NotificationData['consumerScore']) => void): () => void;
  on(event: 'consumerLayers', listener: (d: NotificationData['consumerLayers']) => void): () => void;
}

export interface QualityHook {
  all(): Map<string, ConnectionQuality>;
  /** Feeds the tracker from one entry's connection while `current()` holds; returns the unlisten. */
  listen(s: ScoreSource, current: () => boolean): () => void;
  reset(): void;
  close(): void;
}

/** Wires a tracker and a stats monitor to a session; `emit` gets every change. */
export function attachQuality(
  session: QualitySession,
  emit: (peerId: string, quality: ConnectionQuality) => void,
  intervalMs = 2000,
): QualityHook {
  const tracker = new QualityTracker({ selfId: () => session.peerId, onChange: emit });
  const monitor = new ConnectionQualityMonitor(
    tracker,
    {
      receiveStats: async () => [...(await session.getReceiveStats()).values()],
      sendStats: () => Promise.all([...session.producers.values()].map((p) => p.getStats())),
    },
    intervalMs,
  );
  const down = new Set<string>();
  const offs = [
    session.on('track', (t) =>
      tracker.consumer(t.consumerId, t.peerId, t.producerId, session.isPaused(t.producerId)),
    ),
    session.on('producerPaused', (_peerId, producerId) => tracker.producerPaused(producerId, true)),
    session.on('producerResumed', (_peerId, producerId) => tracker.producerPaused(producerId, false)),
    session.on('trackEnded', (t) => tracker.consumerGone(t.consumerId)),
    session.on('peerLeft', (peerId) => tracker.peerGone(peerId)),
    session.on('transportState', (direction, state) => {
      if (state === 'disconnected' || state === 'failed') down.add(direction);
      else if (state === 'connected') down.delete(direction);
      tracker.linkLost(down.size > 0);
    }),
    session.on('reconnecting', () => tracker.linkLost(true)),
    session.on('reconnected', () => {
      down.clear();
      tracker.linkLost(false);
    }),
  ];
  return {
    all: () => tracker.all(),
    listen: (s, current) => {
      const subs = [
        s.on('producerScore', (d) => current() && tracker.producerScore(d.producerId, d.score)),
        s.on(
          'consumerScore',
          (d) => current() && tracker.consumerScore(d.consumerId, d.score, d.producerScore, d.producerScores),
        ),
        s.on(
          'consumerLayers',
          (d) => current() && tracker.consumerLayers(d.consumerId, d.spatialLayer, d.spatialLayers),
        ),
      ];
      return () => {
        for (const off of subs) off();
      };
    },
    reset: () => {
      down.clear();
      tracker.reset();
    },
    close: () => {
      monitor.close();
      for (const off of offs) off();
    },
  };
}
