/**
 * Replay bots end to end: 3 rooms × 3 bots through the real service (Redis state, mediasoup
 * worker, ICE/DTLS/SRTP over loopback) for ~8 s. Every bot must receive audio and video from
 * every other bot in its room with little loss, and the server must agree on who is there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineFactory } from '../bot/engine/botEngine.js';
import { prepareEngine } from '../bot/engine/prepareEngine.js';
import { buildReport } from '../bot/report/buildReport.js';
import { runLoadTest } from '../bot/runner/loadTest.js';
import { eventually, serverRoomView, type ServerRoomView } from './support/botServerView.js';
import { startTestService } from './support/testService.js';

const ROOMS = 3;
const PER_ROOM = 3;
const MAX_LOSS = 0.02;

describe('replay engine against the real service', () => {
  let service: Awaited<ReturnType<typeof startTestService>>;
  let createEngine: EngineFactory;

  beforeAll(async () => {
    [service, createEngine] = await Promise.all([
      startTestService('redis'),
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

  it(`${ROOMS} rooms × ${PER_ROOM} bots exchange audio and video with < ${MAX_LOSS * 100}% loss`, async () => {
    const prefix = `replay-e2e-${Date.now().toString(36)}`;
    const rooms = Array.from({ length: ROOMS }, (_, i) => `${prefix}-${i + 1}`);
    const seenByServer = new Map<string, ServerRoomView | undefined>();

    const result = await runLoadTest(
      {
        url: service.url,
        rooms: ROOMS,
        perRoom: PER_ROOM,
        durationSeconds: 8,
        rampPerSecond: 10,
        engine: 'replay',
        roomPrefix: prefix,
      },
      {
        createEngine,
        beforeStop: () => {
          for (const room of rooms) seenByServer.set(room, serverRoomView(service, room));
        },
      },
    );
    const report = buildReport(result);
    const s = report.summary;

    // Everyone joined once and stayed.
    expect(s).toMatchObject({ bots: 9, joined: 9, failed: 0, reconnects: 0 });
    expect(report.bots.flatMap((b) => b.errors)).toEqual([]);
    // Every bot got audio and video from each of the 2 others in its room.
    expect(s.coverage).toEqual({
      pairs: ROOMS * PER_ROOM * (PER_ROOM - 1),
      audio: 18,
      video: 18,
      missing: [],
    });
    for (const bot of report.bots) {
      expect(bot.streams, bot.id).toHaveLength(2 * (PER_ROOM - 1));
      for (const st of bot.streams) {
        const label = `${bot.id} ← ${st.peerId} ${st.kind}`;
        // ~8 s of media: 50 Opus packets/s; VP8 at 20 fps is at least one packet per frame.
        expect(st.packets, label).toBeGreaterThan(st.kind === 'audio' ? 250 : 100);
        expect(st.lossRatio, label).toBeLessThan(MAX_LOSS);
      }
    }
    expect(s.lossPct).toBeLessThan(MAX_LOSS * 100);
    // The first video packet needs a keyframe request answered: well under the 2 s GOP.
    expect(s.streamFirstPacketMs!.p95).toBeLessThan(3_000);
    expect(s.joinMs!.p95).toBeLessThan(3_000);

    // The server saw the same rooms: 3 participants, each with 2 producers and 4 resumed consumers.
    for (const room of rooms) {
      expect(seenByServer.get(room), room).toEqual({
        participants: PER_ROOM,
        perParticipant: Array.from({ length: PER_ROOM }, () => ({
          producers: 2,
          consumers: 4,
          resumedConsumers: 4,
        })),
      });
    }
    // And everyone left: the rooms are gone.
    await eventually(() => rooms.every((r) => !service.rooms.room(r)), 5_000, 'rooms to close');
  }, 45_000);
});
