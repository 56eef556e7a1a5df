/**
 * Runs Debian's janus inside the benchmark's network namespace, pinned to the SFU core, and reads
 * what the comparison needs from its admin API: which SRTP profile each PeerConnection uses.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import net from 'node:net';
import WebSocket from 'ws';
import { JANUS_ADMIN_SECRET, JANUS_ADMIN_WS_PORT, JANUS_WS_PORT, writeJanusConfig } from './janusConfig.js';

const START_TIMEOUT_MS = 20_000;
const KEPT_OUTPUT_CHARS = 20_000;

export interface JanusProcessOptions {
  netns: string;
  address: string;
  iface: string;
  eventLoops: number;
  cores: readonly number[];
}

export class JanusProcess {
  readonly wsUrl: string;
  readonly adminUrl: string;
  readonly child: ChildProcess;
  readonly #configDir: string;
  readonly #exited: Promise<void>;
  #output = '';

  private constructor(opts: JanusProcessOptions, configDir: string, child: ChildProcess) {
    this.wsUrl = `ws://${opts.address}:${JANUS_WS_PORT}`;
    this.adminUrl = `ws://${opts.address}:${JANUS_ADMIN_WS_PORT}`;
    this.child = child;
    this.#configDir = configDir;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const keep = (c: Buffer): void => {
      this.#output = (this.#output + c.toString()).slice(-KEPT_OUTPUT_CHARS);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
  }

  /** janus's own pid (`ip netns exec` and `taskset` exec it). */
  get pid(): number {
    return this.child.pid!;
  }

  get output(): string {
    return this.#output;
  }

  static async start(opts: JanusProcessOptions): Promise<JanusProcess> {
    const configDir = writeJanusConfig(opts);
    const child = spawn(
      'ip',
      ['netns', 'exec', opts.netns, 'taskset', '-c', opts.cores.join(','), 'janus', '-F', configDir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const janus = new JanusProcess(opts, configDir, child);
    try {
      await janus.#waitListening(opts.address);
    } catch (err) {
      await janus.stop();
      throw err;
    }
    return janus;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await this.#exited;
      clearTimeout(timer);
    }
    rmSync(this.#configDir, { recursive: true, force: true });
  }

  /** SRTP profile of every PeerConnection Janus has, counted by profile name. */
  async srtpProfiles(): Promise<Record<string, number>> {
    const admin = await AdminClient.connect(this.adminUrl);
    try {
      const counts: Record<string, number> = {};
      const sessions =
        ((await admin.call({ janus: 'list_sessions' })).sessions as number[] | undefined) ?? [];
      for (const session_id of sessions) {
        const handles = ((await admin.call({ janus: 'list_handles', session_id })).handles as number[]) ?? [];
        for (const handle_id of handles) {
          const info = (await admin.call({ janus: 'handle_info', session_id, handle_id })).info as
            { webrtc?: { dtls?: { 'srtp-profile'?: string } } } | undefined;
          const profile = info?.webrtc?.dtls?.['srtp-profile'] ?? 'none';
          counts[profile] = (counts[profile] ?? 0) + 1;
        }
      }
      return counts;
    } finally {
      admin.close();
    }
  }

  async #waitListening(address: string): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    let exited = false;
    void this.#exited.then(() => (exited = true));
    while (Date.now() < deadline) {
      if (exited) throw new Error(`janus exited at start:\n${this.#output}`);
      if (await canConnect(address, JANUS_WS_PORT)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`janus did not listen on ${address}:${JANUS_WS_PORT}:\n${this.#output}`);
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Janus admin API requests over WebSocket, answered by transaction. */
class AdminClient {
  readonly #ws: WebSocket;
  readonly #waiting = new Map<string, (m: Record<string, unknown>) => void>();
  #next = 0;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as Record<string, unknown>;
      const resolve = this.#waiting.get(String(m.transaction));
      this.#waiting.delete(String(m.transaction));
      resolve?.(m);
    });
  }

  static async connect(url: string): Promise<AdminClient> {
    const ws = new WebSocket(url, 'janus-admin-protocol');
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new AdminClient(ws);
  }

  call(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const transaction = `a${this.#next++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`janus admin ${String(body.janus)} timed out`)), 5_000);
      this.#waiting.set(transaction, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      this.#ws.send(JSON.stringify({ ...body, transaction, admin_secret: JANUS_ADMIN_SECRET }));
    });
  }

  close(): void {
    this.#ws.close();
  }
}
