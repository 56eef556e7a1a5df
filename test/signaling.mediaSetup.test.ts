/**
 * The shorter media setup of issue 12, through the real server and mediasoup (no browser): a join
 * with `mediaSetup` answers with both transports, audio and video go in one `produceMany` with the
 * ids the client picked, and the server pushes paused consumers (`newConsumer`) instead of
 * announcing producers. And warm-up while a call rings: `callWarmMedia` makes hidden peers that
 * nobody hears of and nothing is forwarded from, bounded per call; `callJoinMedia` after the answer
 * finds the same peer; the server reveals both warm peers at the answer, and the consumers each got
 * ahead while it rang (paused: nothing flows) start forwarding then.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import type { NotificationData, NotificationEnvelope, ResponseData } from '../protocol/signaling.js';
import { signUp } from './support/callTestKit.js';
import {
  fakeAudioRtpParameters,
  fakeVideoRtpParameters,
  receiverRtpCapabilities,
} from './support/fixtures.js';
import { PhoneNumbers } from './support/phoneNumbers.js';
import { untilValue } from './support/poll.js';
import { errorCode, type RawSignaling } from './support/rawSignaling.js';
import { startTestService } from './support/testService.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
type Joined = ResponseData['join'];

async function ok<T>(ws: RawSignaling, method: string, data: unknown): Promise<T> {
  const r = await ws.request(method, data);
  if (!r.ok) throw new Error(`${method} failed: ${JSON.stringify(r.error)}`);
  return r.data as T;
}

const mediaSetup = { rtpCapabilities: receiverRtpCapabilities };
const notifications = (ws: RawSignaling, name: string): NotificationEnvelope[] =>
  ws.frames.filter((f): f is NotificationEnvelope => 'notification' in f && f.notification === name);
/** Waits for the `n`-th notification of that name. */
const nth = (ws: RawSignaling, name: string, n: number): Promise<unknown> =>
  ws.waitFor(() => notifications(ws, name).length >= n);

/** Audio and video with client-picked ids, in one request. */
async function publishBoth(ws: RawSignaling, transportId: string): Promise<string[]> {
  const ids = [randomUUID(), randomUUID()];
  const { producerIds } = await ok<ResponseData['produceMany']>(ws, 'produceMany', {
    transportId,
    producers: [
      { id: ids[0], kind: 'audio', rtpParameters: fakeAudioRtpParameters },
      { id: ids[1], kind: 'video', rtpParameters: fakeVideoRtpParameters },
    ],
  });
  expect(producerIds).toEqual(ids);
  return ids;
}

describe('media setup in fewer round trips, and warm-up while a call rings', () => {
  let service: Service;
  const phones = new PhoneNumbers();
  const sockets: RawSignaling[] = [];
  const device = async (
    name: string,
  ): Promise<{ userId: string; ws: RawSignaling; open: () => Promise<RawSignaling> }> => {
    const u = await signUp(service.url, phones.next(), name);
    const open = async (): Promise<RawSignaling> => {
      const ws = await u.device();
      sockets.push(ws);
      return ws;
    };
    return { userId: u.userId, ws: await open(), open };
  };

  beforeAll(async () => {
    service = await startTestService('memory', { CALL_WARM_PEERS_MAX: '3' });
  });
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await service?.close();
  });

  it('join with mediaSetup: transports in the answer, produceMany, pushed paused consumers', async () => {
    const alice = await device('Alice Setup');
    const bob = await device('Bob Setup');
    const room = 'setup-room';
    const caps = await ok<ResponseData['mediaCapabilities']>(alice.ws, 'mediaCapabilities', {});

    const a = await ok<Joined>(alice.ws, 'join', { room, mediaSetup });
    expect(a.routerRtpCapabilities).toEqual(caps.routerRtpCapabilities);
    expect(a.transports?.send?.id).toBeTruthy();
    expect(a.transports?.recv.id).toBeTruthy();
    const [audioId, videoId] = await publishBoth(alice.ws, a.transports!.send!.id);
    // An id that exists already is refused, and nothing is created.
    expect(
      errorCode(
        await alice.ws.request('produceMany', {
          transportId: a.transports!.send!.id,
          producers: [{ id: audioId, kind: 'audio', rtpParameters: fakeAudioRtpParameters }],
        }),
      ),
    ).toBe(ErrorCode.BadRequest);

    // Bob joins receive-only: no send transport, and consumers of Alice's producers pushed to him.
    await ok(alice.ws, 'roomAddMembers', { userIds: [bob.userId] });
    const b = await ok<Joined>(bob.ws, 'join', { room, mediaSetup: { ...mediaSetup, send: false } });
    expect(b.transports?.send).toBeUndefined();
    await nth(bob.ws, 'newConsumer', 2);
    const pushed = notifications(bob.ws, 'newConsumer').map((n) => n.data as NotificationData['newConsumer']);
    expect(pushed.map((c) => [c.producerId, c.kind, c.peerId]).sort()).toEqual(
      [
        [audioId, 'audio', a.peerId],
        [videoId, 'video', a.peerId],
      ].sort(),
    );
    expect(notifications(bob.ws, 'newProducer')).toEqual([]);
    const bobConsumers = () =>
      service.rooms.snapshot(room)!.peers.find((p) => p.peerId === b.peerId)!.consumers;
    expect(bobConsumers().map((c) => c.paused)).toEqual([true, true]);
    for (const c of pushed) await ok(bob.ws, 'resumeConsumer', { consumerId: c.consumerId });
    expect(bobConsumers().map((c) => c.paused)).toEqual([false, false]);
  });

  it('warm-up: hidden peers while it rings, nothing to or from them; the answer reveals them', async () => {
    const alice = await device('Alice Warm');
    const bob = await device('Bob Warm');
    const mallory = await device('Mallory Warm');
    const { call } = await ok<ResponseData['callInvite']>(alice.ws, 'callInvite', {
      userIds: [bob.userId],
      media: 'video',
    });
    await bob.ws.waitForNotification('callIncoming');
    const room = `call-${call.callId}`;

    const aWarm = await ok<Joined>(alice.ws, 'callWarmMedia', { callId: call.callId, mediaSetup });
    expect(aWarm.peers).toEqual([]);
    await publishBoth(alice.ws, aWarm.transports!.send!.id);
    const bWarm = await ok<Joined>(bob.ws, 'callWarmMedia', { callId: call.callId, mediaSetup });
    await publishBoth(bob.ws, bWarm.transports!.send!.id);
    // Someone who is not in the call cannot warm up in it; nor can one warm up without capabilities.
    expect(errorCode(await mallory.ws.request('callWarmMedia', { callId: call.callId, mediaSetup }))).toBe(
      ErrorCode.NotInCall,
    );
    expect(errorCode(await mallory.ws.request('callWarmMedia', { callId: call.callId }))).toBe(
      ErrorCode.InvalidParams,
    );

    // Two hidden peers with four producers, and nobody visible: nobody was told of anybody. Each
    // got the other's consumers ahead (so its receive side is set up before the answer), and they
    // stay paused in mediasoup even once the client resumes them: nothing flows before both answer.
    expect(service.rooms.snapshot(room)).toMatchObject({ peers: [], warm: 2 });
    for (const ws of [alice.ws, bob.ws])
      for (const name of ['peerJoined', 'newProducer', 'activeSpeaker'])
        expect(notifications(ws, name), name).toEqual([]);
    for (const [ws, other] of [
      [alice.ws, bWarm.peerId],
      [bob.ws, aWarm.peerId],
    ] as const) {
      await nth(ws, 'newConsumer', 2);
      const ahead = notifications(ws, 'newConsumer').map((n) => n.data as NotificationData['newConsumer']);
      expect(ahead.map((c) => c.peerId)).toEqual([other, other]);
      for (const c of ahead) await ok(ws, 'resumeConsumer', { consumerId: c.consumerId });
    }
    const warmConsumers = (): { paused: boolean }[] =>
      [...service.rooms.room(room)!.warmPeers].flatMap((p) => p.snapshot().consumers);
    expect(warmConsumers().map((c) => c.paused)).toEqual([true, true, true, true]);
    expect(
      errorCode(
        await alice.ws.request('consume', {
          transportId: aWarm.transports!.recv.id,
          producerId: randomUUID(),
        }),
      ),
    ).toBe(ErrorCode.InvalidState);

    // Bob answers: the server reveals both warm peers at once (his, answering on this device, and
    // the caller's), so both are told of each other and the consumers made ahead start forwarding
    // without waiting for either client's callJoinMedia; no new consumers are pushed.
    await ok(bob.ws, 'callAccept', { callId: call.callId });
    for (const [ws, other] of [
      [alice.ws, bWarm.peerId],
      [bob.ws, aWarm.peerId],
    ] as const) {
      await nth(ws, 'peerJoined', 1);
      expect(notifications(ws, 'peerJoined').map((n) => (n.data as { peerId: string }).peerId)).toEqual([
        other,
      ]);
    }
    const allConsumers = (): { paused: boolean }[] =>
      service.rooms.snapshot(room)!.peers.flatMap((p) => p.consumers);
    await untilValue(
      async () => allConsumers().map((c) => c.paused),
      (paused) => paused.length === 4 && paused.every((p) => !p),
      { what: 'the consumers made ahead to be resumed once Bob answered', timeoutMs: 5_000 },
    );
    // The clients' own callJoinMedia (sent as they learn of the answer) find the same peers revealed.
    const bJoined = await ok<Joined>(bob.ws, 'callJoinMedia', { callId: call.callId });
    expect(bJoined.peerId).toBe(bWarm.peerId);
    const aJoined = await ok<Joined>(alice.ws, 'callJoinMedia', { callId: call.callId });
    expect(aJoined.peerId).toBe(aWarm.peerId);
    expect(aJoined.peers.map((p) => p.peerId)).toEqual([bWarm.peerId]);
    for (const ws of [alice.ws, bob.ws]) expect(notifications(ws, 'newConsumer')).toHaveLength(2);
    expect(service.rooms.snapshot(room)).toMatchObject({ warm: 0 });
    expect(
      service.rooms
        .snapshot(room)!
        .peers.map((p) => p.peerId)
        .sort(),
    ).toEqual([aWarm.peerId, bWarm.peerId].sort());
    await ok(alice.ws, 'callHangup', { callId: call.callId });
  });

  it('bounds warm peers per call, and drops a callee’s on decline', async () => {
    const alice = await device('Alice Bound');
    const bob = await device('Bob Bound');
    const bobDevices = [bob.ws, await bob.open(), await bob.open()];
    const { call } = await ok<ResponseData['callInvite']>(alice.ws, 'callInvite', {
      userIds: [bob.userId],
      media: 'video',
    });
    const room = `call-${call.callId}`;
    for (const ws of bobDevices) await ws.waitForNotification('callIncoming');
    await ok(alice.ws, 'callWarmMedia', { callId: call.callId, mediaSetup });
    await ok(bobDevices[0]!, 'callWarmMedia', { callId: call.callId, mediaSetup });
    await ok(bobDevices[1]!, 'callWarmMedia', { callId: call.callId, mediaSetup });
    // CALL_WARM_PEERS_MAX is 3 here.
    const refused = await bobDevices[2]!.request('callWarmMedia', { callId: call.callId, mediaSetup });
    expect(errorCode(refused)).toBe(ErrorCode.LimitExceeded);
    expect(service.rooms.snapshot(room)).toMatchObject({ warm: 3 });
    await ok(bobDevices[0]!, 'callDecline', { callId: call.callId });
    // A 1:1 call declined is over: its room and every warm peer in it are gone.
    expect(service.rooms.snapshot(room)).toBeUndefined();
    expect(service.rooms.warmPeers).toBe(0);
  });
});
