/**
 * A minimal client of Janus's JSON API over WebSocket (subprotocol `janus-protocol`): one
 * session, handles attached to a plugin, requests matched to answers by transaction, and the
 * asynchronous events of each handle. Enough for the VideoRoom bot; not a general SDK.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { TypedEmitter } from '../../../client/sdk/typedEmitter.js';
import { BotError, withTimeout } from '../../errors.js';

export interface Jsep {
  type: 'offer' | 'answer';
  sdp: string;
  /** false: every candidate is in the SDP, no trickle follows. */
  trickle?: boolean;
}

/** Everything Janus sends; the fields used here, the rest passes through untyped. */
export interface JanusMessage {
  janus: string;
  transaction?: string;
  session_id?: number;
  sender?: number;
  data?: { id: number };
  error?: { code: number; reason: string };
  plugindata?: { plugin: string; data: Record<string, unknown> };
  jsep?: Jsep;
}

export type JanusSessionEvents = {
  /** An event for a handle that answers no request of ours (notifications, hangups). */
  handleEvent: [handleId: number, message: JanusMessage];
  close: [reason: string];
};

const REQUEST_TIMEOUT_MS = 15_000;
/** Janus drops a session after 60 s without traffic (`session_timeout`). */
const KEEPALIVE_MS = 25_000;

interface Pending {
  /** Requests whose real answer is an event after an `ack` (plugin messages with async replies). */
  async: boolean;
  resolve: (m: JanusMessage) => void;
  reject: (e: Error) => void;
}

export class JanusSession extends TypedEmitter<JanusSessionEvents> {
  readonly #ws: WebSocket;
  readonly #pending = new Map<string, Pending>();
  #sessionId = 0;
  #keepalive: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  private constructor(ws: WebSocket) {
    super();
    this.#ws = ws;
    ws.on('message', (data) => this.#onMessage(JSON.parse(data.toString()) as JanusMessage));
    ws.on('close', () => this.#onClose('websocket closed'));
    ws.on('error', (err) => this.#onClose(`websocket error: ${err.message}`));
  }

  static async connect(url: string, opts: { localAddress?: string } = {}): Promise<JanusSession> {
    const ws = new WebSocket(url, 'janus-protocol', {
      handshakeTimeout: 10_000,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const session = new JanusSession(ws);
    const created = await session.#request({ janus: 'create' }, false);
    session.#sessionId = created.data!.id;
    session.#keepalive = setInterval(() => {
      void session.#request({ janus: 'keepalive' }, false).catch(() => undefined);
    }, KEEPALIVE_MS);
    return session;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async attach(plugin: string): Promise<number> {
    return (await this.#request({ janus: 'attach', plugin }, false)).data!.id;
  }

  /**
   * Sends a plugin message and resolves with the plugin's answer: the synchronous `success`, or
   * the `event` carrying the same transaction (with its jsep, if any). Plugin errors reject.
   */
  async message(handleId: number, body: Record<string, unknown>, jsep?: Jsep): Promise<JanusMessage> {
    const answer = await this.#request(
      { janus: 'message', handle_id: handleId, body, ...(jsep ? { jsep } : {}) },
      true,
    );
    const data = answer.plugindata?.data;
    if (data && typeof data.error === 'string') {
      throw new JanusPluginError(Number(data.error_code ?? 0), data.error);
    }
    return answer;
  }

  async trickleCompleted(handleId: number): Promise<void> {
    await this.#request({ janus: 'trickle', handle_id: handleId, candidate: { completed: true } }, false);
  }

  async detach(handleId: number): Promise<void> {
    await this.#request({ janus: 'detach', handle_id: handleId }, false);
  }

  /** Destroys the session (Janus then hangs up every handle) and closes the socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await withTimeout(this.#request({ janus: 'destroy' }, false), 3_000, 'janus destroy').catch(
      () => undefined,
    );
    this.#onClose('closed');
    this.#ws.close();
  }

  #request(msg: Record<string, unknown>, async: boolean): Promise<JanusMessage> {
    if (this.#closed) return Promise.reject(new BotError('DISCONNECTED', 'janus session closed'));
    const transaction = randomBytes(8).toString('hex');
    const full = { ...msg, transaction, ...(this.#sessionId ? { session_id: this.#sessionId } : {}) };
    const answer = new Promise<JanusMessage>((resolve, reject) => {
      this.#pending.set(transaction, { async, resolve, reject });
    });
    this.#ws.send(JSON.stringify(full));
    return withTimeout(answer, REQUEST_TIMEOUT_MS, `janus ${String(msg.janus)}`).finally(() =>
      this.#pending.delete(transaction),
    );
  }

  #onMessage(m: JanusMessage): void {
    const pending = m.transaction ? this.#pending.get(m.transaction) : undefined;
    if (pending) {
      if (m.janus === 'error') {
        pending.reject(
          new BotError('JOIN_FAILED', `janus: ${m.error?.reason ?? 'error'} (${m.error?.code})`),
        );
        return;
      }
      // An ack only says "working on it" for plugin messages answered by a later event.
      if (m.janus === 'ack' && pending.async) return;
      pending.resolve(m);
      return;
    }
    if (m.sender !== undefined) this.emit('handleEvent', m.sender, m);
  }

  #onClose(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepalive);
    for (const p of this.#pending.values()) p.reject(new BotError('DISCONNECTED', reason));
    this.#pending.clear();
    this.emit('close', reason);
  }
}

export class JanusPluginError extends Error {
  readonly code: string;
  readonly janusCode: number;
  constructor(janusCode: number, message: string) {
    super(`${message} (${janusCode})`);
    this.name = 'JanusPluginError';
    this.code = 'JANUS_PLUGIN_ERROR';
    this.janusCode = janusCode;
  }
}
