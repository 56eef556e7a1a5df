/**
 * One bot's life: get a token, join and publish through its engine, and when the session drops
 * unexpectedly, rejoin as the SDK's reconnect policy allows (bounded, jittered backoff). Keeps the stats of every session it had, so a
 * reconnect does not erase what was measured before it.
 */
import { getBotToken } from '../auth.js';
import type { BotEngine, EngineFactory, EngineKind, EngineStats, StreamStats } from '../engine/botEngine.js';
import { BotError, errorCode, errorMessage, withTimeout } from '../errors.js';
import { RetryAbortedError, retryWithPolicy } from '../../client/sdk/reconnectPolicy.js';
import { reconnectPolicyFor, sleep, type BackoffPolicy } from './backoff.js';
import type { RoomInviteRelay } from './roomInviteRelay.js';

export type BotState = 'pending' | 'joining' | 'joined' | 'reconnecting' | 'failed' | 'stopped';

export interface BotErrorRecord {
  /** Since the start of the run. */
  atMs: number;
  code: string;
  message: string;
}

export interface BotSnapshot {
  id: string;
  room: string;
  displayName: string;
  engine: EngineKind;
  state: BotState;
  /** Every peer id this bot had (one per session). */
  peerIds: string[];
  /** When the first join completed, since the start of the run. */
  joinedAtMs: number | undefined;
  joinMs: number | undefined;
  joinToFirstPacketMs: number | undefined;
  joinToFirstFrameMs: number | undefined;
  publishMs: number | undefined;
  streams: StreamStats[];
  sent: { packets: number; bytes: number };
  reconnects: number;
  /** Signaling drops the server resumed (same session; not counted as reconnects). */
  resumes: number;
  errorCount: number;
  /** The first few errors (the count above has them all). */
  errors: BotErrorRecord[];
}

export interface BotControllerOptions {
  id: string;
  room: string;
  displayName: string;
  engine: EngineKind;
  baseUrl: URL;
  signalingUrl: string;
  bindAddress: string | undefined;
  createEngine: EngineFactory;
  backoff: BackoffPolicy;
  /** performance.now() at the start of the run. */
  runStartMs: number;
  getToken?: (baseUrl: string, displayName: string) => Promise<string>;
  /**
   * How this bot gets into its room: the creator joins first and shares an invite through the
   * relay, guests wait for it. Without a relay the bot joins by name alone.
   */
  invites?: { relay: RoomInviteRelay; role: 'creator' | 'guest' };
}

const JOIN_TIMEOUT_MS = 20_000;
const PUBLISH_TIMEOUT_MS = 20_000;
const CLOSE_TIMEOUT_MS = 5_000;
/** A guest waits this long for its room's creator (who may itself wait for a token and a join). */
const INVITE_TIMEOUT_MS = 60_000;
const MAX_KEPT_ERRORS = 20;

export class BotController {
  readonly #opts: BotControllerOptions;
  readonly #stop = new AbortController();
  readonly #past: EngineStats[] = [];
  readonly #errors: BotErrorRecord[] = [];
  #engine: BotEngine | undefined;
  #state: BotState = 'pending';
  #joinedAt: number | undefined;
  #reconnects = 0;
  #resumes = 0;
  #errorCount = 0;
  #recovering: Promise<void> | undefined;
  #starting: Promise<void> | undefined;

  constructor(opts: BotControllerOptions) {
    this.#opts = opts;
  }

  get state(): BotState {
    return this.#state;
  }

  /** The first join; never throws (a failure is recorded and leaves the bot `failed`). */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    this.#state = 'joining';
    try {
      await this.#session();
      this.#state = 'joined';
    } catch (err) {
      // The room's other bots would wait for an invite that will not come.
      if (this.#opts.invites?.role === 'creator') this.#opts.invites.relay.fail(this.#opts.room, err);
      if (this.#stop.signal.aborted) {
        this.#state = 'stopped';
        return;
      }
      this.#record(err);
      this.#state = 'failed';
    }
  }

  /**
   * Leaves the room (bounded in time) and stops any reconnect in progress. A join still in
   * flight notices the stop at its next step and closes its own engine.
   */
  async stop(): Promise<void> {
    this.#stop.abort();
    await Promise.race([Promise.all([this.#starting, this.#recovering]), sleep(CLOSE_TIMEOUT_MS)]);
    const engine = this.#engine;
    if (engine)
      await withTimeout(engine.close(), CLOSE_TIMEOUT_MS, 'leave').catch((err) => this.#record(err));
    if (this.#state !== 'failed') this.#state = 'stopped';
  }

  snapshot(nowMs: number): BotSnapshot {
    const sessions = [...this.#past, ...(this.#engine ? [this.#engine.stats(nowMs)] : [])];
    const first = <K extends keyof EngineStats>(key: K): EngineStats[K] | undefined =>
      sessions.find((s) => s[key] !== undefined)?.[key];
    return {
      id: this.#opts.id,
      room: this.#opts.room,
      displayName: this.#opts.displayName,
      engine: this.#opts.engine,
      state: this.#state,
      peerIds: sessions.flatMap((s) => (s.peerId ? [s.peerId] : [])),
      joinedAtMs: this.#joinedAt !== undefined ? this.#joinedAt - this.#opts.runStartMs : undefined,
      joinMs: first('joinMs'),
      joinToFirstPacketMs: first('joinToFirstPacketMs'),
      joinToFirstFrameMs: first('joinToFirstFrameMs'),
      publishMs: first('publishMs'),
      streams: sessions.flatMap((s) => s.streams),
      sent: {
        packets: sessions.reduce((n, s) => n + s.sent.packets, 0),
        bytes: sessions.reduce((n, s) => n + s.sent.bytes, 0),
      },
      reconnects: this.#reconnects,
      resumes: this.#resumes,
      errorCount: this.#errorCount,
      errors: [...this.#errors],
    };
  }

  async #session(): Promise<void> {
    const o = this.#opts;
    const token = await (o.getToken ?? getBotToken)(o.baseUrl.toString(), o.displayName);
    this.#throwIfStopped();
    // A creator's rejoin uses its own invite too: a fresh bot token may be a new user.
    const invite =
      o.invites && (o.invites.role === 'guest' || o.invites.relay.settled(o.room))
        ? await withTimeout(o.invites.relay.wait(o.room), INVITE_TIMEOUT_MS, 'invite')
        : undefined;
    this.#throwIfStopped();
    // Every session starts at the one address the bot was given (a load balancer in front of the
    // nodes, or a node): any node relays the room to the node hosting it (rooms/relay/).
    await this.#sessionAt(o.signalingUrl, token, invite);
  }

  async #sessionAt(signalingUrlToUse: string, token: string, invite: string | undefined): Promise<void> {
    const o = this.#opts;
    const engine = o.createEngine({
      signalingUrl: signalingUrlToUse,
      token,
      room: o.room,
      invite,
      displayName: o.displayName,
      bindAddress: o.bindAddress,
    });
    this.#engine = engine;
    engine.on('error', (err) => this.#record(err));
    engine.on('resumed', () => {
      if (this.#engine === engine) this.#resumes++;
    });
    engine.on('disconnected', (reason) => {
      if (this.#engine !== engine || this.#stop.signal.aborted || this.#state !== 'joined') return;
      this.#recovering = this.#recover(engine, reason);
    });
    try {
      await withTimeout(engine.join(), JOIN_TIMEOUT_MS, 'join');
      this.#joinedAt ??= performance.now();
      this.#throwIfStopped();
      if (o.invites?.role === 'creator' && !o.invites.relay.settled(o.room)) {
        const shared = engine.createInvite
          ? await withTimeout(engine.createInvite(), JOIN_TIMEOUT_MS, 'invite')
          : undefined;
        o.invites.relay.share(o.room, shared);
      }
      await withTimeout(engine.publish(), PUBLISH_TIMEOUT_MS, 'publish');
      this.#throwIfStopped();
    } catch (err) {
      this.#retire(engine);
      await engine.close();
      throw err;
    }
  }

  /** Rejoins after an unexpected disconnect, as the SDK's reconnect policy allows. */
  async #recover(lost: BotEngine, reason: string): Promise<void> {
    this.#state = 'reconnecting';
    this.#record(new BotError('DISCONNECTED', reason));
    this.#retire(lost);
    await lost.close();
    try {
      await retryWithPolicy(
        async () => {
          this.#reconnects++;
          try {
            await this.#session();
          } catch (err) {
            if (!this.#stop.signal.aborted) this.#record(err);
            throw err;
          }
        },
        {
          policy: reconnectPolicyFor(this.#opts.backoff),
          signal: this.#stop.signal,
          // A bot retries whatever went wrong (its token source is not a person's session).
          isFatal: (err) => err instanceof RetryAbortedError,
        },
      );
      this.#state = 'joined';
    } catch {
      if (!this.#stop.signal.aborted) this.#state = 'failed';
    }
  }

  #throwIfStopped(): void {
    if (this.#stop.signal.aborted) throw new BotError('STOPPED', 'stopped');
  }

  /** Freezes a finished session's stats: its streams are over, not frozen. */
  #retire(engine: BotEngine): void {
    if (this.#engine !== engine) return;
    const stats = engine.stats(performance.now());
    this.#past.push({ ...stats, streams: stats.streams.map((s) => ({ ...s, closed: true })) });
    this.#engine = undefined;
  }

  #record(err: unknown): void {
    this.#errorCount++;
    if (this.#errors.length < MAX_KEPT_ERRORS) {
      this.#errors.push({
        atMs: performance.now() - this.#opts.runStartMs,
        code: errorCode(err),
        message: errorMessage(err),
      });
    }
  }
}
