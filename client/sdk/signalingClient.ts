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
  readonly #anyNotification = new Set<(name: NotificationName, data: unknown) => void>();
  #nextId = 1;
  #closed = false;

  private constructor(url: string, ws: WebSocketLike, timeoutMs: number) {
    super();
    this.url = url;
    this.#ws = ws;
    this.#timeoutMs = timeoutMs;
    ws.onmessage = (ev) => this.#onMessage(ev.data);
    ws.onclose = (ev) => {
      this.#closed = true;
      for (const [, p] of this.#pending) {
        clearTimeout(p.timer);
        p.reject(new SignalingError('DISCONNECTED', `connection closed (${ev.code})`));
      }
      this.#pending.clear();
      this.emit('close', { code: ev.code, reason: ev.reason });
    };
  }

  /** Opens the socket; rejects if the server refuses the token or cannot be reached. */
  static connect(
    url: string,
    token: string,
    opts: { factory?: WebSocketFactory; timeoutMs?: number } = {},
  ): Promise<SignalingClient> {
    // The token rides in a subprotocol: URLs end up in access logs, history and Referer headers.
    const protocols = signalingProtocols(token);
    const ws = opts.factory
      ? opts.factory(url, protocols)
      : (new WebSocket(url, protocols) as unknown as WebSocketLike);
    return new Promise((resolve, reject) => {
      ws.onopen = () => resolve(new SignalingClient(url, ws, opts.timeoutMs ?? 15_000));
      ws.onerror = () => reject(new SignalingError('DISCONNECTED', 'cannot open signaling connection'));
      ws.onclose = (ev) => reject(new SignalingError('DISCONNECTED', `signaling refused (${ev.code})`));
    });
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

  /** Every notification, whatever its name (a reconnecting connection forwards them all). */
  onNotification(listener: (name: NotificationName, data: unknown) => void): () => void {
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
          listener(msg.notification, msg.data);
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
