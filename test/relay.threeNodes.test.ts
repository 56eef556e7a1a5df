/**
 * Three real node processes behind one address (a round-robin TCP proxy), sharing one Redis and one
 * database. Clients connect wherever the proxy sends them; the node holding a socket relays the
 * session's room to the node hosting it. Checked from outside, as an operator would: what clients
 * receive, Redis's room records and each node's /metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchDevToken } from '../client/sdk/devToken.js';
import type { CallView } from '../protocol/signaling.js';
import { callOf, signUp, waitForCall } from './support/callTestKit.js';
import { fakeAudioRtpParameters, receiverRtpCapabilities } from './support/fixtures.js';
import { startNodeCluster, relayedSessions, type NodeCluster } from './support/nodeCluster.js';
import { PhoneNumbers } from './support/phoneNumbers.js';
import { until } from './support/poll.js';
import { RawSignaling, inviteOf } from './support/rawSignaling.js';

const REQUEST_TIMEOUT_MS = 3000;
const CHECK_INTERVAL_MS = 500;
/** The nodes' default (server/config.ts): a silent node is dead after this long. */
const NODE_DEAD_AFTER_MS = 4000;

describe('three nodes behind one address', () => {
  let cluster: NodeCluster;
  const sockets: RawSignaling[] = [];
  const phones = new PhoneNumbers();

  beforeAll(async () => {
    cluster = await startNodeCluster(3, {
      RELAY_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      RELAY_CHECK_INTERVAL_MS: String(CHECK_INTERVAL_MS),
      // These tests close sockets to see peers freed; a dropped session waits this long for a resume.
      RESUME_GRACE_MS: '200',
    });
  }, 120_000);
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await cluster?.close();
  }, 60_000);

  /** Opens a socket through the one address; says which node it landed on (by port). */
  const connect = async (token: string): Promise<{ ws: RawSignaling; port: number }> => {
    const ws = await RawSignaling.open(cluster.proxy.url, token);
    sockets.push(ws);
    return { ws, port: cluster.proxy.routed.at(-1)! };
  };
  /** A token from a node still running (tests kill some); any node accepts it. */
  const devToken = async (name: string): Promise<string> => {
    const live = cluster.nodes.find((n) => n.child.exitCode === null && n.child.signalCode === null)!;
    return (await fetchDevToken(live.url, name)).token;
  };
  const ok = async (
    c: RawSignaling,
    method: string,
    data: unknown = {},
  ): Promise<Record<string, unknown>> => {
    const r = await c.request(method, data);
    if (!r.ok) throw new Error(`${method} failed: ${JSON.stringify(r.error)}`);
    return r.data as Record<string, unknown>;
  };
  const participants = async (room: string): Promise<{ peerId: string; nodeId: string }[]> =>
    Object.values(await cluster.admin.hgetall(cluster.keys.roomParticipants(room))).map(
      (v) => JSON.parse(v) as { peerId: string; nodeId: string },
    );
  const hostOf = async (room: string): Promise<string | undefined> => {
    const raw = await cluster.admin.get(cluster.keys.roomHost(room));
    return raw ? (JSON.parse(raw) as { nodeId: string }).nodeId : undefined;
  };
  const nodeIdAt = (port: number): string => cluster.nodeIds[cluster.nodes.indexOf(cluster.nodeAt(port))]!;
  const noRedirects = (): void => {
    for (const s of sockets)
      for (const f of s.frames) expect(JSON.stringify(f)).not.toContain('HOSTED_ELSEWHERE');
  };

  it('a room hosted on one node is joined through the other two: everyone sees every producer', async () => {
    const tokens = await Promise.all(['Ann', 'Ben', 'Cid'].map(devToken));
    // Opened one after the other, so the round robin puts each on a node of its own.
    const ann = await connect(tokens[0]!);
    const ben = await connect(tokens[1]!);
    const cid = await connect(tokens[2]!);
    expect(new Set([ann.port, ben.port, cid.port]).size).toBe(3);

    const room = 'spread-room';
    const annPeer = (await ok(ann.ws, 'join', { room })).peerId as string;
    expect(await hostOf(room)).toBe(nodeIdAt(ann.port));
    const invite = await inviteOf(ann.ws);
    const benJoin = await ok(ben.ws, 'join', { room, invite });
    const cidJoin = await ok(cid.ws, 'join', { room, invite });
    expect((cidJoin.peers as { peerId: string }[]).map((p) => p.peerId).sort()).toEqual(
      [annPeer, benJoin.peerId as string].sort(),
    );
    // One room, on Ann's node, with everyone in it; the others' nodes relay.
    const inRoom = await participants(room);
    expect(inRoom).toHaveLength(3);
    expect(new Set(inRoom.map((p) => p.nodeId))).toEqual(new Set([nodeIdAt(ann.port)]));
    expect(await relayedSessions(cluster.nodeAt(ann.port))).toEqual({ edge: 0, hosted: 2 });
    expect(await relayedSessions(cluster.nodeAt(ben.port))).toEqual({ edge: 1, hosted: 0 });
    expect(await relayedSessions(cluster.nodeAt(cid.port))).toEqual({ edge: 1, hosted: 0 });

    // Everyone publishes; everyone hears of the other two's producers, wherever their socket is.
    const producers = new Map<RawSignaling, string>();
    for (const c of [ann, ben, cid]) {
      const send = (await ok(c.ws, 'createTransport', { direction: 'send' })).id as string;
      const made = await ok(c.ws, 'produce', {
        transportId: send,
        kind: 'audio',
        rtpParameters: fakeAudioRtpParameters,
      });
      producers.set(c.ws, made.producerId as string);
    }
    for (const c of [ann, ben, cid]) {
      const others = [...producers].filter(([ws]) => ws !== c.ws).map(([, id]) => id);
      for (const id of others) {
        await c.ws.waitFor(
          (f) =>
            'notification' in f &&
            f.notification === 'newProducer' &&
            (f.data as { producer: { producerId: string } }).producer.producerId === id,
        );
      }
    }
    // A relayed consumer of a relayed producer: Ben (node 2) consumes Cid (node 3) on Ann's node.
    await ok(ben.ws, 'setRtpCapabilities', { rtpCapabilities: receiverRtpCapabilities });
    const recv = (await ok(ben.ws, 'createTransport', { direction: 'recv' })).id as string;
    const consumed = await ok(ben.ws, 'consume', { transportId: recv, producerId: producers.get(cid.ws) });
    expect(consumed.peerId).toBe(cidJoin.peerId);
    // Errors are relayed typed, as the host raised them.
    const bad = await ben.ws.request('consume', { transportId: recv, producerId: 'no-such-producer' });
    expect(bad.ok ? undefined : bad.error.code).toBe('PRODUCER_NOT_FOUND');

    // Ben's socket closes on his node: his peer on Ann's node goes, and the others hear it.
    await ben.ws.close();
    await ann.ws.waitFor(
      (f) =>
        'notification' in f &&
        f.notification === 'peerLeft' &&
        (f.data as { peerId: string }).peerId === benJoin.peerId,
    );
    await until(async () => (await participants(room)).length === 2, { what: "Ben's peer to leave Redis" });
    expect(await relayedSessions(cluster.nodeAt(ann.port))).toEqual({ edge: 0, hosted: 1 });
    await until(async () => (await relayedSessions(cluster.nodeAt(ben.port))).edge === 0, {
      what: "Ben's node to forget the session",
    });
    // Cid leaves by request: nothing relayed is left anywhere.
    await ok(cid.ws, 'leave');
    await until(async () => (await relayedSessions(cluster.nodeAt(ann.port))).hosted === 0, {
      what: "Cid's peer to leave",
    });
    expect(await relayedSessions(cluster.nodeAt(cid.port))).toEqual({ edge: 0, hosted: 0 });
    noRedirects();
  }, 60_000);

  it('a 1:1 call whose parties are on different nodes rings, joins media and ends', async () => {
    const alice = await signUp(cluster.proxy.url, phones.next(), 'Alice');
    const bob = await signUp(cluster.proxy.url, phones.next(), 'Bob');
    const a = await alice.device('a');
    sockets.push(a);
    const aPort = cluster.proxy.routed.at(-1)!;
    let b = await bob.device('b');
    let bPort = cluster.proxy.routed.at(-1)!;
    // The round robin decides; if both landed on one node, Bob's next device lands on another.
    for (let i = 0; i < 3 && bPort === aPort; i++) {
      await b.close();
      b = await bob.device(`b${i}`);
      bPort = cluster.proxy.routed.at(-1)!;
    }
    sockets.push(b);
    expect(bPort).not.toBe(aPort);

    const invited = await ok(a, 'callInvite', { userIds: [bob.userId], media: 'audio' });
    const callId = (invited.call as CallView).callId;
    expect(callOf(await b.waitForNotification('callIncoming')).callId).toBe(callId);
    await ok(b, 'callAccept', { callId });
    await waitForCall(a, (c) => c.state === 'active');

    const aJoined = await ok(a, 'callJoinMedia', { callId });
    const bJoined = await ok(b, 'callJoinMedia', { callId });
    expect((bJoined.peers as { userId: string }[]).map((p) => p.userId)).toEqual([alice.userId]);
    const room = `call-${callId}`;
    expect(await hostOf(room)).toBe(nodeIdAt(aPort));
    expect((await participants(room)).map((p) => p.peerId).sort()).toEqual(
      [aJoined.peerId as string, bJoined.peerId as string].sort(),
    );
    expect(await relayedSessions(cluster.nodeAt(bPort))).toMatchObject({ edge: 1 });
    // Bob publishes through his node; Alice hears of it from the room on hers.
    const send = (await ok(b, 'createTransport', { direction: 'send' })).id as string;
    const { producerId } = await ok(b, 'produce', {
      transportId: send,
      kind: 'audio',
      rtpParameters: fakeAudioRtpParameters,
    });
    await a.waitFor(
      (f) =>
        'notification' in f &&
        f.notification === 'newProducer' &&
        (f.data as { producer: { producerId: string } }).producer.producerId === producerId,
    );

    await ok(b, 'callHangup', { callId });
    expect((await waitForCall(a, (c) => c.state === 'ended')).endReason).toBe('hung-up');
    await until(async () => (await hostOf(room)) === undefined, { what: "the call's room to close" });
    await until(async () => (await relayedSessions(cluster.nodeAt(bPort))).edge === 0, {
      what: "Bob's node to end the relayed session",
    });
    noRedirects();
  }, 60_000);

  it('a host that stops answering gives a typed UNAVAILABLE within the timeout; once it is gone the room is taken over', async () => {
    // Runs last: it kills a node. The room is hosted on node 1 and used through node 2.
    const [host, edge] = [cluster.nodes[0]!, cluster.nodes[1]!];
    const owner = await RawSignaling.open(host.url, await devToken('Owner'));
    const guest = await RawSignaling.open(edge.url, await devToken('Guest'));
    const late = await RawSignaling.open(edge.url, await devToken('Late'));
    sockets.push(owner, guest, late);
    const room = 'dying-host';
    await ok(owner, 'join', { room });
    const invite = await inviteOf(owner);
    await ok(guest, 'join', { room, invite });
    const transportId = (await ok(guest, 'createTransport', { direction: 'recv' })).id as string;
    await ok(guest, 'restartIce', { transportId });

    host.child.kill('SIGSTOP');
    let started = Date.now();
    const stalled = await guest.request('restartIce', { transportId });
    const stalledMs = Date.now() - started;
    expect(stalled.ok ? undefined : stalled.error.code).toBe('UNAVAILABLE');
    expect(stalledMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
    expect(stalledMs).toBeLessThan(REQUEST_TIMEOUT_MS + 1500);

    host.child.kill('SIGKILL');
    await until(() => host.child.exitCode !== null || host.child.signalCode !== null, {
      what: 'the host to die',
    });
    // Redis still names the dead node as the room's host (it is not declared dead yet): the join is
    // relayed there and finds nobody listening; instead of sending the client away it waits for the
    // verdict (NODE_DEAD_AFTER_MS after the last heartbeat) and takes the room over on this node.
    started = Date.now();
    const rehosted = await late.request('join', { room, invite });
    expect(rehosted.ok).toBe(true);
    expect(Date.now() - started).toBeLessThan(NODE_DEAD_AFTER_MS + 2_000);
    expect(await hostOf(room)).toBe(cluster.nodeIds[1]);
    // The guest's node notices within a check interval and tells it to rejoin.
    const closed = await guest.waitForNotification('roomClosed');
    expect((closed.data as { reason: string }).reason).toMatch(/gone/);
    expect(await relayedSessions(edge)).toEqual({ edge: 0, hosted: 0 });
    const after = await guest.request('restartIce', { transportId });
    expect(after.ok ? undefined : after.error.code).toBe('NOT_IN_ROOM');
    noRedirects();
  }, 60_000);

  it('an edge node killed: the host frees the peers it relayed within a check interval', async () => {
    // Node 1 was killed above; node 2 hosts, node 3 is the edge that dies.
    const [host, edge] = [cluster.nodes[1]!, cluster.nodes[2]!];
    const owner = await RawSignaling.open(host.url, await devToken('Keeper'));
    const guest = await RawSignaling.open(edge.url, await devToken('Leaver'));
    sockets.push(owner, guest);
    const room = 'dying-edge';
    await ok(owner, 'join', { room });
    const guestPeer = (await ok(guest, 'join', { room, invite: await inviteOf(owner) })).peerId as string;
    expect(await participants(room)).toHaveLength(2);
    expect(await relayedSessions(host)).toEqual({ edge: 0, hosted: 1 });

    edge.child.kill('SIGKILL');
    const started = Date.now();
    await owner.waitFor(
      (f) =>
        'notification' in f &&
        f.notification === 'peerLeft' &&
        (f.data as { peerId: string }).peerId === guestPeer,
      CHECK_INTERVAL_MS * 4 + 2000,
    );
    expect(Date.now() - started).toBeLessThan(CHECK_INTERVAL_MS * 4 + 2000);
    expect(await relayedSessions(host)).toEqual({ edge: 0, hosted: 0 });
    await until(async () => (await participants(room)).length === 1, {
      what: "the guest's peer to leave Redis",
    });
    noRedirects();
  }, 60_000);
});
