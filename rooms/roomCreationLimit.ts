/**
 * How many rooms one user may create per minute on this node (each room costs a mediasoup router).
 * A sliding window of creation times per user; joining a room that already exists costs nothing.
 * Counted per node: a user spreading creations over N nodes gets N times the budget, which still
 * bounds the routers any one node holds for them.
 */
const WINDOW_MS = 60_000;

export class RoomCreationLimit {
  readonly #perMinute: number;
  readonly #now: () => number;
  readonly #created = new Map<string, number[]>();

  constructor(perMinute: number, now: () => number = Date.now) {
    this.#perMinute = perMinute;
    this.#now = now;
  }

  /** Records a creation by `userId`; returns 0, or the ms until the user may create one again. */
  take(userId: string): number {
    const now = this.#now();
    const recent = (this.#created.get(userId) ?? []).filter((t) => now - t < WINDOW_MS);
    if (recent.length >= this.#perMinute) {
      this.#created.set(userId, recent);
      return WINDOW_MS - (now - (recent[0] ?? now));
    }
    recent.push(now);
    this.#created.set(userId, recent);
    // Forget users whose window is empty, so the map holds only the last minute's creators.
    if (this.#created.size > 1000) {
      for (const [id, times] of this.#created) {
        if (times.every((t) => now - t >= WINDOW_MS)) this.#created.delete(id);
      }
    }
    return 0;
  }
}
