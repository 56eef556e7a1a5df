/**
 * Reconnects: the server closes a room under two replay bots (what it does when the room's
 * media worker dies: `roomClosed`, then the room is gone). The bots must rejoin with backoff,
 * count one reconnect each, and get each other's media again in the new room. And a signaling drop
 * (sockets cut through a TCP relay, as a network change does) is resumed: same peer, no rejoin.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineFactory } from '../bot/engine/botEngine.js';
import { prepareEngine } from '../bot/engine/prepareEngine.js';
import { buildReport } from '../bot/report/buildReport.js';
import { runLoadTest } from '../bot/runner/loadTest.js';
import { serverRoomView, type ServerRoomView } from './support/botServerView.js';
import { TcpProxy } from './support/tcpProxy.js';
import { startTestService } from './support/testService.js';

describe('replay bots after the server closes their room', () => {
  let service: Awaited<ReturnType<typeof startTestService>>;
  let createEngine: EngineFactory;

  beforeAll(async () => {
    [service, createEngine] = await Promise.all([
      startTestService('memory'),
      prepareEngine({
        engine: 'replay',
        video: { width: 640, height: 480, fps: 20 },
        videoKbps: 800,
        simulcast: false,
      }),
    ]);
  });
  afterAll(async () => {
    await service?.close();
  });

  it('rejoin with backoff, count the reconnect and receive media again', async () => {
    const prefix = `reconnect-e2e-${Date.now().toString(36)}`;
    const room = `${prefix}-1`;
    let closedAt: number | undefined;
    let seen: ServerRoomView | undefined;
    const result = await runLoadTest(
      {
        url: service.url,
        rooms: 1,
        perRoom: 2,
        durationSeconds: 7,
        rampPerSecond: 10,
        engine: 'replay',
        roomPrefix: prefix,
        backoff: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 1_000 },
      },
      {
        createEngine,
        onSample: (sample) => {
          if (closedAt === undefined && sample.tMs > 2_000 && sample.states.joined === 2) {
            closedAt = sample.tMs;
            service.rooms.closeRoom(room, 'media worker restarted');
          }
        },
        beforeStop: () => void (seen = serverRoomView(service, room)),
      },
    );
    const report = buildReport(result);

    expect(closedAt).toBeDefined();
    expect(report.summary).toMatchObject({ bots: 2, failed: 0, reconnects: 2 });
    for (const bot of report.bots) {
      expect(bot.state, bot.id).toBe('joined');
      expect(bot.reconnects, bot.id).toBe(1);
      expect(bot.peerIds, bot.id).toHaveLength(2);
      expect(bot.errors.map((e) => e.code)).toEqual(['DISCONNECTED']);
      expect(bot.errors[0]!.message).toContain('room closed');
    }
    // Media flows again between the new sessions.
    const [a, b] = report.bots;
    for (const [receiver, sender] of [
      [a!, b!],
      [b!, a!],
    ] as const) {
      const fromNew = receiver.streams.filter((s) => s.peerId === sender.peerIds[1] && s.packets > 0);
      expect(fromNew.map((s) => s.kind).sort(), `${receiver.id} ← ${sender.id}`).toEqual(['audio', 'video']);
    }
    expect(seen?.participants).toBe(2);
  }, 30_000);

  it('resume after their signaling sockets are cut: same peer, no reconnect, media keeps flowing', async () => {
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: service.port });
    try {
      const prefix = `resume-e2e-${Date.now().toString(36)}`;
      const room = `${prefix}-1`;
      let cutAt: number | undefined;
      let peersAtCut: string[] = [];
      let peersAtEnd: string[] = [];
      const result = await runLoadTest(
        {
          url: `http://127.0.0.1:${proxy.port}`,
          rooms: 1,
          perRoom: 2,
          durationSeconds: 6,
          rampPerSecond: 10,
          engine: 'replay',
          roomPrefix: prefix,
          backoff: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 1_000 },
        },
        {
          createEngine,
          onSample: (sample) => {
            if (cutAt === undefined && sample.tMs > 2_000 && sample.states.joined === 2) {
              cutAt = sample.tMs;
              peersAtCut = peerIdsIn(room);
              proxy.cut();
            }
          },
          beforeStop: () => void (peersAtEnd = peerIdsIn(room)),
        },
      );
      const report = buildReport(result);

      expect(cutAt).toBeDefined();
      expect(report.summary).toMatchObject({ bots: 2, failed: 0, reconnects: 0 });
      expect(peersAtCut).toHaveLength(2);
      expect(peersAtEnd).toEqual(peersAtCut);
      for (const bot of report.bots) {
        expect(bot.state, bot.id).toBe('joined');
        expect(bot.resumes, bot.id).toBe(1);
        expect(bot.peerIds, bot.id).toHaveLength(1);
        expect(peersAtEnd).toContain(bot.peerIds[0]);
      }
      // Each still receives the other's audio and video on the consumers it had before the cut.
      const [a, b] = report.bots;
      for (const [receiver, sender] of [
        [a!, b!],
        [b!, a!],
      ] as const) {
        const live = receiver.streams.filter(
          (s) => s.peerId === sender.peerIds[0] && s.packets > 0 && !s.closed,
        );
        expect(live.map((s) => s.kind).sort(), `${receiver.id} ← ${sender.id}`).toEqual(['audio', 'video']);
      }
    } finally {
      await proxy.close();
    }
  }, 30_000);

  function peerIdsIn(room: string): string[] {
    return (service.rooms.snapshot(room)?.peers.map((p) => p.peerId) ?? []).sort();
  }
});
