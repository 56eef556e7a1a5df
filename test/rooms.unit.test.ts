/**
 * Peer, Room and RoomService on a real mediasoup worker and the embedded (memory) state store:
 * write order (announce only what is stored), retried leaves, heartbeats that rewrite lost
 * entries, fan-out of producer events, and media made while its owner leaves never surviving.
 * The store's outages are injected into the real memory store, never mocked away.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RoomInvites } from '../auth/roomInvites.js';
import { ErrorCode, ServiceError } from '../protocol/errors.js';
import type { NotificationName, RequestData } from '../protocol/signaling.js';
import type { Notify, Peer } from '../rooms/peer.js';
import { RoomService } from '../rooms/roomService.js';
import { MediaRoom } from '../sfu/mediaRoom.js';
import { WorkerPool } from '../sfu/workerPool.js';
import { loadConfig } from '../server/config.js';
import { createLogger } from '../lib/logger.js';
import { MemoryRoomStateStore } from '../state/memoryRoomStateStore.js';
import type { ParticipantRecord } from '../state/roomStateStore.js';
import { fakeAudioRtpParameters } from './support/fixtures.js';
import { until } from './support/poll.js';

/** The memory store with a switch that makes membership writes fail, as Redis does when it is down. */
class FlakyStore extends MemoryRoomStateStore {
  down = false;
  override async addParticipant(room: string, p: ParticipantRecord): Promise<void> {
    if (this.down) throw new Error('connect ECONNREFUSED (injected)');
    return super.addParticipant(room, p);
  }
  override async removeParticipant(room: string, peerId: string): Promise<void> {
    if (this.down) throw new Error('connect ECONNREFUSED (injected)');
    return super.removeParticipant(room, peerId);
  }
}

const log = createLogger('silent');
/** Every test user joins with an invite, as the room mechanics here are not about who may join. */
const invites = new RoomInvites({ key: Buffer.alloc(32, 5) });
const audio = fakeAudioRtpParameters as unknown as RequestData<'produce'>['rtpParameters'];

describe('rooms on a real mediasoup worker', () => {
  let workers: WorkerPool;
  const services: RoomService[] = [];

  beforeAll(async () => {
    const { mediasoup } = loadConfig({ ...process.env, NODE_ENV: 'test' });
    workers = await WorkerPool.create(
      { ...mediasoup, numWorkers: 1, listenIp: '127.0.0.1', announcedAddress: '127.0.0.1', portBase: 0 },
      log,
    );
  }, 30_000);
  afterAll(() => workers?.close());
  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.close()));
  });

  const start = async (store = new FlakyStore({ ttlSeconds: 30 }), heartbeatIntervalMs = 60_000) => {
    const rooms = await RoomService.create({
      node: { nodeId: 'n1', incarnation: 'boot-1', address: 'http://n1', startedAt: Date.now() },
      store,
      workers,
      log,
      heartbeatIntervalMs,
      invites,
      inviteTtlSeconds: 3600,
      membershipTtlSeconds: 3600,
    });
    services.push(rooms);
    return { rooms, store };
  };
  /** A listener that records every notification a peer is sent. */
  const inbox = (): {
    notify: Notify;
    names: () => NotificationName[];
    all: { name: string; data: unknown }[];
  } => {
    const all: { name: NotificationName; data: unknown }[] = [];
    return {
      notify: (name, data) => void all.push({ name, data }),
      names: () => all.map((n) => n.name),
      all,
    };
  };
  const join = async (rooms: RoomService, name: string, who: string, box = inbox()): Promise<Peer> =>
    (
      await rooms.join(name, { userId: `u-${who}`, displayName: who }, box.notify, {
        kind: 'member',
        invite: invites.create(name, 60).token,
      })
    ).peer;
  const routerIds = async (): Promise<string[]> => (await workers.workers[0]!.worker.dump()).routerIds;

  it('announces a peer only after its membership is stored; a refused write keeps nothing', async () => {
    const { rooms, store } = await start();
    const aliceBox = inbox();
    const alice = await join(rooms, 'r', 'Alice', aliceBox);
    store.down = true;
    const refused = await join(rooms, 'r', 'Bob').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ServiceError);
    expect(refused).toMatchObject({ code: ErrorCode.Unavailable, status: 503 });
    expect((refused as ServiceError).details?.retryAfterMs).toMatch(/^\d+$/);
    expect(aliceBox.names()).not.toContain('peerJoined');
    expect(rooms.snapshot('r')).toMatchObject({ joining: 0, peers: [{ peerId: alice.peerId }] });
    expect((await store.listParticipants('r')).map((p) => p.peerId)).toEqual([alice.peerId]);

    // The first join of a room failing closes the room it created: no router is left over.
    const before = await routerIds();
    await expect(join(rooms, 'fresh', 'Carol')).rejects.toMatchObject({ code: ErrorCode.Unavailable });
    expect(rooms.snapshot('fresh')).toBeUndefined();
    expect(await routerIds()).toEqual(before);
  });

  it('a leave the store refused is retried until it lands', async () => {
    const { rooms, store } = await start();
    const aliceBox = inbox();
    const alice = await join(rooms, 'r', 'Alice', aliceBox);
    const bob = await join(rooms, 'r', 'Bob');
    store.down = true;
    bob.close();
    // In memory and for the others, Bob is gone at once; the store still lists him.
    expect(aliceBox.all.at(-1)).toEqual({ name: 'peerLeft', data: { peerId: bob.peerId } });
    expect(rooms.snapshot('r')?.peers.map((p) => p.peerId)).toEqual([alice.peerId]);
    expect(rooms.pendingWrites).toBe(1);
    expect((await store.listParticipants('r')).map((p) => p.peerId).sort()).toEqual(
      [alice.peerId, bob.peerId].sort(),
    );
    store.down = false;
    await until(() => rooms.pendingWrites === 0, { timeoutMs: 5000, what: 'the retried leave to land' });
    expect((await store.listParticipants('r')).map((p) => p.peerId)).toEqual([alice.peerId]);
  });

  it('the heartbeat rewrites a hosted room the store lost', async () => {
    const { rooms, store } = await start(new FlakyStore({ ttlSeconds: 30 }), 200);
    const alice = await join(rooms, 'r', 'Alice');
    await store.releaseRoomHost('r', 'n1'); // as if the keys were flushed
    expect(await store.getRoomHost('r')).toBeNull();
    await until(async () => (await store.getRoomHost('r')) !== null, {
      timeoutMs: 1000,
      what: 'the heartbeat to rewrite the room',
    });
    expect((await store.listParticipants('r')).map((p) => p.peerId)).toEqual([alice.peerId]);
    expect((await store.getRoomHost('r'))?.routerId).toBe(rooms.snapshot('r')?.routerId);
  });

  it('fans producer events out to the others and stores them from the events', async () => {
    const { rooms, store } = await start();
    const alice = await join(rooms, 'r', 'Alice');
    const bobBox = inbox();
    await join(rooms, 'r', 'Bob', bobBox);
    const send = await alice.createTransport({ direction: 'send' });
    const { producerId } = await alice.produce({ transportId: send.id, kind: 'audio', rtpParameters: audio });
    expect(bobBox.all.at(-1)).toEqual({
      name: 'newProducer',
      data: { peerId: alice.peerId, producer: { producerId, kind: 'audio', paused: false } },
    });
    await until(async () => (await store.listProducers('r')).length === 1, { what: 'the producer stored' });
    await alice.pauseProducer({ producerId });
    expect(bobBox.all.at(-1)).toEqual({ name: 'producerPaused', data: { peerId: alice.peerId, producerId } });
    await alice.closeProducer({ producerId });
    expect(bobBox.all.at(-1)).toEqual({ name: 'producerClosed', data: { peerId: alice.peerId, producerId } });
    await until(async () => (await store.listProducers('r')).length === 0, { what: 'the producer removed' });
    await expect(alice.pauseProducer({ producerId })).rejects.toMatchObject({
      code: ErrorCode.ProducerNotFound,
    });
  });

  it('a producer created while its owner leaves is closed and never announced', async () => {
    const { rooms, store } = await start();
    const aliceBox = inbox();
    await join(rooms, 'r', 'Alice', aliceBox);
    const bob = await join(rooms, 'r', 'Bob');
    const send = await bob.createTransport({ direction: 'send' });
    const producing = bob.produce({ transportId: send.id, kind: 'audio', rtpParameters: audio });
    bob.close();
    await expect(producing).rejects.toBeInstanceOf(Error);
    expect(aliceBox.names()).not.toContain('newProducer');
    expect(rooms.snapshot('r')?.peers.flatMap((p) => p.producers)).toEqual([]);
    expect(await store.listProducers('r')).toEqual([]);
  });

  it('sfu: an endpoint closed during produce closes the new producer (the room never indexes it)', async () => {
    const media = await MediaRoom.create(workers.pick(), { transportsPerPeer: 8, producersPerPeer: 8 });
    try {
      const endpoint = media.createEndpoint('e1');
      const transport = await endpoint.createTransport('send');
      const producing = endpoint.produce(
        transport.id,
        'audio',
        fakeAudioRtpParameters as unknown as Parameters<typeof endpoint.produce>[2],
      );
      endpoint.close();
      await expect(producing).rejects.toMatchObject({ code: ErrorCode.NotInRoom });
      expect(media.producerCount).toBe(0);
      expect(endpoint.producerCount).toBe(0);
    } finally {
      media.close();
    }
  });

  it('a room closes with its last peer and frees its router; listeners do not pile up', async () => {
    const { rooms } = await start();
    const host = await join(rooms, 'r', 'Host');
    const routerId = rooms.snapshot('r')!.routerId;
    for (let i = 0; i < 20; i++) (await join(rooms, 'r', `Guest${i}`)).close();
    const room = rooms.room('r')!;
    for (const event of room.eventNames())
      expect(room.listenerCount(event), String(event)).toBeLessThanOrEqual(2);
    host.close();
    expect(rooms.snapshot('r')).toBeUndefined();
    expect(await routerIds()).not.toContain(routerId);
  });
});
