/**
 * A lease: at most one node at a time holds a named job (the call sweeper), without a leader. With
 * Redis it is a key set with NX and an expiry, renewed by its holder; a holder that dies simply stops
 * renewing and the next node to ask gets it once the expiry passes. Embedded (one node), the only
 * node always holds it.
 */
import type { RedisClient } from './redisConnections.js';

export interface Lease {
  /** True if `owner` holds the lease for the next `ttlMs` (taken now, or renewed). */
  hold(owner: string, ttlMs: number): Promise<boolean>;
  /** Gives it up if `owner` holds it (at shutdown, so another node takes over at once). */
  release(owner: string): Promise<void>;
}

// Take the key if free, or extend it if we hold it.
const HOLD = `
local cur = redis.call('GET', KEYS[1])
if cur == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`;

export class RedisLease implements Lease {
  readonly #redis: RedisClient;
  readonly #key: string;

  /** `redis` belongs to the caller (a RedisConnections registry), which closes it. */
  constructor(redis: RedisClient, key: string) {
    this.#redis = redis;
    this.#key = key;
  }

  async hold(owner: string, ttlMs: number): Promise<boolean> {
    return (await this.#redis.eval(HOLD, 1, this.#key, owner, Math.max(1, Math.round(ttlMs)))) === 1;
  }

  async release(owner: string): Promise<void> {
    await this.#redis.eval(RELEASE, 1, this.#key, owner);
  }
}

/** The embedded deployment has one node: it always holds every lease. */
export class LocalLease implements Lease {
  async hold(): Promise<boolean> {
    return true;
  }
  async release(): Promise<void> {}
}
