/**
 * One mediasoup worker per core, each with a WebRtcServer on its own fixed port so a deployment
 * opens a small, known set of UDP/TCP ports instead of a range per transport.
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
}

export interface MediaWorker {
  readonly index: number;
  readonly worker: types.Worker;
  readonly webRtcServer: types.WebRtcServer;
  routerCount: number;
}

interface WorkerPoolEvents {
  /** A worker process died; every router on it is gone. A replacement is started. */
  workerDied: [MediaWorker, Error];
}

export class WorkerPool extends EventEmitter<WorkerPoolEvents> {
  readonly #opts: WorkerPoolOptions;
  readonly #log: Logger;
  readonly #workers: (MediaWorker | undefined)[] = [];
  #closed = false;

  private constructor(opts: WorkerPoolOptions, log: Logger) {
    super();
    this.#opts = opts;
    this.#log = log;
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

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.workers) w.worker.close();
    this.#workers.length = 0;
  }

  async #spawn(index: number): Promise<MediaWorker> {
    const worker = await mediasoup.createWorker({
      logLevel: this.#opts.logLevel,
      logTags: this.#opts.logTags as types.WorkerLogTag[],
      ...(this.#opts.workerBin ? { workerBin: this.#opts.workerBin } : {}),
      appData: { index },
    });
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
    this.#workers[mw.index] = undefined;
    this.emit('workerDied', mw, error);
    if (this.#closed) return;
    setTimeout(() => {
      if (this.#closed) return;
      this.#spawn(mw.index).then(
        (replacement) => {
          if (this.#closed) replacement.worker.close();
          else this.#workers[mw.index] = replacement;
        },
        (err: unknown) => this.#log.error('cannot replace mediasoup worker', { index: mw.index, error: err }),
      );
    }, this.#opts.respawnDelayMs ?? 1000).unref();
  }
}
