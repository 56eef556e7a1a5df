/**
 * Calls in Redis: the CallStore contract with one Lua script for the compare-and-set write.
 * Keys are listed in state/redisKeys.ts; the connection comes from state/redisConnections.ts.
 */
import type { RedisClient } from './redisConnections.js';
import { holdsCall, type CallRecord } from '../calls/callRecord.js';
import {
  CALL_RETENTION_SECONDS,
  HISTORY_LIMIT,
  type CallStore,
  type PointerExpectation,
} from './callStore.js';
import type { RedisKeys } from './redisKeys.js';

// KEYS[1] call key. ARGV: expectedVersion, json, ttl, pointerPrefix, pointerSuffix, callId, nExpect,
// then nExpect × (userId, expectedCallId or ''), then pairs of (userId, 'set'|'clear').
const SAVE = `
local cur = redis.call('GET', KEYS[1])
local version = 0
if cur then version = cjson.decode(cur).version end
if version ~= tonumber(ARGV[1]) then return 0 end
local prefix = ARGV[4]
local suffix = ARGV[5]
local callId = ARGV[6]
local n = tonumber(ARGV[7])
local i = 8
for _ = 1, n do
  local p = redis.call('GET', prefix .. ARGV[i] .. suffix)
  local want = ARGV[i + 1]
  if (want == '' and p) or (want ~= '' and p ~= want) then return 0 end
  i = i + 2
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
while i <= #ARGV do
  local key = prefix .. ARGV[i] .. suffix
  if ARGV[i + 1] == 'set' then
    redis.call('SET', key, callId)
  elseif redis.call('GET', key) == callId then
    redis.call('DEL', key)
  end
  i = i + 2
end
return 1`;

export class RedisCallStore implements CallStore {
  readonly #redis: RedisClient;
  readonly #keys: RedisKeys;

  /** `redis` belongs to the caller (a RedisConnections registry), which closes it. */
  constructor(opts: { redis: RedisClient; keys: RedisKeys }) {
    this.#redis = opts.redis;
    this.#keys = opts.keys;
  }

  async getCall(callId: string): Promise<CallRecord | null> {
    const raw = await this.#redis.get(this.#keys.call(callId));
    return raw ? (JSON.parse(raw) as CallRecord) : null;
  }

  async currentCalls(userIds: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (userIds.length === 0) return out;
    const ids = await this.#redis.mget(...userIds.map((u) => this.#keys.userCurrentCall(u)));
    userIds.forEach((u, i) => {
      if (ids[i]) out.set(u, ids[i]!);
    });
    return out;
  }

  async saveCall(
    call: CallRecord,
    expectedVersion: number,
    expect: readonly PointerExpectation[],
  ): Promise<boolean> {
    const args: (string | number)[] = [
      expectedVersion,
      JSON.stringify(call),
      CALL_RETENTION_SECONDS,
      this.#keys.callUserPrefix,
      this.#keys.userCurrentCallSuffix,
      call.callId,
      expect.length,
    ];
    for (const e of expect) args.push(e.userId, e.callId ?? '');
    for (const userId of call.order) args.push(userId, holdsCall(call, userId) ? 'set' : 'clear');
    return (await this.#redis.eval(SAVE, 1, this.#keys.call(call.callId), ...args)) === 1;
  }

  async addToHistory(userIds: readonly string[], callId: string): Promise<void> {
    const tx = this.#redis.multi();
    for (const u of userIds) {
      tx.lrem(this.#keys.userCallHistory(u), 0, callId)
        .lpush(this.#keys.userCallHistory(u), callId)
        .ltrim(this.#keys.userCallHistory(u), 0, HISTORY_LIMIT - 1);
    }
    await tx.exec();
  }

  async history(userId: string, limit: number): Promise<CallRecord[]> {
    const ids = await this.#redis.lrange(this.#keys.userCallHistory(userId), 0, limit - 1);
    if (ids.length === 0) return [];
    const raws = await this.#redis.mget(...ids.map((id) => this.#keys.call(id)));
    return raws.filter((r): r is string => !!r).map((r) => JSON.parse(r) as CallRecord);
  }

  async addMissed(userId: string): Promise<void> {
    await this.#redis.incr(this.#keys.userMissedCalls(userId));
  }

  async missedUnseen(userId: string): Promise<number> {
    return Number((await this.#redis.get(this.#keys.userMissedCalls(userId))) ?? 0);
  }

  async clearMissed(userId: string): Promise<void> {
    await this.#redis.del(this.#keys.userMissedCalls(userId));
  }

  async close(): Promise<void> {
    // The connection is closed by the registry that opened it.
  }
}
