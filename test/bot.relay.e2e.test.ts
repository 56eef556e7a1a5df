/**
 * Replay bots through one address in front of three node processes: the round robin puts the bots
 * of each room on different nodes, so most of them reach their room through the relay. Every bot
 * must still receive audio and video from every other bot of its room (media goes straight to the
 * host node's announced address), and no client may ever be told to go elsewhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchDevToken } from '../client/sdk/devToken.js';
import type { EngineFactory } from '../bot/engine/botEngine.js';
import { prepareEngine } from '../bot/engine/prepareEngine.js';
import { buildReport } from '../bot/report/buildReport.js';
import { runLoadTest } from '../bot/runner/loadTest.js';
import { relayedSessions, startNodeCluster, type NodeCluster } from './support/nodeCluster.js';
import { until } from './support/poll.js';

const ROOMS = 2;
const PER_ROOM = 3;
const MAX_LOSS = 0.02;

describe('replay bots through one address in front of three nodes', () => {
  let cluster: NodeCluster;
  let createEngine: EngineFactory;

  beforeAll(async () => {
    [cluster, createEngine] = await Promise.all([
      startNodeCluster(3),
      prepareEngine({
        engine: 'replay',
        video: { width: 640, height: 480, fps: 20 },
        videoKbps: 800,
        simulcast: false,
      }),
    ]);
  }, 120_000);
  afterAll(async () => {
    await cluster?.close();
  }, 60_000);

  it(`${ROOMS} rooms × ${PER_ROOM} bots spread over the nodes exchange audio and video`, async () => {
    const prefix = `relay-e2e-${Date.now().toString(36)}`;
    const rooms = Array.from({ length: ROOMS }, (_, i) => `${prefix}-${i + 1}`);
    let relayed: { edge: number; hosted: number }[] = [];
    let hosts: (string | null)[] = [];

    const result = await runLoadTest(
      {
        url: cluster.proxy.url,
        rooms: ROOMS,
        perRoom: PER_ROOM,
        durationSeconds: 8,
        rampPerSecond: 5,
        engine: 'replay',
        roomPrefix: prefix,
      },
      {
        createEngine,
        // Tokens from one node directly: only the bots' WebSockets go through the round robin.
        getToken: async (_base, displayName) =>
          (await fetchDevToken(cluster.nodes[0]!.url, displayName)).token,
        beforeStop: async () => {
          relayed = await Promise.all(cluster.nodes.map(relayedSessions));
          hosts = await Promise.all(rooms.map((r) => cluster.admin.get(`cs:room:${r}:host`)));
        },
      },
    );
    const report = buildReport(result);
    const s = report.summary;

    expect(s).toMatchObject({ bots: ROOMS * PER_ROOM, joined: ROOMS * PER_ROOM, failed: 0, reconnects: 0 });
    expect(report.bots.flatMap((b) => b.errors)).toEqual([]);
    // Six sockets dealt round-robin over three nodes; bots join in turn, room by room.
    const wsPorts = cluster.proxy.routed;
    expect(wsPorts).toHaveLength(ROOMS * PER_ROOM);
    expect(new Set(wsPorts).size).toBe(3);
    // Two sockets per node, three bots per room: whatever order the bots connected in, at least one
    // bot of every room is on a node other than its room's host, so reaches it through the relay.
    const edge = relayed.reduce((n, r) => n + r.edge, 0);
    const hosted = relayed.reduce((n, r) => n + r.hosted, 0);
    expect(hosted).toBe(edge);
    expect(edge).toBeGreaterThanOrEqual(ROOMS);
    expect(hosts.every((h) => h !== null)).toBe(true);

    expect(s.coverage).toEqual({
      pairs: ROOMS * PER_ROOM * (PER_ROOM - 1),
      audio: ROOMS * PER_ROOM * (PER_ROOM - 1),
      video: ROOMS * PER_ROOM * (PER_ROOM - 1),
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
    // Everyone left: no relayed session and no room is left on any node.
    await until(
      async () =>
        (await Promise.all(cluster.nodes.map(relayedSessions))).every((r) => r.edge + r.hosted === 0),
      { what: 'every relayed session to end', timeoutMs: 10_000 },
    );
    await until(
      async () =>
        (await Promise.all(rooms.map((r) => cluster.admin.exists(`cs:room:${r}:host`)))).every(
          (n) => n === 0,
        ),
      {
        what: 'the rooms to close',
        timeoutMs: 10_000,
      },
    );
  }, 90_000);
});
