/**
 * Chooses the stores: durable records (accounts, devices, photos, call history) in the database —
 * PostgreSQL, or SQLite in a file when embedded, or process memory when asked — and ephemeral state
 * (rooms, live calls, codes, rate limits, pub/sub) in Redis when one is configured (a server, a
 * Sentinel-watched primary or a Cluster), otherwise in
 * this process. With Redis, all connections come from one RedisConnections registry, so /healthz
 * pings each of them and shutdown closes each.
 */
import type { RedisClient } from './redisConnections.js';
import type { AccountStore } from './accountStore.js';
import type { VerificationStore } from './verificationStore.js';
import { openDatabase, type DatabaseTarget } from './sql/openDatabase.js';
import { SqlAccountStore } from './sql/sqlAccountStore.js';
import { SqlCallHistory } from './sql/sqlCallHistory.js';
import type { SqlDatabase } from './sql/sqlDatabase.js';
import { MemoryAccountStore } from './memoryAccountStore.js';
import { MemoryRoomStateStore } from './memoryRoomStateStore.js';
import { RedisAccountStore } from './redisAccountStore.js';
import { RedisRoomStateStore } from './redisRoomStateStore.js';
import type { RoomStateStore } from './roomStateStore.js';
import type { CallStore } from './callStore.js';
import { MemoryCallStore } from './memoryCallStore.js';
import { RedisCallStore } from './redisCallStore.js';
import { RedisConnections, type ConnectionLog, type RedisTarget } from './redisConnections.js';
import { redisKeys, type RedisKeys } from './redisKeys.js';
import { MemoryUserMessageBus, RedisUserMessageBus, type UserMessageBus } from './userMessageBus.js';
import { MemoryNodeRelayBus, RedisNodeRelayBus, type NodeRelayBus } from './nodeRelayBus.js';

export interface StateStores {
  kind: 'memory' | 'redis';
  rooms: RoomStateStore;
  accounts: AccountStore;
  /** Codes and registration tickets: short-lived, next to the other ephemeral state. */
  verification: VerificationStore;
  calls: CallStore;
  /** The database behind accounts and history; undefined when they are kept in memory. */
  database: SqlDatabase | undefined;
  bus: UserMessageBus;
  /** Messages between nodes for the room relay (rooms/relay/). */
  relay: NodeRelayBus;
  /** A connection for counters that must be shared by all nodes (rate limits); none when embedded. */
  counters: RedisClient | undefined;
  /** Every Redis key name (also the prefix the rate limits' keys start with). */
  keys: RedisKeys;
  /** Throws unless every store (with Redis: every connection) answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Opens the database (applying migrations) and the ephemeral stores. */
export async function createStateStores(opts: {
  redis: RedisTarget | undefined;
  ttlSeconds: number;
  /** NODE_DEAD_AFTER_MS (default: the TTL). */
  nodeDeadAfterMs?: number;
  keyPrefix?: string;
  database: DatabaseTarget;
  log: ConnectionLog;
}): Promise<StateStores> {
  const ephemeral = createEphemeralStores(opts);
  if (opts.database.kind === 'memory') return ephemeral;
  let db: SqlDatabase;
  try {
    db = await openDatabase(opts.database);
  } catch (err) {
    await ephemeral.close();
    throw err;
  }
  const accounts = new SqlAccountStore(db);
  return {
    ...ephemeral,
    accounts,
    calls: new SqlCallHistory({ db, live: ephemeral.calls }),
    database: db,
    ping: async () => {
      await Promise.all([ephemeral.ping(), accounts.ping()]);
    },
    close: async () => {
      await ephemeral.close();
      await db.close();
    },
  };
}

/** Redis when configured, otherwise the embedded single-node stores (accounts in memory). */
function createEphemeralStores(opts: {
  redis: RedisTarget | undefined;
  ttlSeconds: number;
  nodeDeadAfterMs?: number;
  keyPrefix?: string;
  log: ConnectionLog;
}): StateStores {
  const keys = redisKeys(opts.keyPrefix);
  if (!opts.redis) {
    const rooms = new MemoryRoomStateStore({
      ttlSeconds: opts.ttlSeconds,
      nodeDeadAfterMs: opts.nodeDeadAfterMs,
    });
    const accounts = new MemoryAccountStore();
    const calls = new MemoryCallStore();
    const bus = new MemoryUserMessageBus();
    return {
      kind: 'memory',
      rooms,
      accounts,
      verification: accounts,
      calls,
      database: undefined,
      bus,
      relay: new MemoryNodeRelayBus(),
      counters: undefined,
      keys,
      ping: async () => undefined,
      close: async () => {
        await Promise.all([rooms.close(), accounts.close(), calls.close(), bus.close()]);
      },
    };
  }
  const connections = new RedisConnections({ target: opts.redis, log: opts.log });
  const rooms = new RedisRoomStateStore({
    redis: connections.open('rooms'),
    keys,
    ttlSeconds: opts.ttlSeconds,
    nodeDeadAfterMs: opts.nodeDeadAfterMs,
  });
  const accounts = new RedisAccountStore({ redis: connections.open('accounts'), keys });
  const calls = new RedisCallStore({ redis: connections.open('calls'), keys });
  const bus = new RedisUserMessageBus({
    pub: connections.open('bus-pub'),
    sub: connections.open('bus-sub'),
    keys,
  });
  const relay = new RedisNodeRelayBus({
    pub: connections.open('relay-pub'),
    sub: connections.open('relay-sub', { shardedSubscriber: true }),
    keys,
  });
  const counters = connections.open('rate-limits');
  return {
    kind: 'redis',
    rooms,
    accounts,
    verification: accounts,
    calls,
    database: undefined,
    bus,
    relay,
    counters,
    keys,
    ping: () => connections.ping(),
    close: async () => {
      await Promise.all([rooms.close(), accounts.close(), calls.close(), bus.close()]);
      await connections.close();
    },
  };
}
