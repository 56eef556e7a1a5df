/**
 * Finds out quickly that the signaling socket is dead, so the connection can replace it and resume.
 * A socket whose path vanished (the Wi-Fi went, the address it was bound to is gone, an outage)
 * gets no FIN: TCP keeps retransmitting into the void for minutes and the browser still says OPEN.
 * Browsers cannot send or see WebSocket ping frames, so this asks the server an application-level
 * `ping` (protocol/signaling.ts):
 *
 * - steady state: only when the socket has been quiet for `intervalMs` (a socket that delivers
 *   notifications or answers is alive, and costs nothing extra); no answer within `timeoutMs` → dead.
 *   Default 5 s and 5 s: at most one ~40-byte request per 5 s per quiet connection, and a silently
 *   dead socket is found within ~10 s even when nothing else notices.
 * - on suspicion (`probe`): when incoming media stalls (mediaStallWatch.ts) or a media transport
 *   goes `disconnected`, or the browser fires `online`/`offline` or a `navigator.connection`
 *   change, ping at once with a short timeout (`probeTimeoutMs`, default 500 ms, raised to 4× the
 *   measured round trip on slow links, at most 4 s): a network change is then noticed in about a
 *   second instead of never. A false alarm costs a resume (new socket, ICE restart), not the call.
 *
 * Like LiveKit's SignalClient ping/pingTimeout plus its "browser online" and "peer connection
 * failed" reconnect triggers; unlike it, a trigger only probes, so a healthy socket is kept.
 * Any answer (even an error: an older server's UNKNOWN_METHOD, RATE_LIMITED) proves the socket alive.
 */
import type { SignalingClient } from './signalingClient.js';

export interface LivenessOptions {
  /** Ping a socket quiet for this long (default 5000 ms). */
  intervalMs?: number;
  /** A steady-state ping unanswered for this long means the socket is dead (default 5000 ms). */
  timeoutMs?: number;
  /** Timeout of a probe on suspicion (default 500 ms, at least 4× the measured round trip). */
  probeTimeoutMs?: number;
  /** Listen to the browser's online/offline and network-change events (default: when present). */
  browserEvents?: boolean;
}

const DEFAULTS = { intervalMs: 5_000, timeoutMs: 5_000, probeTimeoutMs: 500 };
/** A probe never waits longer than this, however slow the link measured. */
const MAX_PROBE_TIMEOUT_MS = 4_000;

interface NetworkInformationLike {
  addEventListener(type: 'change', listener: () => void): void;
  removeEventListener(type: 'change', listener: () => void): void;
}

export class ConnectionLiveness {
  readonly #opts: Required<Omit<LivenessOptions, 'browserEvents'>>;
  readonly #current: () => SignalingClient | undefined;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #unlisten: (() => void)[] = [];
  /** The ping in flight on a socket (one at a time; a probe joins a steady-state ping). */
  #inFlight: { socket: SignalingClient; result: Promise<boolean> } | undefined;
  /** Smoothed round trip of answered pings, ms (undefined until one was answered). */
  #srtt: number | undefined;
  #stopped = false;

  /** `current`: the open socket, or undefined while there is none (reconnecting, closed). */
  constructor(current: () => SignalingClient | undefined, opts: LivenessOptions = {}) {
    this.#current = current;
    this.#opts = {
      intervalMs: opts.intervalMs ?? DEFAULTS.intervalMs,
      timeoutMs: opts.timeoutMs ?? DEFAULTS.timeoutMs,
      probeTimeoutMs: opts.probeTimeoutMs ?? DEFAULTS.probeTimeoutMs,
    };
    // Checked at a quarter of the interval, so a quiet socket is pinged ~intervalMs after its last frame.
    this.#timer = setInterval(() => this.#tick(), Math.max(250, this.#opts.intervalMs / 4));
    (this.#timer as { unref?: () => void }).unref?.();
    if (opts.browserEvents ?? true) this.#listenToBrowser();
  }

  /** The smoothed round trip of pings, ms (undefined before the first answer). */
  get roundTripMs(): number | undefined {
    return this.#srtt;
  }

  /**
   * Asks the current socket to answer now; resolves true if it did, false if it did not in time (the
   * socket is then abandoned: the connection reconnects and resumes) or there is no open socket.
   */
  probe(): Promise<boolean> {
    const socket = this.#current();
    if (!socket || socket.closed || this.#stopped) return Promise.resolve(false);
    const slow = this.#srtt !== undefined ? 4 * this.#srtt : 0;
    const timeout = Math.min(MAX_PROBE_TIMEOUT_MS, Math.max(this.#opts.probeTimeoutMs, slow));
    return this.#ping(socket, timeout, 'probe');
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const off of this.#unlisten.splice(0)) off();
  }

  #tick(): void {
    const socket = this.#current();
    if (!socket || socket.closed || this.#stopped) return;
    if (socket.quietForMs < this.#opts.intervalMs) return;
    void this.#ping(socket, this.#opts.timeoutMs, 'quiet');
  }

  #ping(socket: SignalingClient, timeoutMs: number, why: string): Promise<boolean> {
    const running = this.#inFlight;
    if (running?.socket === socket) return running.result;
    const sentAt = Date.now();
    const result = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        // No answer: the path is gone. Closing here (not waiting for TCP) starts the resume now.
        socket.abandon(`no answer to ping within ${timeoutMs} ms (${why})`);
        resolve(false);
      }, timeoutMs);
      const answered = (): void => {
        clearTimeout(timer);
        const rtt = Date.now() - sentAt;
        this.#srtt = this.#srtt === undefined ? rtt : Math.round(0.8 * this.#srtt + 0.2 * rtt);
        resolve(true);
      };
      socket.request('ping', {}).then(answered, (err: unknown) => {
        // A typed answer from the server is an answer; a local failure (closed, timed out) is not.
        const code = (err as { code?: unknown }).code;
        if (code === 'DISCONNECTED' || code === 'TIMEOUT') {
          clearTimeout(timer);
          resolve(false);
        } else answered();
      });
    });
    const entry = { socket, result };
    this.#inFlight = entry;
    void result.then(() => {
      if (this.#inFlight === entry) this.#inFlight = undefined;
    });
    return result;
  }

  #listenToBrowser(): void {
    const target = globalThis as unknown as Partial<EventTarget> & {
      navigator?: { connection?: NetworkInformationLike };
    };
    if (typeof target.addEventListener !== 'function' || typeof target.removeEventListener !== 'function')
      return;
    const probe = (): void => void this.probe();
    for (const type of ['online', 'offline'] as const) {
      target.addEventListener(type, probe);
      this.#unlisten.push(() => target.removeEventListener!(type, probe));
    }
    const connection = target.navigator?.connection;
    if (connection && typeof connection.addEventListener === 'function') {
      connection.addEventListener('change', probe);
      this.#unlisten.push(() => connection.removeEventListener('change', probe));
    }
  }
}
