/**
 * The relay's wire as a host node sees it: a real service on Redis, and this test playing another
 * node ("the edge") by publishing on the host's channel and listening on a channel of its own.
 * Checks what a host does with well-formed, malformed and stale messages: answers are typed, bad
 * data never reaches mediasoup, a session the edge no longer has is freed.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { redisKeys } from '../state/redisKeys.js';
import { until } from './support/poll.js';
import { startTestService } from './support/testService.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
type Msg = Record<string, unknown> & { t: string };

describe('the relay protocol, as a host node answers it', () => {
  let host: Service;
  let pub: Redis;
  let sub: Redis;
  const edgeId = `fake-edge-${randomUUID().slice(0, 8)}`;
  const otherId = `fake-other-${randomUUID().slice(0, 8)}`;
  const received: Msg[] = [];

  beforeAll(async () => {
    host = await startTestService('redis', { NODE_ID: `relay-host-${randomUUID().slice(0, 8)}` });
    pub = new Redis(inject('redisUrl'));
    sub = new Redis(inject('redisUrl'));
    sub.on('smessage', (_channel: string, text: string) => received.push(JSON.parse(text) as Msg));
    const keys = redisKeys(host.keyPrefix);
    await sub.ssubscribe(keys.nodeChannel(edgeId), keys.nodeChannel(otherId));
  });
  afterAll(async () => {
    sub?.disconnect();
    pub?.disconnect();
    await host?.close();
  });

  const send = async (m: Msg | string): Promise<number> =>
    Number(
      await pub.spublish(
        redisKeys(host.keyPrefix).nodeChannel(host.rooms.nodeId),
        typeof m === 'string' ? m : JSON.stringify({ from: edgeId, ...m }),
      ),
    );
  const answerTo = async (rid: string): Promise<Msg> => {
    await until(() => received.some((m) => m.rid === rid), { what: `the answer to ${rid}` });
    return received.find((m) => m.rid === rid)!;
  };
  const request = async (m: Msg): Promise<Msg> => {
    const rid = randomUUID();
    expect(await send({ ...m, rid })).toBe(1);
    return answerTo(rid);
  };

  it('serves a relayed session: join, typed errors, refused data, checks, leave', async () => {
    const sid = randomUUID();
    const room = `relay-proto-${randomUUID().slice(0, 8)}`;
    const joined = await request({
      t: 'join',
      sid,
      room,
      user: { userId: 'relay-u1', displayName: 'Relayed One' },
      access: { kind: 'member' },
    });
    expect(joined.t).toBe('ok');
    const peerId = (joined.data as { peerId: string }).peerId;
    expect(host.rooms.snapshot(room)?.peers.map((p) => p.peerId)).toEqual([peerId]);
    expect(host.relay.counts.hosted).toBe(1);

    // Data that does not fit the method's schema is refused before it reaches mediasoup.
    const bad = await request({ t: 'request', sid, method: 'restartIce', data: { transportId: 5 } });
    expect(bad).toMatchObject({ t: 'error', error: { code: 'INVALID_PARAMS' } });
    // A media error raised by the host comes back typed, with its HTTP status.
    const missing = await request({ t: 'request', sid, method: 'restartIce', data: { transportId: 'nope' } });
    expect(missing).toMatchObject({ t: 'error', error: { code: 'TRANSPORT_NOT_FOUND' } });
    const made = await request({ t: 'request', sid, method: 'createTransport', data: { direction: 'send' } });
    expect(made.t).toBe('ok');
    expect(host.rooms.snapshot(room)?.peers).toHaveLength(1);

    // Another node cannot use this session, nor can anyone use one that does not exist.
    const foreign = await request({
      t: 'request',
      from: otherId,
      sid,
      method: 'createTransport',
      data: { direction: 'recv' },
    });
    expect(foreign).toMatchObject({ t: 'error', error: { code: 'NOT_IN_ROOM' } });
    const unknown = await request({
      t: 'request',
      sid: randomUUID(),
      method: 'createTransport',
      data: { direction: 'recv' },
    });
    expect(unknown).toMatchObject({ t: 'error', error: { code: 'NOT_IN_ROOM' } });

    // Garbage and messages of no known kind are dropped; the host keeps serving.
    expect(await send('not json')).toBe(1);
    expect(await send({ t: 'shutdown', sid })).toBe(1);
    expect(await send({ t: 'request', sid, rid: randomUUID(), method: 'callHangup', data: {} })).toBe(1);
    const still = await request({
      t: 'request',
      sid,
      method: 'createTransport',
      data: { direction: 'recv' },
    });
    expect(still.t).toBe('ok');

    // A check lists what the edge holds; the host answers `gone` for what it does not know.
    const stale = randomUUID();
    expect(await send({ t: 'check', side: 'edge', sids: [sid, stale] })).toBe(1);
    await until(() => received.some((m) => m.t === 'gone'), { what: 'a gone answer' });
    expect(received.filter((m) => m.t === 'gone')).toEqual([
      { t: 'gone', from: host.rooms.nodeId, sids: [stale] },
    ]);

    // The host checks too: this edge does not answer its checks with `gone`, so it keeps the session;
    // once this edge says the session is gone, the host frees the peer and the room.
    expect(await send({ t: 'gone', sids: [sid] })).toBe(1);
    await until(() => host.rooms.snapshot(room) === undefined, { what: 'the relayed peer to be freed' });
    expect(host.relay.counts.hosted).toBe(0);
  });

  it('answers `moved` when another live node hosts the room now, so the edge looks it up again', async () => {
    const room = `relay-moved-${randomUUID().slice(0, 8)}`;
    const other = `other-node-${randomUUID().slice(0, 8)}`;
    await host.store.heartbeat({ nodeId: other, address: 'http://127.0.0.1:9', startedAt: Date.now() }, []);
    await host.store.claimRoomHost(room, {
      nodeId: other,
      workerPid: 1,
      routerId: 'r',
      createdAt: Date.now(),
    });
    const answer = await request({
      t: 'join',
      sid: randomUUID(),
      room,
      user: { userId: 'relay-u3', displayName: 'Relayed Three' },
      access: { kind: 'call' },
    });
    expect(answer).toMatchObject({ t: 'moved', nodeId: other });
    expect(host.rooms.snapshot(room)).toBeUndefined();
    expect(host.relay.counts.hosted).toBe(0);
    await host.store.removeNode(other);
  });

  it('tells a relayed session of its room closing, then that it is closed', async () => {
    const sid = randomUUID();
    const room = `relay-close-${randomUUID().slice(0, 8)}`;
    const joined = await request({
      t: 'join',
      sid,
      room,
      user: { userId: 'relay-u2', displayName: 'Relayed Two' },
      access: { kind: 'member' },
    });
    expect(joined.t).toBe('ok');
    host.rooms.closeRoom(room, 'media worker restarted');
    await until(() => received.some((m) => m.t === 'closed' && m.sid === sid), { what: 'closed' });
    const forSid = received.filter((m) => m.sid === sid && (m.t === 'notify' || m.t === 'closed'));
    expect(forSid.map((m) => (m.t === 'notify' ? m.name : m.t))).toEqual(['roomClosed', 'closed']);
    expect(host.relay.counts.hosted).toBe(0);
  });
});
