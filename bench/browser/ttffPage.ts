/**
 * Runs inside Chromium (bundled by pageBundle.ts): 1:1 video calls through the signaling
 * protocol (callInvite / callAccept / callJoinMedia) and the SDK's RoomSession, like the web
 * page, timing the first decoded remote frame with requestVideoFrameCallback on the receiving
 * <video> (getStats is cached for ~50 ms and lags). Times are epoch milliseconds
 * (timeOrigin + now), so the two pages' clocks compare.
 */
import { RoomSession } from '../../client/sdk/roomSession.js';
import { SignalingConnection } from '../../client/sdk/connection.js';

/** Epoch milliseconds of each step on one side of a call. */
export interface SideTiming {
  /** callJoinMedia answered. */
  mediaJoinedAt: number;
  /** Our camera and microphone producers exist (NaN if publishing failed). */
  publishedAt: number;
  /** The other side's video track exists here. */
  trackAt: number;
  /** Its first frame was presented. */
  firstFrameAt: number;
}

export interface AnswerTiming extends SideTiming {
  acceptAt: number;
}

export interface CallerTiming extends SideTiming {
  /** callUpdated with state "active" arrived. */
  acceptedAt: number;
}

export interface TtffPageApi {
  connect(token: string): Promise<void>;
  /** Caller: invites `userId` to a video call and resolves at the first frame of the callee. */
  call(userId: string, timeoutMs: number): Promise<CallerTiming>;
  /** Callee: accepts the next incoming call at once and resolves at the first frame of the caller. */
  answer(timeoutMs: number): Promise<AnswerTiming>;
  /** Leaves the media room and ends the call. */
  hangup(): Promise<void>;
}

declare global {
  interface Window {
    ttff: TtffPageApi;
  }
}

let signaling: SignalingConnection | undefined;
let media: MediaStream | undefined;
let session: RoomSession | undefined;
let callId: string | undefined;
const incoming: string[] = [];
let onIncoming: (() => void) | undefined;

const epochNow = (): number => performance.timeOrigin + performance.now();

function connected(): SignalingConnection {
  if (!signaling) throw new Error('connect first');
  return signaling;
}

async function camera(): Promise<MediaStream> {
  media ??= await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
  return media;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${what}: no result in ${ms} ms`)), ms),
    ),
  ]);
}

/**
 * Joins the call's media room on the call's own connection, publishes camera and microphone
 * alongside (as the web page does: publishing competes with the first frame), and times each
 * step up to the first presented frame of the other side.
 */
async function mediaUntilFirstFrame(id: string, timeoutMs: number): Promise<SideTiming> {
  const s = connected();
  const m = await camera();
  let mediaJoinedAt = 0;
  const rs = await RoomSession.attach({
    room: `call ${id}`,
    enter: async () => {
      const joined = await s.request('callJoinMedia', { callId: id });
      mediaJoinedAt = epochNow();
      return { signaling: s, joined, ownsSignaling: false };
    },
  });
  session = rs;
  // Clones, because leaving stops the published tracks and the camera serves every call.
  const published = rs
    .publish({ audio: m.getAudioTracks()[0]?.clone(), video: m.getVideoTracks()[0]?.clone() })
    .then(epochNow, () => Number.NaN);
  const track = await withTimeout(firstRemoteVideo(rs), timeoutMs, 'remote video track');
  const trackAt = epochNow();
  const firstFrameAt = await withTimeout(firstFrame(track), timeoutMs, 'first remote frame');
  return { mediaJoinedAt, publishedAt: await published, trackAt, firstFrameAt };
}

function firstRemoteVideo(s: RoomSession): Promise<MediaStreamTrack> {
  const existing = [...s.remoteTracks.values()].find((t) => t.kind === 'video');
  if (existing) return Promise.resolve(existing.track);
  return new Promise((resolve) => {
    const off = s.on('track', (t) => {
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

window.ttff = {
  async connect(token) {
    const url = `${location.origin.replace(/^http/, 'ws')}/ws`;
    // One socket per measured call: a drop fails the run rather than hiding in a reconnect.
    signaling = await SignalingConnection.open({ url, getToken: () => token, reconnectOn: () => false });
    signaling.on('callIncoming', ({ call }) => {
      incoming.push(call.callId);
      onIncoming?.();
    });
    await camera();
  },

  async call(userId, timeoutMs) {
    const s = connected();
    const accepted = new Promise<string>((resolve) => {
      const off = s.on('callUpdated', ({ call }) => {
        if (call.state !== 'active') return;
        off();
        resolve(call.callId);
      });
    });
    const { call } = await s.request('callInvite', { userIds: [userId], media: 'video' });
    callId = call.callId;
    const id = await withTimeout(accepted, timeoutMs, 'call accepted');
    const acceptedAt = epochNow();
    return { acceptedAt, ...(await mediaUntilFirstFrame(id, timeoutMs)) };
  },

  async answer(timeoutMs) {
    const s = connected();
    if (incoming.length === 0) {
      await withTimeout(new Promise<void>((resolve) => (onIncoming = resolve)), timeoutMs, 'incoming call');
    }
    const id = incoming.shift()!;
    callId = id;
    const acceptAt = epochNow();
    await s.request('callAccept', { callId: id });
    return { acceptAt, ...(await mediaUntilFirstFrame(id, timeoutMs)) };
  },

  async hangup() {
    await session?.leave().catch(() => undefined);
    session = undefined;
    if (callId)
      await connected()
        .request('callHangup', { callId })
        .catch(() => undefined);
    callId = undefined;
    for (const v of document.querySelectorAll('video')) v.remove();
  },
};
