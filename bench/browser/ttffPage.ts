/**
 * Runs inside Chromium (bundled by pageBundle.ts). Two kinds of 1:1 video call, timed to the first
 * decoded remote frame with requestVideoFrameCallback on the receiving <video> (getStats is cached
 * for ~50 ms and lags):
 *  - through the service, with the SDK's CallClient exactly as the web page uses it (so with the
 *    warm-up while it rings, the Device loaded at connect, server-pushed consumers);
 *  - the P2P reference: two RTCPeerConnections with no server in the media path, the offer made
 *    while it "rings", the answer at accept (the SDPs are relayed by the bench process).
 * Times are epoch milliseconds (timeOrigin + now), so the two pages' clocks compare.
 */
import { CallClient } from '../../client/sdk/callClient.js';
import type { AnyCall } from '../../client/sdk/call.js';

/** Epoch milliseconds of each step on one side of a call. */
export interface SideTiming {
  /** The call's media is up on this side (`mediaState` connected: revealed, or joined and published). */
  mediaConnectedAt: number;
  /** The other side's video track exists here. */
  trackAt: number;
  /** Its first frame was presented. */
  firstFrameAt: number;
}

export interface AnswerTiming extends SideTiming {
  acceptAt: number;
  /** The call rang here (callIncoming). */
  ringAt: number;
}

export interface CallerTiming extends SideTiming {
  /** The call became active here (callUpdated). */
  acceptedAt: number;
}

export interface P2pTiming {
  /** Epoch ms the remote frame was first presented. */
  firstFrameAt: number;
}

export interface TtffPageApi {
  connect(token: string): Promise<void>;
  /** Caller: calls `userId` (video) and resolves at the first frame of the callee. */
  call(userId: string, timeoutMs: number): Promise<CallerTiming>;
  /**
   * Callee: accepts the next incoming call `answerDelayMs` after it rang (a person takes a moment;
   * 0 answers at once) and resolves at the first frame of the caller.
   */
  answer(answerDelayMs: number, timeoutMs: number): Promise<AnswerTiming>;
  /** Hangs up the current call. */
  hangup(): Promise<void>;
  /** P2P reference, caller: camera, a connection and its complete offer (made while it rings). */
  p2pOffer(): Promise<string>;
  /** P2P reference, callee: at accept (returns its epoch ms) camera, connection, complete answer. */
  p2pAnswer(offer: string): Promise<{ acceptAt: number; answer: string }>;
  /** P2P reference, caller: applies the answer. */
  p2pApply(answer: string): Promise<void>;
  /** P2P reference, either side: resolves at the first presented remote frame. */
  p2pFirstFrame(timeoutMs: number): Promise<P2pTiming>;
  p2pClose(): void;
}

declare global {
  interface Window {
    ttff: TtffPageApi;
  }
}

let client: CallClient | undefined;
let current: AnyCall | undefined;
const incoming: { call: AnyCall; ringAt: number }[] = [];
let onIncoming: (() => void) | undefined;

const epochNow = (): number => performance.timeOrigin + performance.now();

function calls(): CallClient {
  if (!client) throw new Error('connect first');
  return client;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: no result in ${ms} ms`)), ms),
    ),
  ]);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Times the steps of one side from now on, up to the first presented frame of the other side. */
async function untilFirstFrame(call: AnyCall, timeoutMs: number): Promise<SideTiming> {
  let mediaConnectedAt = call.mediaState === 'connected' ? epochNow() : Number.NaN;
  const offState = call.on('mediaStateChanged', (state) => {
    if (state === 'connected' && Number.isNaN(mediaConnectedAt)) mediaConnectedAt = epochNow();
  });
  try {
    const track = await withTimeout(firstRemoteVideo(call), timeoutMs, 'remote video track');
    const trackAt = epochNow();
    const firstFrameAt = await withTimeout(firstFrame(track), timeoutMs, 'first remote frame');
    return { mediaConnectedAt, trackAt, firstFrameAt };
  } finally {
    offState();
  }
}

function firstRemoteVideo(call: AnyCall): Promise<MediaStreamTrack> {
  const existing = call.participants.find((p) => p.video)?.video;
  if (existing) return Promise.resolve(existing);
  return new Promise((resolve) => {
    const off = call.on('track', (t) => {
      if (t.kind !== 'video') return;
      off();
      resolve(t.track);
    });
  });
}

function firstFrame(track: MediaStreamTrack): Promise<number> {
  const video = document.createElement('video');
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  document.body.append(video);
  video.srcObject = new MediaStream([track]);
  // `now` is on this page's performance clock; turned into epoch time like the others.
  return new Promise((resolve) =>
    video.requestVideoFrameCallback((now) => resolve(performance.timeOrigin + now)),
  );
}

// ---- P2P reference -------------------------------------------------------------------------------

let pc: RTCPeerConnection | undefined;
let p2pTrack: Promise<MediaStreamTrack> | undefined;

async function p2pConnection(): Promise<RTCPeerConnection> {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: true,
    video: { width: 640, height: 480 },
  });
  const conn = new RTCPeerConnection();
  for (const t of stream.getTracks()) conn.addTrack(t, stream);
  p2pTrack = new Promise((resolve) =>
    conn.addEventListener('track', (e) => {
      if (e.track.kind === 'video') resolve(e.track);
    }),
  );
  pc = conn;
  return conn;
}

/** The local description once ICE gathering is complete (loopback host candidates: a few ms). */
async function completeDescription(conn: RTCPeerConnection): Promise<string> {
  if (conn.iceGatheringState !== 'complete') {
    await new Promise<void>((resolve) =>
      conn.addEventListener('icegatheringstatechange', () => {
        if (conn.iceGatheringState === 'complete') resolve();
      }),
    );
  }
  return conn.localDescription!.sdp;
}

window.ttff = {
  async connect(token) {
    const url = `${location.origin.replace(/^http/, 'ws')}/ws`;
    // As the web page connects: defaults for everything but the token.
    client = await CallClient.connect({ url, getToken: () => Promise.resolve(token) });
    client.on('incomingCall', (call) => {
      incoming.push({ call, ringAt: epochNow() });
      onIncoming?.();
    });
  },

  async call(userId, timeoutMs) {
    const call = await calls().call([userId], 'video');
    current = call;
    if (call.state !== 'active') {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          const off = call.on('stateChanged', (state) => {
            if (state === 'ringing') return;
            off();
            if (state === 'active') resolve();
            else reject(new Error(`the call ended (${call.endReason})`));
          });
        }),
        timeoutMs,
        'call accepted',
      );
    }
    const acceptedAt = epochNow();
    return { acceptedAt, ...(await untilFirstFrame(call, timeoutMs)) };
  },

  async answer(answerDelayMs, timeoutMs) {
    if (incoming.length === 0) {
      await withTimeout(new Promise<void>((resolve) => (onIncoming = resolve)), timeoutMs, 'incoming call');
    }
    const { call, ringAt } = incoming.shift()!;
    current = call;
    if (call.direction !== 'incoming') throw new Error('not an incoming call');
    await sleep(Math.max(0, ringAt + answerDelayMs - epochNow()));
    const acceptAt = epochNow();
    const timing = untilFirstFrame(call, timeoutMs);
    await call.accept();
    return { acceptAt, ringAt, ...(await timing) };
  },

  async hangup() {
    const call = current;
    current = undefined;
    await call?.hangup().catch(() => undefined);
    for (const v of document.querySelectorAll('video')) v.remove();
  },

  async p2pOffer() {
    const conn = await p2pConnection();
    await conn.setLocalDescription(await conn.createOffer());
    return completeDescription(conn);
  },

  async p2pAnswer(offer) {
    const acceptAt = epochNow();
    const conn = await p2pConnection();
    await conn.setRemoteDescription({ type: 'offer', sdp: offer });
    await conn.setLocalDescription(await conn.createAnswer());
    return { acceptAt, answer: await completeDescription(conn) };
  },

  async p2pApply(answer) {
    await pc!.setRemoteDescription({ type: 'answer', sdp: answer });
  },

  async p2pFirstFrame(timeoutMs) {
    const track = await withTimeout(p2pTrack!, timeoutMs, 'p2p remote track');
    return { firstFrameAt: await withTimeout(firstFrame(track), timeoutMs, 'p2p first frame') };
  },

  p2pClose() {
    for (const s of pc?.getSenders() ?? []) s.track?.stop();
    pc?.close();
    pc = undefined;
    p2pTrack = undefined;
    for (const v of document.querySelectorAll('video')) v.remove();
  },
};
