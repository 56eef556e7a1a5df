/**
 * A room with real clients survives a Redis outage without ghosts: Redis (our own redis-server,
 * with AOF so its data survives the restart) is stopped for 3 s while clients are in a room.
 * Afterwards nobody is listed, in memory or in Redis, who is not connected; a join attempted
 * during the outage was answered UNAVAILABLE and left nothing behind; and room keys deleted from
 * Redis are written again by the host's next heartbeat.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { ErrorCode } from '../protocol/errors.js';
import { RawSignaling, errorCode, inviteOf } from './support/rawSignaling.js';
import { RedisProcess } from './support/redisProcess.js';
import { until } from './support/poll.js';
import { fakeAudioRtpParameters } from './support/fixtures.js';
import { startTestService } from './support/testService.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

// STATE_TTL_SECONDS=3 gives a heartbeat every max(500, 3000 / 3) = 1000 ms (server/callingService.ts).
const TTL_SECONDS = 3;
const HEARTBEAT_MS = 1000;

describe('a room through a 3 s Redis outage', () => {
  let redis: RedisProcess;
  let service: Service;
  let admin: Redis;
  const clients: RawSignaling[] = [];

  beforeAll(async () => {
    redis = await RedisProcess.start(['--appendonly', 'yes', '--appendfsync', 'always']);
    service = await startTestService('redis', {
      REDIS_URL: redis.url,
      STATE_TTL_SECONDS: String(TTL_SECONDS),
    });
    admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    admin.on('error', () => undefined); // it is expected to lose its connection during the outage
  }, 30_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    admin?.disconnect();
    await service?.close();
    await redis?.destroy();
  }, 30_000);

  const open = async (name: string): Promise<RawSignaling> => {
    const token = service.tokens.issue({ userId: `u-${name}`, displayName: name, dev: true }).token;
    const c = await RawSignaling.open(service.url, token);
    clients.push(c);
    return c;
  };
  const join = async (c: RawSignaling, room: string, invite?: string): Promise<string> => {
    const r = await c.request('join', { room, ...(invite ? { invite } : {}) });
    if (!r.ok) throw new Error(`join failed: ${JSON.stringify(r)}`);
    return (r.data as { peerId: string }).peerId;
  };
  const inMemory = (room: string): string[] =>
    (service.rooms.snapshot(room)?.peers.map((p) => p.peerId) ?? []).sort();
  const inRedis = async (room: string): Promise<string[]> =>
    (await service.store.listParticipants(room)).map((p) => p.peerId).sort();

  it('lists only connected peers afterwards, refuses joins as UNAVAILABLE, and heals deleted keys', async () => {
    const room = 'outage';
    const alice = await open('Alice');
    const bob = await open('Bob');
    const carol = await open('Carol');
    const dave = await open('Dave');
    const a = await join(alice, room);
    // Alice created the room; the others come in with her invite (Dave keeps his for later).
    const invite = await inviteOf(alice);
    const b = await join(bob, room, invite);
    const c = await join(carol, room, invite);
    const send = await alice.request('createTransport', { direction: 'send' });
    if (!send.ok) throw new Error('createTransport failed');
    const produced = await alice.request('produce', {
      transportId: (send.data as { id: string }).id,
      kind: 'audio',
      rtpParameters: fakeAudioRtpParameters,
    });
    if (!produced.ok) throw new Error('produce failed');
    const producerId = (produced.data as { producerId: string }).producerId;
    await until(async () => (await inRedis(room)).length === 3, { what: 'three members in Redis' });
    await until(async () => (await service.store.listProducers(room)).length === 1, {
      what: "alice's producer in Redis",
    });

    // Outage: Redis is down for 3 s.
    const stoppedAt = Date.now();
    await redis.stop();
    // Carol leaves while Redis is down: gone from memory at once, her store removal is retried.
    const carolLeft = alice.waitFor((f) => 'notification' in f && f.notification === 'peerLeft');
    carol.ws.terminate();
    expect(await carolLeft).toMatchObject({ data: { peerId: c } });
    // Dave tries to join: refused with a retryable UNAVAILABLE, nobody hears of him.
    const refused = await dave.request('join', { room, invite });
    expect(errorCode(refused)).toBe(ErrorCode.Unavailable);
    expect(!refused.ok && refused.error.details?.retryAfterMs).toBeTruthy();
    expect(inMemory(room)).toEqual([a, b].sort());
    expect(service.rooms.snapshot(room)?.joining).toBe(0);
    // A room that does not exist yet cannot be claimed either: refused too, no room left in memory.
    expect(errorCode(await dave.request('join', { room: 'outage-new' }))).toBe(ErrorCode.Unavailable);
    expect(service.rooms.snapshot('outage-new')).toBeUndefined();
    await until(() => Date.now() - stoppedAt >= 3000, {
      timeoutMs: 5000,
      what: 'the 3 s outage',
      intervalMs: 100,
    });
    await redis.restart();

    // Afterwards: memory and Redis both list exactly the connected peers (Alice, Bob).
    await until(async () => (await inRedis(room)).join() === [a, b].sort().join(), {
      timeoutMs: 10_000,
      what: 'Redis to list exactly the connected peers',
    });
    expect(inMemory(room)).toEqual([a, b].sort());
    expect((await service.store.listProducers(room)).map((p) => p.producerId)).toEqual([producerId]);
    await until(() => service.rooms.pendingWrites === 0, {
      timeoutMs: 10_000,
      what: 'retried writes to land',
    });
    const joinedNotices = [...alice.frames, ...bob.frames].filter(
      (f) => 'notification' in f && f.notification === 'peerJoined',
    );
    expect(joinedNotices.map((f) => (f as { data: { peerId: string } }).data.peerId).sort()).toEqual(
      [b, c, c].sort(), // Alice heard of Bob and Carol, Bob of Carol; nobody of Dave
    );
    expect(
      joinedNotices.every((f) => (f as { data: { displayName: string } }).data.displayName !== 'Dave'),
    ).toBe(true);

    // Dave's retry works now.
    const d = await join(dave, room, invite);
    await until(async () => (await inRedis(room)).includes(d), { what: "Dave's membership in Redis" });

    // Room keys lost from Redis are back within one heartbeat.
    const keys = [
      service.stores.keys.roomHost(room),
      service.stores.keys.roomParticipants(room),
      service.stores.keys.roomProducers(room),
    ];
    expect(await admin.exists(...keys)).toBe(3);
    const deletedAt = Date.now();
    await admin.del(...keys);
    await until(async () => (await admin.exists(...keys)) === 3, {
      timeoutMs: 3 * HEARTBEAT_MS,
      what: 'the deleted room keys to come back',
    });
    expect(Date.now() - deletedAt).toBeLessThanOrEqual(HEARTBEAT_MS + 300);
    expect(await inRedis(room)).toEqual([a, b, d].sort());

    // A lost members list is back within one heartbeat too: a stranger cannot take the room over.
    const membersKey = service.stores.keys.roomMembers(room);
    await admin.del(membersKey);
    await until(async () => (await admin.scard(membersKey)) === 3, {
      timeoutMs: 3 * HEARTBEAT_MS,
      what: 'the deleted members list to come back',
    });
    expect((await admin.smembers(membersKey)).sort()).toEqual(['u-Alice', 'u-Bob', 'u-Dave']);
    const eve = await open('Eve');
    expect(errorCode(await eve.request('join', { room }))).toBe(ErrorCode.Forbidden);
    expect((await service.store.getRoomHost(room))?.nodeId).toBe(service.rooms.nodeId);
    expect((await service.store.listProducers(room)).map((p) => p.producerId)).toEqual([producerId]);
  }, 60_000);
});
