/**
 * How the bots of one room get in, as people would: the room's first bot creates the room (the
 * server makes it its only member) and shares an invite; every other bot of the room waits for that
 * invite and joins with it. One relay per load-test run.
 */
import { BotError } from '../errors.js';

interface Slot {
  promise: Promise<string | undefined>;
  resolve: (invite: string | undefined) => void;
  reject: (err: Error) => void;
  settled: boolean;
}

export class RoomInviteRelay {
  readonly #rooms = new Map<string, Slot>();

  #slot(room: string): Slot {
    let slot = this.#rooms.get(room);
    if (!slot) {
      let resolve!: Slot['resolve'];
      let reject!: Slot['reject'];
      const promise = new Promise<string | undefined>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // A room whose creator failed may have no waiter yet: that rejection is not unhandled.
      promise.catch(() => undefined);
      slot = { promise, resolve, reject, settled: false };
      this.#rooms.set(room, slot);
    }
    return slot;
  }

  /** The creator's invite (undefined for servers without invites); the first one shared counts. */
  share(room: string, invite: string | undefined): void {
    const slot = this.#slot(room);
    if (slot.settled) return;
    slot.settled = true;
    slot.resolve(invite);
  }

  /** The creator could not get in: the room's other bots fail with the same cause. */
  fail(room: string, cause: unknown): void {
    const slot = this.#slot(room);
    if (slot.settled) return;
    slot.settled = true;
    slot.reject(new BotError('JOIN_FAILED', `the bot creating room ${room} failed`, { cause }));
  }

  /** Whether the room's invite (or failure) is known already. */
  settled(room: string): boolean {
    return this.#rooms.get(room)?.settled ?? false;
  }

  /** Resolves with the invite once the room's creator shared it. */
  wait(room: string): Promise<string | undefined> {
    return this.#slot(room).promise;
  }
}
