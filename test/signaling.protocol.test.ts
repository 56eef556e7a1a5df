/**
 * The signaling protocol against a real server, real mediasoup worker and both state stores:
 * the room flow, and every kind of bad input answered with a typed error on a socket that stays usable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hkdfSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { RoomInvites } from '../auth/roomInvites.js';
import WebSocket from 'ws';
import { ErrorCode } from '../protocol/errors.js';
import { MAX_MESSAGE_BYTES } from '../protocol/signaling.js';
import { backends, startTestService, TEST_JWT_SECRET } from './support/testService.js';
import { RawSignaling, errorCode, inviteOf } from './support/rawSignaling.js';
import { until } from './support/poll.js';
import {
  fakeAudioRtpParameters,
  fakeDtlsParameters,
  fakeVideoRtpParameters,
  receiverRtpCapabilities,
} from './support/fixtures.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

function upgradeStatus(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('open', () => {
      ws.close();
      reject(new Error('connection was accepted'));
    });
    ws.once('error', () => undefined);
  });
}

describe.each(backends)('signaling protocol (%s state)', (backend) => {
  let service: Service;
  const token = (name = 'Alice'): string =>
    service.tokens.issue({ userId: `u-${name}`, displayName: name, dev: true }).token;
  const open = (name?: string): Promise<RawSignaling> => RawSignaling.open(service.url, token(name));
  const clients: RawSignaling[] = [];
  const openTracked = async (name?: string): Promise<RawSignaling> => {
    const c = await open(name);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    service = await startTestService(backend, {
      // A dropped socket's peer is kept RESUME_GRACE_MS for a resume; these tests assert what
      // follows a drop that is never resumed, so the grace is short.
      RESUME_GRACE_MS: '200',
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await service.close();
  });

  describe('authentication at the upgrade', () => {
    const wsUrl = (): string => `${service.url.replace('http', 'ws')}/ws`;
    const secret = 'test-secret-that-is-long-enough-for-hs256-0123456789';
    const claims = { sub: 'u1', name: 'Mallory', did: 'd1', typ: 'access' };

    it('refuses a missing token with 401 and a JSON error', async () => {
      const { status, body } = await upgradeStatus(wsUrl());
      expect(status).toBe(401);
      expect(JSON.parse(body).error.code).toBe(ErrorCode.Unauthorized);
    });

    it.each([
      [
        'alg none',
        () =>
          jwt.sign(claims, '', { algorithm: 'none', issuer: 'calling-service', audience: 'calling-service' }),
      ],
      [
        'another key',
        () =>
          jwt.sign(claims, 'x'.repeat(40), {
            algorithm: 'HS256',
            issuer: 'calling-service',
            audience: 'calling-service',
          }),
      ],
      [
        'HS512 with the right key',
        () =>
          jwt.sign(claims, secret, {
            algorithm: 'HS512',
            issuer: 'calling-service',
            audience: 'calling-service',
          }),
      ],
      [
        'expired',
        () =>
          jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 10 }, secret, {
            algorithm: 'HS256',
            issuer: 'calling-service',
            audience: 'calling-service',
          }),
      ],
      [
        'wrong audience',
        () => jwt.sign(claims, secret, { algorithm: 'HS256', issuer: 'calling-service', audience: 'other' }),
      ],
      [
        'wrong issuer',
        () => jwt.sign(claims, secret, { algorithm: 'HS256', issuer: 'evil', audience: 'calling-service' }),
      ],
      ['not a JWT', () => 'hello'],
    ])('refuses a token: %s', async (_name, make) => {
      const { status, body } = await upgradeStatus(`${wsUrl()}?token=${encodeURIComponent(make())}`);
      expect(status).toBe(401);
      expect(JSON.parse(body).error.code).toBe(ErrorCode.Unauthorized);
    });

    it('accepts a valid token in the Authorization header', async () => {
      const ws = new WebSocket(wsUrl(), { headers: { authorization: `Bearer ${token()}` } });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      ws.close();
    });
  });

  describe('bad input keeps the socket usable', () => {
    it('answers malformed JSON, binary, a bad envelope, an unknown method, wrong types and an oversized frame', async () => {
      const c = await openTracked();
      expect(errorCode(await c.sendRaw('{not json'))).toBe(ErrorCode.MalformedMessage);
      expect(errorCode(await c.sendRaw(Buffer.from([1, 2, 3]), { binary: true }))).toBe(
        ErrorCode.MalformedMessage,
      );
      expect(errorCode(await c.sendRaw(JSON.stringify({ method: 'join' })))).toBe(ErrorCode.MalformedMessage);
      expect(errorCode(await c.sendRaw(JSON.stringify({ id: 'x', method: 'join' })))).toBe(
        ErrorCode.MalformedMessage,
      );
      expect(errorCode(await c.sendRaw(JSON.stringify({ id: 5, method: 42 }), { expectId: 5 }))).toBe(
        ErrorCode.MalformedMessage,
      );
      expect(errorCode(await c.request('fly', {}))).toBe(ErrorCode.UnknownMethod);
      expect(errorCode(await c.request('join', { room: 42 }))).toBe(ErrorCode.InvalidParams);
      expect(errorCode(await c.request('join', { room: '' }))).toBe(ErrorCode.InvalidParams);
      expect(errorCode(await c.request('join', { room: 'a/b<script>' }))).toBe(ErrorCode.InvalidParams);
      expect(errorCode(await c.request('createTransport', { direction: 'sideways' }))).toBe(
        ErrorCode.InvalidParams,
      );
      expect(errorCode(await c.request('leave', { extra: 1 }))).toBe(ErrorCode.InvalidParams);
      const huge = JSON.stringify({ id: 99, method: 'join', data: { room: 'x'.repeat(MAX_MESSAGE_BYTES) } });
      expect(errorCode(await c.sendRaw(huge))).toBe(ErrorCode.MessageTooLarge);
      // Still usable after all of that:
      const joined = await c.request('join', { room: `usable-${backend}` });
      expect(joined.ok).toBe(true);
    });

    it('rejects requests in the wrong order', async () => {
      const c = await openTracked();
      for (const [method, data] of [
        ['produce', { transportId: 't', kind: 'audio', rtpParameters: fakeAudioRtpParameters }],
        ['createTransport', { direction: 'send' }],
        ['consume', { transportId: 't', producerId: 'p' }],
        ['leave', {}],
      ] as const) {
        expect(errorCode(await c.request(method, data)), method).toBe(ErrorCode.NotInRoom);
      }
      expect((await c.request('join', { room: `order-${backend}` })).ok).toBe(true);
      expect(errorCode(await c.request('join', { room: `order-${backend}` }))).toBe(ErrorCode.AlreadyInRoom);
      const recv = await c.request('createTransport', { direction: 'recv' });
      if (!recv.ok) throw new Error('createTransport failed');
      const recvId = (recv.data as { id: string }).id;
      expect(errorCode(await c.request('consume', { transportId: recvId, producerId: 'nope' }))).toBe(
        ErrorCode.RtpCapabilitiesRequired,
      );
      expect(
        errorCode(
          await c.request('produce', {
            transportId: recvId,
            kind: 'audio',
            rtpParameters: fakeAudioRtpParameters,
          }),
        ),
      ).toBe(ErrorCode.BadRequest);
      expect(errorCode(await c.request('resumeConsumer', { consumerId: 'nope' }))).toBe(
        ErrorCode.ConsumerNotFound,
      );
      expect(errorCode(await c.request('closeProducer', { producerId: 'nope' }))).toBe(
        ErrorCode.ProducerNotFound,
      );
      // Refused at the edge by the strict media schemas, before mediasoup sees it.
      const badDtls = { fingerprints: [{ algorithm: 'sha-999', value: 'zz' }] };
      expect(
        errorCode(await c.request('connectTransport', { transportId: recvId, dtlsParameters: badDtls })),
      ).toBe(ErrorCode.InvalidParams);
      // A second connect is the client's mistake (INVALID_STATE), not the server's (it used to be INTERNAL).
      const connect = { transportId: recvId, dtlsParameters: fakeDtlsParameters };
      expect((await c.request('connectTransport', connect)).ok).toBe(true);
      expect(errorCode(await c.request('connectTransport', connect))).toBe(ErrorCode.InvalidState);
    });

    it("refuses to let a peer use another peer's transport or producer", async () => {
      const room = `foreign-${backend}`;
      const alice = await openTracked('Alice');
      const mallory = await openTracked('Mallory');
      expect((await alice.request('join', { room })).ok).toBe(true);
      // Mallory is a member (invited): being in the room still gives no hold on others' media.
      expect((await mallory.request('join', { room, invite: await inviteOf(alice) })).ok).toBe(true);
      const send = await alice.request('createTransport', { direction: 'send' });
      if (!send.ok) throw new Error('createTransport failed');
      const aliceTransport = (send.data as { id: string }).id;
      const produced = await alice.request('produce', {
        transportId: aliceTransport,
        kind: 'video',
        rtpParameters: fakeVideoRtpParameters,
      });
      if (!produced.ok) throw new Error(`produce failed: ${JSON.stringify(produced)}`);
      const producerId = (produced.data as { producerId: string }).producerId;

      expect(
        errorCode(
          await mallory.request('connectTransport', {
            transportId: aliceTransport,
            dtlsParameters: fakeDtlsParameters,
          }),
        ),
      ).toBe(ErrorCode.TransportNotFound);
      expect(
        errorCode(
          await mallory.request('produce', {
            transportId: aliceTransport,
            kind: 'audio',
            rtpParameters: fakeAudioRtpParameters,
          }),
        ),
      ).toBe(ErrorCode.TransportNotFound);
      expect(errorCode(await mallory.request('pauseProducer', { producerId }))).toBe(
        ErrorCode.ProducerNotFound,
      );
      expect(errorCode(await mallory.request('closeProducer', { producerId }))).toBe(
        ErrorCode.ProducerNotFound,
      );
      const producers = service.rooms.snapshot(room)?.peers.flatMap((p) => p.producers) ?? [];
      expect(producers.map((p) => p.producerId)).toContain(producerId);
    });
  });

  describe('room flow', () => {
    it('joins, notifies, consumes paused, resumes, and cleans up state and media on disconnect', async () => {
      const room = `flow-${backend}`;
      const alice = await openTracked('Alice');
      const bob = await openTracked('Bob');

      // The name in `join` is ignored: peers are shown the token's (the account's) name.
      const aJoin = await alice.request('join', { room, displayName: 'Alice A.' });
      if (!aJoin.ok) throw new Error('join failed');
      const alicePeerId = (aJoin.data as { peerId: string }).peerId;
      expect((aJoin.data as { peers: unknown[] }).peers).toEqual([]);
      expect(aJoin.data).toHaveProperty('routerRtpCapabilities.codecs');

      const aSend = await alice.request('createTransport', { direction: 'send' });
      if (!aSend.ok) throw new Error('createTransport failed');
      const t = aSend.data as { id: string; iceCandidates: { address: string }[] };
      expect(t.iceCandidates.map((c) => c.address)).toContain('127.0.0.1');
      const produced = await alice.request('produce', {
        transportId: t.id,
        kind: 'video',
        rtpParameters: fakeVideoRtpParameters,
      });
      if (!produced.ok) throw new Error('produce failed');
      const producerId = (produced.data as { producerId: string }).producerId;

      const bJoin = await bob.request('join', { room, invite: await inviteOf(alice) });
      if (!bJoin.ok) throw new Error('bob join failed');
      const peers = (
        bJoin.data as {
          peers: { peerId: string; displayName: string; producers: { producerId: string }[] }[];
        }
      ).peers;
      expect(peers).toHaveLength(1);
      expect(peers[0]).toMatchObject({
        peerId: alicePeerId,
        displayName: 'Alice',
        producers: [{ producerId }],
      });
      const joined = await alice.waitForNotification('peerJoined');
      const bobPeerId = (bJoin.data as { peerId: string }).peerId;
      expect(joined.data).toMatchObject({ peerId: bobPeerId, displayName: 'Bob' });

      expect((await bob.request('setRtpCapabilities', { rtpCapabilities: receiverRtpCapabilities })).ok).toBe(
        true,
      );
      const bRecv = await bob.request('createTransport', { direction: 'recv' });
      if (!bRecv.ok) throw new Error('bob recv failed');
      const recvId = (bRecv.data as { id: string }).id;
      const consumed = await bob.request('consume', { transportId: recvId, producerId });
      if (!consumed.ok) throw new Error(`consume failed ${JSON.stringify(consumed)}`);
      const { consumerId, peerId, kind } = consumed.data as {
        consumerId: string;
        peerId: string;
        kind: string;
      };
      expect({ peerId, kind }).toEqual({ peerId: alicePeerId, kind: 'video' });
      const bobConsumer = () =>
        service.rooms
          .snapshot(room)
          ?.peers.find((p) => p.peerId === bobPeerId)
          ?.consumers.find((c) => c.consumerId === consumerId);
      expect(bobConsumer()?.paused).toBe(true);
      expect((await bob.request('resumeConsumer', { consumerId })).ok).toBe(true);
      expect(bobConsumer()?.paused).toBe(false);

      // Prometheus sees the room, both participants, the producer, the consumer and the requests.
      const metrics = await (await fetch(`${service.url}/metrics`)).text();
      const value = (name: string): number =>
        Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(metrics)?.[1] ?? NaN);
      expect(value('calling_producers')).toBeGreaterThanOrEqual(1);
      expect(value('calling_consumers')).toBeGreaterThanOrEqual(1);
      expect(value('calling_participants')).toBeGreaterThanOrEqual(2);
      expect(metrics).toMatch(/calling_signaling_requests_total\{method="consume",outcome="ok"\} [1-9]/);
      expect(metrics).toMatch(/calling_worker_cpu_seconds\{worker="0"\} [0-9.]+/);

      // Both are in the state store.
      const listed = await service.store.listParticipants(room);
      expect(listed.map((p) => p.peerId).sort()).toEqual([alicePeerId, bobPeerId].sort());
      expect((await service.store.listProducers(room)).map((p) => p.producerId)).toEqual([producerId]);

      // Alice drops her connection: Bob is told, her producer goes, his consumer is closed.
      const routerId = service.rooms.snapshot(room)!.routerId;
      const routerIds = async () => (await service.workers.workers[0]!.worker.dump()).routerIds;
      expect(await routerIds()).toContain(routerId);
      const left = bob.waitForNotification('peerLeft');
      const consumerClosed = bob.waitForNotification('consumerClosed');
      alice.ws.terminate();
      expect((await left).data).toEqual({ peerId: alicePeerId });
      expect((await consumerClosed).data).toEqual({ consumerId });
      await until(async () => (await service.store.listParticipants(room)).length === 1, {
        what: "alice's removal from the store",
      });
      expect(await service.store.listProducers(room)).toEqual([]);
      expect(service.rooms.snapshot(room)?.peers.flatMap((p) => p.producers)).toEqual([]);

      // The last one out closes the router and the room's state entry.
      expect((await bob.request('leave', {})).ok).toBe(true);
      expect(await routerIds()).not.toContain(routerId);
      expect(service.rooms.snapshot(room)).toBeUndefined();
      await until(async () => (await service.store.getRoomHost(room)) === null, {
        what: "the room's release in the store",
      });
    });

    it('restarts ICE on a transport and reports the room host in the state store', async () => {
      const room = `ice-${backend}`;
      const c = await openTracked();
      expect((await c.request('join', { room })).ok).toBe(true);
      const host = await service.store.getRoomHost(room);
      expect(host?.nodeId).toBe(service.rooms.nodeId);
      const tr = await c.request('createTransport', { direction: 'recv' });
      if (!tr.ok) throw new Error('createTransport failed');
      const { id, iceParameters } = tr.data as { id: string; iceParameters: { usernameFragment: string } };
      const restarted = await c.request('restartIce', { transportId: id });
      if (!restarted.ok) throw new Error('restartIce failed');
      expect(
        (restarted.data as { iceParameters: { usernameFragment: string } }).iceParameters.usernameFragment,
      ).not.toBe(iceParameters.usernameFragment);
    });
  });
  describe('room membership', () => {
    /** Invites signed as the service signs them (same key derivation), at a chosen time. */
    const invitesAt = (nowMs: number): RoomInvites =>
      new RoomInvites({
        key: Buffer.from(hkdfSync('sha256', TEST_JWT_SECRET, 'calling-service', 'room-invites', 32)),
        now: () => nowMs,
      });
    /** Joins a room alone, answering the peer id. */
    const create = async (c: RawSignaling, room: string): Promise<string> => {
      const r = await c.request('join', { room });
      if (!r.ok) throw new Error(`join failed: ${JSON.stringify(r)}`);
      return (r.data as { peerId: string }).peerId;
    };

    it('refuses a stranger joining by name and tells them nothing about the members', async () => {
      const room = `private-${backend}`;
      const alice = await openTracked('Alice');
      const alicePeerId = await create(alice, room);
      const stranger = await openTracked('Stranger');
      const refused = await stranger.request('join', { room });
      expect(errorCode(refused)).toBe(ErrorCode.Forbidden);
      expect(!refused.ok && refused.error.message).toMatch(/not a member.*invite/);
      const text = JSON.stringify(refused);
      for (const secret of ['u-Alice', 'Alice', alicePeerId]) expect(text).not.toContain(secret);
      // Alice never hears of the stranger, and the stranger can do nothing in the room.
      expect(service.rooms.snapshot(room)?.peers.map((p) => p.userId)).toEqual(['u-Alice']);
      expect(errorCode(await stranger.request('createTransport', { direction: 'recv' }))).toBe(
        ErrorCode.NotInRoom,
      );
      expect(errorCode(await stranger.request('roomInvite', {}))).toBe(ErrorCode.NotInRoom);
      expect(errorCode(await stranger.request('roomAddMembers', { userIds: ['u-Stranger'] }))).toBe(
        ErrorCode.NotInRoom,
      );
      expect(alice.frames.some((f) => 'notification' in f && f.notification === 'peerJoined')).toBe(false);
      // Still refused after Alice leaves: the members list outlives the room's presence.
      expect((await alice.request('leave', {})).ok).toBe(true);
      await until(async () => (await service.store.getRoomHost(room)) === null, {
        what: 'the room to close',
      });
      expect(errorCode(await stranger.request('join', { room }))).toBe(ErrorCode.Forbidden);
      expect(service.rooms.snapshot(room)).toBeUndefined();
    });

    it('lets an invitee in, who stays a member and rejoins without the invite', async () => {
      const room = `invited-${backend}`;
      const alice = await openTracked('Alice');
      await create(alice, room);
      const answer = await alice.request('roomInvite', {});
      if (!answer.ok) throw new Error('roomInvite failed');
      const { invite, expiresAt } = answer.data as { invite: string; expiresAt: number };
      // The default validity is 24 h.
      expect(expiresAt - Date.now() / 1000).toBeGreaterThan(24 * 3600 - 60);
      expect(expiresAt - Date.now() / 1000).toBeLessThanOrEqual(24 * 3600);

      const bob = await openTracked('Bob');
      const joined = await bob.request('join', { room, invite });
      if (!joined.ok) throw new Error(`invited join failed: ${JSON.stringify(joined)}`);
      expect((await alice.waitForNotification('peerJoined')).data).toMatchObject({ displayName: 'Bob' });
      expect(await service.store.isRoomMember(room, 'u-Bob')).toBe(true);
      // A member may invite too.
      expect(typeof (await inviteOf(bob))).toBe('string');

      // Bob reconnects (new socket) and comes back by name alone.
      bob.ws.terminate();
      const bobAgain = await openTracked('Bob');
      expect((await bobAgain.request('join', { room })).ok).toBe(true);
      // The invite is for this room only.
      const carol = await openTracked('Carol');
      expect(errorCode(await carol.request('join', { room: `elsewhere-${backend}`, invite }))).toBe(
        ErrorCode.Forbidden,
      );
      expect(service.rooms.snapshot(`elsewhere-${backend}`)).toBeUndefined();
    });

    it('refuses expired, forged and altered invites', async () => {
      const room = `guarded-${backend}`;
      const alice = await openTracked('Alice');
      await create(alice, room);
      const eve = await openTracked('Eve');
      const expired = invitesAt(Date.now() - 3_600_000).create(room, 60).token;
      const refusedExpired = await eve.request('join', { room, invite: expired });
      expect(errorCode(refusedExpired)).toBe(ErrorCode.Forbidden);
      expect(!refusedExpired.ok && refusedExpired.error.message).toMatch(/expired/);
      const forged = new RoomInvites({ key: Buffer.alloc(32, 1) }).create(room, 3600).token;
      expect(errorCode(await eve.request('join', { room, invite: forged }))).toBe(ErrorCode.Forbidden);
      const real = await inviteOf(alice);
      const altered = `${real.slice(0, -2)}${real.endsWith('AA') ? 'BB' : 'AA'}`;
      expect(errorCode(await eve.request('join', { room, invite: altered }))).toBe(ErrorCode.Forbidden);
      expect(errorCode(await eve.request('join', { room, invite: 'x'.repeat(600) }))).toBe(
        ErrorCode.InvalidParams,
      );
      expect(await service.store.isRoomMember(room, 'u-Eve')).toBe(false);
      expect(service.rooms.snapshot(room)?.peers).toHaveLength(1);
      // The same signing, made valid, is accepted: the refusals above are about expiry and forgery.
      const valid = invitesAt(Date.now()).create(room, 60).token;
      expect((await eve.request('join', { room, invite: valid })).ok).toBe(true);
      // Eve is a member now: coming back with the link she had, expired since, still works.
      eve.ws.terminate();
      const eveAgain = await openTracked('Eve');
      expect((await eveAgain.request('join', { room, invite: expired })).ok).toBe(true);
    });

    it('lets a member add users, who then join by name; ids are validated and bounded', async () => {
      const room = `added-${backend}`;
      const alice = await openTracked('Alice');
      await create(alice, room);
      expect((await alice.request('roomAddMembers', { userIds: ['u-Dan'] })).ok).toBe(true);
      const dan = await openTracked('Dan');
      expect((await dan.request('join', { room })).ok).toBe(true);
      for (const userIds of [
        [],
        ['u-x:missed'],
        ['a'.repeat(129)],
        Array.from({ length: 51 }, (_, i) => `u${i}`),
      ])
        expect(errorCode(await alice.request('roomAddMembers', { userIds }))).toBe(ErrorCode.InvalidParams);
      const frank = await openTracked('Frank');
      expect(errorCode(await frank.request('join', { room }))).toBe(ErrorCode.Forbidden);
    });
  });
});
