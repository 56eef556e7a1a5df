/**
 * Real-engine bots end to end: two libwebrtc clients (mediasoup-client's Chrome111 handler on
 * @roamhq/wrtc) in one room through the real service. Each must decode the other's video.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineFactory } from '../bot/engine/botEngine.js';
import { prepareEngine } from '../bot/engine/prepareEngine.js';
import { buildReport } from '../bot/report/buildReport.js';
import { runLoadTest } from '../bot/runner/loadTest.js';
import { eventually, serverRoomView, type ServerRoomView } from './support/botServerView.js';
import { startTestService } from './support/testService.js';

describe('real engine against the real service', () => {
  let service: Awaited<ReturnType<typeof startTestService>>;
  let createEngine: EngineFactory;

  beforeAll(async () => {
    [service, createEngine] = await Promise.all([
      startTestService('memory'),
      // Small frames keep two encoders and two decoders cheap on a shared 2-core runner.
      prepareEngine({
        engine: 'real',
        video: { width: 320, height: 240, fps: 15 },
        videoKbps: 300,
        simulcast: true,
      }),
    ]);
  });
  afterAll(async () => {
    await service?.close();
  });

  it('two bots decode each other’s video frames', async () => {
    const prefix = `real-e2e-${Date.now().toString(36)}`;
    const room = `${prefix}-1`;
    let seen: ServerRoomView | undefined;
    const result = await runLoadTest(
      {
        url: service.url,
        rooms: 1,
        perRoom: 2,
        durationSeconds: 6,
        rampPerSecond: 4,
        engine: 'real',
        roomPrefix: prefix,
      },
      { createEngine, beforeStop: () => void (seen = serverRoomView(service, room)) },
    );
    const report = buildReport(result);

    expect(report.summary).toMatchObject({ bots: 2, joined: 2, failed: 0, reconnects: 0 });
    expect(report.summary.coverage).toMatchObject({ pairs: 2, video: 2, missing: [] });
    for (const bot of report.bots) {
      const video = bot.streams.filter((st) => st.kind === 'video');
      expect(video, bot.id).toHaveLength(1);
      expect(video[0]!.framesDecoded, `${bot.id} frames decoded`).toBeGreaterThan(0);
      expect(bot.joinToFirstFrameMs, bot.id).toBeDefined();
      expect(
        bot.streams.some((st) => st.kind === 'audio' && st.packets > 0),
        `${bot.id} audio`,
      ).toBe(true);
    }
    expect(seen).toEqual({
      participants: 2,
      perParticipant: [
        { producers: 2, consumers: 2, resumedConsumers: 2 },
        { producers: 2, consumers: 2, resumedConsumers: 2 },
      ],
    });
    await eventually(() => !service.rooms.room(room), 5_000, 'the room to close');
  }, 45_000);
});
