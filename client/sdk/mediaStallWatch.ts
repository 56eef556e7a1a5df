/**
 * Notices that incoming media stopped, the earliest sign that the network path is gone. Measured
 * in the impairment suite (test/network.resume.test.ts): after the link in use went down, Chromium
 * reported no ICE state change and no online/offline or network-change event for 9 s, while
 * frames stopped at once. A stall is only a suspicion (the sender may have muted or left), so the
 * owner merely probes its signaling socket on it (connectionLiveness.ts): one ping if all is well.
 *
 * Reads each receiver's `getSynchronizationSources()` (a cheap synchronous call; its timestamp
 * moves with every packet played out, audio and video) every `tickMs`, and compares values rather
 * than clocks, so the timestamps' time base does not matter. Fires when a stall starts, then every
 * `repeatMs` while it lasts (at most `maxRepeats` times): an ICE restart made before the browser
 * learned of the new network (Chromium takes seconds) has to be made again.
 */

export interface MediaStallOptions {
  /** No new packet on any receiver for this long is a stall (default 600 ms). */
  stallMs?: number;
  /** How often receivers are read (default 200 ms). */
  tickMs?: number;
  /** While a stall lasts, fire again this often (default 1000 ms)... */
  repeatMs?: number;
  /** ...at most this many times per stall (default 10). */
  maxRepeats?: number;
}

interface SourceReader {
  getSynchronizationSources?: () => { timestamp: number }[];
}

export class MediaStallWatch {
  readonly #receivers: () => SourceReader[];
  readonly #onStall: (stalledForMs: number) => void;
  readonly #stallMs: number;
  readonly #repeatMs: number;
  readonly #maxRepeats: number;
  /** When the current stall last fired, and how often it did (undefined: media flowing). */
  #stall: { firedAt: number; fired: number } | undefined;
  readonly #timer: ReturnType<typeof setInterval>;
  /** The last seen newest timestamp per receiver. */
  #seen = new WeakMap<SourceReader, number>();
  /** When any receiver last showed a new packet (undefined: media never flowed yet). */
  #lastProgressAt: number | undefined;

  /** `onStall` gets how long incoming media has been stalled. */
  constructor(
    receivers: () => SourceReader[],
    onStall: (stalledForMs: number) => void,
    opts: MediaStallOptions = {},
  ) {
    this.#receivers = receivers;
    this.#onStall = onStall;
    this.#stallMs = opts.stallMs ?? 600;
    this.#repeatMs = opts.repeatMs ?? 1000;
    this.#maxRepeats = opts.maxRepeats ?? 10;
    this.#timer = setInterval(() => this.#tick(), opts.tickMs ?? 200);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #tick(): void {
    const now = Date.now();
    let progressed = false;
    let any = false;
    for (const receiver of this.#receivers()) {
      if (typeof receiver.getSynchronizationSources !== 'function') continue;
      any = true;
      let newest = 0;
      for (const source of receiver.getSynchronizationSources()) newest = Math.max(newest, source.timestamp);
      if (newest > 0 && newest !== this.#seen.get(receiver)) {
        this.#seen.set(receiver, newest);
        progressed = true;
      }
    }
    if (!any) {
      // Nothing received (yet, or any more): nothing can stall.
      this.#lastProgressAt = undefined;
      return;
    }
    if (progressed) {
      this.#lastProgressAt = now;
      this.#stall = undefined;
      return;
    }
    if (this.#lastProgressAt === undefined || now - this.#lastProgressAt < this.#stallMs) return;
    const stall = this.#stall;
    if (!stall) {
      this.#stall = { firedAt: now, fired: 0 };
      return this.#onStall(now - this.#lastProgressAt);
    }
    if (stall.fired < this.#maxRepeats && now - stall.firedAt >= this.#repeatMs) {
      stall.firedAt = now;
      stall.fired++;
      this.#onStall(now - this.#lastProgressAt);
    }
  }
}
