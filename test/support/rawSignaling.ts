/**
 * A deliberately low-level signaling client for protocol tests: it can send any frame, including
 * broken ones, and waits for responses by id or for notifications by name.
 */
import WebSocket from 'ws';
import { signalingProtocols } from '../../protocol/wsAuth.js';
import type { NotificationEnvelope, ResponseEnvelope } from '../../protocol/signaling.js';

type Frame = ResponseEnvelope | NotificationEnvelope;

export class RawSignaling {
  readonly ws: WebSocket;
  /** The access token this socket authenticated with (to open another socket as the same device). */
  readonly token: string;
  readonly frames: Frame[] = [];
  readonly #waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  #nextId = 1;

  private constructor(ws: WebSocket, token: string) {
    this.ws = ws;
    this.token = token;
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      this.frames.push(frame);
      for (const w of [...this.#waiters]) {
        if (w.match(frame)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve(frame);
        }
      }
    });
  }

  static open(baseUrl: string, token: string): Promise<RawSignaling> {
    const ws = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/ws`, signalingProtocols(token));
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new RawSignaling(ws, token)));
      ws.once('error', reject);
    });
  }

  /** Resolves with the first frame (already received or future) that matches. */
  waitFor(match: (f: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a frame')), timeoutMs);
      this.#waiters.push({
        match,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  waitForNotification(name: string): Promise<NotificationEnvelope> {
    return this.waitFor(
      (f) => 'notification' in f && f.notification === name,
    ) as Promise<NotificationEnvelope>;
  }

  /** Sends a well-formed request and returns its response envelope (ok or error). */
  async request(method: string, data?: unknown): Promise<ResponseEnvelope> {
    const id = this.#nextId++;
    const before = this.frames.length;
    this.ws.send(JSON.stringify({ id, method, data }));
    return (await this.waitFor(
      (f) => this.frames.indexOf(f) >= before && 'id' in f && f.id === id,
    )) as ResponseEnvelope;
  }

  /** Sends an arbitrary frame and returns the next response that has no matching request id. */
  async sendRaw(
    frame: string | Buffer,
    opts: { binary?: boolean; expectId?: number | null } = {},
  ): Promise<ResponseEnvelope> {
    const expectId = opts.expectId ?? null;
    const before = this.frames.length;
    this.ws.send(frame, { binary: opts.binary ?? false });
    return (await this.waitFor(
      (f) => this.frames.indexOf(f) >= before && 'id' in f && f.id === expectId,
    )) as ResponseEnvelope;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

export function errorCode(r: ResponseEnvelope): string | undefined {
  return r.ok ? undefined : r.error.code;
}

/** A member's invite to the room it is in (`roomInvite`), for another client to join with. */
export async function inviteOf(member: RawSignaling): Promise<string> {
  const r = await member.request('roomInvite', {});
  if (!r.ok) throw new Error(`roomInvite failed: ${JSON.stringify(r)}`);
  return (r.data as { invite: string }).invite;
}
