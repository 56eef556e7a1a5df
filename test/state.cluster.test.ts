/**
 * The whole service on a real 3-primary Redis Cluster (REDIS_CLUSTER_NODES), with accounts in Redis
 * too (DATABASE_URL=memory:): sign-up, sign-in rate limits, a call that rings on another user's
 * device through pub/sub, accept, media room join, hang-up and history — every store, the message bus
 * and the rate limiter through ioredis's Cluster client. (The store contract suites check each store's
 * scripts against a cluster; this checks that the service wires them together on one.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallView } from '../protocol/signaling.js';
import { callOf, signUp, waitForCall } from './support/callTestKit.js';
import { ClusterDeployment } from './support/clusterProcess.js';
import { PhoneNumbers } from './support/phoneNumbers.js';
import type { RawSignaling } from './support/rawSignaling.js';
import { startTestService } from './support/testService.js';

type Service = Awaited<ReturnType<typeof startTestService>>;

describe('the service on a Redis Cluster', () => {
  let cluster: ClusterDeployment;
  let service: Service;
  const sockets: RawSignaling[] = [];
  const phones = new PhoneNumbers();

  beforeAll(async () => {
    cluster = await ClusterDeployment.start();
    service = await startTestService('memory', {
      REDIS_CLUSTER_NODES: cluster.nodesEnv,
      DATABASE_URL: 'memory:',
      NODE_ID: 'cluster-node',
    });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await service?.close();
    await cluster?.destroy();
  });

  it('signs people up, rings across the bus, joins media, hangs up and keeps history', async () => {
    expect(service.stores.kind).toBe('redis');
    expect((await service.health()).status).toBe('ok');
    const alice = await signUp(service.url, phones.next(), 'Alice Cluster');
    const bob = await signUp(service.url, phones.next(), 'Bob Cluster');
    const a = await alice.device('a');
    const b = await bob.device('b');
    sockets.push(a, b);

    const invited = await a.request('callInvite', { userIds: [bob.userId], media: 'audio' });
    if (!invited.ok) throw new Error(JSON.stringify(invited.error));
    const callId = (invited.data as { call: CallView }).call.callId;
    expect(callOf(await b.waitForNotification('callIncoming')).callId).toBe(callId);
    expect((await b.request('callAccept', { callId })).ok).toBe(true);
    await waitForCall(a, (c) => c.state === 'active');
    const joined = await a.request('callJoinMedia', { callId });
    if (!joined.ok) throw new Error(JSON.stringify(joined.error));
    expect((await service.stores.rooms.getRoomHost(`call-${callId}`))?.nodeId).toBe('cluster-node');

    expect((await b.request('callHangup', { callId })).ok).toBe(true);
    expect((await waitForCall(a, (c) => c.state === 'ended')).endReason).toBe('hung-up');
    const hist = await b.request('callHistory', {});
    if (!hist.ok) throw new Error(JSON.stringify(hist.error));
    expect((hist.data as { entries: { callId: string }[] }).entries.map((e) => e.callId)).toEqual([callId]);
    expect(await service.stores.calls.currentCalls([alice.userId, bob.userId])).toEqual(new Map());
  }, 60_000);
});
