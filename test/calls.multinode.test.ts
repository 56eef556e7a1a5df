/**
 * Two server nodes sharing one Redis: a call placed on one node rings a device connected to the
 * other, answers flow back, and the call's media room is found on the node that hosts it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.js';
import type { CallView } from '../protocol/signaling.js';
import { RawSignaling } from './support/rawSignaling.js';
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

  it('rings across nodes and sends the callee to the node hosting the media room', async () => {
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
    const elsewhere = await b.request('callJoinMedia', { callId });
    expect(elsewhere.ok).toBe(false);
    if (elsewhere.ok) return;
    expect(elsewhere.error.code).toBe(ErrorCode.RoomHostedElsewhere);
    expect(elsewhere.error.details?.url).toBe(nodeA.url);

    // Bob's device follows the redirect with a second socket on node A (same device token).
    const bOnA = await RawSignaling.open(elsewhere.error.details!.url!, b.token);
    sockets.push(bOnA);
    const joined = await bOnA.request('callJoinMedia', { callId });
    if (!joined.ok) throw new Error(JSON.stringify(joined.error));
    expect((joined.data as { peers: { userId: string }[] }).peers.map((p) => p.userId)).toEqual([
      alice.userId,
    ]);

    expect((await b.request('callHangup', { callId })).ok).toBe(true);
    expect((await waitForCall(a, (c) => c.state === 'ended')).endReason).toBe('hung-up');
    // The hang-up was handled on node B, but the media room on node A closes too: every session
    // holding the call's media leaves when it hears the call ended.
    await until(() => nodeA.rooms.snapshot(`call-${callId}`) === undefined, {
      what: "node A's media room to close",
    });
    // The history is shared by both nodes.
    const hist = await b.request('callHistory', {});
    if (!hist.ok) throw new Error(JSON.stringify(hist.error));
    expect((hist.data as { entries: { callId: string }[] }).entries[0]?.callId).toBe(callId);
  });
});
