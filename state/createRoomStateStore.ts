import { MemoryRoomStateStore } from './memoryRoomStateStore.js';
import { RedisRoomStateStore } from './redisRoomStateStore.js';
import type { RoomStateStore } from './roomStateStore.js';

/** Redis when a URL is configured, otherwise the embedded single-node store. */
export function createRoomStateStore(opts: {
  redisUrl: string | undefined;
  ttlSeconds: number;
  keyPrefix?: string;
}): RoomStateStore {
  if (opts.redisUrl) {
    return new RedisRoomStateStore({
      url: opts.redisUrl,
      ttlSeconds: opts.ttlSeconds,
      keyPrefix: opts.keyPrefix,
    });
  }
  return new MemoryRoomStateStore({ ttlSeconds: opts.ttlSeconds });
}
