/**
 * The outbound side of one signaling socket, with backpressure: past `maxBufferedBytes` of unsent
 * output, answers and notifications are dropped (the backlog, and so memory, stays bounded) and the
 * session stops doing work for the client; if the backlog has not drained below the limit after the
 * grace, the socket is closed with SlowReader (and cut if even the close cannot get through).
 */
import type { WebSocket } from 'ws';
import { CloseCode } from '../protocol/errors.js';
import type { Logger } from '../lib/logger.js';

export class Outbox {
  readonly #ws: WebSocket;
  readonly #maxBufferedBytes: number;
  readonly #graceMs: number;
  readonly #log: Logger;
  readonly #onStalled: () => void;
  /** Set while the backlog is over the limit: the socket is closed if it has not drained by then. */
  #slowReaderTimer: NodeJS.Timeout | undefined;

  constructor(opts: {
    ws: WebSocket;
    maxBufferedBytes: number;
    graceMs: number;
    log: Logger;
    /** Called once each time the backlog passes the limit (metrics). */
    onStalled: () => void;
  }) {
    this.#ws = opts.ws;
    this.#maxBufferedBytes = opts.maxBufferedBytes;
    this.#graceMs = opts.graceMs;
    this.#log = opts.log;
    this.#onStalled = opts.onStalled;
  }

  /** True while the client is not reading: its requests are not worth answering. */
  get stalled(): boolean {
    return this.#slowReaderTimer !== undefined;
  }

  send(text: string): void {
    const ws = this.#ws;
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount <= this.#maxBufferedBytes) {
      ws.send(text);
      return;
    }
    if (this.#slowReaderTimer) return;
    this.#onStalled();
    this.#log.debug('client is not reading; dropping output', { buffered: ws.bufferedAmount });
    this.#slowReaderTimer = setTimeout(() => {
      if (ws.bufferedAmount <= this.#maxBufferedBytes) {
        this.#slowReaderTimer = undefined;
        return;
      }
      this.#log.info('closing a connection whose client does not read', { buffered: ws.bufferedAmount });
      ws.close(CloseCode.SlowReader, 'not reading');
      // The close frame waits behind the backlog the client is not reading: do not wait for it.
      setTimeout(() => ws.terminate(), 1000).unref();
    }, this.#graceMs);
    this.#slowReaderTimer.unref();
  }

  close(): void {
    clearTimeout(this.#slowReaderTimer);
  }
}
