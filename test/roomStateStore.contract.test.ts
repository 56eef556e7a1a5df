/** One contract, two implementations: the embedded store and Redis must behave the same. */
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { MemoryRoomStateStore } from '../state/memoryRoomStateStore.js';
import { RedisRoomStateStore } from '../state/redisRoomStateStore.js';
import type { RoomStateStore } from '../state/roomStateStore.js';
import { until } from './support/poll.js';
import { TestRedis } from './support/redisConnections.js';
import { clusterForThisFile } from './support/clusterProcess.js';

const redis = new TestRedis(inject('redisUrl'));
afterAll(() => redis.close());
/** The same store against a real 3-primary Redis Cluster: every multi-key script must stay in one slot. */
const cluster = await clusterForThisFile();

const makers: Record<string, (ttlSeconds: number) => RoomStateStore> = {
  memory: (ttlSeconds) => new MemoryRoomStateStore({ ttlSeconds }),
  redis: (ttlSeconds) => new RedisRoomStateStore({ ...redis.open('contract'), ttlSeconds }),
  'redis cluster': (ttlSeconds) => new RedisRoomStateStore({ ...cluster.open('contract'), ttlSeconds }),
};

const node = (nodeId: string) => ({ nodeId, address: `http://${nodeId}`, startedAt: Date.now() });
const host = (nodeId: string) => ({ nodeId, workerPid: 1, routerId: `r-${nodeId}`, createdAt: Date.now() });
const hosted = (
  room: string,
  nodeId: string,
  peerIds: string[],
  producers: { producerId: string; peerId: string; kind: 'audio' | 'video' }[] = [],
) => ({ room, host: host(nodeId), participants: peerIds.map((id) => participant(id, nodeId)), producers });
const participant = (peerId: string, nodeId = 'n1') => ({
  peerId,
  userId: `u-${peerId}`,
  displayName: `Name ${peerId} ✓`,
  nodeId,
  joinedAt: 1,
});

describe.each(Object.keys(makers))('RoomStateStore contract: %s', (kind) => {
  const stores: RoomStateStore[] = [];
  const make = (ttl = 30): RoomStateStore => {
    const s = makers[kind]!(ttl);
    stores.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  it('reports its kind and answers ping', async () => {
    const s = make();
    expect(s.kind).toBe(kind.split(' ')[0]);
    await expect(s.ping()).resolves.toBeUndefined();
  });

  it('keeps the first live host of a room', async () => {
    const s = make();
    await s.heartbeat(node('n1'), []);
    await s.heartbeat(node('n2'), []);
    expect((await s.claimRoomHost('room', host('n1'))).nodeId).toBe('n1');
    expect((await s.claimRoomHost('room', host('n2'))).nodeId).toBe('n1');
    expect((await s.getRoomHost('room'))?.routerId).toBe('r-n1');
  });

  it('lets another node take over a room whose host is dead, dropping stale participants', async () => {
    const s = make();
    await s.heartbeat(node('n2'), []);
    // n1 never heartbeated: it is not alive.
    await s.claimRoomHost('room', host('n1'));
    await s.addParticipant('room', participant('p1'));
    const taken = await s.claimRoomHost('room', host('n2'));
    expect(taken.nodeId).toBe('n2');
    expect(await s.listParticipants('room')).toEqual([]);
  });

  it('tracks participants and their producers; removing a participant removes its producers', async () => {
    const s = make();
    await s.heartbeat(node('n1'), []);
    await s.claimRoomHost('room', host('n1'));
    await s.addParticipant('room', participant('p1'));
    await s.addParticipant('room', participant('p2'));
    await s.addProducer('room', { producerId: 'a1', peerId: 'p1', kind: 'audio' });
    await s.addProducer('room', { producerId: 'v1', peerId: 'p1', kind: 'video' });
    await s.addProducer('room', { producerId: 'a2', peerId: 'p2', kind: 'audio' });
    expect((await s.listParticipants('room')).map((p) => p.peerId).sort()).toEqual(['p1', 'p2']);
    expect((await s.listParticipants('room')).find((p) => p.peerId === 'p1')?.displayName).toBe('Name p1 ✓');

    await s.removeProducer('room', 'v1');
    expect((await s.listProducers('room')).map((p) => p.producerId).sort()).toEqual(['a1', 'a2']);

    await s.removeParticipant('room', 'p1');
    expect((await s.listParticipants('room')).map((p) => p.peerId)).toEqual(['p2']);
    expect((await s.listProducers('room')).map((p) => p.producerId)).toEqual(['a2']);
  });

  it('ignores writes to a room that has no host (no immortal keys)', async () => {
    const s = make();
    await s.addParticipant('ghost', participant('p1'));
    await s.addProducer('ghost', { producerId: 'x', peerId: 'p1', kind: 'audio' });
    expect(await s.listParticipants('ghost')).toEqual([]);
    expect(await s.listProducers('ghost')).toEqual([]);
  });

  it('releases a room only for its host', async () => {
    const s = make();
    await s.heartbeat(node('n1'), []);
    await s.claimRoomHost('room', host('n1'));
    await s.addParticipant('room', participant('p1'));
    await s.releaseRoomHost('room', 'n2');
    expect(await s.getRoomHost('room')).not.toBeNull();
    await s.releaseRoomHost('room', 'n1');
    expect(await s.getRoomHost('room')).toBeNull();
    expect(await s.listParticipants('room')).toEqual([]);
  });

  it('lists live nodes and forgets removed ones', async () => {
    const s = make();
    await s.heartbeat(node('n1'), []);
    await s.heartbeat(node('n2'), []);
    expect((await s.listNodes()).map((n) => n.nodeId).sort()).toEqual(['n1', 'n2']);
    await s.removeNode('n1');
    expect(await s.isNodeAlive('n1')).toBe(false);
    expect(await s.isNodeAlive('n2')).toBe(true);
  });

  it("expires a crashed node's rooms and liveness when heartbeats stop", async () => {
    const s = make(2);
    await s.heartbeat(node('n1'), []);
    await s.claimRoomHost('room', host('n1'));
    await s.addParticipant('room', participant('p1'));
    await s.heartbeat(node('n1'), [hosted('room', 'n1', ['p1'])]);
    // No more heartbeats: everything must vanish within the 2 s TTL (polled, bounded at 8 s).
    await until(
      async () => (await s.getRoomHost('room')) === null && (await s.listParticipants('room')).length === 0,
      { timeoutMs: 8000, what: "the crashed node's room to expire", intervalMs: 100 },
    );
    expect(await s.isNodeAlive('n1')).toBe(false);
  });

  it('heartbeats keep a live room alive past its TTL', async () => {
    const s = make(2);
    await s.heartbeat(node('n1'), []);
    await s.claimRoomHost('room', host('n1'));
    await s.addParticipant('room', participant('p1'));
    const started = Date.now();
    while (Date.now() - started < 3500) {
      await s.heartbeat(node('n1'), [hosted('room', 'n1', ['p1'])]);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect((await s.getRoomHost('room'))?.nodeId).toBe('n1');
    expect((await s.listParticipants('room')).map((p) => p.peerId)).toEqual(['p1']);
  });

  it("a heartbeat re-asserts the host's full record: lost entries come back, stale ones go", async () => {
    const s = make();
    await s.heartbeat(node('n1'), []);
    await s.claimRoomHost('room', host('n1'));
    await s.addParticipant('room', participant('p1'));
    await s.addParticipant('room', participant('ghost'));
    await s.addProducer('room', { producerId: 'g1', peerId: 'ghost', kind: 'audio' });
    // The node holds p1 (publishing a1) and p2; the store holds a ghost and lacks p2 and a1.
    await s.heartbeat(node('n1'), [
      hosted('room', 'n1', ['p1', 'p2'], [{ producerId: 'a1', peerId: 'p1', kind: 'audio' }]),
    ]);
    expect((await s.listParticipants('room')).map((p) => p.peerId).sort()).toEqual(['p1', 'p2']);
    expect(await s.listProducers('room')).toEqual([{ producerId: 'a1', peerId: 'p1', kind: 'audio' }]);
    expect((await s.getRoomHost('room'))?.nodeId).toBe('n1');
  });

  it('a heartbeat rewrites a room whose keys were lost entirely', async () => {
    const s = make();
    await s.heartbeat(node('n1'), []);
    // Never claimed here (as after a flush): the heartbeat alone brings host and members back.
    await s.heartbeat(node('n1'), [hosted('lost', 'n1', ['p1'])]);
    expect((await s.getRoomHost('lost'))?.routerId).toBe('r-n1');
    expect((await s.listParticipants('lost')).map((p) => p.peerId)).toEqual(['p1']);
  });

  it('a heartbeat leaves alone a room another live node hosts now', async () => {
    const s = make();
    await s.heartbeat(node('n2'), []);
    await s.claimRoomHost('room', host('n2'));
    await s.addParticipant('room', participant('q1', 'n2'));
    await s.heartbeat(node('n1'), [hosted('room', 'n1', ['p1'])]);
    expect((await s.getRoomHost('room'))?.nodeId).toBe('n2');
    expect((await s.listParticipants('room')).map((p) => p.peerId)).toEqual(['q1']);
  });

  it('lists nodes from one entry each, and not those whose heartbeat expired', async () => {
    const s = make(2);
    await s.heartbeat(node('n1'), []);
    await s.heartbeat(node('n2'), []);
    expect((await s.listNodes()).map((n) => n.address).sort()).toEqual(['http://n1', 'http://n2']);
    const started = Date.now();
    // Only n2 keeps beating; n1 must drop out of the list within its 2 s TTL.
    await until(
      async () => {
        await s.heartbeat(node('n2'), []);
        return (await s.listNodes()).map((n) => n.nodeId).join() === 'n2';
      },
      { timeoutMs: 8000, what: 'n1 to expire from the node list', intervalMs: 200 },
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(await s.isNodeAlive('n1')).toBe(false);
    expect(await s.isNodeAlive('n2')).toBe(true);
  });
  it('creates a room for its first user, keeps members, admits invitees and refuses strangers', async () => {
    const s = make();
    const ttl = { ttlSeconds: 60 };
    expect(await s.enterRoom('club', 'alice', { admit: false, ...ttl })).toBe('created');
    expect(await s.enterRoom('club', 'alice', { admit: false, ...ttl })).toBe('member');
    expect(await s.enterRoom('club', 'mallory', { admit: false, ...ttl })).toBe('refused');
    expect(await s.isRoomMember('club', 'mallory')).toBe(false);
    expect(await s.enterRoom('club', 'bob', { admit: true, ...ttl })).toBe('admitted');
    expect(await s.enterRoom('club', 'bob', { admit: false, ...ttl })).toBe('member');
    await s.addRoomMembers('club', ['carol', 'dave'], 60);
    expect(await s.isRoomMember('club', 'carol')).toBe(true);
    expect(await s.enterRoom('club', 'dave', { admit: false, ...ttl })).toBe('member');
    // Membership is not presence: it survives the room's host being released.
    await s.heartbeat(node('n1'), []);
    await s.claimRoomHost('club', host('n1'));
    await s.releaseRoomHost('club', 'n1');
    expect(await s.isRoomMember('club', 'alice')).toBe(true);
    // Another room's members are its own.
    expect(await s.enterRoom('other', 'bob', { admit: false, ...ttl })).toBe('created');
    expect(await s.isRoomMember('other', 'alice')).toBe(false);
  });

  it('forgets a members list once it is not used for its TTL, and refreshes it on use', async () => {
    const s = make();
    expect(await s.enterRoom('brief', 'alice', { admit: false, ttlSeconds: 1 })).toBe('created');
    expect(await s.enterRoom('kept', 'alice', { admit: false, ttlSeconds: 2 })).toBe('created');
    const started = Date.now();
    await until(
      async () => {
        // 'kept' is used all along with a fresh 2 s TTL; 'brief' is left alone.
        expect(await s.enterRoom('kept', 'alice', { admit: false, ttlSeconds: 2 })).toBe('member');
        return !(await s.isRoomMember('brief', 'alice'));
      },
      { timeoutMs: 6000, what: 'the unused members list to expire', intervalMs: 200 },
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(await s.enterRoom('brief', 'mallory', { admit: false, ttlSeconds: 60 })).toBe('created');
    expect(await s.enterRoom('kept', 'mallory', { admit: false, ttlSeconds: 60 })).toBe('refused');
  });
});
