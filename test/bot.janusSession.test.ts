/**
 * The Janus adapter used by `npm run bench:janus`: the JSON API client against a scripted
 * stand-in for Janus's WebSocket transport (the benchmark runs the real Janus; CI has none), and
 * the room-name → room-number mapping.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { janusRoomId } from '../bot/engine/janus/janusEngine.js';
import { JanusPluginError, JanusSession, type JanusMessage } from '../bot/engine/janus/janusSession.js';

type Request = Record<string, unknown> & { janus: string; transaction: string };

/** Answers like Janus: `create`/`attach` with ids, plugin messages with an ack and then an event. */
function fakeJanus(
  onMessage: (req: Request, ws: WebSocket) => void,
): Promise<{ url: string; close: () => void; protocols: string[] }> {
  const protocols: string[] = [];
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    handleProtocols: (offered) => {
      protocols.push(...offered);
      return offered.has('janus-protocol') ? 'janus-protocol' : false;
    },
  });
  wss.on('connection', (ws) =>
    ws.on('message', (data) => onMessage(JSON.parse(data.toString()) as Request, ws)),
  );
  return new Promise((resolve) =>
    wss.on('listening', () =>
      resolve({
        url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
        close: () => wss.close(),
        protocols,
      }),
    ),
  );
}

const send = (ws: WebSocket, m: Record<string, unknown>): void => ws.send(JSON.stringify(m));

describe('JanusSession', () => {
  let stop: (() => void) | undefined;
  afterEach(() => stop?.());

  it('creates a session, attaches, and resolves plugin messages with the event after the ack', async () => {
    const seen: Request[] = [];
    const janus = await fakeJanus((req, ws) => {
      seen.push(req);
      const { transaction } = req;
      if (req.janus === 'create') send(ws, { janus: 'success', transaction, data: { id: 11 } });
      else if (req.janus === 'attach') send(ws, { janus: 'success', transaction, data: { id: 22 } });
      else if (req.janus === 'message') {
        send(ws, { janus: 'ack', transaction });
        // A notification for the handle arrives before the answer; it is not the answer.
        send(ws, { janus: 'event', sender: 22, plugindata: { plugin: 'x', data: { publishers: [] } } });
        send(ws, {
          janus: 'event',
          transaction,
          sender: 22,
          plugindata: { plugin: 'janus.plugin.videoroom', data: { videoroom: 'joined', id: 5 } },
          jsep: { type: 'answer', sdp: 'v=0' },
        });
      } else send(ws, { janus: 'ack', transaction });
    });
    stop = janus.close;
    const session = await JanusSession.connect(janus.url);
    const events: [number, JanusMessage][] = [];
    session.on('handleEvent', (h, m) => events.push([h, m]));
    expect(janus.protocols).toContain('janus-protocol');

    const handle = await session.attach('janus.plugin.videoroom');
    const answer = await session.message(handle, { request: 'join' }, { type: 'offer', sdp: 'v=0' });

    expect(handle).toBe(22);
    expect(answer.plugindata?.data).toEqual({ videoroom: 'joined', id: 5 });
    expect(answer.jsep).toEqual({ type: 'answer', sdp: 'v=0' });
    expect(events).toEqual([[22, expect.objectContaining({ janus: 'event' })]]);
    // Every request after `create` names the session; plugin messages name their handle.
    expect(seen.slice(1).every((r) => r.session_id === 11)).toBe(true);
    expect(seen.find((r) => r.janus === 'message')).toMatchObject({
      handle_id: 22,
      body: { request: 'join' },
      jsep: { type: 'offer', sdp: 'v=0' },
    });
    await session.close();
    expect(seen.at(-1)?.janus).toBe('destroy');
  });

  it('turns plugin errors and Janus errors into rejections', async () => {
    const janus = await fakeJanus((req, ws) => {
      const { transaction } = req;
      if (req.janus === 'create') send(ws, { janus: 'success', transaction, data: { id: 1 } });
      else if (req.janus === 'attach')
        send(ws, { janus: 'error', transaction, error: { code: 460, reason: 'No such plugin' } });
      else if (req.janus === 'message')
        send(ws, {
          janus: 'success',
          transaction,
          plugindata: {
            plugin: 'x',
            data: { videoroom: 'event', error_code: 427, error: 'Room 7 already exists' },
          },
        });
      else send(ws, { janus: 'ack', transaction });
    });
    stop = janus.close;
    const session = await JanusSession.connect(janus.url);

    await expect(session.attach('janus.plugin.nope')).rejects.toThrow(/No such plugin/);
    const err = await session.message(1, { request: 'create' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JanusPluginError);
    expect((err as JanusPluginError).janusCode).toBe(427);
    await session.close();
  });

  it('rejects pending requests when the socket closes', async () => {
    const janus = await fakeJanus((req, ws) => {
      if (req.janus === 'create')
        send(ws, { janus: 'success', transaction: req.transaction, data: { id: 1 } });
      else ws.close();
    });
    stop = janus.close;
    const session = await JanusSession.connect(janus.url);
    const closed = new Promise<string>((resolve) => session.on('close', resolve));

    await expect(session.attach('janus.plugin.videoroom')).rejects.toThrow(/closed/);
    expect(await closed).toMatch(/closed/);
    expect(session.closed).toBe(true);
  });
});

describe('janusRoomId', () => {
  it('maps a room name to a stable positive 31-bit number', () => {
    const ids = ['bench-1', 'bench-2', 'vs-abc123-17'].map(janusRoomId);
    expect(ids.map(janusRoomId.bind(null, 'bench-1'))).toEqual([ids[0], ids[0], ids[0]]);
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) {
      expect(Number.isInteger(id)).toBe(true);
      expect(id).toBeGreaterThan(0);
      expect(id).toBeLessThan(2 ** 31);
    }
  });
});
