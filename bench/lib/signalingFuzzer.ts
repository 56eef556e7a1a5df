/**
 * A seeded signaling fuzzer: a handful of WebSockets send random frames to a running service —
 * valid requests (so rooms, transports and producers really exist), mutated valid payloads, wrong
 * types, huge and fractional numbers, deep nesting, ids of other peers' objects, unknown methods,
 * broken envelopes, non-JSON, binary and oversized frames — and record every answer.
 *
 * The same seed sends the same frames (the server's answers, and so the ids reused later, may
 * differ between runs). Used by test/signaling.fuzz.test.ts (a few tens of thousands of frames)
 * and `npm run bench:fuzz` (as many as you like).
 */
import WebSocket from 'ws';
import { ErrorCode } from '../../protocol/errors.js';
import { MAX_MESSAGE_BYTES, requestSchemas } from '../../protocol/signaling.js';
import { signalingProtocols } from '../../protocol/wsAuth.js';

export interface FuzzOptions {
  /** http(s) base URL of the service. */
  url: string;
  /** One access token per socket; their users are also used as call targets. */
  sockets: { token: string; userId: string }[];
  messages: number;
  seed: number;
  /** Requests a socket keeps unanswered at most. */
  inFlight?: number;
  /** An answer later than this counts as late; one never received is unanswered. */
  answerTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface FuzzSummary {
  seed: number;
  sent: number;
  answered: number;
  unanswered: number;
  /** Answered, but after answerTimeoutMs. */
  late: number;
  maxLatencyMs: number;
  p99LatencyMs: number;
  ok: number;
  /** Error answers by code. */
  byCode: Record<string, number>;
  /** Codes that are not in protocol/errors.ts (must stay empty). */
  unknownCodes: string[];
  /** INTERNAL answers: the frame that caused each (first few), to reproduce. */
  internal: { frame: string; message: string }[];
  /** Sockets the server closed under us (each is reopened). */
  reopened: number;
  seconds: number;
}

const KNOWN_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));
const METHODS = Object.keys(requestSchemas);
const ROOMS = 3;

/** mulberry32: small, fast and good enough to pick fuzz cases; the same seed gives the same run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Ids the service handed out, to any socket: a fuzzed request may name someone else's. */
class IdPool {
  readonly transports: string[] = [];
  readonly producers: string[] = [];
  readonly consumers: string[] = [];
  readonly peers: string[] = [];
  readonly calls: string[] = [];

  add(list: string[], id: unknown): void {
    if (typeof id !== 'string' || list.includes(id)) return;
    list.push(id);
    if (list.length > 200) list.shift();
  }

  /** Learns ids from any frame the service sent. */
  learn(frame: Record<string, unknown>): void {
    const walk = (v: unknown, key: string, depth: number): void => {
      if (depth > 6 || v === null || typeof v !== 'object') {
        if (key === 'producerId') this.add(this.producers, v);
        else if (key === 'consumerId') this.add(this.consumers, v);
        else if (key === 'peerId') this.add(this.peers, v);
        else if (key === 'callId') this.add(this.calls, v);
        else if (key === 'transport.id') this.add(this.transports, v);
        return;
      }
      for (const [k, child] of Object.entries(v)) {
        // createTransport answers { id, iceParameters, ... }: that id is a transport's.
        const name = k === 'id' && 'iceParameters' in v ? 'transport.id' : k;
        walk(child, name, depth + 1);
      }
    };
    walk(frame.data, '', 0);
  }
}

class Gen {
  readonly #r: () => number;
  readonly #ids: IdPool;
  readonly #users: string[];
  readonly #seed: number;

  constructor(r: () => number, ids: IdPool, users: string[], seed: number) {
    this.#r = r;
    this.#ids = ids;
    this.#users = users;
    this.#seed = seed;
  }

  int(n: number): number {
    return Math.floor(this.#r() * n);
  }
  chance(p: number): boolean {
    return this.#r() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  /** An id from the pool (often someone else's), or a made-up one. */
  id(list: string[]): string {
    if (list.length > 0 && this.chance(0.85)) return this.pick(list);
    return this.pick(['nope', '', 'x'.repeat(129), '00000000-0000-0000-0000-000000000000', '../../etc']);
  }

  /** Something of a random type, including the awkward ones. */
  junk(depth = 0): unknown {
    switch (this.int(depth > 3 ? 9 : 12)) {
      case 0:
        return null;
      case 1:
        return this.chance(0.5);
      case 2:
        return this.pick([
          0,
          -1,
          1.5,
          0.1,
          2 ** 31,
          2 ** 32,
          2 ** 53,
          -(2 ** 53),
          1e308,
          -1e-308,
          127,
          128,
          256,
        ]);
      case 3:
        return this.int(2 ** 32);
      case 4:
        return this.pick([
          '',
          'a',
          'audio',
          'video',
          'send',
          'recv',
          '__proto__',
          'constructor',
          '😀'.repeat(40),
        ]);
      case 5:
        return 'x'.repeat(this.pick([65, 129, 257, 5000]));
      case 6:
        return this.id(this.#ids.transports);
      case 7:
        return this.id(this.#ids.producers);
      case 8:
        return this.id(this.#ids.peers);
      case 9:
        return Array.from({ length: this.int(5) }, () => this.junk(depth + 1));
      case 10:
        return Object.fromEntries(
          Array.from({ length: this.int(4) }, () => [
            this.pick(['a', 'ssrc', 'id', 'codecs', '__proto__']),
            this.junk(depth + 1),
          ]),
        );
      default:
        return this.deep(this.pick([10, 100, 500]));
    }
  }

  deep(depth: number): unknown {
    let v: unknown = 1;
    for (let i = 0; i < depth; i++) v = this.chance(0.5) ? [v] : { a: v };
    return v;
  }

  rtpParameters(kind: 'audio' | 'video'): Record<string, unknown> {
    const ssrc = 1 + this.int(2 ** 32 - 2);
    const video = {
      mid: String(this.int(20)),
      codecs: [
        {
          mimeType: 'video/VP8',
          payloadType: 101,
          clockRate: 90000,
          rtcpFeedback: [
            { type: 'nack' },
            { type: 'nack', parameter: 'pli' },
            { type: 'ccm', parameter: 'fir' },
          ],
        },
      ],
      headerExtensions: [],
      encodings: [{ ssrc, maxBitrate: 500_000 }],
      rtcp: { cname: 'fuzz', reducedSize: true },
    };
    const audio = {
      mid: String(this.int(20)),
      codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }],
      headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', id: 1 }],
      encodings: [{ ssrc }],
      rtcp: { cname: 'fuzz', reducedSize: true },
    };
    return kind === 'video' ? video : audio;
  }

  /** A request a real client could send (with ids that may be anyone's). */
  valid(method: string): unknown {
    const ids = this.#ids;
    const kind = this.pick(['audio', 'video'] as const);
    switch (method) {
      case 'join':
        return { room: `fuzz-${this.#seed}-${this.int(ROOMS)}`, displayName: 'Fuzz' };
      case 'setRtpCapabilities':
        return {
          rtpCapabilities: {
            codecs: [
              {
                kind: 'audio',
                mimeType: 'audio/opus',
                clockRate: 48000,
                channels: 2,
                preferredPayloadType: 100,
              },
              {
                kind: 'video',
                mimeType: 'video/VP8',
                clockRate: 90000,
                preferredPayloadType: 101,
                rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }],
              },
            ],
            headerExtensions: [],
          },
        };
      case 'createTransport':
        return { direction: this.pick(['send', 'recv']) };
      case 'connectTransport':
        return {
          transportId: this.id(ids.transports),
          dtlsParameters: {
            role: 'client',
            fingerprints: [
              {
                algorithm: 'sha-256',
                value: Array.from({ length: 32 }, () => this.int(256).toString(16).padStart(2, '0')).join(
                  ':',
                ),
              },
            ],
          },
        };
      case 'restartIce':
        return { transportId: this.id(ids.transports) };
      case 'produce':
        return { transportId: this.id(ids.transports), kind, rtpParameters: this.rtpParameters(kind) };
      case 'closeProducer':
      case 'pauseProducer':
      case 'resumeProducer':
        return { producerId: this.id(ids.producers) };
      case 'consume':
        return { transportId: this.id(ids.transports), producerId: this.id(ids.producers) };
      case 'resumeConsumer':
        return { consumerId: this.id(ids.consumers) };
      case 'setConsumerPreferredLayers':
        return { consumerId: this.id(ids.consumers), spatialLayer: this.int(4), temporalLayer: this.int(4) };
      case 'leave':
      case 'callHistorySeen':
      case 'roomInvite':
        return {};
      case 'roomAddMembers':
        // Members add the fuzzing users, so more of their joins get in (rooms admit members only).
        return { userIds: [this.pick(this.#users)] };
      case 'callInvite':
        return { userIds: [this.pick(this.#users)], media: kind };
      case 'callAddParticipants':
        return { callId: this.id(ids.calls), userIds: [this.pick(this.#users)] };
      case 'callHistory':
        return { limit: 1 + this.int(200) };
      default:
        // callRinging, callAccept, callDecline, callCancel, callHangup, callJoinMedia, callGet
        return { callId: this.id(ids.calls) };
    }
  }

  /** Replaces one value somewhere inside `v` with junk (or deletes it). */
  mutate(v: unknown, depth = 0): unknown {
    if (v === null || typeof v !== 'object' || depth > 8 || this.chance(0.15)) return this.junk();
    if (Array.isArray(v)) {
      if (v.length === 0 || this.chance(0.15)) return [...v, this.junk()];
      const i = this.int(v.length);
      return v.map((x, j) => (j === i ? this.mutate(x, depth + 1) : x));
    }
    const entries = Object.entries(v);
    if (entries.length === 0 || this.chance(0.1))
      return { ...v, [this.pick(['extra', 'ssrc', '__proto__'])]: this.junk() };
    const [key] = this.pick(entries);
    if (this.chance(0.1)) {
      const copy: Record<string, unknown> = { ...v };
      delete copy[key];
      return copy;
    }
    return { ...v, [key]: this.mutate((v as Record<string, unknown>)[key], depth + 1) };
  }
}

interface Pending {
  sentAt: number;
  frame: string;
}

/** One fuzzing socket: keeps up to `inFlight` frames unanswered, matches answers to them. */
class FuzzSocket {
  ws: WebSocket | undefined;
  readonly #byId = new Map<number, Pending>();
  /** Frames the server answers with id null (it cannot read their id), in order. */
  readonly #anonymous: Pending[] = [];
  #nextId = 1;
  #nextOddId = 1;
  #wake: (() => void) | undefined;

  constructor(
    readonly index: number,
    readonly token: string,
    readonly onAnswer: (p: Pending, frame: Record<string, unknown>) => void,
    readonly ids: IdPool,
  ) {}

  get outstanding(): number {
    return this.#byId.size + this.#anonymous.length;
  }

  async open(url: string): Promise<void> {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`, signalingProtocols(this.token));
    ws.on('message', (data) => {
      let frame: Record<string, unknown>;
      try {
        frame = JSON.parse(data.toString()) as Record<string, unknown>;
      } catch {
        return;
      }
      this.ids.learn(frame);
      if (!('id' in frame)) return; // a notification
      const pending = frame.id === null ? this.#anonymous.shift() : this.#byId.get(frame.id as number);
      if (typeof frame.id === 'number') this.#byId.delete(frame.id);
      if (pending) this.onAnswer(pending, frame);
      this.#wake?.();
    });
    ws.on('close', () => this.#wake?.());
    ws.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    this.ws = ws;
  }

  /** Sends a frame; `readableId` says whether the server can read its id (then it answers with it). */
  send(frame: string | Buffer, readableId: number | null, binary = false): void {
    const p = {
      sentAt: performance.now(),
      frame: typeof frame === 'string' ? frame.slice(0, 300) : '<binary>',
    };
    if (readableId === null) this.#anonymous.push(p);
    else this.#byId.set(readableId, p);
    this.ws!.send(frame, { binary });
  }

  takeId(): number {
    return this.#nextId++;
  }
  /** Ids unusual yet readable by the server (negative, huge), unique so answers still match. */
  takeOddId(kind: 'negative' | 'huge'): number {
    const n = this.#nextOddId++;
    return kind === 'negative' ? -n : Number.MAX_SAFE_INTEGER - n;
  }

  /** Waits until fewer than `limit` frames are unanswered, the socket closed, or `timeoutMs` passed. */
  async room(limit: number, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (this.outstanding >= limit && this.ws?.readyState === WebSocket.OPEN) {
      const left = deadline - performance.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** Frames never answered (dropped from tracking). */
  drain(): Pending[] {
    const left = [...this.#byId.values(), ...this.#anonymous];
    this.#byId.clear();
    this.#anonymous.length = 0;
    return left;
  }

  close(): Promise<void> {
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      ws.once('close', () => resolve());
      ws.close();
    });
  }
}

export async function runSignalingFuzz(opts: FuzzOptions): Promise<FuzzSummary> {
  const started = performance.now();
  const timeoutMs = opts.answerTimeoutMs ?? 2_000;
  const inFlight = opts.inFlight ?? 8;
  const r = prng(opts.seed);
  const ids = new IdPool();
  const gen = new Gen(
    r,
    ids,
    opts.sockets.map((s) => s.userId),
    opts.seed,
  );
  const latencies: number[] = [];
  const summary: FuzzSummary = {
    seed: opts.seed,
    sent: 0,
    answered: 0,
    unanswered: 0,
    late: 0,
    maxLatencyMs: 0,
    p99LatencyMs: 0,
    ok: 0,
    byCode: {},
    unknownCodes: [],
    internal: [],
    reopened: 0,
    seconds: 0,
  };
  const onAnswer = (p: Pending, frame: Record<string, unknown>): void => {
    const ms = performance.now() - p.sentAt;
    latencies.push(ms);
    summary.answered++;
    if (ms > timeoutMs) summary.late++;
    if (frame.ok === true) {
      summary.ok++;
      return;
    }
    const error = frame.error as { code?: unknown; message?: unknown } | undefined;
    const code = String(error?.code);
    summary.byCode[code] = (summary.byCode[code] ?? 0) + 1;
    if (!KNOWN_CODES.has(code) && !summary.unknownCodes.includes(code)) summary.unknownCodes.push(code);
    if (code === ErrorCode.Internal && summary.internal.length < 20) {
      summary.internal.push({ frame: p.frame, message: String(error?.message) });
    }
  };

  const sockets = opts.sockets.map((s, i) => new FuzzSocket(i, s.token, onAnswer, ids));
  await Promise.all(sockets.map((s) => s.open(opts.url)));
  try {
    const perSocket = Math.ceil(opts.messages / sockets.length);
    await Promise.all(
      sockets.map(async (s) => {
        for (let n = 0; n < perSocket && summary.sent < opts.messages; n++) {
          if (opts.signal?.aborted) return;
          await s.room(inFlight, timeoutMs);
          if (s.ws?.readyState !== WebSocket.OPEN) {
            // The server may close a socket (e.g. a frame beyond the hard limit); keep fuzzing on a new one.
            summary.unanswered += s.drain().length;
            await s.open(opts.url);
            summary.reopened++;
          }
          if (s.outstanding >= inFlight) {
            // Nothing came back in time: count the oldest as unanswered and carry on.
            summary.unanswered += s.drain().length;
          }
          sendOne(s, gen);
          summary.sent++;
        }
      }),
    );
    // Let the last answers arrive.
    await Promise.all(sockets.map((s) => s.room(1, timeoutMs)));
    for (const s of sockets) summary.unanswered += s.drain().length;
  } finally {
    await Promise.all(sockets.map((s) => s.close()));
  }
  latencies.sort((a, b) => a - b);
  summary.maxLatencyMs = Math.round(latencies.at(-1) ?? 0);
  summary.p99LatencyMs = Math.round(latencies[Math.floor(latencies.length * 0.99)] ?? 0);
  summary.seconds = Math.round((performance.now() - started) / 100) / 10;
  return summary;
}

/** Picks a kind of frame and sends it. */
function sendOne(s: FuzzSocket, g: Gen): void {
  const roll = g.int(100);
  const method = g.pick(METHODS);
  if (roll < 35) {
    const id = s.takeId();
    s.send(JSON.stringify({ id, method, data: g.valid(method) }), id);
  } else if (roll < 70) {
    const id = s.takeId();
    s.send(JSON.stringify({ id, method, data: g.mutate(g.valid(method)) }), id);
  } else if (roll < 80) {
    const id = s.takeId();
    s.send(JSON.stringify({ id, method, data: g.junk() }), id);
  } else if (roll < 86) {
    // Envelopes the server can still read an id from.
    const id = g.chance(0.5) ? s.takeOddId(g.chance(0.5) ? 'negative' : 'huge') : s.takeId();
    const m = g.pick([method, 'unknownMethod', '', 'x'.repeat(65), '__proto__', 'constructor', 'toString']);
    s.send(JSON.stringify({ id, method: m, data: g.valid(method), extra: g.junk() }), id);
  } else if (roll < 92) {
    // Envelopes whose id the server cannot use: answered with id null.
    const bad = g.pick([
      () => JSON.stringify({ id: 1.5, method, data: {} }),
      () => JSON.stringify({ id: String(s.takeId()), method, data: {} }),
      () => JSON.stringify({ method, data: {} }),
      () => JSON.stringify([1, 2, 3]),
      // Wrapped in an array: a junk object could carry a readable id that collides with a real one.
      () => JSON.stringify([g.junk()]),
      () => '{"id": 1, "method": "join", ',
      () => 'not json at all',
    ])();
    s.send(bad, readableId(bad));
  } else if (roll < 95) {
    s.send(Buffer.from(JSON.stringify({ id: s.takeId(), method: 'join', data: {} })), null, true);
  } else if (roll < 97) {
    // Over the protocol's limit (answered MESSAGE_TOO_LARGE), below the socket's hard limit.
    const id = s.takeId();
    s.send(JSON.stringify({ id, method, data: { pad: 'x'.repeat(MAX_MESSAGE_BYTES) } }), null);
  } else {
    const id = s.takeId();
    s.send(JSON.stringify({ id, method, data: g.deep(g.pick([50, 500, 2000])) }), id);
  }
}

/** The id the server will answer with: a safe integer it can read, or null. */
function readableId(frame: string): number | null {
  try {
    const json: unknown = JSON.parse(frame);
    if (typeof json === 'object' && json !== null && 'id' in json && Number.isSafeInteger(json.id)) {
      return json.id as number;
    }
  } catch {
    // not JSON
  }
  return null;
}
