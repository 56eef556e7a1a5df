/**
 * One mediasoup worker per core, each with a WebRtcServer on its own fixed port so a deployment
 * opens a small, known set of UDP/TCP ports instead of a range per transport.
 *
 * The pool also keeps the workers honest: a worker that dies, or whose channel stops answering a
 * trivial request (hung process, broken channel), is replaced. Its routers close, so every room on
 * it tells its clients to rejoin (roomClosed, see rooms/room.ts); /healthz is degraded until the
 * replacement runs.
 */
import { EventEmitter } from 'node:events';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { ErrorCode, ServiceError } from '../protocol/errors.js';
import type { Logger } from '../lib/logger.js';

export interface WorkerPoolOptions {
  numWorkers: number;
  workerBin: string | undefined;
  logLevel: types.WorkerLogLevel;
  logTags: string[];
  listenIp: string;
  announcedAddress: string;
  portBase: number;
  /**
   * Socket buffer size for the shared media sockets: one UDP socket carries every transport of a
   * worker, and the kernel default (~208 KB) drops bursts long before the worker is busy. The
   * kernel caps it at net.core.rmem_max / wmem_max (see README, Deployment).
   */
  socketBufferBytes: number;
  /** Delay before a died worker is replaced; keeps a crash loop from spinning a core. */
  respawnDelayMs?: number;
  /** How often every worker is asked a trivial question (getResourceUsage) to prove its channel works; 0: never. */
  healthCheckIntervalMs?: number;
  /** A worker that has not answered that question within this time is replaced. */
  healthCheckTimeoutMs?: number;
}

const DEFAULT_HEALTH_CHECK_INTERVAL_MS = 10_000;
/** The signals mediasoup's Worker would close itself on (see #spawn). */
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
const DEFAULT_HEALTH_CHECK_TIMEOUT_MS = 3_000;
/** Longest wait between attempts to replace a worker whose replacement failed to start. */
const MAX_RESPAWN_DELAY_MS = 30_000;

export interface MediaWorker {
  readonly index: number;
  readonly worker: types.Worker;
  readonly webRtcServer: types.WebRtcServer;
  routerCount: number;
}

interface WorkerPoolEvents {
  /** A worker process died or was retired as unhealthy; every router on it is gone. A replacement is started. */
  workerDied: [MediaWorker, Error];
}

export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  readonly #opts: WorkerPoolOptions;
  readonly #log: Logger;
  readonly #workers: (MediaWorker | undefined)[] = [];
  /** Workers with a health check in flight (a slow worker is not asked twice). */
  readonly #checking = new Set<MediaWorker>();
  #healthTimer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(opts: WorkerPoolOptions, log: Logger) {
    super();
    this.#opts = opts;
    this.#log = log;
    const interval = opts.healthCheckIntervalMs ?? DEFAULT_HEALTH_CHECK_INTERVAL_MS;
    if (interval > 0) this.#healthTimer = setInterval(() => this.checkHealth(), interval).unref();
  }

  static async create(opts: WorkerPoolOptions, log: Logger): Promise<WorkerPool> {
    const pool = new WorkerPool(opts, log);
    try {
      for (let i = 0; i < opts.numWorkers; i++) pool.#workers[i] = await pool.#spawn(i);
    } catch (err) {
      pool.close();
      throw err;
    }
    return pool;
  }

  get workers(): MediaWorker[] {
    return this.#workers.filter((w): w is MediaWorker => w !== undefined);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The live worker hosting the fewest routers. */
  pick(): MediaWorker {
    const live = this.workers.filter((w) => !w.worker.closed);
    if (live.length === 0) {
      throw new ServiceError(ErrorCode.Unavailable, 'no media worker is running; try again shortly', 503);
    }
    return live.reduce((best, w) => (w.routerCount < best.routerCount ? w : best));
  }

  /**
   * Asks every live worker a trivial question now; one that fails or does not answer in time is
   * replaced. Called periodically, and by the service whenever a media request failed, so a worker
   * whose channel broke is found at its first casualty rather than at the next tick.
   */
  checkHealth(): void {
    for (const mw of this.workers) if (!mw.worker.closed) this.#check(mw);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#healthTimer);
    for (const w of this.workers) w.worker.close();
    this.#workers.length = 0;
  }

  #check(mw: MediaWorker): void {
    if (this.#checking.has(mw)) return;
    this.#checking.add(mw);
    const timeoutMs = this.#opts.healthCheckTimeoutMs ?? DEFAULT_HEALTH_CHECK_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer to getResourceUsage within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    Promise.race([mw.worker.getResourceUsage(), timeout])
      .then(
        () => undefined,
        (error: unknown) => {
          // A worker closed on purpose (pool shutdown) or already dead is not unhealthy.
          if (this.#closed || mw.worker.closed || this.#workers[mw.index] !== mw) return;
          this.#retire(mw, error instanceof Error ? error : new Error(String(error)));
        },
      )
      .finally(() => {
        clearTimeout(timer);
        this.#checking.delete(mw);
      });
  }

  /** Closes a worker that still runs but can no longer be trusted, and replaces it like a died one. */
  #retire(mw: MediaWorker, error: Error): void {
    this.#log.error('mediasoup worker unhealthy; replacing it', {
      index: mw.index,
      pid: mw.worker.pid,
      error,
    });
    try {
      // Closes its routers first ('workerclose'), so every room on it tells its clients to rejoin.
      mw.worker.close();
    } catch (err) {
      this.#log.warn('closing an unhealthy mediasoup worker threw', { index: mw.index, error: err });
    }
    // A hung worker ignores the close request and would keep its fixed media port from the replacement.
    try {
      process.kill(mw.worker.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    this.#replace(mw, error);
  }

  async #spawn(index: number): Promise<MediaWorker> {
    // mediasoup's Worker registers `process.once('SIGINT' | 'SIGTERM')` handlers that close the worker
    // (and so every router: rooms would tell their clients "rejoin here") the moment the signal
    // arrives, before our drain has told anyone to move. The pool owns its workers' lifetime: the
    // handlers the new Worker added are removed again; server/main.ts decides what a signal does.
    const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
    const worker = await mediasoup.createWorker({
      logLevel: this.#opts.logLevel,
      logTags: this.#opts.logTags as types.WorkerLogTag[],
      ...(this.#opts.workerBin ? { workerBin: this.#opts.workerBin } : {}),
      appData: { index },
    });
    for (const signal of SIGNALS) {
      for (const listener of process.listeners(signal))
        if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
    // portBase 0 lets the worker pick free ports (tests running side by side).
    const port = this.#opts.portBase === 0 ? undefined : this.#opts.portBase + index;
    let webRtcServer: types.WebRtcServer;
    try {
      webRtcServer = await worker.createWebRtcServer({
        listenInfos: [
          {
            protocol: 'udp',
            ip: this.#opts.listenIp,
            announcedAddress: this.#opts.announcedAddress,
            port,
            recvBufferSize: this.#opts.socketBufferBytes,
            sendBufferSize: this.#opts.socketBufferBytes,
          },
          { protocol: 'tcp', ip: this.#opts.listenIp, announcedAddress: this.#opts.announcedAddress, port },
        ],
      });
    } catch (err) {
      worker.close();
      throw new Error(
        `cannot listen for media on ${this.#opts.listenIp}:${port ?? 'any'}: ${(err as Error).message}`,
      );
    }
    const mw: MediaWorker = { index, worker, webRtcServer, routerCount: 0 };
    worker.on('died', (error) => this.#onDied(mw, error));
    this.#log.info('mediasoup worker started', { index, pid: worker.pid, port });
    return mw;
  }

  #onDied(mw: MediaWorker, error: Error): void {
    this.#log.error('mediasoup worker died', { index: mw.index, pid: mw.worker.pid, error });
    this.#replace(mw, error);
  }

  #replace(mw: MediaWorker, error: Error): void {
    if (this.#workers[mw.index] !== mw) return;
    this.#workers[mw.index] = undefined;
    this.emit('workerDied', mw, error);
    this.#respawn(mw.index, this.#opts.respawnDelayMs ?? 1000);
  }

  /** Starts a worker in slot `index` after `delayMs`; retries with a growing delay until one runs. */
  #respawn(index: number, delayMs: number): void {
    if (this.#closed) return;
    setTimeout(() => {
      if (this.#closed) return;
      this.#spawn(index).then(
        (replacement) => {
          if (this.#closed) replacement.worker.close();
          else this.#workers[index] = replacement;
        },
        (err: unknown) => {
          this.#log.error('cannot replace mediasoup worker; retrying', { index, error: err });
          this.#respawn(index, Math.min(Math.max(delayMs, 250) * 2, MAX_RESPAWN_DELAY_MS));
        },
      );
    }, delayMs).unref();
  }
}
