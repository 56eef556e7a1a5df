/**
 * Room state in Redis, shared by every node of a deployment.
 *
 * Keys are listed in state/redisKeys.ts; the connection comes from state/redisConnections.ts.
 * The hosting node refreshes the three room keys on every heartbeat; if it dies they expire.
 */
import type { Redis } from 'ioredis';
import type { RedisKeys } from './redisKeys.js';
import type {
  NodeRecord,
  ParticipantRecord,
  ProducerRecord,
  RoomHostRecord,
  RoomStateStore,
} from './roomStateStore.js';

// Atomic claim: keep a host whose node is alive, otherwise take over and drop its stale members.
const CLAIM_SCRIPT = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local host = cjson.decode(cur)
  if redis.call('EXISTS', ARGV[3] .. host.nodeId) == 1 then return cur end
  redis.call('DEL', KEYS[2], KEYS[3])
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return ARGV[1]`;

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

export interface RedisRoomStateStoreOptions {
  /** Belongs to the caller (a RedisConnections registry), which closes it. */
  redis: Redis;
  keys: RedisKeys;
  ttlSeconds: number;
}

export class RedisRoomStateStore implements RoomStateStore {
  readonly kind = 'redis' as const;
  readonly #redis: Redis;
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
  #nodeKey(nodeId: string): string {
    return this.#keys.node(nodeId);
  }

  async claimRoomHost(room: string, host: RoomHostRecord): Promise<RoomHostRecord> {
    const result = (await this.#redis.eval(
      CLAIM_SCRIPT,
      3,
      this.#hostKey(room),
      this.#participantsKey(room),
      this.#producersKey(room),
      JSON.stringify(host),
      this.#ttl,
      this.#keys.nodePrefix,
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

  async heartbeat(node: NodeRecord, hostedRooms: readonly string[]): Promise<void> {
    const pipeline = this.#redis.pipeline();
    pipeline.set(this.#nodeKey(node.nodeId), JSON.stringify(node), 'EX', this.#ttl);
    for (const room of hostedRooms) {
      pipeline.expire(this.#hostKey(room), this.#ttl);
      pipeline.expire(this.#participantsKey(room), this.#ttl);
      pipeline.expire(this.#producersKey(room), this.#ttl);
    }
    const results = await pipeline.exec();
    const failed = results?.find(([err]) => err);
    if (failed?.[0]) throw failed[0];
  }

  async isNodeAlive(nodeId: string): Promise<boolean> {
    return (await this.#redis.exists(this.#nodeKey(nodeId))) === 1;
  }

  async listNodes(): Promise<NodeRecord[]> {
    const nodes: NodeRecord[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.#redis.scan(cursor, 'MATCH', `${this.#keys.nodePrefix}*`, 'COUNT', 200);
      cursor = next;
      if (keys.length > 0) {
        for (const raw of await this.#redis.mget(...keys)) if (raw) nodes.push(JSON.parse(raw) as NodeRecord);
      }
    } while (cursor !== '0');
    return nodes;
  }

  async removeNode(nodeId: string): Promise<void> {
    await this.#redis.del(this.#nodeKey(nodeId));
  }

  async ping(): Promise<void> {
    await this.#redis.ping();
  }

  async close(): Promise<void> {
    // The connection is closed by the registry that opened it.
  }
}
