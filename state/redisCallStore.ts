/**
 * Calls in Redis. Keys (prefix defaults to "cs:"):
 *   {p}call:{callId}             JSON CallRecord (kept CALL_RETENTION_SECONDS for history)
 *   {p}user:{userId}:call        the callId this user currently has (ringing, calling or in)
 *   {p}user:{userId}:calls       list of callIds, newest first (history)
 *   {p}user:{userId}:missed      missed calls not yet seen
 */
import { Redis } from 'ioredis';
import { holdsCall, type CallRecord } from '../calls/callRecord.js';
import {
  CALL_RETENTION_SECONDS,
  HISTORY_LIMIT,
  type CallStore,
  type PointerExpectation,
} from './callStore.js';

// KEYS[1] call key. ARGV: expectedVersion, json, ttl, pointerPrefix, callId, nExpect,
// then nExpect × (userId, expectedCallId or ''), then pairs of (userId, 'set'|'clear').
const SAVE = `
local cur = redis.call('GET', KEYS[1])
local version = 0
if cur then version = cjson.decode(cur).version end
if version ~= tonumber(ARGV[1]) then return 0 end
local prefix = ARGV[4]
local callId = ARGV[5]
local n = tonumber(ARGV[6])
local i = 7
for _ = 1, n do
  local p = redis.call('GET', prefix .. ARGV[i] .. ':call')
  local want = ARGV[i + 1]
  if (want == '' and p) or (want ~= '' and p ~= want) then return 0 end
  i = i + 2
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
while i <= #ARGV do
  local key = prefix .. ARGV[i] .. ':call'
  if ARGV[i + 1] == 'set' then
    redis.call('SET', key, callId)
  elseif redis.call('GET', key) == callId then
    redis.call('DEL', key)
  end
  i = i + 2
end
return 1`;

export class RedisCallStore implements CallStore {
  readonly #redis: Redis;
  readonly #p: string;

  constructor(opts: { url: string; keyPrefix?: string }) {
    this.#p = opts.keyPrefix ?? 'cs:';
    this.#redis = new Redis(opts.url, { maxRetriesPerRequest: 2 });
    this.#redis.on('error', () => undefined);
  }

  #call(id: string): string {
    return `${this.#p}call:${id}`;
  }
  #user(id: string, what: string): string {
    return `${this.#p}user:${id}:${what}`;
  }

  async getCall(callId: string): Promise<CallRecord | null> {
    const raw = await this.#redis.get(this.#call(callId));
    return raw ? (JSON.parse(raw) as CallRecord) : null;
  }

  async currentCalls(userIds: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (userIds.length === 0) return out;
    const ids = await this.#redis.mget(...userIds.map((u) => this.#user(u, 'call')));
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
      `${this.#p}user:`,
      call.callId,
      expect.length,
    ];
    for (const e of expect) args.push(e.userId, e.callId ?? '');
    for (const userId of call.order) args.push(userId, holdsCall(call, userId) ? 'set' : 'clear');
    return (await this.#redis.eval(SAVE, 1, this.#call(call.callId), ...args)) === 1;
  }

  async addToHistory(userIds: readonly string[], callId: string): Promise<void> {
    const tx = this.#redis.multi();
    for (const u of userIds) {
      tx.lrem(this.#user(u, 'calls'), 0, callId)
        .lpush(this.#user(u, 'calls'), callId)
        .ltrim(this.#user(u, 'calls'), 0, HISTORY_LIMIT - 1);
    }
    await tx.exec();
  }

  async history(userId: string, limit: number): Promise<CallRecord[]> {
    const ids = await this.#redis.lrange(this.#user(userId, 'calls'), 0, limit - 1);
    if (ids.length === 0) return [];
    const raws = await this.#redis.mget(...ids.map((id) => this.#call(id)));
    return raws.filter((r): r is string => !!r).map((r) => JSON.parse(r) as CallRecord);
  }

  async addMissed(userId: string): Promise<void> {
    await this.#redis.incr(this.#user(userId, 'missed'));
  }

  async missedUnseen(userId: string): Promise<number> {
    return Number((await this.#redis.get(this.#user(userId, 'missed'))) ?? 0);
  }

  async clearMissed(userId: string): Promise<void> {
    await this.#redis.del(this.#user(userId, 'missed'));
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}
