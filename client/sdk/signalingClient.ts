/**
 * Request/response and notifications over the signaling WebSocket, typed by the shared protocol.
 * Runs in browsers and in Node (pass a WebSocket implementation there).
 */
import type { ErrorBody, ErrorCode } from '../../protocol/errors.js';
import type {
  Method,
  NotificationData,
  NotificationEnvelope,
  NotificationName,
  RequestData,
  ResponseData,
  ResponseEnvelope,
} from '../../protocol/signaling.js';
import { signalingProtocols } from '../../protocol/wsAuth.js';
import { TypedEmitter } from './typedEmitter.js';

/** The error a request rejects with: the server's typed error, or a local one. */
export class SignalingError extends Error {
  readonly code: ErrorCode | 'TIMEOUT' | 'DISCONNECTED';
  /** The server's machine-readable extras, e.g. `{ retryAfterMs }` with UNAVAILABLE. */
  readonly details: Readonly<Record<string, string>>;
  /** No retry can help (the connection was closed for good): retry loops stop on it. */
  readonly fatal: boolean;
  constructor(
    code: ErrorCode | 'TIMEOUT' | 'DISCONNECTED',
    message: string,
    details: Record<string, string> = {},
    opts: { fatal?: boolean } = {},
  ) {
    super(message);
    this.name = 'SignalingError';
    this.code = code;
    this.details = details;
    this.fatal = opts.fatal ?? false;
  }
}

export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
/** Opens a socket offering `protocols` (the token travels in them, never in `url`). */
export type WebSocketFactory = (url: string, protocols: string[]) => WebSocketLike;

/** How long opening a socket may take (TCP, TLS, upgrade) before the attempt counts as failed. */
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

type SignalingEvents = {
  [N in NotificationName]: [NotificationData[N]];
} & { close: [{ code: number; reason: string }] };

interface Pending {
  resolve: (data: unknown) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class SignalingClient extends TypedEmitter<SignalingEvents> {
  /** The endpoint this connection was opened to (without the token). */
  readonly url: string;
  readonly #ws: WebSocketLike;
  readonly #pending = new Map<number, Pending>();
  readonly #timeoutMs: number;
  readonly #anyNotification = new Set<(name: NotificationName, data: unknown, seq?: number) => void>();
  #nextId = 1;
  #closed = false;
  /** When the last frame arrived (ms since epoch): a socket that talks is alive. */
  #lastReceivedAt = Date.now();

  private constructor(url: string, ws: WebSocketLike, timeoutMs: number) {
    super();
    this.url = url;
    this.#ws = ws;
    this.#timeoutMs = timeoutMs;
    ws.onmessage = (ev) => {
      this.#lastReceivedAt = Date.now();
      this.#onMessage(ev.data);
    };
    ws.onclose = (ev) => this.#onClosed(ev.code, ev.reason);
  }

  #onClosed(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const [, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(new SignalingError('DISCONNECTED', `connection closed (${code})`));
    }
    this.#pending.clear();
    this.emit('close', { code, reason });
  }

  /** Opens the socket; rejects if the server refuses the token or cannot be reached. */
  static connect(
    url: string,
    token: string,
    opts: { factory?: WebSocketFactory; timeoutMs?: number; connectTimeoutMs?: number } = {},
  ): Promise<SignalingClient> {
    // The token rides in a subprotocol: URLs end up in access logs, history and Referer headers.
    const protocols = signalingProtocols(token);
    const ws = opts.factory
      ? opts.factory(url, protocols)
      : (new WebSocket(url, protocols) as unknown as WebSocketLike);
    return new Promise((resolve, reject) => {
      // A handshake into a network that drops everything hangs on TCP's own SYN back-off (minutes):
      // give up on it, so that the reconnect loop's next attempt starts afresh once the path is back.
      const timer = setTimeout(() => {
        // No-op handlers, not null: Node's `ws` throws an 'error' that has no listener.
        ws.onopen = ws.onerror = ws.onclose = () => undefined;
        ws.close();
        reject(new SignalingError('DISCONNECTED', 'signaling connection timed out'));
      }, opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
      ws.onopen = () => {
        clearTimeout(timer);
        resolve(new SignalingClient(url, ws, opts.timeoutMs ?? 15_000));
      };
      ws.onerror = () => {
        clearTimeout(timer);
        reject(new SignalingError('DISCONNECTED', 'cannot open signaling connection'));
      };
      ws.onclose = (ev) => {
        clearTimeout(timer);
        reject(new SignalingError('DISCONNECTED', `signaling refused (${ev.code})`));
      };
    });
  }

  /** Milliseconds since the last frame from the server. */
  get quietForMs(): number {
    return Date.now() - this.#lastReceivedAt;
  }

  /**
   * Gives up on a socket that stopped answering (see connectionLiveness.ts): closed here at once,
   * with `code` 1006 and `reason`, without waiting for a closing handshake a dead path never
   * completes. Requests in flight reject with DISCONNECTED.
   */
  abandon(reason: string): void {
    if (this.#closed) return;
    // No-op handlers, not null: Node's `ws` throws an 'error' that has no listener.
    this.#ws.onmessage = this.#ws.onclose = this.#ws.onerror = () => undefined;
    try {
      this.#ws.close(1000, 'bye');
    } catch {
      // Closing a socket in any state is fine; nothing else to do with this one.
    }
    this.#onClosed(1006, reason);
  }

  get closed(): boolean {
    return this.#closed;
  }

  request<M extends Method>(method: M, data: RequestData<M>): Promise<ResponseData[M]> {
    if (this.#closed) return Promise.reject(new SignalingError('DISCONNECTED', 'connection closed'));
    const id = this.#nextId++;
    return new Promise<ResponseData[M]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new SignalingError('TIMEOUT', `${method} timed out`));
      }, this.#timeoutMs);
      this.#pending.set(id, { resolve: resolve as (d: unknown) => void, reject, timer });
      this.#ws.send(JSON.stringify({ id, method, data }));
    });
  }

  close(): void {
    if (!this.#closed) this.#ws.close(1000, 'bye');
  }

  /** Every notification, whatever its name, with its `seq` (a reconnecting connection forwards them all). */
  onNotification(listener: (name: NotificationName, data: unknown, seq?: number) => void): () => void {
    this.#anyNotification.add(listener);
    return () => this.#anyNotification.delete(listener);
  }

  #onMessage(raw: unknown): void {
    if (typeof raw !== 'string') return;
    let msg: ResponseEnvelope | NotificationEnvelope;
    try {
      msg = JSON.parse(raw) as ResponseEnvelope | NotificationEnvelope;
    } catch {
      return;
    }
    if ('notification' in msg) {
      this.emit(msg.notification, msg.data as never);
      for (const listener of [...this.#anyNotification]) {
        try {
          listener(msg.notification, msg.data, typeof msg.seq === 'number' ? msg.seq : undefined);
        } catch (err) {
          console.error(`listener for "${msg.notification}" threw`, err);
        }
      }
      return;
    }
    if (msg.id === null) return;
    const pending = this.#pending.get(msg.id);
    if (!pending) return;
    this.#pending.delete(msg.id);
    clearTimeout(pending.timer);
    if (msg.ok) pending.resolve(msg.data);
    else {
      const error = msg.error as ErrorBody;
      pending.reject(new SignalingError(error.code, error.message, error.details));
    }
  }
}
