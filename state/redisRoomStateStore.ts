/**
 * Room state in Redis, shared by every node of a deployment.
 *
 * Keys are listed in state/redisKeys.ts; the connection comes from state/redisConnections.ts.
 * The hosting node rewrites the three room keys on every heartbeat; if it dies they expire.
 * Nodes live in one hash (listed with one HGETALL, not a SCAN); a field counts as alive until
 * its expiresAt, read against Redis's own clock so nodes' clocks need not agree.
 */
import type { RedisClient } from './redisConnections.js';
import type { RedisKeys } from './redisKeys.js';
import type {
  HostedRoomRecord,
  NodeRecord,
  ParticipantRecord,
  ProducerRecord,
  RoomEntry,
  RoomHostRecord,
  RoomStateStore,
} from './roomStateStore.js';

// Milliseconds on Redis's clock, and whether a node's entry in the nodes hash is still alive.
const NODE_ALIVE_LUA = `
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function alive(nodesKey, nodeId)
  local raw = redis.call('HGET', nodesKey, nodeId)
  return raw and cjson.decode(raw).expiresAt > nowMs()
end`;

// Atomic claim: keep a host whose node is alive, otherwise take over and drop its stale members.
const CLAIM_SCRIPT = `${NODE_ALIVE_LUA}
local cur = redis.call('GET', KEYS[1])
if cur then
  local host = cjson.decode(cur)
  if alive(KEYS[4], host.nodeId) then return cur end
  redis.call('DEL', KEYS[2], KEYS[3])
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return ARGV[1]`;

const IS_ALIVE_SCRIPT = `${NODE_ALIVE_LUA}
if alive(KEYS[1], ARGV[1]) then return 1 end
return 0`;

// Marks the node alive until now + TTL (Redis clock); the record is spliced in as it was sent.
const NODE_HEARTBEAT_SCRIPT = `${NODE_ALIVE_LUA}
local expiresAt = nowMs() + tonumber(ARGV[2]) * 1000
redis.call('HSET', KEYS[1], ARGV[1], '{"expiresAt":' .. expiresAt .. ',"node":' .. ARGV[3] .. '}')
return 0`;

// Live nodes' records; entries of dead nodes are dropped on the way.
const LIST_NODES_SCRIPT = `${NODE_ALIVE_LUA}
local now = nowMs()
local all = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #all, 2 do
  if cjson.decode(all[i + 1]).expiresAt > now then
    live[#live + 1] = all[i + 1]
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
return live`;

// Re-asserts one hosted room's full record: host, and exactly the given participants and
// producers (ARGV[4] participant pairs, then producer pairs), unless another node hosts it now.
const ASSERT_ROOM_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if cur and cjson.decode(cur).nodeId ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[2])
redis.call('DEL', KEYS[2], KEYS[3])
local i = 5
for n = 1, tonumber(ARGV[4]) do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  i = i + 2
end
while i <= #ARGV do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  i = i + 2
end
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('EXPIRE', KEYS[3], ARGV[2])
return 1`;

const RELEASE_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if cur and cjson.decode(cur).nodeId == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
end
return 0`;

// Writes to a room's hashes only while the room exists, so a late write cannot resurrect
// a released room as a key without TTL.
const HSET_IF_ROOM_SCRIPT = `
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ttl)
return 1`;

const REMOVE_PARTICIPANT_SCRIPT = `
redis.call('HDEL', KEYS[1], ARGV[1])
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  if cjson.decode(all[i + 1]).peerId == ARGV[1] then redis.call('HDEL', KEYS[2], all[i]) end
end
return 0`;

// A join against the members set: create it, keep a member, admit an invitee, or refuse (see
// RoomStateStore.enterRoom). ARGV: userId, admit ("1"/"0"), ttl seconds.
const ENTER_ROOM_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SADD', KEYS[1], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return 'created'
end
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return 'member'
end
if ARGV[2] ~= '1' then return 'refused' end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 'admitted'`;

export interface RedisRoomStateStoreOptions {
  /** Belongs to the caller (a RedisConnections registry), which closes it. */
  redis: RedisClient;
  keys: RedisKeys;
  ttlSeconds: number;
}

export class RedisRoomStateStore implements RoomStateStore {
  readonly kind = 'redis' as const;
  readonly #redis: RedisClient;
  readonly #ttl: number;
  readonly #keys: RedisKeys;

  constructor(opts: RedisRoomStateStoreOptions) {
    this.#ttl = opts.ttlSeconds;
    this.#keys = opts.keys;
    this.#redis = opts.redis;
  }

  #hostKey(room: string): string {
    return this.#keys.roomHost(room);
  }
  #participantsKey(room: string): string {
    return this.#keys.roomParticipants(room);
  }
  #producersKey(room: string): string {
    return this.#keys.roomProducers(room);
  }
  #nodesKey(): string {
    return this.#keys.nodes;
  }

  async claimRoomHost(room: string, host: RoomHostRecord): Promise<RoomHostRecord> {
    const result = (await this.#redis.eval(
      CLAIM_SCRIPT,
      4,
      this.#hostKey(room),
      this.#participantsKey(room),
      this.#producersKey(room),
      this.#nodesKey(),
      JSON.stringify(host),
      this.#ttl,
    )) as string;
    return JSON.parse(result) as RoomHostRecord;
  }

  async getRoomHost(room: string): Promise<RoomHostRecord | null> {
    const raw = await this.#redis.get(this.#hostKey(room));
    return raw ? (JSON.parse(raw) as RoomHostRecord) : null;
  }

  async releaseRoomHost(room: string, nodeId: string): Promise<void> {
    await this.#redis.eval(
      RELEASE_SCRIPT,
      3,
      this.#hostKey(room),
      this.#participantsKey(room),
      this.#producersKey(room),
      nodeId,
    );
  }

  async addParticipant(room: string, participant: ParticipantRecord): Promise<void> {
    await this.#redis.eval(
      HSET_IF_ROOM_SCRIPT,
      2,
      this.#hostKey(room),
      this.#participantsKey(room),
      participant.peerId,
      JSON.stringify(participant),
    );
  }

  async removeParticipant(room: string, peerId: string): Promise<void> {
    await this.#redis.eval(
      REMOVE_PARTICIPANT_SCRIPT,
      2,
      this.#participantsKey(room),
      this.#producersKey(room),
      peerId,
    );
  }

  async listParticipants(room: string): Promise<ParticipantRecord[]> {
    const all = await this.#redis.hvals(this.#participantsKey(room));
    return all.map((v) => JSON.parse(v) as ParticipantRecord);
  }

  async addProducer(room: string, producer: ProducerRecord): Promise<void> {
    await this.#redis.eval(
      HSET_IF_ROOM_SCRIPT,
      2,
      this.#hostKey(room),
      this.#producersKey(room),
      producer.producerId,
      JSON.stringify(producer),
    );
  }

  async removeProducer(room: string, producerId: string): Promise<void> {
    await this.#redis.hdel(this.#producersKey(room), producerId);
  }

  async listProducers(room: string): Promise<ProducerRecord[]> {
    const all = await this.#redis.hvals(this.#producersKey(room));
    return all.map((v) => JSON.parse(v) as ProducerRecord);
  }

  async enterRoom(
    room: string,
    userId: string,
    opts: { admit: boolean; ttlSeconds: number },
  ): Promise<RoomEntry> {
    return (await this.#redis.eval(
      ENTER_ROOM_SCRIPT,
      1,
      this.#keys.roomMembers(room),
      userId,
      opts.admit ? '1' : '0',
      opts.ttlSeconds,
    )) as RoomEntry;
  }

  async addRoomMembers(room: string, userIds: readonly string[], ttlSeconds: number): Promise<void> {
    if (userIds.length === 0) return;
    const key = this.#keys.roomMembers(room);
    await this.#redis
      .multi()
      .sadd(key, ...userIds)
      .expire(key, ttlSeconds)
      .exec();
  }

  async isRoomMember(room: string, userId: string): Promise<boolean> {
    return (await this.#redis.sismember(this.#keys.roomMembers(room), userId)) === 1;
  }

  async heartbeat(node: NodeRecord, hostedRooms: readonly HostedRoomRecord[]): Promise<void> {
    const pipeline = this.#redis.pipeline();
    pipeline.eval(NODE_HEARTBEAT_SCRIPT, 1, this.#nodesKey(), node.nodeId, this.#ttl, JSON.stringify(node));
    for (const r of hostedRooms) {
      pipeline.eval(
        ASSERT_ROOM_SCRIPT,
        3,
        this.#hostKey(r.room),
        this.#participantsKey(r.room),
        this.#producersKey(r.room),
        node.nodeId,
        this.#ttl,
        JSON.stringify(r.host),
        r.participants.length,
        ...r.participants.flatMap((p) => [p.peerId, JSON.stringify(p)]),
        ...r.producers.flatMap((p) => [p.producerId, JSON.stringify(p)]),
      );
    }
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }

  async isNodeAlive(nodeId: string): Promise<boolean> {
    return (await this.#redis.eval(IS_ALIVE_SCRIPT, 1, this.#nodesKey(), nodeId)) === 1;
  }

  async listNodes(): Promise<NodeRecord[]> {
    const live = (await this.#redis.eval(LIST_NODES_SCRIPT, 1, this.#nodesKey())) as string[];
    return live.map((raw) => (JSON.parse(raw) as { node: NodeRecord }).node);
  }

  async removeNode(nodeId: string): Promise<void> {
    await this.#redis.hdel(this.#nodesKey(), nodeId);
  }

  async ping(): Promise<void> {
    await this.#redis.ping();
  }

  async close(): Promise<void> {
    // The connection is closed by the registry that opened it.
  }
}
