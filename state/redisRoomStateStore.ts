/**
 * Room state in Redis, shared by every node of a deployment.
 *
 * Keys are listed in state/redisKeys.ts; the connection comes from state/redisConnections.ts.
 * The hosting node rewrites the three room keys on every heartbeat; if it dies they expire.
 * Nodes live in one hash (listed with one HGETALL, not a SCAN); a field counts as alive until
 * its expiresAt (last beat + NODE_DEAD_AFTER_MS), read against Redis's own clock so nodes' clocks
 * need not agree. Each node also keeps an index of the rooms it claimed, so a dead node's rooms are
 * purged as soon as any node notices it is dead (reapDeadNodes), not one state TTL later.
 */
import type { RedisClient } from './redisConnections.js';
import type { RedisKeys } from './redisKeys.js';
import type {
  HostedRoomRecord,
  NodeLiveness,
  NodeRecord,
  ParticipantRecord,
  ProducerRecord,
  RoomEntry,
  RoomHostRecord,
  RoomStateStore,
} from './roomStateStore.js';

// Milliseconds on Redis's clock, and whether a node's entry in the nodes hash is still alive (for
// `incarnation` when given: any other incarnation of the node is a dead process).
const NODE_ALIVE_LUA = `
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function entry(nodesKey, nodeId)
  local raw = redis.call('HGET', nodesKey, nodeId)
  if not raw then return nil end
  return cjson.decode(raw)
end
local function alive(nodesKey, nodeId, incarnation)
  local e = entry(nodesKey, nodeId)
  if not e or e.expiresAt <= nowMs() then return false end
  return incarnation == nil or e.node.incarnation == nil or e.node.incarnation == incarnation
end`;

// Atomic claim: keep a host whose incarnation is alive, otherwise take over and drop its stale
// participants and producers. The room is added to the new host's rooms index (KEYS[5]).
const CLAIM_SCRIPT = `${NODE_ALIVE_LUA}
local cur = redis.call('GET', KEYS[1])
if cur then
  local host = cjson.decode(cur)
  if alive(KEYS[4], host.nodeId, host.incarnation) then return cur end
  redis.call('DEL', KEYS[2], KEYS[3])
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SADD', KEYS[5], ARGV[3])
redis.call('EXPIRE', KEYS[5], ARGV[2])
return ARGV[1]`;

const IS_ALIVE_SCRIPT = `${NODE_ALIVE_LUA}
if alive(KEYS[1], ARGV[1], nil) then return 1 end
return 0`;

// {beatAgeMs, deadInMs} of a live incarnation, or nil.
const LIVENESS_SCRIPT = `${NODE_ALIVE_LUA}
local e = entry(KEYS[1], ARGV[1])
local now = nowMs()
if not e or e.expiresAt <= now or (e.node.incarnation ~= nil and e.node.incarnation ~= ARGV[2]) then
  return nil
end
return {now - (e.beatAt or now), e.expiresAt - now}`;

// Marks the node alive until now + deadAfterMs (Redis clock); the record is spliced in as it was
// sent. Returns the incarnation this entry held before when it was another one (else '').
const NODE_HEARTBEAT_SCRIPT = `${NODE_ALIVE_LUA}
local prev = entry(KEYS[1], ARGV[1])
local now = nowMs()
local expiresAt = now + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1],
  '{"expiresAt":' .. expiresAt .. ',"beatAt":' .. now .. ',"node":' .. ARGV[3] .. '}')
if prev and prev.node.incarnation ~= nil and prev.node.incarnation ~= ARGV[4] then
  return prev.node.incarnation
end
return ''`;

// Live nodes' records (dead ones stay until reapDeadNodes purges their rooms).
const LIST_NODES_SCRIPT = `${NODE_ALIVE_LUA}
local now = nowMs()
local all = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #all, 2 do
  if cjson.decode(all[i + 1]).expiresAt > now then live[#live + 1] = all[i + 1] end
end
return live`;

// Node ids and incarnations of the dead entries: {id1, inc1, id2, inc2, ...}.
const DEAD_NODES_SCRIPT = `${NODE_ALIVE_LUA}
local now = nowMs()
local all = redis.call('HGETALL', KEYS[1])
local dead = {}
for i = 1, #all, 2 do
  local e = cjson.decode(all[i + 1])
  if e.expiresAt <= now then
    dead[#dead + 1] = all[i]
    dead[#dead + 1] = e.node.incarnation or ''
  end
end
return dead`;

// Deletes a room's keys if it is still hosted by that node: by one incarnation (ARGV[2]), or by
// any but one (ARGV[3] = '1': ARGV[2] is the incarnation to keep).
const PURGE_ROOM_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local host = cjson.decode(cur)
if host.nodeId ~= ARGV[1] then return 0 end
local inc = host.incarnation or ''
if (ARGV[3] == '1' and inc == ARGV[2]) or (ARGV[3] ~= '1' and inc ~= ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return 1`;

// Forgets a dead node (entry and rooms index) unless it came back meanwhile.
const FORGET_NODE_SCRIPT = `${NODE_ALIVE_LUA}
local e = entry(KEYS[1], ARGV[1])
if e and e.expiresAt > nowMs() then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1`;

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
  redis.call('SREM', KEYS[4], ARGV[2])
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
  /** A node silent this long is dead (NODE_DEAD_AFTER_MS); default: the TTL. */
  nodeDeadAfterMs?: number;
}

export class RedisRoomStateStore implements RoomStateStore {
  readonly kind = 'redis' as const;
  readonly #redis: RedisClient;
  readonly #ttl: number;
  readonly #keys: RedisKeys;
  readonly #deadAfterMs: number;

  constructor(opts: RedisRoomStateStoreOptions) {
    this.#ttl = opts.ttlSeconds;
    this.#deadAfterMs = opts.nodeDeadAfterMs ?? opts.ttlSeconds * 1000;
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
      5,
      this.#hostKey(room),
      this.#participantsKey(room),
      this.#producersKey(room),
      this.#nodesKey(),
      this.#keys.nodeRooms(host.nodeId),
      JSON.stringify(host),
      this.#ttl,
      room,
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
      4,
      this.#hostKey(room),
      this.#participantsKey(room),
      this.#producersKey(room),
      this.#keys.nodeRooms(nodeId),
      nodeId,
      room,
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

  async heartbeat(
    node: NodeRecord,
    hostedRooms: readonly HostedRoomRecord[],
  ): Promise<{ replaced: string | null }> {
    const previous = (await this.#redis.eval(
      NODE_HEARTBEAT_SCRIPT,
      1,
      this.#nodesKey(),
      node.nodeId,
      this.#deadAfterMs,
      JSON.stringify(node),
      node.incarnation,
    )) as string;
    // A previous incarnation of this node id is a dead process: purge its rooms now.
    if (previous !== '') await this.#purgeRoomsOf(node.nodeId, node.incarnation, 'keep');
    const pipeline = this.#redis.pipeline();
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
    const index = this.#keys.nodeRooms(node.nodeId);
    if (hostedRooms.length > 0) pipeline.sadd(index, ...hostedRooms.map((r) => r.room));
    pipeline.expire(index, this.#ttl);
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
    return { replaced: previous === '' ? null : previous };
  }

  /** Deletes the rooms in the node's index hosted by `incarnation` ('only') or by any other ('keep'). */
  async #purgeRoomsOf(nodeId: string, incarnation: string, mode: 'only' | 'keep'): Promise<void> {
    const rooms = await this.#redis.smembers(this.#keys.nodeRooms(nodeId));
    if (rooms.length === 0) return;
    const pipeline = this.#redis.pipeline();
    for (const room of rooms) {
      pipeline.eval(
        PURGE_ROOM_SCRIPT,
        3,
        this.#hostKey(room),
        this.#participantsKey(room),
        this.#producersKey(room),
        nodeId,
        incarnation,
        mode === 'keep' ? '1' : '0',
      );
    }
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }

  async isNodeAlive(nodeId: string): Promise<boolean> {
    return (await this.#redis.eval(IS_ALIVE_SCRIPT, 1, this.#nodesKey(), nodeId)) === 1;
  }

  async nodeLiveness(nodeId: string, incarnation: string): Promise<NodeLiveness | null> {
    const r = (await this.#redis.eval(LIVENESS_SCRIPT, 1, this.#nodesKey(), nodeId, incarnation)) as
      [number, number] | null;
    return r ? { beatAgeMs: r[0], deadInMs: r[1] } : null;
  }

  async listNodes(): Promise<NodeRecord[]> {
    const live = (await this.#redis.eval(LIST_NODES_SCRIPT, 1, this.#nodesKey())) as string[];
    return live.map((raw) => (JSON.parse(raw) as { node: NodeRecord }).node);
  }

  async reapDeadNodes(): Promise<string[]> {
    const dead = (await this.#redis.eval(DEAD_NODES_SCRIPT, 1, this.#nodesKey())) as string[];
    const reaped: string[] = [];
    for (let i = 0; i + 1 < dead.length; i += 2) {
      const nodeId = dead[i]!;
      await this.#purgeRoomsOf(nodeId, dead[i + 1]!, 'only');
      const forgot = await this.#redis.eval(
        FORGET_NODE_SCRIPT,
        2,
        this.#nodesKey(),
        this.#keys.nodeRooms(nodeId),
        nodeId,
      );
      if (forgot === 1) reaped.push(nodeId);
    }
    return reaped;
  }

  async removeNode(nodeId: string): Promise<void> {
    await this.#redis.hdel(this.#nodesKey(), nodeId);
    await this.#redis.del(this.#keys.nodeRooms(nodeId));
  }

  async ping(): Promise<void> {
    await this.#redis.ping();
  }

  async close(): Promise<void> {
    // The connection is closed by the registry that opened it.
  }
}
