/**
 * The WebSocket endpoint. Authenticates in the HTTP upgrade (before any frame is read), so an
 * unauthenticated client never holds a socket, then hands each connection to a SignalingSession.
 * The token comes from `Authorization: Bearer` (non-browser clients) or a `calling.token.<jwt>`
 * subprotocol (browsers; see protocol/wsAuth.ts); `?token=` only while WS_QUERY_TOKEN allows it.
 * A socket lives until its token expires (4001) unless the client sends `refreshToken` in time;
 * a session whose socket drops is parked for RESUME_GRACE_MS (see sessionRegistry.ts).
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { TokenExpiredError, type AccessTokens, type Identity } from '../auth/accessTokens.js';
import { CloseCode, ErrorCode, ServiceError } from '../protocol/errors.js';
import type { RoomService } from '../rooms/roomService.js';
import { LocalRoomGateway, type RoomGateway } from '../rooms/roomGateway.js';
import type { CallService } from '../calls/callService.js';
import type { Logger } from '../lib/logger.js';
import type { SignalingLimitsConfig } from '../server/config.js';
import type { ClientAddressOf } from '../server/clientAddress.js';
import type { IceServerInfo } from '../protocol/signaling.js';
import { ConnectionLimits } from './connectionLimits.js';
import { SIGNALING_SUBPROTOCOL, tokenFromProtocols } from '../protocol/wsAuth.js';
import { SessionRegistry } from './sessionRegistry.js';
import { endForGood } from './sessionMembership.js';
import { SignalingSession, type SessionObserver } from './signalingSession.js';

export const SIGNALING_PATH = '/ws';
/** Hard cap above the protocol's limit so an oversized request still gets a typed answer. */
const HARD_MAX_PAYLOAD = 1024 * 1024;
/**
 * The default of SIGNALING_PING_INTERVAL_MS. A socket that vanished without a FIN (a network change,
 * an outage) is found within two intervals; only then is its session parked and the resume grace
 * starts, so this bounds how long the others see a frozen participant before the grace runs.
 */
const DEFAULT_PING_INTERVAL_MS = 5_000;
/** The default of RESUME_GRACE_MS (server/config.ts). */
const DEFAULT_RESUME_GRACE_MS = 15_000;

export interface SignalingServerOptions {
  http: HttpServer;
  tokens: AccessTokens;
  rooms: RoomService;
  /** Where sessions join rooms; default: this node's rooms only (no relay). */
  gateway?: RoomGateway;
  calls: CallService;
  log: Logger;
  maxConnections: number;
  /** Deprecated: accept the token in the URL's query (it leaks into logs); default false. */
  acceptQueryToken?: boolean;
  observer?: SessionObserver;
  /** Extra checks on a verified token (e.g. its device is still signed in); throws to refuse. */
  authorize?: (identity: Identity) => Promise<void>;
  limits: SignalingLimitsConfig;
  /** The client's address for the per-address limit (same TRUST_PROXY rule as the HTTP side). */
  clientAddress: ClientAddressOf;
  /** Counts a refusal by a limit (metrics), by the limit's name. */
  onLimited?: (limit: string) => void;
  /** The name peers are shown for this identity (the account's current name); never the client's word. */
  displayNameOf?: (identity: Identity) => Promise<string>;
  /** How long a dropped session waits for `resume` (default 15 s; 0 turns resume off). */
  resumeGraceMs?: number;
  /** WebSocket ping interval (default 5 s); a socket that missed one pong is terminated. */
  pingIntervalMs?: number;
  /** TURN relays with fresh credentials for this identity (join answers carry them). */
  iceServersOf?: (identity: Identity) => IceServerInfo[];
}

export class SignalingServer {
  readonly #wss: WebSocketServer;
  readonly #opts: SignalingServerOptions;
  readonly #sessions = new Set<SignalingSession>();
  readonly #alive = new WeakMap<WebSocket, boolean>();
  readonly #pinger: NodeJS.Timeout;
  readonly #onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  readonly #connectionLimits: ConnectionLimits;
  readonly #gateway: RoomGateway;
  #draining = false;
  readonly #registry: SessionRegistry;

  constructor(opts: SignalingServerOptions) {
    this.#opts = opts;
    this.#gateway = opts.gateway ?? new LocalRoomGateway(opts.rooms);
    this.#connectionLimits = new ConnectionLimits({
      perUser: opts.limits.socketsPerUser,
      perDevice: opts.limits.socketsPerDevice,
      perIp: opts.limits.socketsPerIp,
    });
    this.#registry = new SessionRegistry({
      graceMs: opts.resumeGraceMs ?? DEFAULT_RESUME_GRACE_MS,
      maxParkedPerDevice: opts.limits.socketsPerDevice,
      expire: (state) => endForGood(state, opts.calls),
    });
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: HARD_MAX_PAYLOAD,
      // Select the protocol version only: the offered token protocol is never echoed back.
      handleProtocols: (offered) => (offered.has(SIGNALING_SUBPROTOCOL) ? SIGNALING_SUBPROTOCOL : false),
    });
    this.#onUpgrade = (req, socket, head) => this.#upgrade(req, socket, head);
    opts.http.on('upgrade', this.#onUpgrade);
    // Ping so that connections whose peer vanished without a FIN are found and cleaned up.
    this.#pinger = setInterval(() => {
      for (const ws of this.#wss.clients) {
        if (this.#alive.get(ws) === false) ws.terminate();
        else {
          this.#alive.set(ws, false);
          ws.ping();
        }
      }
    }, opts.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS);
    this.#pinger.unref();
  }

  get connectionCount(): number {
    return this.#wss.clients.size;
  }

  /** Sessions whose socket dropped, waiting for their client to resume them. */
  get parkedSessions(): number {
    return this.#registry.parked;
  }

  /** Verifies a token sent in-band (`refreshToken`) exactly like one sent with the upgrade. */
  async #verify(token: string): Promise<Identity> {
    let identity: Identity;
    try {
      identity = this.#opts.tokens.verify(token);
    } catch (err) {
      throw err instanceof ServiceError
        ? err
        : new ServiceError(ErrorCode.Unauthorized, 'invalid access token', 401);
    }
    await (this.#opts.authorize ?? (async () => undefined))(identity);
    return identity;
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node's HTTP server stops listening for errors on a socket once it is handed to 'upgrade': a
    // client that resets now (before our answer, or while the device check awaits the store) would
    // emit an unhandled 'error' and take the process down. ws adds its own listener only once the
    // upgrade completes, so this one stays for the socket's whole life.
    socket.on('error', (error) => this.#opts.log.debug('upgrade socket error', { error }));
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== SIGNALING_PATH)
      return rejectUpgrade(socket, 404, ErrorCode.NotFound, 'no such endpoint');
    if (this.#draining) return rejectUpgrade(socket, 503, ErrorCode.Unavailable, 'node draining; reconnect');
    if (this.#wss.clients.size >= this.#opts.maxConnections) {
      return rejectUpgrade(socket, 503, ErrorCode.Unavailable, 'too many connections');
    }
    const found = this.#token(req, url);
    if ('refused' in found) return rejectUpgrade(socket, found.status, found.code, found.refused);
    const token = found.token;
    let identity: Identity;
    try {
      identity = this.#opts.tokens.verify(token);
    } catch (err) {
      const e =
        err instanceof ServiceError
          ? err
          : new ServiceError(ErrorCode.Unauthorized, 'invalid access token', 401);
      const message = err instanceof TokenExpiredError ? 'access token expired' : e.message;
      return rejectUpgrade(socket, 401, e.code, message);
    }
    // Refused at the upgrade (429 + JSON naming the limit), so a client over its quota never holds a socket.
    const release = this.#connectionLimits.acquire({
      userId: identity.userId,
      deviceId: identity.deviceId,
      address: this.#opts.clientAddress(req),
    });
    if (typeof release === 'string') {
      this.#opts.onLimited?.(release);
      return rejectUpgrade(socket, 429, ErrorCode.LimitExceeded, `too many connections (${release})`, {
        limit: release,
      });
    }
    // The raw socket closes on every path (refused, aborted handshake, or the WebSocket's end).
    socket.once('close', release);
    const authorize = this.#opts.authorize ?? (async () => undefined);
    authorize(identity).then(
      () => {
        // The client may have gone while we waited: nothing to upgrade.
        if (socket.destroyed || !socket.writable) {
          release();
          return void socket.destroy();
        }
        this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, identity));
      },
      (err: unknown) => {
        release();
        const e =
          err instanceof ServiceError
            ? err
            : new ServiceError(ErrorCode.Unavailable, 'cannot check the token now', 503);
        rejectUpgrade(socket, e.status === 401 ? 401 : 503, e.code, e.message);
      },
    );
  }

  /** Where the upgrade carries its token, or why it is refused before the token is even checked. */
  #token(
    req: IncomingMessage,
    url: URL,
  ): { token: string } | { refused: string; status: 400 | 401; code: string } {
    const bearer = bearerToken(req);
    if (bearer) return { token: bearer };
    const protocolHeader = req.headers['sec-websocket-protocol'];
    const fromProtocol = tokenFromProtocols(protocolHeader);
    if (fromProtocol) {
      // Without the version protocol the server could select nothing, and a browser fails such a handshake.
      const offered = (protocolHeader ?? '').split(',').map((p) => p.trim());
      if (!offered.includes(SIGNALING_SUBPROTOCOL)) {
        return {
          refused: `offer the "${SIGNALING_SUBPROTOCOL}" subprotocol next to the token`,
          status: 400,
          code: ErrorCode.BadRequest,
        };
      }
      return { token: fromProtocol };
    }
    const fromQuery = url.searchParams.get('token');
    if (fromQuery) {
      if (!this.#opts.acceptQueryToken) {
        return {
          refused: `the token in the URL is no longer accepted: send it as a "calling.token.<jwt>" subprotocol or a Bearer header`,
          status: 401,
          code: ErrorCode.Unauthorized,
        };
      }
      // Never log the URL itself: it holds the token.
      this.#opts.log.warn(
        'deprecated: access token in the WebSocket URL (WS_QUERY_TOKEN); use the subprotocol',
        {
          userAgent: req.headers['user-agent'],
        },
      );
      return { token: fromQuery };
    }
    return { refused: 'access token required', status: 401, code: ErrorCode.Unauthorized };
  }

  #accept(ws: WebSocket, identity: Identity): void {
    const log = this.#opts.log.child({ userId: identity.userId, deviceId: identity.deviceId });
    const session = new SignalingSession({
      ws,
      identity,
      rooms: this.#opts.rooms,
      gateway: this.#gateway,
      calls: this.#opts.calls,
      log,
      observer: this.#opts.observer,
      limits: this.#opts.limits,
      onLimited: this.#opts.onLimited,
      displayName: this.#opts.displayNameOf ?? (async (id) => id.displayName),
      registry: this.#registry,
      verifyToken: (token) => this.#verify(token),
      refreshed: (next) => armExpiry(next.expiresAt),
      iceServers: this.#opts.iceServersOf,
    });
    this.#sessions.add(session);
    session.start().catch((error: unknown) => log.warn('cannot deliver calls to this device', { error }));
    this.#alive.set(ws, true);
    ws.on('pong', () => this.#alive.set(ws, true));
    ws.on('message', (data, isBinary) => void session.handleFrame(data, isBinary));
    ws.on('error', (error) => log.debug('websocket error', { error }));
    // The token's expiry ends the socket with a distinct code so the SDK refreshes and reconnects;
    // `refreshToken` moves it.
    let expiry: NodeJS.Timeout | undefined;
    const armExpiry = (expiresAt: number): void => {
      clearTimeout(expiry);
      expiry = setTimeout(() => session.expire(), Math.max(0, expiresAt * 1000 - Date.now()));
      expiry.unref();
    };
    armExpiry(identity.expiresAt);
    ws.once('close', () => {
      clearTimeout(expiry);
      this.#sessions.delete(session);
      session.close().catch((error: unknown) => log.warn('session cleanup failed', { error }));
    });
    log.debug('signaling connected');
  }

  /**
   * SIGTERM: take no new sockets and tell every client to move (close 4012: reconnect through the
   * address you came from, another node serves you), not "rejoin here". Resolves once every session
   * has been cleaned up (its peer left its room).
   */
  async drain(): Promise<void> {
    this.#draining = true;
    for (const ws of this.#wss.clients) ws.close(CloseCode.NodeDraining, 'node draining; reconnect');
    await Promise.allSettled([...this.#sessions].map((s) => s.close()));
  }

  async close(): Promise<void> {
    clearInterval(this.#pinger);
    this.#opts.http.off('upgrade', this.#onUpgrade);
    // Nothing is parked for a resume: this node is going away, its peers with it.
    await Promise.allSettled([...this.#sessions].map((s) => s.close({ resumable: false })));
    for (const ws of this.#wss.clients) ws.close(CloseCode.ServerShutdown, 'server shutting down');
    this.#registry.close();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }
}

function bearerToken(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7).trim() : null;
}

function rejectUpgrade(
  socket: Duplex,
  status: number,
  code: string,
  message: string,
  details?: Record<string, string>,
): void {
  if (socket.destroyed || !socket.writable) return void socket.destroy();
  const body = JSON.stringify({ error: { code, message, ...(details ? { details } : {}) } });
  const reason =
    {
      400: 'Bad Request',
      401: 'Unauthorized',
      404: 'Not Found',
      429: 'Too Many Requests',
      503: 'Service Unavailable',
    }[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
