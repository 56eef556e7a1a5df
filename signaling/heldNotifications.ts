/**
 * Room notifications raised while a join is in flight are held back and sent right after its answer:
 * a client can only make sense of peerJoined/newProducer once it knows its room.
 */
import type { NotificationData, NotificationName } from '../protocol/signaling.js';

type Send = <N extends NotificationName>(name: N, data: NotificationData[N]) => void;

export class HeldNotifications {
  #held: { name: NotificationName; data: unknown }[] | null = [];
  readonly #send: Send;

  constructor(send: Send) {
    this.#send = send;
  }

  /** Holds the notification until release(), or sends it if already released. */
  readonly notify: Send = (name, data) => {
    if (this.#held) this.#held.push({ name, data });
    else this.#send(name, data);
  };

  /** Sends what was held, in order; later notifications go straight out. */
  release(): void {
    const pending = this.#held ?? [];
    this.#held = null;
    for (const n of pending) this.#send(n.name, n.data as never);
  }

  /** The join failed: nothing held is worth sending. */
  drop(): void {
    this.#held = null;
  }
}
