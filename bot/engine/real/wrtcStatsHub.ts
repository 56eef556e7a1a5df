/**
 * Packet-level stats for the real engine. node-webrtc does not implement
 * RTCRtpReceiver/RTCRtpSender.getStats(), only RTCPeerConnection.getStats(), and RoomSession
 * keeps its peer connections private. So every RTCPeerConnection created in this process is
 * registered here (see wrtcGlobals.ts), one timer polls each live one, and the inbound/outbound
 * RTP entries are handed to whoever watches that track id.
 */

export interface InboundCounters {
  packetsReceived: number;
  packetsLost: number;
  bytesReceived: number;
  jitterMs: number;
}

export interface OutboundCounters {
  packetsSent: number;
  bytesSent: number;
}

/** The fields we read from libwebrtc's stats entries (all optional in practice). */
interface RawStats {
  type: string;
  trackIdentifier?: string;
  mediaSourceId?: string;
  packetsReceived?: number;
  packetsLost?: number;
  bytesReceived?: number;
  jitter?: number;
  packetsSent?: number;
  bytesSent?: number;
}

export class WrtcStatsHub {
  readonly #pcs = new Set<RTCPeerConnection>();
  readonly #inbound = new Map<string, (c: InboundCounters) => void>();
  readonly #outbound = new Map<string, (c: OutboundCounters) => void>();
  readonly #intervalMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #polling = false;
  #failures = 0;

  constructor(intervalMs = 500) {
    this.#intervalMs = intervalMs;
  }

  /** Poll errors so far (a report shows them; one failing connection must not stop the rest). */
  get failures(): number {
    return this.#failures;
  }

  register(pc: RTCPeerConnection): void {
    this.#pcs.add(pc);
  }

  watchInbound(trackId: string, cb: (c: InboundCounters) => void): () => void {
    this.#inbound.set(trackId, cb);
    this.#start();
    return () => this.#unwatch(this.#inbound, trackId);
  }

  watchOutbound(trackId: string, cb: (c: OutboundCounters) => void): () => void {
    this.#outbound.set(trackId, cb);
    this.#start();
    return () => this.#unwatch(this.#outbound, trackId);
  }

  #unwatch(map: Map<string, unknown>, trackId: string): void {
    map.delete(trackId);
    if (this.#inbound.size === 0 && this.#outbound.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #start(): void {
    this.#timer ??= setInterval(() => void this.#poll(), this.#intervalMs);
  }

  async #poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      for (const pc of [...this.#pcs]) {
        if (pc.connectionState === 'closed') {
          this.#pcs.delete(pc);
          continue;
        }
        if (pc.connectionState !== 'connected') continue;
        try {
          this.#dispatch(await pc.getStats());
        } catch {
          this.#failures++;
        }
      }
    } finally {
      this.#polling = false;
    }
  }

  #dispatch(report: RTCStatsReport): void {
    const entries: RawStats[] = [];
    report.forEach((s: RawStats) => entries.push(s));
    const sourceTrack = new Map<string, string>();
    for (const s of entries) {
      if (s.type === 'media-source' && s.trackIdentifier)
        sourceTrack.set((s as RawStats & { id: string }).id, s.trackIdentifier);
    }
    const sent = new Map<string, OutboundCounters>();
    for (const s of entries) {
      if (s.type === 'inbound-rtp' && s.trackIdentifier) {
        this.#inbound.get(s.trackIdentifier)?.({
          packetsReceived: s.packetsReceived ?? 0,
          packetsLost: s.packetsLost ?? 0,
          bytesReceived: s.bytesReceived ?? 0,
          jitterMs: (s.jitter ?? 0) * 1000,
        });
      } else if (s.type === 'outbound-rtp' && s.mediaSourceId) {
        // Simulcast: one outbound-rtp per layer, all from the same media source (track).
        const track = sourceTrack.get(s.mediaSourceId);
        if (!track) continue;
        const sum = sent.get(track) ?? { packetsSent: 0, bytesSent: 0 };
        sum.packetsSent += s.packetsSent ?? 0;
        sum.bytesSent += s.bytesSent ?? 0;
        sent.set(track, sum);
      }
    }
    for (const [track, counters] of sent) this.#outbound.get(track)?.(counters);
  }
}

export const wrtcStats = new WrtcStatsHub();
