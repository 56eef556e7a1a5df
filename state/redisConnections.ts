/**
 * The one place Redis connections are made. Every connection is named (for logs), fails fast
 * while Redis is down, reports an outage once (not once per reconnect attempt), turns connection
 * and timeout failures into StoreUnavailableError, and is pinged by /healthz and closed at shutdown
 * because this registry knows all of them.
 *
 * Three deployments (RedisTarget): one server by URL; a primary watched by Redis Sentinel (ioredis
 * asks the sentinels for the primary, and moves to the new one on failover); a Redis Cluster
 * (ioredis's Cluster client routes each command by its key's hash slot — which is why every
 * multi-key script and transaction uses keys of one slot, see state/redisKeys.ts).
 */
import { Cluster, Redis, type ClusterNode, type Command, type RedisOptions } from 'ioredis';
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

/** Where the Redis of a deployment is (server/config.ts builds it from the REDIS_* variables). */
export type RedisTarget =
  | { kind: 'url'; url: string }
  | { kind: 'sentinel'; sentinels: readonly RedisAddress[]; name: string }
  | { kind: 'cluster'; nodes: readonly RedisAddress[] };

export interface RedisAddress {
  host: string;
  port: number;
}

/**
 * A connection of any deployment. The stores use only commands both clients share; ioredis's
 * Cluster routes each by its key's slot, so the stores need not know which one they were given.
 */
export type RedisClient = Redis | Cluster;

/**
 * Wraps one command's outcome: a connection failure rejects with StoreUnavailableError (which the
 * edges map to a retry hint), and every outcome tells `health`. Every command — single, pipelined,
 * in MULTI, or a Lua script — passes through sendCommand, so wrapping there covers all of them
 * without touching the stores. A stalled server raises no connection error, only command timeouts.
 */
function guard(command: Command, name: string, health: Health): void {
  const { reject, resolve } = command;
  command.reject = (err: Error) => {
    if (!isConnectionFailure(err)) return reject(err);
    health.failed(err);
    reject(new StoreUnavailableError(name, err, RETRY_AFTER_MS));
  };
  command.resolve = (result: unknown) => {
    health.answered();
    resolve(result);
  };
}

/** A single server, or the primary that Sentinel names (the options carry `sentinels` then). */
class NamedRedis extends Redis {
  readonly connectionName: string;
  // Not a #private field: ioredis takes a URL and options, or options alone, so `super` is called
  // conditionally, which TypeScript allows only in classes without #private fields.
  private readonly health: Health;

  constructor(url: string | undefined, name: string, options: RedisOptions, health: Health) {
    const named = { ...options, connectionName: name };
    if (url === undefined) super(named);
    else super(url, named);
    this.connectionName = name;
    this.health = health;
  }

  override sendCommand(command: Command, stream?: Parameters<Redis['sendCommand']>[1]): unknown {
    guard(command, this.connectionName, this.health);
    return super.sendCommand(command, stream);
  }
}

/** Commands already wrapped by a NamedCluster (a redirected command passes through it again). */
const wrapped = new WeakSet<Command>();

/** A Redis Cluster: commands are wrapped once, before the cluster routes (and re-routes) them. */
class NamedCluster extends Cluster {
  readonly connectionName: string;
  readonly #health: Health;

  constructor(
    nodes: ClusterNode[],
    name: string,
    options: ConstructorParameters<typeof Cluster>[1],
    health: Health,
  ) {
    super(nodes, options);
    this.connectionName = name;
    this.#health = health;
  }

  override sendCommand(
    command: Command,
    stream?: Parameters<Cluster['sendCommand']>[1],
    node?: Parameters<Cluster['sendCommand']>[2],
  ): unknown {
    // A command the cluster redirects (MOVED/ASK) comes through here again: wrap it only once.
    if (!wrapped.has(command)) {
      wrapped.add(command);
      guard(command, this.connectionName, this.#health);
    }
    return super.sendCommand(command, stream, node);
  }
}

/** Every connection gives up on a command after about a second (see COMMAND_TIMEOUT_MS). */
const COMMON: RedisOptions = {
  maxRetriesPerRequest: 1,
  commandTimeout: COMMAND_TIMEOUT_MS,
  connectTimeout: 2000,
};
/** Reconnect quickly after an outage (Redis restarted, failover), at most once a second. */
const retryStrategy = (times: number): number => Math.min(times * 100, 1000);

/**
 * The replies by which a former primary refuses writes. Right after a failover a connection may
 * still reach the demoted server (before Sentinel's +switch-master arrives): reconnecting asks the
 * sentinels for the new primary, and `2` resends the refused command there instead of failing it.
 */
const reconnectOnError = (err: Error): 2 | false =>
  /^(READONLY|MASTERDOWN)\b/.test(err.message) ? 2 : false;

export class RedisConnections {
  readonly #target: RedisTarget;
  readonly #log: ConnectionLog;
  readonly #connections = new Map<string, NamedRedis | NamedCluster>();
  #closed = false;

  /** `url` is shorthand for `target: { kind: 'url', url }`. */
  constructor(opts: { url: string; log: ConnectionLog } | { target: RedisTarget; log: ConnectionLog }) {
    this.#target = 'target' in opts ? opts.target : { kind: 'url', url: opts.url };
    this.#log = opts.log;
  }

  /**
   * Opens the connection `name` (unique: e.g. "rooms", "calls", "bus-sub").
   * The offline queue stays on so commands issued while connecting (start-up, a reconnect in
   * progress, a Sentinel failover) wait for the connection instead of failing at once; the command
   * timeout and maxRetriesPerRequest bound that wait, so a request learns of an outage in about a
   * second. A subscriber connection is re-subscribed by ioredis after any reconnect, on the new
   * primary after a failover (messages published during the switch are lost, as with any outage).
   */
  open(name: string, opts: { shardedSubscriber?: boolean } = {}): RedisClient {
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
    const client = this.#create(name, health, opts.shardedSubscriber === true);
    client.on('error', (error: unknown) => health.failed(error));
    client.on('ready', () => health.answered());
    this.#connections.set(name, client);
    return client;
  }

  #create(name: string, health: Health, shardedSubscriber: boolean): NamedRedis | NamedCluster {
    const t = this.#target;
    switch (t.kind) {
      case 'url':
        return new NamedRedis(t.url, name, { ...COMMON, enableOfflineQueue: true, retryStrategy }, health);
      case 'sentinel':
        return new NamedRedis(
          undefined,
          name,
          {
            ...COMMON,
            enableOfflineQueue: true,
            retryStrategy,
            sentinels: t.sentinels.map((a) => ({ ...a })),
            name: t.name,
            // Listen for Sentinel's +switch-master and move at once, rather than only when the old
            // primary's socket breaks (a demoted primary keeps its connections open).
            failoverDetector: true,
            reconnectOnError,
            // All sentinels unreachable: ask again soon, at most once a second.
            sentinelRetryStrategy: retryStrategy,
          },
          health,
        );
      case 'cluster':
        return new NamedCluster(
          t.nodes.map((a) => ({ ...a })),
          name,
          {
            enableOfflineQueue: true,
            clusterRetryStrategy: retryStrategy,
            // A failed-over slot answers CLUSTERDOWN/TRYAGAIN briefly: retry inside the command's time.
            retryDelayOnClusterDown: 100,
            retryDelayOnTryAgain: 100,
            slotsRefreshTimeout: 2000,
            // SSUBSCRIBE on a Cluster needs ioredis's per-shard subscriber connections (off by
            // default: one extra connection per primary), so only the relay's subscriber asks for them.
            ...(shardedSubscriber ? { shardedSubscribers: true } : {}),
            redisOptions: { ...COMMON, connectionName: name, reconnectOnError },
          },
          health,
        );
    }
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
