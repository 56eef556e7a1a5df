/**
 * The one interface both media engines implement. A runner drives a bot through
 * join → publish → (measure) → close, and reads `stats()` whenever it reports.
 */
import type { RtpStreamSnapshot } from '../stats/rtpStreamStats.js';

export type EngineKind = 'replay' | 'real';

export interface EngineContext {
  /** ws:// URL of the signaling endpoint. */
  signalingUrl: string;
  token: string;
  room: string;
  /** An invite to the room, shared by the bot that created it (absent for that bot itself). */
  invite?: string | undefined;
  displayName: string;
  /** Local address for media sockets (loopback when the target is loopback). */
  bindAddress: string | undefined;
}

/** One received stream (one consumer), as measured by the bot. */
export interface StreamStats extends RtpStreamSnapshot {
  consumerId: string;
  producerId: string;
  peerId: string;
  kind: 'audio' | 'video';
  /** consume request → first RTP packet. */
  firstPacketMs: number | undefined;
  /** consume request → first decoded frame (real engine, video only). */
  firstFrameMs: number | undefined;
  framesDecoded: number | undefined;
  /** The consumer went away (its producer closed or its peer left). */
  closed: boolean;
}

export interface EngineStats {
  /** WebSocket connect started → `join` answered. */
  joinMs: number | undefined;
  /** `join` answered → first RTP packet of any stream. */
  joinToFirstPacketMs: number | undefined;
  /** `join` answered → first decoded video frame (real engine). */
  joinToFirstFrameMs: number | undefined;
  /** `join` answered → our audio and video producers exist. */
  publishMs: number | undefined;
  streams: StreamStats[];
  sent: { packets: number; bytes: number };
  peerId: string | undefined;
}

export type EngineEvents = {
  /** The session ended without close(): signaling dropped or the room closed. */
  disconnected: [reason: string];
  /** The signaling socket dropped and the server gave the same session back (same peer, media kept). */
  resumed: [{ elapsedMs: number; replayed: number }];
  /** A non-fatal failure (one consumer failed, a send error …), for the report. */
  error: [Error];
};

export interface BotEngine {
  readonly kind: EngineKind;
  /** Connects, joins the room and sets up transports; consumes everyone already publishing. */
  join(): Promise<void>;
  /**
   * A signed invite to the room just joined, for the other bots of the room (the server admits
   * only members). Absent on engines for servers whose rooms are open (Janus).
   */
  createInvite?(): Promise<string>;
  /** Starts sending audio and video. */
  publish(): Promise<void>;
  /** Leaves the room and closes every transport; idempotent, never throws. */
  close(): Promise<void>;
  /** `nowMs` (performance.now()) lets streams that went silent count as frozen. */
  stats(nowMs: number): EngineStats;
  on<E extends keyof EngineEvents>(event: E, listener: (...args: EngineEvents[E]) => void): () => void;
}

export type EngineFactory = (ctx: EngineContext) => BotEngine;
