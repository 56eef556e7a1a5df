/**
 * One reconnecting signaling connection: the SDK's connection core, used by CallClient, RoomSession
 * and the bot. It owns the token source (a 4001 close asks it for a fresh token), the reconnect
 * policy (reconnectPolicy.ts) and the hooks that run around a reconnect; listeners and requests
 * survive a socket being replaced, so its users never juggle sockets themselves.
 *
 *   connecting ──► connected ──(socket lost)──► reconnecting ──► connected
 *                      │    └──(lost, resume token)──► resuming ──► connected (same session,
 *                      │                                  │         or a new one if refused)
 *                      └──── close() / fatal ─────────────┴──► closed
 *
 * Resume (protocol/signaling.ts): whoever joins a room hands the join answer's resume token to
 * `resumeWith`. When the socket drops, the new socket's first request is `resume {token, lastSeq}`
 * (lastSeq: the highest notification `seq` seen from this session); the server answers with the
 * same peer and replays what was missed. If it refuses (RESUME_FAILED: grace over, another node...)
 * the new socket is a new session and `reconnected` says `resumed: false`: the room owner joins
 * again. The token is refreshed in-band (`refreshToken`) ahead of its expiry (tokenRefresh.ts), so
 * a long call does not lose its socket to a 4001; a 4001 still reconnects with a fresh token.
 */
import { CloseCode, ErrorCode } from '../../protocol/errors.js';
import type {
  Method,
  NotificationData,
  NotificationName,
  RequestData,
  ResponseData,
} from '../../protocol/signaling.js';
import {
  DefaultReconnectPolicy,
  RetryAbortedError,
  isFatalError,
  retryWithPolicy,
  type ReconnectContext,
  type ReconnectPolicy,
} from './reconnectPolicy.js';
import { SignalingClient, SignalingError, type WebSocketFactory } from './signalingClient.js';
import { refreshDelayMs } from './tokenRefresh.js';
import { ConnectionLiveness, type LivenessOptions } from './connectionLiveness.js';
import { TypedEmitter } from './typedEmitter.js';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'resuming' | 'closed';

/** A socket that closed: its code, and whether the connection is trying again. */
export interface Disconnect {
  code: number;
  reason: string;
  willReconnect: boolean;
  /** A resume token is held: the server may give the same session back on the new socket. */
  willResume: boolean;
}

/** How a lost socket was replaced. */
export interface Reconnected {
  /** The server gave the same session back (same peer, missed notifications replayed). */
  resumed: boolean;
  /** From the socket's loss to the new socket being ready. */
  elapsedMs: number;
  /** Notifications the server sent again (resumed only). */
  replayed: number;
}

export type ConnectionEvents = {
  [N in NotificationName]: [NotificationData[N]];
} & {
  stateChanged: [ConnectionState];
  /** The socket closed (requests in flight on it were rejected with DISCONNECTED). */
  disconnected: [Disconnect];
  /** A new socket is up and every resync hook has run; `resumed` tells a resume from a new session. */
  reconnected: [Reconnected];
  /** The access token was replaced in-band; the socket now lasts until `expiresAt` (Unix seconds). */
  tokenRefreshed: [{ expiresAt: number }];
  /** For good: closed here, a close code that must not be retried, a fatal error, or the policy gave up. */
  closed: [{ code: number; reason: string; error?: Error }];
  /** A resync hook failed (the connection stays up). */
  error: [Error];
};

export interface ConnectionOptions {
  /** ws:// or wss:// URL of the signaling endpoint, e.g. ws://host:3000/ws */
  url: string;
  /**
   * Access tokens: asked before every (re)connect, with the refused token after a 4001 close so it
   * refreshes. `(rejected) => accountClient.getAccessToken(rejected)` fits; a fixed token: `() => t`.
   * A fatal error from it (see `isFatalError`: e.g. a 401 from a refresh) closes the connection.
   */
  getToken: (rejectedToken?: string) => Promise<string> | string;
  webSocketFactory?: WebSocketFactory;
  /** Default: DefaultReconnectPolicy (6 attempts, first at once, then 0.5 s doubling to 8 s, jittered). */
  policy?: ReconnectPolicy;
  /**
   * Whether a socket closed with `code` should be replaced (default: every code but a normal close
   * (1000) and "token invalid" (4003, signed out or device revoked): nothing to come back to).
   */
  reconnectOn?: (code: number) => boolean;
  /** Per-request timeout (default 15 s). */
  requestTimeoutMs?: number;
  /**
   * Replace the token on the open socket ahead of its expiry (`refreshToken`, default true). Off,
   * the server closes the socket with 4001 at expiry and the connection reconnects (and resumes).
   */
  refreshInBand?: boolean;
  /**
   * Finding a dead socket fast (connectionLiveness.ts): a `ping` when the socket has been quiet, and
   * a probe on suspicion (`checkAlive`); a socket that does not answer is replaced and resumed.
   * `false` turns it off (default on, 5 s quiet interval).
   */
  liveness?: LivenessOptions | false;
  /** How long opening a socket may take before the attempt fails (default 5 s). */
  connectTimeoutMs?: number;
}

/** Context of a reconnect attempt as the hooks see it. */
export interface ReconnectAttempt extends ReconnectContext {
  /** The close code of the socket that was lost. */
  closeCode: number;
}

type Hook<A extends unknown[]> = (...args: A) => Promise<void> | void;

export class SignalingConnection extends TypedEmitter<ConnectionEvents> {
  /** The endpoint (without the token). */
  readonly url: string;
  readonly #opts: ConnectionOptions;
  readonly #policy: ReconnectPolicy;
  readonly #stop = new AbortController();
  readonly #beforeReconnect = new Set<Hook<[ReconnectAttempt]>>();
  readonly #resync = new Set<Hook<[SignalingClient]>>();
  #socket: SignalingClient | undefined;
  #token: string | undefined;
  #state: ConnectionState = 'connecting';
  #reconnecting: Promise<SignalingClient> | undefined;
  #closeError: Error | undefined;
  /** The resume token of the session's room membership (see the header). */
  #resumeToken: string | undefined;
  /** The highest notification seq seen from the current session. */
  #lastSeq = 0;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #liveness: ConnectionLiveness | undefined;

  private constructor(opts: ConnectionOptions) {
    super();
    this.url = opts.url;
    this.#opts = opts;
    this.#policy = opts.policy ?? new DefaultReconnectPolicy();
    this.#liveness =
      opts.liveness === false ? undefined : new ConnectionLiveness(() => this.socket, opts.liveness);
  }

  /** Opens the first socket; rejects (without retrying) if the token source or the server refuses. */
  static async open(opts: ConnectionOptions): Promise<SignalingConnection> {
    const connection = new SignalingConnection(opts);
    try {
      connection.#install(await connection.#connect(undefined));
    } catch (err) {
      connection.#finish(1006, 'cannot connect', err);
      throw err;
    }
    connection.#setState('connected');
    return connection;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** The token the current socket was opened with. */
  get token(): string | undefined {
    return this.#token;
  }

  /** The current socket; undefined while reconnecting or after close. */
  get socket(): SignalingClient | undefined {
    return this.#state === 'connected' ? this.#socket : undefined;
  }

  /**
   * Makes the session resumable after a drop (the token from a `join`/`callJoinMedia` answer), or
   * not (undefined: left the room). The connection keeps it up to date across resumes.
   */
  resumeWith(token: string | undefined): void {
    this.#resumeToken = token;
  }

  /**
   * Runs before every reconnect attempt, before a token is asked for (e.g. to prepare a resume
   * token). A hook that throws fails that attempt.
   */
  beforeReconnect(hook: Hook<[ReconnectAttempt]>): () => void {
    this.#beforeReconnect.add(hook);
    return () => this.#beforeReconnect.delete(hook);
  }

  /**
   * Runs after every reconnect, on the new socket, before the connection reports `connected` again
   * and before waiting requests go out: catch up with what happened while the socket was down. Use
   * the socket it is given (requests through the connection would wait for the hook itself).
   */
  onResync(hook: Hook<[SignalingClient]>): () => void {
    this.#resync.add(hook);
    return () => this.#resync.delete(hook);
  }

  /** The open socket, waiting for a reconnect in progress; rejects once the connection is closed. */
  async ready(): Promise<SignalingClient> {
    if (this.#state === 'closed') throw this.#closedError();
    if (this.#state === 'connected' && this.#socket && !this.#socket.closed) return this.#socket;
    if (this.#reconnecting) return this.#reconnecting;
    throw new SignalingError('DISCONNECTED', 'not connected');
  }

  /**
   * Whether the open socket still answers, asked now (e.g. media went `disconnected`: the network may
   * have changed). False: there is no open socket, or it did not answer in time and was given up,
   * so the connection is already reconnecting (and resuming).
   */
  checkAlive(): Promise<boolean> {
    if (this.#liveness) return this.#liveness.probe();
    return Promise.resolve(this.socket !== undefined);
  }

  /** Sends a request on the open socket; while reconnecting, once it is back. */
  async request<M extends Method>(method: M, data: RequestData<M>): Promise<ResponseData[M]> {
    return (await this.ready()).request(method, data);
  }

  /** Closes for good (idempotent): no reconnect, waiting requests reject. */
  close(): void {
    if (this.#state === 'closed') return;
    clearTimeout(this.#refreshTimer);
    const socket = this.#socket;
    this.#finish(1000, 'closed by the client');
    socket?.close();
  }

  // ---- internals -----------------------------------------------------------------------------------

  async #connect(rejectedToken: string | undefined): Promise<SignalingClient> {
    const token = await this.#opts.getToken(rejectedToken);
    const socket = await SignalingClient.connect(this.url, token, {
      factory: this.#opts.webSocketFactory,
      ...(this.#opts.requestTimeoutMs ? { timeoutMs: this.#opts.requestTimeoutMs } : {}),
      ...(this.#opts.connectTimeoutMs ? { connectTimeoutMs: this.#opts.connectTimeoutMs } : {}),
    });
    if (this.#state === 'closed') {
      socket.close();
      throw new RetryAbortedError('the connection is closed');
    }
    this.#token = token;
    this.#scheduleRefresh(socket, token);
    return socket;
  }

  /** Refreshes the socket's token in-band ahead of its expiry, again after each refresh. */
  #scheduleRefresh(socket: SignalingClient, token: string): void {
    clearTimeout(this.#refreshTimer);
    const delay = this.#opts.refreshInBand === false ? null : refreshDelayMs(token);
    if (delay === null) return;
    this.#refreshTimer = setTimeout(() => void this.#refresh(socket, token), delay);
  }

  async #refresh(socket: SignalingClient, old: string): Promise<void> {
    if (socket.closed || this.#state === 'closed') return;
    try {
      // Handing back the current token asks the source for a newer one (it may refresh it now).
      const token = await this.#opts.getToken(old);
      if (token === old || socket.closed) return;
      const { expiresAt } = await socket.request('refreshToken', { token });
      if (this.#socket !== socket) return;
      this.#token = token;
      this.#scheduleRefresh(socket, token);
      this.emit('tokenRefreshed', { expiresAt });
    } catch (err) {
      // An older server or a refused token: the 4001 at expiry reconnects with a fresh one.
      if (!socket.closed) this.emit('error', err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Makes `socket` the current one: its notifications become the connection's. */
  #install(socket: SignalingClient): void {
    this.#socket = socket;
    const current = (): boolean => this.#socket === socket && this.#state !== 'closed';
    socket.onNotification((name, data, seq) => {
      if (!current()) return;
      if (seq !== undefined) this.#lastSeq = seq;
      this.emit(name, data as never);
    });
    socket.on('close', ({ code, reason }) => {
      if (current()) this.#onSocketClosed(code, reason);
    });
  }

  #onSocketClosed(code: number, reason: string): void {
    // A socket lost while a reconnect is running is that loop's business (it checks, then retries).
    if (this.#state === 'reconnecting' || this.#state === 'resuming') return;
    const reconnectOn = this.#opts.reconnectOn ?? defaultReconnectOn;
    clearTimeout(this.#refreshTimer);
    if (!reconnectOn(code)) {
      this.emit('disconnected', { code, reason, willReconnect: false, willResume: false });
      return this.#finish(code, reason);
    }
    const lostAt = Date.now();
    // A draining node hands nothing over: its sessions end with it, and resume tokens are per node,
    // so the next node could only refuse. Go straight to a new session there.
    if (code === CloseCode.NodeDraining) this.#resumeToken = undefined;
    const willResume = this.#resumeToken !== undefined;
    // State first: whoever reacts to `disconnected` with a request must wait for the new socket.
    this.#setState(willResume ? 'resuming' : 'reconnecting');
    const outcome = { resumed: false, replayed: 0 };
    const run = this.#reconnect(code, outcome);
    this.#reconnecting = run;
    this.emit('disconnected', { code, reason, willReconnect: true, willResume });
    run.then(
      () => {
        if (this.#reconnecting === run) this.#reconnecting = undefined;
        if (this.#state === 'closed') return;
        this.#setState('connected');
        this.emit('reconnected', { ...outcome, elapsedMs: Date.now() - lostAt });
      },
      (err: unknown) => {
        if (this.#reconnecting === run) this.#reconnecting = undefined;
        this.#finish(code, 'reconnect failed', err);
      },
    );
  }

  /** The reconnect loop: policy-paced attempts, each one a new socket plus the resync hooks. */
  #reconnect(code: number, outcome: { resumed: boolean; replayed: number }): Promise<SignalingClient> {
    const lostToken = this.#token;
    return retryWithPolicy(
      async (context) => {
        const attempt = { ...context, closeCode: code };
        for (const hook of [...this.#beforeReconnect]) await hook(attempt);
        // Only a 4001 says the token is stale; anything else reconnects with whatever is current.
        const socket = await this.#connect(code === CloseCode.TokenExpired ? lostToken : undefined);
        this.#install(socket);
        try {
          Object.assign(outcome, await this.#resume(socket));
        } catch (err) {
          // This socket is of no use (the next attempt opens another): do not leave it open.
          socket.close();
          throw err;
        }
        for (const hook of [...this.#resync]) {
          try {
            await hook(socket);
          } catch (err) {
            this.emit('error', err instanceof Error ? err : new Error(String(err)));
          }
        }
        if (socket.closed) throw new SignalingError('DISCONNECTED', 'the new socket closed at once');
        return socket;
      },
      { policy: this.#policy, signal: this.#stop.signal, isFatal: isFatalError },
    );
  }

  /**
   * Asks the server for the session back on `socket`. A refusal means the socket is a new session
   * (lastSeq starts over); a lost socket fails the attempt, and the policy retries with the token.
   */
  async #resume(socket: SignalingClient): Promise<{ resumed: boolean; replayed: number }> {
    const token = this.#resumeToken;
    const lastSeq = this.#lastSeq;
    this.#lastSeq = 0;
    if (token === undefined) return { resumed: false, replayed: 0 };
    try {
      const answer = await socket.request('resume', { token, lastSeq });
      // Replayed notifications follow the answer, numbered after lastSeq.
      this.#lastSeq = lastSeq;
      this.#resumeToken = answer.resumeToken;
      return { resumed: true, replayed: answer.replayed };
    } catch (err) {
      if (err instanceof SignalingError && !RESUME_REFUSALS.has(err.code)) throw err;
      this.#resumeToken = undefined;
      return { resumed: false, replayed: 0 };
    }
  }

  #finish(code: number, reason: string, err?: unknown): void {
    if (this.#state === 'closed') return;
    clearTimeout(this.#refreshTimer);
    this.#liveness?.stop();
    this.#stop.abort();
    if (err !== undefined && !(err instanceof RetryAbortedError))
      this.#closeError = err instanceof Error ? err : new Error(String(err));
    this.#setState('closed');
    this.emit('closed', { code, reason, ...(this.#closeError ? { error: this.#closeError } : {}) });
  }

  #closedError(): Error {
    return new SignalingError(
      'DISCONNECTED',
      this.#closeError ? `connection closed: ${this.#closeError.message}` : 'connection closed',
      {},
      { fatal: true },
    );
  }

  #setState(state: ConnectionState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.emit('stateChanged', state);
  }
}

/** Answers to `resume` that mean "no session to take back here" (an older server: unknown method). */
const RESUME_REFUSALS = new Set<string>([
  ErrorCode.ResumeFailed,
  ErrorCode.Forbidden,
  ErrorCode.AlreadyInRoom,
  ErrorCode.UnknownMethod,
  ErrorCode.InvalidParams,
]);

function defaultReconnectOn(code: number): boolean {
  return code !== 1000 && code !== CloseCode.TokenInvalid;
}
