/**
 * Two server nodes sharing one Redis: a call placed on one node rings a device connected to the
 * other, answers flow back, and the callee's media requests are relayed by its own node to the node
 * hosting the call's media room (no redirect, no second socket).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import type { CallView, ResponseData } from '../protocol/signaling.js';
import { receiverRtpCapabilities } from './support/fixtures.js';
import { errorCode, type RawSignaling } from './support/rawSignaling.js';
import { callOf, signUp, waitForCall } from './support/callTestKit.js';
import { PhoneNumbers } from './support/phoneNumbers.js';
import { startTestService } from './support/testService.js';
import { until } from './support/poll.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

describe('calls across two nodes sharing Redis', () => {
  let nodeA: Service;
  let nodeB: Service;
  const sockets: RawSignaling[] = [];
  const phones = new PhoneNumbers();

  beforeAll(async () => {
    nodeA = await startTestService('redis', { NODE_ID: 'node-a' });
    nodeB = await startTestService('redis', { NODE_ID: 'node-b' }, { keyPrefix: nodeA.keyPrefix });
  });
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await nodeB?.close();
    await nodeA?.close();
  });

  it('rings across nodes and relays the callee to the node hosting the media room', async () => {
    const alice = await signUp(nodeA.url, phones.next(), 'Alice');
    const bob = await signUp(nodeB.url, phones.next(), 'Bob');
    const a = await alice.device('a');
    const b = await bob.device('b');
    sockets.push(a, b);
    expect(nodeA.signaling.connectionCount).toBe(1);
    expect(nodeB.signaling.connectionCount).toBe(1);

    const invited = await a.request('callInvite', { userIds: [bob.userId], media: 'video' });
    if (!invited.ok) throw new Error(JSON.stringify(invited.error));
    const callId = (invited.data as { call: CallView }).call.callId;
    const ring = await b.waitForNotification('callIncoming');
    expect(callOf(ring).callId).toBe(callId);
    expect((await b.request('callAccept', { callId })).ok).toBe(true);
    await waitForCall(a, (c) => c.state === 'active');

    expect((await a.request('callJoinMedia', { callId })).ok).toBe(true);
    // Bob's socket stays on node B; his join is relayed to node A, which hosts the call's room.
    const joined = await b.request('callJoinMedia', { callId });
    if (!joined.ok) throw new Error(JSON.stringify(joined.error));
    expect((joined.data as { peers: { userId: string }[] }).peers.map((p) => p.userId)).toEqual([
      alice.userId,
    ]);
    expect(nodeB.rooms.snapshot(`call-${callId}`)).toBeUndefined();
    const onA = nodeA.rooms.snapshot(`call-${callId}`)?.peers.map((p) => p.userId) ?? [];
    expect(onA.sort()).toEqual([alice.userId, bob.userId].sort());
    expect(nodeB.relay.counts.edge).toBe(1);
    expect(nodeA.relay.counts.hosted).toBe(1);
    // Alice hears of Bob on node A, through the room itself.
    const joinedNote = await a.waitForNotification('peerJoined');
    expect((joinedNote.data as { userId: string }).userId).toBe(bob.userId);
    // Media requests relayed too: the transport is made on node A's worker.
    const transport = await b.request('createTransport', { direction: 'recv' });
    if (!transport.ok) throw new Error(JSON.stringify(transport.error));
    const transportId = (transport.data as { id: string }).id;
    expect(nodeA.rooms.snapshot(`call-${callId}`)).toBeDefined();
    const again = await b.request('restartIce', { transportId });
    expect(again.ok).toBe(true);

    expect((await b.request('callHangup', { callId })).ok).toBe(true);
    expect((await waitForCall(a, (c) => c.state === 'ended')).endReason).toBe('hung-up');
    // The hang-up was handled on node B, but the media room on node A closes too: every session
    // holding the call's media leaves when it hears the call ended.
    await until(() => nodeA.rooms.snapshot(`call-${callId}`) === undefined, {
      what: "node A's media room to close",
    });
    await until(() => nodeA.relay.counts.hosted === 0 && nodeB.relay.counts.edge === 0, {
      what: 'the relayed session to end on both nodes',
    });
    // The history is shared by both nodes.
    const hist = await b.request('callHistory', {});
    if (!hist.ok) throw new Error(JSON.stringify(hist.error));
    expect((hist.data as { entries: { callId: string }[] }).entries[0]?.callId).toBe(callId);
  });

  it('warm-up happens where the call is hosted; a callee on another node answers cold, still with mediaSetup through the relay', async () => {
    const alice = await signUp(nodeA.url, phones.next(), 'Alice Warm');
    const bob = await signUp(nodeB.url, phones.next(), 'Bob Warm');
    const a = await alice.device('a');
    const b = await bob.device('b');
    sockets.push(a, b);
    const mediaSetup = { rtpCapabilities: receiverRtpCapabilities };

    const invited = await a.request('callInvite', { userIds: [bob.userId], media: 'video' });
    if (!invited.ok) throw new Error(JSON.stringify(invited.error));
    const callId = (invited.data as { call: CallView }).call.callId;
    await b.waitForNotification('callIncoming');
    // The caller's warm-up makes the call's room on node A: a hidden peer with its transports.
    const warm = await a.request('callWarmMedia', { callId, mediaSetup });
    if (!warm.ok) throw new Error(JSON.stringify(warm.error));
    expect((warm.data as ResponseData['callWarmMedia']).transports?.send).toBeDefined();
    expect(nodeA.rooms.snapshot(`call-${callId}`)?.warm).toBe(1);
    // Bob's device is on node B: a warm-up there would need a relayed reveal, so it is refused with
    // a code the SDK treats as "answer cold", and nothing is left behind on either node.
    const refused = await b.request('callWarmMedia', { callId, mediaSetup });
    expect(errorCode(refused)).toBe(ErrorCode.InvalidState);
    expect(refused.ok ? undefined : refused.error.details?.reason).toBe('hosted-elsewhere');
    expect(nodeA.rooms.snapshot(`call-${callId}`)?.warm).toBe(1);
    expect(nodeB.rooms.snapshot(`call-${callId}`)).toBeUndefined();

    expect((await b.request('callAccept', { callId })).ok).toBe(true);
    await waitForCall(a, (c) => c.state === 'active');
    // The answer reveals Alice's warm peer; Bob's cold join carries mediaSetup to node A through
    // the relay and gets both transports in the answer.
    expect((await a.request('callJoinMedia', { callId })).ok).toBe(true);
    const joined = await b.request('callJoinMedia', { callId, mediaSetup });
    if (!joined.ok) throw new Error(JSON.stringify(joined.error));
    const answer = joined.data as ResponseData['callJoinMedia'];
    expect(answer.transports?.send?.id).toBeDefined();
    expect(answer.transports?.recv.id).toBeDefined();
    const room = nodeA.rooms.snapshot(`call-${callId}`);
    expect(room?.warm).toBe(0);
    expect(room?.peers.map((p) => p.userId).sort()).toEqual([alice.userId, bob.userId].sort());

    expect((await a.request('callHangup', { callId })).ok).toBe(true);
    await until(() => nodeA.rooms.snapshot(`call-${callId}`) === undefined, {
      what: "node A's media room to close",
    });
  });
});
