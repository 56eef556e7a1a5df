/**
 * The numbered notifications of one signaling session: every notification gets the next `seq`
 * (from 1), goes to the session's socket if it has one, and is kept in a bounded buffer, so a
 * session resumed on a new socket can be sent what its client missed (seq > lastSeq). The log
 * belongs to the session, not to the socket: it moves with the peer when a session is resumed.
 */
import type { NotificationData, NotificationName } from '../protocol/signaling.js';

/** Notifications kept for replay: a few seconds of a busy room (joins, producers, speakers). */
export const DEFAULT_LOG_CAPACITY = 512;

export type Sink = (text: string) => void;

export class NotificationLog {
  readonly #capacity: number;
  /** Oldest first; at most `capacity` entries. */
  readonly #entries: { seq: number; text: string }[] = [];
  #seq = 0;
  #sink: Sink | undefined;

  constructor(sink?: Sink, capacity = DEFAULT_LOG_CAPACITY) {
    this.#sink = sink;
    this.#capacity = Math.max(1, capacity);
  }

  /** The seq of the last notification sent (0 before the first). */
  get lastSeq(): number {
    return this.#seq;
  }

  send<N extends NotificationName>(name: N, data: NotificationData[N]): void {
    const seq = ++this.#seq;
    const text = JSON.stringify({ notification: name, data, seq });
    this.#entries.push({ seq, text });
    if (this.#entries.length > this.#capacity) this.#entries.shift();
    this.#sink?.(text);
  }

  /**
   * Whether everything after `lastSeq` is still held. False when the client claims more than was
   * sent (not this session's numbers) or the buffer has dropped part of what it missed.
   */
  covers(lastSeq: number): boolean {
    if (lastSeq > this.#seq) return false;
    const oldest = this.#entries[0]?.seq ?? this.#seq + 1;
    return oldest <= lastSeq + 1;
  }

  /** No socket for now: notifications are only kept (the session's socket dropped). */
  detach(): void {
    this.#sink = undefined;
  }

  /** Sends what is held after `lastSeq` to `sink`, in order, then sends live; returns how many. */
  attach(sink: Sink, lastSeq: number): number {
    const missed = this.#entries.filter((e) => e.seq > lastSeq);
    for (const e of missed) sink(e.text);
    this.#sink = sink;
    return missed.length;
  }
}
