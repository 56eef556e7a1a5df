/**
 * A growing set of bots for benchmarks that ramp in steps: rooms are added a few at a time, at
 * a given join rate, and the fleet reports cumulative totals that the caller turns into
 * per-window loss. Built on the bot library's BotController (same join, publish, consume and
 * measurement code as `npm run bot`).
 */
import type { EngineFactory } from '../../bot/engine/botEngine.js';
import { DEFAULT_BACKOFF, sleep } from '../../bot/runner/backoff.js';
import { BotController, type BotSnapshot } from '../../bot/runner/botController.js';
import { RoomInviteRelay } from '../../bot/runner/roomInviteRelay.js';

export interface BotFleetOptions {
  baseUrl: URL;
  signalingUrl: string;
  bindAddress: string | undefined;
  createEngine: EngineFactory;
  perRoom: number;
  roomPrefix: string;
  getToken?: (baseUrl: string, displayName: string) => Promise<string>;
  /**
   * Join rooms another fleet created: every bot is a guest and waits for the invite that fleet's
   * creators share through this relay (rooms have members; a stranger's join is refused).
   */
  joinRoomsOf?: RoomInviteRelay;
}

export interface FleetTotals {
  bots: number;
  joined: number;
  failed: number;
  /** Streams received (consumers the bots have), and how many carried packets. */
  streams: number;
  videoStreams: number;
  packets: number;
  lost: number;
  expected: number;
}

export class BotFleet {
  readonly #opts: BotFleetOptions;
  readonly #bots: BotController[] = [];
  /** Each room's first bot creates it and hands its invite to the others. */
  readonly #invites: RoomInviteRelay;
  readonly #started: Promise<void>[] = [];
  readonly #runStart = performance.now();
  #rooms = 0;

  constructor(opts: BotFleetOptions) {
    this.#opts = opts;
    this.#invites = opts.joinRoomsOf ?? new RoomInviteRelay();
  }

  /** Where this fleet's room creators share their invites (for a fleet that joins the same rooms). */
  get invites(): RoomInviteRelay {
    return this.#invites;
  }

  get rooms(): number {
    return this.#rooms;
  }

  get size(): number {
    return this.#bots.length;
  }

  /**
   * Starts `rooms` new rooms' bots, one every 1/joinsPerSecond s, filling the new rooms
   * round-robin; resolves when the last one has started joining (not when it has joined).
   */
  async addRooms(rooms: number, joinsPerSecond: number, signal?: AbortSignal): Promise<void> {
    const first = this.#rooms + 1;
    this.#rooms += rooms;
    const total = rooms * this.#opts.perRoom;
    for (let k = 0; k < total && !signal?.aborted; k++) {
      const roomNo = first + (k % rooms);
      const member = Math.floor(k / rooms) + 1;
      const room = `${this.#opts.roomPrefix}-${roomNo}`;
      const bot = new BotController({
        id: `${room}/${member}`,
        room,
        displayName: `bench ${roomNo}-${member}`,
        engine: 'replay',
        baseUrl: this.#opts.baseUrl,
        signalingUrl: this.#opts.signalingUrl,
        bindAddress: this.#opts.bindAddress,
        createEngine: this.#opts.createEngine,
        backoff: DEFAULT_BACKOFF,
        runStartMs: this.#runStart,
        invites: {
          relay: this.#invites,
          role: member === 1 && !this.#opts.joinRoomsOf ? 'creator' : 'guest',
        },
        ...(this.#opts.getToken ? { getToken: this.#opts.getToken } : {}),
      });
      this.#bots.push(bot);
      this.#started.push(bot.start());
      if (k < total - 1) await sleep(1000 / joinsPerSecond, signal);
    }
  }

  /** Waits (bounded) until every bot started so far has joined and published, or failed. */
  async settled(timeoutMs: number): Promise<void> {
    await Promise.race([Promise.all(this.#started), sleep(timeoutMs)]);
  }

  snapshots(): BotSnapshot[] {
    const now = performance.now();
    return this.#bots.map((b) => b.snapshot(now));
  }

  totals(snapshots: BotSnapshot[] = this.snapshots()): FleetTotals {
    const t: FleetTotals = {
      bots: snapshots.length,
      joined: 0,
      failed: 0,
      streams: 0,
      videoStreams: 0,
      packets: 0,
      lost: 0,
      expected: 0,
    };
    for (const s of snapshots) {
      if (s.state === 'joined') t.joined++;
      if (s.state === 'failed') t.failed++;
      for (const st of s.streams) {
        if (!st.closed && st.packets > 0) {
          t.streams++;
          if (st.kind === 'video') t.videoStreams++;
        }
        t.packets += st.packets;
        t.lost += st.lost;
        t.expected += st.expected;
      }
    }
    return t;
  }

  /** Every bot leaves (in parallel, each bounded by the controller's own timeout). */
  async stop(): Promise<void> {
    await Promise.all(this.#bots.map((b) => b.stop()));
  }
}

/** Loss between two totals, in percent of the packets expected in between. */
export function windowLossPct(before: FleetTotals, after: FleetTotals): number {
  const expected = after.expected - before.expected;
  const lost = after.lost - before.lost;
  return expected > 0 ? Math.max(0, (lost / expected) * 100) : 0;
}
