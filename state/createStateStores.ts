import { Redis } from 'ioredis';
import type { AccountStore } from './accountStore.js';
import { MemoryAccountStore } from './memoryAccountStore.js';
import { MemoryRoomStateStore } from './memoryRoomStateStore.js';
import { RedisAccountStore } from './redisAccountStore.js';
import { RedisRoomStateStore } from './redisRoomStateStore.js';
import type { RoomStateStore } from './roomStateStore.js';
import type { CallStore } from './callStore.js';
import { MemoryCallStore } from './memoryCallStore.js';
import { RedisCallStore } from './redisCallStore.js';
import { MemoryUserMessageBus, RedisUserMessageBus, type UserMessageBus } from './userMessageBus.js';

export interface StateStores {
  kind: 'memory' | 'redis';
  rooms: RoomStateStore;
  accounts: AccountStore;
  calls: CallStore;
  bus: UserMessageBus;
  /** A connection for counters that must be shared by all nodes (rate limits); none when embedded. */
  counters: Redis | undefined;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Redis when a URL is configured, otherwise the embedded single-node stores. */
export function createStateStores(opts: {
  redisUrl: string | undefined;
  ttlSeconds: number;
  keyPrefix?: string;
}): StateStores {
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
      ping: async () => undefined,
      close: async () => {
        await Promise.all([rooms.close(), accounts.close(), calls.close(), bus.close()]);
      },
    };
  }
  const rooms = new RedisRoomStateStore({
    url: opts.redisUrl,
    ttlSeconds: opts.ttlSeconds,
    keyPrefix: opts.keyPrefix,
  });
  const accounts = new RedisAccountStore({ url: opts.redisUrl, keyPrefix: opts.keyPrefix });
  const calls = new RedisCallStore({ url: opts.redisUrl, keyPrefix: opts.keyPrefix });
  const bus = new RedisUserMessageBus({ url: opts.redisUrl, keyPrefix: opts.keyPrefix });
  const counters = new Redis(opts.redisUrl, { maxRetriesPerRequest: 2 });
  counters.on('error', () => undefined);
  return {
    kind: 'redis',
    rooms,
    accounts,
    calls,
    bus,
    counters,
    ping: async () => {
      await Promise.all([rooms.ping(), accounts.ping()]);
    },
    close: async () => {
      await Promise.all([
        rooms.close(),
        accounts.close(),
        counters.quit().catch(() => counters.disconnect()),
      ]);
    },
  };
}
