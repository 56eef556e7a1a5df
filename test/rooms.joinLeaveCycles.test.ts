/**
 * 50 join/leave cycles in one room (someone stays, so the room lives throughout): no listener
 * piles up (no MaxListenersExceededWarning) and nothing is left behind — no peers, rooms,
 * mediasoup routers or Redis keys — once the last one leaves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { RawSignaling } from './support/rawSignaling.js';
import { until } from './support/poll.js';
import { fakeAudioRtpParameters, receiverRtpCapabilities } from './support/fixtures.js';
import { startTestService } from './support/testService.js';

type Service = Awaited<ReturnType<typeof startTestService>>;
const CYCLES = 50;

describe('join/leave cycles in one room', () => {
  let service: Service;
  let admin: Redis;
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);

  beforeAll(async () => {
    process.on('warning', onWarning);
    service = await startTestService('redis');
    admin = new Redis(inject('redisUrl'));
  }, 30_000);

  afterAll(async () => {
    process.off('warning', onWarning);
    admin?.disconnect();
    await service?.close();
  }, 30_000);

  const open = (name: string): Promise<RawSignaling> =>
    RawSignaling.open(
      service.url,
      service.tokens.issue({ userId: `u-${name}`, displayName: name, dev: true }).token,
    );
  const ok = async (
    c: RawSignaling,
    method: string,
    data: unknown = {},
  ): Promise<Record<string, unknown>> => {
    const r = await c.request(method, data);
    if (!r.ok) throw new Error(`${method} failed: ${JSON.stringify(r.error)}`);
    return r.data as Record<string, unknown>;
  };

  it(`${CYCLES} cycles: no listener warning, nothing left behind`, async () => {
    const room = 'cycles';
    const host = await open('Host');
    const hostPeer = (await ok(host, 'join', { room })).peerId as string;
    // The host created the room; each guest comes in with its invite.
    const { invite } = (await ok(host, 'roomInvite')) as { invite: string };
    const hostSend = (await ok(host, 'createTransport', { direction: 'send' })).id as string;
    const hostProducer = (
      await ok(host, 'produce', {
        transportId: hostSend,
        kind: 'audio',
        rtpParameters: fakeAudioRtpParameters,
      })
    ).producerId as string;

    for (let i = 0; i < CYCLES; i++) {
      const guest = await open(`Guest${i}`);
      await ok(guest, 'join', { room, invite });
      // Use the media paths that attach listeners: publish, and consume the host's producer.
      const send = (await ok(guest, 'createTransport', { direction: 'send' })).id as string;
      await ok(guest, 'produce', { transportId: send, kind: 'audio', rtpParameters: fakeAudioRtpParameters });
      await ok(guest, 'setRtpCapabilities', { rtpCapabilities: receiverRtpCapabilities });
      const recv = (await ok(guest, 'createTransport', { direction: 'recv' })).id as string;
      await ok(guest, 'consume', { transportId: recv, producerId: hostProducer });
      // Alternate a clean leave and a dropped connection.
      if (i % 2 === 0) await ok(guest, 'leave');
      await guest.close();
    }

    // Only the host is left, in memory and in Redis, with only its own producer.
    await until(() => service.rooms.snapshot(room)?.peers.length === 1, { what: 'the guests to be gone' });
    expect(service.rooms.snapshot(room)?.peers.map((p) => p.peerId)).toEqual([hostPeer]);
    expect(service.rooms.snapshot(room)?.peers[0]?.producers.map((p) => p.producerId)).toEqual([
      hostProducer,
    ]);
    await until(async () => (await service.store.listParticipants(room)).length === 1, {
      what: 'Redis to drop the guests',
    });
    expect((await service.store.listProducers(room)).map((p) => p.producerId)).toEqual([hostProducer]);

    const worker = service.workers.workers[0]!.worker;
    const routerId = service.rooms.snapshot(room)!.routerId;
    await ok(host, 'leave');
    await host.close();

    expect(service.rooms.snapshot(room)).toBeUndefined();
    expect([...service.rooms.rooms]).toEqual([]);
    expect((await worker.dump()).routerIds).not.toContain(routerId);
    // Who is in the room goes with it; who may join it (its members) stays, with an expiry.
    const membersKey = service.stores.keys.roomMembers(room);
    const roomKeys = async (): Promise<string[]> =>
      (await admin.keys(service.stores.keys.roomPattern)).filter((k) => k !== membersKey);
    await until(async () => (await roomKeys()).length === 0, { what: "the room's Redis keys to go" });
    expect(await admin.scard(membersKey)).toBe(CYCLES + 1);
    const ttl = await admin.ttl(membersKey);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(7 * 24 * 3600);
    expect(service.rooms.pendingWrites).toBe(0);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
  }, 120_000);
});
