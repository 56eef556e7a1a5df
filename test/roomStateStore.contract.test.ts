/** One contract, two implementations: the embedded store and Redis must behave the same. */
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { MemoryRoomStateStore } from '../state/memoryRoomStateStore.js';
import { RedisRoomStateStore } from '../state/redisRoomStateStore.js';
import type { RoomStateStore } from '../state/roomStateStore.js';
import { TestRedis } from './support/redisConnections.js';

const redis = new TestRedis(inject('redisUrl'));
afterAll(() => redis.close());

const makers: Record<string, (ttlSeconds: number) => RoomStateStore> = {
  memory: (ttlSeconds) => new MemoryRoomStateStore({ ttlSeconds }),
  redis: (ttlSeconds) => new RedisRoomStateStore({ ...redis.open('contract'), ttlSeconds }),
};

const node = (nodeId: string) => ({ nodeId, address: `http://${nodeId}`, startedAt: Date.now() });
const host = (nodeId: string) => ({ nodeId, workerPid: 1, routerId: `r-${nodeId}`, createdAt: Date.now() });
const participant = (peerId: string, nodeId = 'n1') => ({
  peerId,
  userId: `u-${peerId}`,
  displayName: `Name ${peerId} ✓`,
  nodeId,
  joinedAt: 1,
});

async function until(check: () => Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

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
    expect(s.kind).toBe(kind);
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
    await s.heartbeat(node('n1'), ['room']);
    // No more heartbeats: everything must vanish within the 2 s TTL (polled, bounded at 8 s).
    await until(
      async () => (await s.getRoomHost('room')) === null && (await s.listParticipants('room')).length === 0,
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
      await s.heartbeat(node('n1'), ['room']);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect((await s.getRoomHost('room'))?.nodeId).toBe('n1');
    expect((await s.listParticipants('room')).map((p) => p.peerId)).toEqual(['p1']);
  });
});
