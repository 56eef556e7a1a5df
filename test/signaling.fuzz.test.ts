/**
 * Signaling fuzz (seeded): a few sockets send tens of thousands of random, mutated and broken frames
 * to the service running as a child process (bench/lib/signalingFuzzer.ts says what they send).
 * Afterwards: the process is up, every request was answered within 2 s with a known error code and
 * never INTERNAL, no media worker was lost, fresh clients still join a room and exchange media, and
 * the service's heap (after a forced GC) is back in its starting range once the sockets closed.
 * Bigger runs: `npm run bench:fuzz -- --messages 100000 --seed 7`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineFactory } from '../bot/engine/botEngine.js';
import { prepareEngine } from '../bot/engine/prepareEngine.js';
import { buildReport } from '../bot/report/buildReport.js';
import { runLoadTest } from '../bot/runner/loadTest.js';
import { runSignalingFuzz } from '../bench/lib/signalingFuzzer.js';
import { fuzzServerEnv, heapAfterGc, serverWorkerPids, signInFuzzUsers } from '../bench/lib/fuzzService.js';
import { startServerProcess, type ServerProcess } from './support/serverProcess.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const MESSAGES = Number(process.env.FUZZ_MESSAGES ?? 24_000);
const SOCKETS = 4;
/** Heap growth (after GC) tolerated once everything closed: allocator slack, not leaked rooms. */
const HEAP_SLACK_BYTES = 16 * 1024 * 1024;

describe('signaling fuzz', () => {
  let server: ServerProcess;
  let createEngine: EngineFactory;

  beforeAll(async () => {
    [server, createEngine] = await Promise.all([
      startServerProcess(fuzzServerEnv()),
      prepareEngine({
        engine: 'replay',
        video: { width: 320, height: 240, fps: 15 },
        videoKbps: 300,
        simulcast: false,
      }),
    ]);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it(`survives ${MESSAGES} fuzzed frames (seed ${SEED}) with typed answers, media intact, memory back`, async () => {
    const pidsBefore = await serverWorkerPids(server.url);
    // Warm up (modules, JIT, first room and transports) before taking the baseline.
    const warmUsers = await signInFuzzUsers(server.url, 2);
    await runSignalingFuzz({ url: server.url, sockets: warmUsers, messages: 1_000, seed: SEED + 1 });
    const heapBefore = await heapAfterGc(server);

    const users = await signInFuzzUsers(server.url, SOCKETS);
    const summary = await runSignalingFuzz({
      url: server.url,
      sockets: users,
      messages: MESSAGES,
      seed: SEED,
    });
    const detail = JSON.stringify(summary, null, 1);

    expect(server.child.exitCode, server.output()).toBeNull();
    expect(summary.sent, detail).toBe(MESSAGES);
    expect(summary.unanswered, detail).toBe(0);
    expect(summary.answered, detail).toBe(MESSAGES);
    expect(summary.late, detail).toBe(0);
    expect(summary.unknownCodes, detail).toEqual([]);
    expect(summary.internal, detail).toEqual([]);
    // The fuzz got past validation: real objects were created and real media errors happened. (About
    // 1 in 22 frames succeeds with seed 20261201 now that ids have a strict format and a peer cannot
    // consume one producer twice; 1 in 40 leaves room for generator changes without going blind.)
    expect(summary.ok, detail).toBeGreaterThan(MESSAGES / 40);
    expect(summary.byCode.INVALID_PARAMS ?? 0, detail).toBeGreaterThan(0);
    // No worker was lost or replaced on the way, and the node reports healthy.
    expect(await serverWorkerPids(server.url)).toEqual(pidsBefore);

    // Fresh clients still get a room with working media.
    const prefix = `after-fuzz-${SEED}`;
    const result = await runLoadTest(
      {
        url: server.url,
        rooms: 1,
        perRoom: 2,
        durationSeconds: 3,
        rampPerSecond: 10,
        engine: 'replay',
        roomPrefix: prefix,
      },
      { createEngine },
    );
    const report = buildReport(result);
    expect(report.summary).toMatchObject({ bots: 2, joined: 2, failed: 0 });
    expect(report.summary.coverage).toMatchObject({ pairs: 2, audio: 2, video: 2, missing: [] });
    for (const bot of report.bots)
      for (const st of bot.streams) expect(st.packets, bot.id).toBeGreaterThan(20);

    // Everything the fuzz created is gone once its sockets closed: the heap is back where it started.
    const deadline = Date.now() + 10_000;
    let heapAfter = await heapAfterGc(server);
    while (heapAfter > heapBefore + HEAP_SLACK_BYTES && Date.now() < deadline)
      heapAfter = await heapAfterGc(server);
    expect(heapAfter, `heap before ${heapBefore}, after ${heapAfter}`).toBeLessThanOrEqual(
      heapBefore + HEAP_SLACK_BYTES,
    );
  }, 120_000);
});
