/**
 * Receive-side statistics of one RTP stream, computed from the packets themselves:
 *  - loss from sequence numbers (RFC 3550 A.1 style extended sequence numbers, so 16-bit
 *    wrap-around, reordering and duplicates are handled; a large jump re-bases the stream);
 *  - interarrival jitter (RFC 3550 §6.4.1 / A.8);
 *  - freezes: a gap of more than `freezeGapMs` between packets once the stream has started.
 * Pure arithmetic on (seq, timestamp, arrival) so it can be unit tested without a network.
 */
import { FreezeDetector } from './freezeDetector.js';

const SEQ_MOD = 0x10000;
/** RFC 3550 A.1 defaults: a jump beyond these is not "a few lost/late packets". */
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
/** Window of recent sequence numbers remembered to spot duplicates. */
const DUP_WINDOW = 1024;

export interface RtpStreamSnapshot {
  packets: number;
  bytes: number;
  /** Packets the sequence numbers say were sent (first to highest seen). */
  expected: number;
  lost: number;
  /** lost / expected, 0 when nothing was expected. */
  lossRatio: number;
  duplicates: number;
  /** Packets that arrived after a higher sequence number. */
  reordered: number;
  jitterMs: number;
  freezes: number;
  freezeMs: number;
  firstArrivalMs: number | undefined;
  lastArrivalMs: number | undefined;
}

export class RtpStreamStats {
  readonly clockRate: number;
  readonly freezeGapMs: number;
  #packets = 0;
  #bytes = 0;
  #duplicates = 0;
  #reordered = 0;
  // Sequence state for the current run of the stream (reset when it re-bases).
  #started = false;
  #baseExt = 0;
  #maxExt = 0;
  #received = 0;
  /** Expected/received of earlier runs, before a re-base. */
  #priorExpected = 0;
  #priorReceived = 0;
  #badSeq: number | undefined;
  readonly #seen = new Float64Array(DUP_WINDOW).fill(-1);
  #lastTransit: number | undefined;
  #jitter = 0;
  readonly #freeze: FreezeDetector;

  constructor(clockRate: number, opts: { freezeGapMs?: number } = {}) {
    if (!(clockRate > 0)) throw new RangeError('clockRate must be positive');
    this.clockRate = clockRate;
    this.freezeGapMs = opts.freezeGapMs ?? 500;
    this.#freeze = new FreezeDetector(this.freezeGapMs);
  }

  /** Records one packet; `arrivalMs` must not go backwards (a monotonic clock). */
  onPacket(seq: number, rtpTimestamp: number, arrivalMs: number, bytes: number): void {
    this.#packets++;
    this.#bytes += bytes;
    this.#freeze.onArrival(arrivalMs);
    if (!this.#trackSequence(seq & 0xffff)) return;
    this.#trackJitter(rtpTimestamp >>> 0, arrivalMs);
  }

  /**
   * With `nowMs`, a silence still in progress counts as a freeze (the stream stopped and has not
   * come back); pass it only for streams that should still be flowing.
   */
  snapshot(nowMs?: number): RtpStreamSnapshot {
    const runExpected = this.#started ? this.#maxExt - this.#baseExt + 1 : 0;
    const expected = this.#priorExpected + runExpected;
    const received = this.#priorReceived + this.#received;
    const lost = Math.max(0, expected - received);
    const { freezes, freezeMs } = this.#freeze.result(nowMs);
    return {
      packets: this.#packets,
      bytes: this.#bytes,
      expected,
      lost,
      lossRatio: expected > 0 ? lost / expected : 0,
      duplicates: this.#duplicates,
      reordered: this.#reordered,
      jitterMs: (this.#jitter / this.clockRate) * 1000,
      freezes,
      freezeMs,
      firstArrivalMs: this.#freeze.firstMs,
      lastArrivalMs: this.#freeze.lastMs,
    };
  }

  /** Returns false for packets that must not feed jitter (duplicates, the first of a re-base). */
  #trackSequence(seq: number): boolean {
    if (!this.#started) {
      this.#rebase(seq);
      return true;
    }
    const maxSeq = this.#maxExt % SEQ_MOD;
    // Signed distance in 16-bit space: positive = ahead of the highest seen so far.
    let delta = (seq - maxSeq + SEQ_MOD) % SEQ_MOD;
    if (delta >= SEQ_MOD / 2) delta -= SEQ_MOD;

    if (delta > 0 && delta < MAX_DROPOUT) {
      this.#badSeq = undefined;
      this.#maxExt += delta;
      this.#markSeen(this.#maxExt);
      this.#received++;
      return true;
    }
    if (delta <= 0 && delta >= -MAX_MISORDER) {
      this.#badSeq = undefined;
      const ext = this.#maxExt + delta;
      if (ext < this.#baseExt || this.#wasSeen(ext)) {
        this.#duplicates++;
        return false;
      }
      this.#markSeen(ext);
      this.#received++;
      this.#reordered++;
      return true;
    }
    // A big jump: the sender restarted or skipped. Believe it once two packets agree (A.1).
    if (this.#badSeq === seq) {
      this.#priorExpected += this.#maxExt - this.#baseExt + 1;
      this.#priorReceived += this.#received;
      this.#rebase(seq);
      return false;
    }
    this.#badSeq = (seq + 1) % SEQ_MOD;
    return false;
  }

  #rebase(seq: number): void {
    this.#started = true;
    this.#baseExt = seq;
    this.#maxExt = seq;
    this.#received = 1;
    this.#badSeq = undefined;
    this.#seen.fill(-1);
    this.#markSeen(seq);
    this.#lastTransit = undefined;
  }

  #markSeen(ext: number): void {
    this.#seen[ext % DUP_WINDOW] = ext;
  }

  #wasSeen(ext: number): boolean {
    return this.#seen[ext % DUP_WINDOW] === ext;
  }

  #trackJitter(rtpTimestamp: number, arrivalMs: number): void {
    const arrival = (arrivalMs * this.clockRate) / 1000;
    const transit = arrival - rtpTimestamp;
    if (this.#lastTransit !== undefined) {
      let d = transit - this.#lastTransit;
      // RTP timestamps wrap at 2^32: fold the difference back into range.
      if (d > 2 ** 31) d -= 2 ** 32;
      else if (d < -(2 ** 31)) d += 2 ** 32;
      this.#jitter += (Math.abs(d) - this.#jitter) / 16;
    }
    this.#lastTransit = transit;
  }
}
