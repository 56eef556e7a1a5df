/**
 * The one place Redis connections are made. Every connection is named (for logs), fails fast
 * while Redis is down, reports an outage once (not once per reconnect attempt), turns connection
 * and timeout failures into StoreUnavailableError, and is pinged by /healthz and closed at shutdown
 * because this registry knows all of them.
 */
import { Redis, type Command, type RedisOptions } from 'ioredis';
import { StoreUnavailableError } from './storeUnavailableError.js';

/** What the registry needs of a logger (kept narrow so the state layer imports no server module). */
export interface ConnectionLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

/**
 * How long a command may wait for Redis, queued or sent. A stalled server (paused, overloaded,
 * partitioned with the socket still open) gives no error at all; without this a request would
 * hang until the client gave up. One second keeps the answer quick while tolerating a busy server.
 */
export const COMMAND_TIMEOUT_MS = 1000;
/** Sent to clients as the retry hint (Retry-After / details.retryAfterMs) while Redis is down. */
export const RETRY_AFTER_MS = 1000;

const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** Replies by which a reachable server says "not now" (still loading, a replica lost its master...). */
const TRANSIENT_REPLY = /^(LOADING|MASTERDOWN|READONLY|BUSY|TRYAGAIN|CLUSTERDOWN)\b/;

/** Whether a Redis command failed because the server could not be reached, not because of the command. */
export function isConnectionFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'ReplyError') return TRANSIENT_REPLY.test(err.message);
  const code = (err as { code?: unknown }).code;
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    err.message === 'Command timed out' ||
    err.message === 'Connection is closed.' ||
    err.message.startsWith("Stream isn't writeable") ||
    (typeof code === 'string' && NETWORK_ERROR_CODES.has(code))
  );
}

/** Told of each command's outcome, so an outage is reported once and its end too. */
interface Health {
  failed(error: unknown): void;
  answered(): void;
}

/**
 * A Redis client whose commands reject with StoreUnavailableError when the server is unreachable.
 * Every command — single, pipelined, in MULTI, or a Lua script — passes through sendCommand, so
 * wrapping each command's reject there covers all of them without touching the stores. A stalled
 * server raises no connection error at all, only command timeouts, so outcomes go to `health` too.
 */
class NamedRedis extends Redis {
  readonly connectionName: string;
  readonly #health: Health;

  constructor(url: string, name: string, options: RedisOptions, health: Health) {
    super(url, { ...options, connectionName: name });
    this.connectionName = name;
    this.#health = health;
  }

  override sendCommand(command: Command, stream?: Parameters<Redis['sendCommand']>[1]): unknown {
    const { reject, resolve } = command;
    command.reject = (err: Error) => {
      if (!isConnectionFailure(err)) return reject(err);
      this.#health.failed(err);
      reject(new StoreUnavailableError(this.connectionName, err, RETRY_AFTER_MS));
    };
    command.resolve = (result: unknown) => {
      this.#health.answered();
      resolve(result);
    };
    return super.sendCommand(command, stream);
  }
}

export class RedisConnections {
  readonly #url: string;
  readonly #log: ConnectionLog;
  readonly #connections = new Map<string, NamedRedis>();
  #closed = false;

  constructor(opts: { url: string; log: ConnectionLog }) {
    this.#url = opts.url;
    this.#log = opts.log;
  }

  /**
   * Opens the connection `name` (unique: e.g. "rooms", "calls", "bus-sub").
   * The offline queue stays on so commands issued while connecting (start-up, a reconnect in
   * progress) wait for the connection instead of failing at once; the command timeout and
   * maxRetriesPerRequest bound that wait, so a request learns of an outage in about a second.
   */
  open(name: string): Redis {
    if (this.#closed) throw new Error('redis connections are closed');
    if (this.#connections.has(name)) throw new Error(`redis connection "${name}" is already open`);
    // ioredis emits an error on every failed reconnect attempt, and a stalled server fails every
    // command: report the outage once, and its end once.
    let down = false;
    const health: Health = {
      failed: (error) => {
        if (down) return;
        down = true;
        this.#log.warn('redis unreachable', { connection: name, error });
      },
      answered: () => {
        if (!down) return;
        down = false;
        this.#log.info('redis reachable again', { connection: name });
      },
    };
    const redis = new NamedRedis(
      this.#url,
      name,
      {
        maxRetriesPerRequest: 1,
        commandTimeout: COMMAND_TIMEOUT_MS,
        enableOfflineQueue: true,
        connectTimeout: 2000,
        // Reconnect quickly after an outage (Redis restarted, failover), at most once a second.
        retryStrategy: (times) => Math.min(times * 100, 1000),
      },
      health,
    );
    redis.on('error', (error: unknown) => health.failed(error));
    redis.on('ready', () => health.answered());
    this.#connections.set(name, redis);
    return redis;
  }

  /** Names of the connections opened so far. */
  get names(): string[] {
    return [...this.#connections.keys()];
  }

  /** Pings every connection (subscriber connections too: PING is valid in subscriber mode). */
  async ping(): Promise<void> {
    await Promise.all([...this.#connections.values()].map((r) => r.ping()));
  }

  /** Closes every connection: QUIT when possible, else drops the socket. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(
      [...this.#connections.values()].map((r) =>
        r.quit().then(
          () => undefined,
          () => r.disconnect(),
        ),
      ),
    );
  }
}
