/**
 * Builds the state stores of one process: Redis-backed when a URL is configured (every node of a
 * deployment shares them), otherwise the embedded single-node stores. With Redis, all connections
 * come from one RedisConnections registry, so /healthz pings each of them and shutdown closes each.
 */
import type { Redis } from 'ioredis';
import type { AccountStore } from './accountStore.js';
import { MemoryAccountStore } from './memoryAccountStore.js';
import { MemoryRoomStateStore } from './memoryRoomStateStore.js';
import { RedisAccountStore } from './redisAccountStore.js';
import { RedisRoomStateStore } from './redisRoomStateStore.js';
import type { RoomStateStore } from './roomStateStore.js';
import type { CallStore } from './callStore.js';
import { MemoryCallStore } from './memoryCallStore.js';
import { RedisCallStore } from './redisCallStore.js';
import { RedisConnections, type ConnectionLog } from './redisConnections.js';
import { redisKeys, type RedisKeys } from './redisKeys.js';
import { MemoryUserMessageBus, RedisUserMessageBus, type UserMessageBus } from './userMessageBus.js';

export interface StateStores {
  kind: 'memory' | 'redis';
  rooms: RoomStateStore;
  accounts: AccountStore;
  calls: CallStore;
  bus: UserMessageBus;
  /** A connection for counters that must be shared by all nodes (rate limits); none when embedded. */
  counters: Redis | undefined;
  /** Every Redis key name (also the prefix the rate limits' keys start with). */
  keys: RedisKeys;
  /** Throws unless every store (with Redis: every connection) answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Redis when a URL is configured, otherwise the embedded single-node stores. */
export function createStateStores(opts: {
  redisUrl: string | undefined;
  ttlSeconds: number;
  keyPrefix?: string;
  log: ConnectionLog;
}): StateStores {
  const keys = redisKeys(opts.keyPrefix);
  if (!opts.redisUrl) {
    const rooms = new MemoryRoomStateStore({ ttlSeconds: opts.ttlSeconds });
    const accounts = new MemoryAccountStore();
    const calls = new MemoryCallStore();
    const bus = new MemoryUserMessageBus();
    return {
      kind: 'memory',
      rooms,
      accounts,
      calls,
      bus,
      counters: undefined,
      keys,
      ping: async () => undefined,
      close: async () => {
        await Promise.all([rooms.close(), accounts.close(), calls.close(), bus.close()]);
      },
    };
  }
  const connections = new RedisConnections({ url: opts.redisUrl, log: opts.log });
  const rooms = new RedisRoomStateStore({
    redis: connections.open('rooms'),
    keys,
    ttlSeconds: opts.ttlSeconds,
  });
  const accounts = new RedisAccountStore({ redis: connections.open('accounts'), keys });
  const calls = new RedisCallStore({ redis: connections.open('calls'), keys });
  const bus = new RedisUserMessageBus({
    pub: connections.open('bus-pub'),
    sub: connections.open('bus-sub'),
    keys,
  });
  const counters = connections.open('rate-limits');
  return {
    kind: 'redis',
    rooms,
    accounts,
    calls,
    bus,
    counters,
    keys,
    ping: () => connections.ping(),
    close: async () => {
      await Promise.all([rooms.close(), accounts.close(), calls.close(), bus.close()]);
      await connections.close();
    },
  };
}
