/**
 * Per-user and per-connection limits against a real server and real mediasoup (issue 8, items 3, 5
 * and 9): sockets per device, user and address; rooms created per minute; transports, producers and
 * consumers per peer; request rate; a client that stops reading; names from the account, never the
 * client; client mistakes answered with typed errors; ids checked for format before any store.
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ErrorCode } from '../protocol/errors.js';
import { startTestService } from './support/testService.js';
import { RawSignaling, errorCode } from './support/rawSignaling.js';
import { until } from './support/poll.js';
import { apiClient } from './support/httpApi.js';
import { signUp } from './support/signUp.js';
import { PhoneNumbers } from './support/phoneNumbers.js';
import {
  fakeAudioRtpParameters,
  fakeDtlsParameters,
  fakeVideoRtpParameters,
  receiverRtpCapabilities,
} from './support/fixtures.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

/** Opens a WebSocket and resolves with its upgrade answer: 101, or the refusal's status and JSON. */
function upgrade(
  url: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<{
  status: number;
  body: { error?: { code: string; details?: Record<string, string> } };
  ws?: WebSocket;
}> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`, {
      headers: { authorization: `Bearer ${token}`, ...headers },
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) as never }));
    });
    ws.once('open', () => resolve({ status: 101, body: {}, ws }));
    ws.once('error', (err) => reject(err));
  });
}

function closeWs(ws: WebSocket | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!ws || ws.readyState === WebSocket.CLOSED) return resolve();
    ws.once('close', () => resolve());
    ws.close();
  });
}

async function limitCount(service: Service, limit: string): Promise<number> {
  const text = await (await fetch(`${service.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`calling_limits_hit_total{limit="${limit}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

function dataOf<T>(r: Awaited<ReturnType<RawSignaling['request']>>): T {
  if (!r.ok) throw new Error(`request failed: ${JSON.stringify(r.error)}`);
  return r.data as T;
}

/** Rooms have members: `member` (in the room) invites, and the answer says what it may join with. */
async function inviteFrom(member: RawSignaling): Promise<string> {
  return dataOf<{ invite: string }>(await member.request('roomInvite', {})).invite;
}

describe('per-user and per-connection limits', () => {
  let service: Service;
  const sockets: WebSocket[] = [];
  const clients: RawSignaling[] = [];
  const token = (userId: string, deviceId?: string, name = userId): string =>
    service.tokens.issue({ userId, displayName: name, dev: true, ...(deviceId ? { deviceId } : {}) }).token;
  const open = async (userId: string, name = userId): Promise<RawSignaling> => {
    const c = await RawSignaling.open(service.url, token(userId, undefined, name));
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    service = await startTestService('memory', {
      WS_MAX_SOCKETS_PER_DEVICE: '2',
      WS_MAX_SOCKETS_PER_USER: '3',
      WS_MAX_SOCKETS_PER_IP: '50',
      ROOMS_CREATED_PER_USER_PER_MINUTE: '2',
      PEER_MAX_TRANSPORTS: '2',
      PEER_MAX_PRODUCERS: '1',
    });
  });
  afterAll(async () => {
    await Promise.all([...sockets.map((ws) => closeWs(ws)), ...clients.map((c) => c.close())]);
    await service.close();
  });

  it('refuses a device its third socket and a user its fourth at the upgrade (429, LIMIT_EXCEEDED)', async () => {
    const first = await upgrade(service.url, token('sock-user', 'd1'));
    const second = await upgrade(service.url, token('sock-user', 'd1'));
    sockets.push(first.ws!, second.ws!);
    expect([first.status, second.status]).toEqual([101, 101]);
    const third = await upgrade(service.url, token('sock-user', 'd1'));
    expect(third.status).toBe(429);
    expect(third.body.error).toMatchObject({
      code: ErrorCode.LimitExceeded,
      details: { limit: 'sockets_per_device' },
    });

    const otherDevice = await upgrade(service.url, token('sock-user', 'd2'));
    sockets.push(otherDevice.ws!);
    expect(otherDevice.status).toBe(101);
    const fourth = await upgrade(service.url, token('sock-user', 'd3'));
    expect(fourth.status).toBe(429);
    expect(fourth.body.error?.details).toEqual({ limit: 'sockets_per_user' });
    // Someone else is not affected.
    const stranger = await upgrade(service.url, token('someone-else'));
    sockets.push(stranger.ws!);
    expect(stranger.status).toBe(101);

    // A closed socket frees its slot.
    await closeWs(first.ws);
    await until(
      async () =>
        (await upgrade(service.url, token('sock-user', 'd1')).then((r) => {
          if (r.ws) sockets.push(r.ws);
          return r.status;
        })) === 101,
      { what: 'the freed slot to be usable' },
    );
    expect(await limitCount(service, 'sockets_per_device')).toBeGreaterThanOrEqual(1);
    expect(await limitCount(service, 'sockets_per_user')).toBeGreaterThanOrEqual(1);
  });

  it('lets a user create only so many rooms a minute, while joining existing rooms stays free', async () => {
    const creator = await open('room-maker');
    for (const room of ['made-1', 'made-2']) {
      expect((await creator.request('join', { room })).ok).toBe(true);
      expect((await creator.request('leave', {})).ok).toBe(true);
    }
    const refused = await creator.request('join', { room: 'made-3' });
    expect(refused.ok ? undefined : refused.error).toMatchObject({
      code: ErrorCode.LimitExceeded,
      details: { limit: 'rooms_created_per_user' },
    });
    const host = await open('room-host');
    expect((await host.request('join', { room: 'hosted' })).ok).toBe(true);
    const invite = await inviteFrom(host);
    expect((await creator.request('join', { room: 'hosted', invite })).ok).toBe(true);
    expect(await limitCount(service, 'rooms_created_per_user')).toBeGreaterThanOrEqual(1);
  });

  it('bounds transports and producers per peer, and refuses consuming one producer twice', async () => {
    const room = 'media-quotas';
    const alice = await open('quota-alice');
    const bob = await open('quota-bob');
    dataOf(await alice.request('join', { room }));
    dataOf(await bob.request('join', { room, invite: await inviteFrom(alice) }));
    const send = dataOf<{ id: string }>(await alice.request('createTransport', { direction: 'send' }));
    dataOf(await alice.request('createTransport', { direction: 'recv' }));
    const third = await alice.request('createTransport', { direction: 'recv' });
    expect(third.ok ? undefined : third.error).toMatchObject({
      code: ErrorCode.LimitExceeded,
      details: { limit: 'transports_per_peer' },
    });
    const { producerId } = dataOf<{ producerId: string }>(
      await alice.request('produce', {
        transportId: send.id,
        kind: 'video',
        rtpParameters: fakeVideoRtpParameters,
      }),
    );
    const second = await alice.request('produce', {
      transportId: send.id,
      kind: 'audio',
      rtpParameters: fakeAudioRtpParameters,
    });
    expect(second.ok ? undefined : second.error).toMatchObject({
      code: ErrorCode.LimitExceeded,
      details: { limit: 'producers_per_peer' },
    });

    dataOf(await bob.request('setRtpCapabilities', { rtpCapabilities: receiverRtpCapabilities }));
    const recv = dataOf<{ id: string }>(await bob.request('createTransport', { direction: 'recv' }));
    dataOf(await bob.request('consume', { transportId: recv.id, producerId }));
    expect(errorCode(await bob.request('consume', { transportId: recv.id, producerId }))).toBe(
      ErrorCode.CannotConsume,
    );
    const consumers = service.rooms.snapshot(room)?.peers.flatMap((p) => p.consumers) ?? [];
    expect(consumers).toHaveLength(1);
    expect(await limitCount(service, 'transports_per_peer')).toBeGreaterThanOrEqual(1);
    expect(await limitCount(service, 'producers_per_peer')).toBeGreaterThanOrEqual(1);
  });

  it("shows peers the account's name, never the name a client puts in join", async () => {
    const room = 'names';
    const alice = await open('name-alice', 'Alice');
    const mallory = await open('name-mallory', 'Mallory');
    dataOf(await alice.request('join', { room }));
    const joined = alice.waitForNotification('peerJoined');
    dataOf(await mallory.request('join', { room, displayName: 'Alice', invite: await inviteFrom(alice) }));
    expect((await joined).data).toMatchObject({ userId: 'name-mallory', displayName: 'Mallory' });
    const carol = await open('name-carol', 'Carol');
    const peers = dataOf<{ peers: { userId: string; displayName: string }[] }>(
      await carol.request('join', { room, invite: await inviteFrom(alice) }),
    ).peers;
    expect(peers.find((p) => p.userId === 'name-mallory')?.displayName).toBe('Mallory');
  });

  it("uses an account's current name, after a rename, not the one in its token", async () => {
    const phones = new PhoneNumbers(60);
    const ana = await signUp(service.url, phones.next(), 'Ana');
    const renamed = await apiClient(service.url)('PATCH', '/api/v1/me', {
      token: ana.accessToken,
      json: { name: 'Ana Renamed' },
    });
    expect(renamed.status).toBe(200);
    const watcher = await open('name-watcher', 'Watcher');
    dataOf(await watcher.request('join', { room: 'renamed' }));
    const joined = watcher.waitForNotification('peerJoined');
    const client = await RawSignaling.open(service.url, ana.accessToken);
    clients.push(client);
    const invite = await inviteFrom(watcher);
    dataOf(await client.request('join', { room: 'renamed', displayName: 'Somebody Else', invite }));
    expect((await joined).data).toMatchObject({ userId: ana.user.userId, displayName: 'Ana Renamed' });
  });

  it('answers client mistakes with typed errors, never INTERNAL', async () => {
    const room = 'mistakes';
    const alice = await open('oops-alice');
    const bob = await open('oops-bob');
    dataOf(await alice.request('join', { room }));
    dataOf(await bob.request('join', { room, invite: await inviteFrom(alice) }));
    const send = dataOf<{ id: string }>(await alice.request('createTransport', { direction: 'send' }));
    dataOf(
      await alice.request('connectTransport', { transportId: send.id, dtlsParameters: fakeDtlsParameters }),
    );
    expect(
      errorCode(
        await alice.request('connectTransport', { transportId: send.id, dtlsParameters: fakeDtlsParameters }),
      ),
    ).toBe(ErrorCode.InvalidState);

    const { producerId } = dataOf<{ producerId: string }>(
      await alice.request('produce', {
        transportId: send.id,
        kind: 'video',
        rtpParameters: fakeVideoRtpParameters,
      }),
    );
    dataOf(await bob.request('setRtpCapabilities', { rtpCapabilities: receiverRtpCapabilities }));
    const recv = dataOf<{ id: string }>(await bob.request('createTransport', { direction: 'recv' }));
    const { consumerId } = dataOf<{ consumerId: string }>(
      await bob.request('consume', { transportId: recv.id, producerId }),
    );
    const consumerClosed = bob.waitForNotification('consumerClosed');
    dataOf(await alice.request('closeProducer', { producerId }));
    await consumerClosed;
    expect(errorCode(await alice.request('pauseProducer', { producerId }))).toBe(ErrorCode.ProducerNotFound);
    expect(errorCode(await alice.request('closeProducer', { producerId }))).toBe(ErrorCode.ProducerNotFound);
    expect(errorCode(await bob.request('resumeConsumer', { consumerId }))).toBe(ErrorCode.ConsumerNotFound);
    dataOf(await alice.request('leave', {}));
    expect(errorCode(await alice.request('restartIce', { transportId: send.id }))).toBe(ErrorCode.NotInRoom);
    const text = await (await fetch(`${service.url}/metrics`)).text();
    expect(text).not.toMatch(/calling_signaling_requests_total\{[^}]*outcome="INTERNAL"/);
  });

  it('checks ids for format before they reach a store', async () => {
    const c = await open('ids');
    for (const [method, data] of [
      ['callInvite', { userIds: ['someone:missed'], media: 'audio' }],
      ['callInvite', { userIds: ['x'.repeat(65)], media: 'audio' }],
      ['callGet', { callId: 'abc:def' }],
      ['callAddParticipants', { callId: 'c1', userIds: ['a b'] }],
      ['resumeConsumer', { consumerId: '../x' }],
      ['join', { room: 'a:b' }],
    ] as const) {
      expect(errorCode(await c.request(method, data)), `${method} ${JSON.stringify(data)}`).toBe(
        ErrorCode.InvalidParams,
      );
    }
  });
});

describe('request rate, per-address sockets and slow readers', () => {
  let service: Service;
  const sockets: WebSocket[] = [];
  const token = (userId: string): string =>
    service.tokens.issue({ userId, displayName: userId, dev: true }).token;

  beforeAll(async () => {
    service = await startTestService('memory', {
      TRUST_PROXY: 'loopback',
      WS_MAX_SOCKETS_PER_IP: '2',
      WS_REQUESTS_PER_SECOND: '2',
      WS_REQUEST_BURST: '5',
      WS_MAX_BUFFERED_BYTES: String(64 * 1024),
      WS_SLOW_READER_GRACE_MS: '300',
    });
  });
  afterAll(async () => {
    for (const ws of sockets) ws.terminate();
    await service.close();
  });

  it('counts sockets per client address, as X-Forwarded-For names it behind a trusted proxy', async () => {
    const from = (ip: string, user: string) => upgrade(service.url, token(user), { 'x-forwarded-for': ip });
    const a = await from('203.0.113.5', 'ip-a');
    const b = await from('203.0.113.5', 'ip-b');
    sockets.push(a.ws!, b.ws!);
    const c = await from('203.0.113.5', 'ip-c');
    expect(c.status).toBe(429);
    expect(c.body.error?.details).toEqual({ limit: 'sockets_per_ip' });
    const d = await from('203.0.113.6', 'ip-d');
    sockets.push(d.ws!);
    expect(d.status).toBe(101);
    expect(await limitCount(service, 'sockets_per_ip')).toBeGreaterThanOrEqual(1);
  });

  it('answers requests past the per-socket budget with RATE_LIMITED and a retry hint', async () => {
    const c = await RawSignaling.open(service.url, token('rate'));
    try {
      const answers = await Promise.all(Array.from({ length: 12 }, () => c.request('leave', {})));
      const codes = answers.map(errorCode);
      expect(codes.filter((x) => x === ErrorCode.NotInRoom).length).toBeGreaterThanOrEqual(5);
      const limited = answers.filter((a) => !a.ok && a.error.code === ErrorCode.RateLimited);
      expect(limited.length).toBeGreaterThanOrEqual(5);
      const first = limited[0];
      expect(first && !first.ok ? first.error.details : undefined).toMatchObject({
        limit: 'requests_per_socket',
      });
      expect(Number(first && !first.ok ? first.error.details?.retryAfterMs : NaN)).toBeGreaterThan(0);
    } finally {
      await c.close();
    }
  });

  it('stops answering a client that does not read, closes it after the grace, and stays bounded', async () => {
    // Answers pile up on a socket whose client does not read: a flood of requests (mostly refused).
    const host = await RawSignaling.open(service.url, token('bp-host'));
    try {
      dataOf(await host.request('join', { room: 'backlog' }));
      const before = service.signaling.connectionCount;
      const rssBefore = process.memoryUsage().rss;
      const reader = await upgrade(service.url, token('bp-reader'));
      const ws = reader.ws!;
      sockets.push(ws);
      ws.on('error', () => undefined);
      (ws as unknown as { _socket: Socket })._socket.pause();
      expect(service.signaling.connectionCount).toBe(before + 1);
      // The rate limit makes the refusals the big answers here: each is small, so send many; the
      // loop is bounded and stops as soon as the server let go of the socket.
      let id = 1;
      const deadline = Date.now() + 20_000;
      while (service.signaling.connectionCount > before && Date.now() < deadline && id < 400_000) {
        for (let i = 0; i < 500; i++)
          ws.send(JSON.stringify({ id: id++, method: 'join', data: { room: 'backlog' } }));
        await new Promise((r) => setTimeout(r, 5));
      }
      await until(() => service.signaling.connectionCount === before, {
        timeoutMs: 10_000,
        what: 'the server to close the socket that does not read',
      });
      expect(await limitCount(service, 'outbound_backlog')).toBeGreaterThanOrEqual(1);
      // Far below what the unread answers would have taken (hundreds of MB before backpressure).
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(150 * 1024 * 1024);
      // The node still serves everyone else.
      expect(errorCode(await host.request('leave', {}))).toBeUndefined();
    } finally {
      await host.close();
    }
  });
});
