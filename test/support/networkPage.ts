/**
 * Runs inside Chromium (bundled by networkPageBundle.ts) for the impairment suite and
 * `bench:networks`: one RoomSession through the SDK, the remote video shown in a <video> whose
 * presented frames are timed with requestVideoFrameCallback (first frame, longest gap between
 * frames), the remote audio played (so concealment is counted), and a report of what the
 * browser's own WebRTC stack measured: decoding, freezes, NACK/PLI, concealment, the selected
 * candidate pair, and the SDK's connection-quality levels. Times are epoch milliseconds.
 */
import { RoomSession, type ConnectionQuality } from '../../client/sdk/roomSession.js';

export interface PageEvent {
  at: number;
  type: string;
  detail?: string;
}

export interface VideoIn {
  framesDecoded: number;
  keyFramesDecoded: number;
  freezeCount: number;
  totalFreezesDuration: number;
  frameWidth: number;
  nackCount: number;
  pliCount: number;
  firCount: number;
  packetsLost: number;
  packetsReceived: number;
  retransmittedPacketsReceived: number;
}

export interface AudioIn {
  packetsReceived: number;
  packetsLost: number;
  concealedSamples: number;
  totalSamplesReceived: number;
  concealmentEvents: number;
}

export interface PageReport {
  peerId: string;
  video: VideoIn | null;
  audio: AudioIn | null;
  /** The selected candidate pair of the receiving transport (what the media really goes over). */
  pair: {
    localType: string;
    protocol: string;
    relayProtocol: string | null;
    remoteType: string;
    remoteAddress: string;
  } | null;
  quality: Record<string, ConnectionQuality>;
  /** Keyframe requests (PLI + FIR) the SFU sent to this page's video producer, over its layers. */
  sentVideoKeyFrameRequests: number;
  /** The negotiated Opus format lines (FEC is `useinbandfec=1`) of what we receive and send. */
  opusFmtp: { recv: string | null; send: string | null };
  /** Presented remote frames: the first, how many, and the longest gap since `resetGaps()`. */
  frames: {
    firstAt: number | null;
    count: number;
    lastAt: number | null;
    maxGapMs: number;
    gapsOver500: number;
  };
}

export interface JoinRequest {
  url: string;
  /** A fixed token; without it, tokens come from the host through `window.csGetToken` (exposed by the test). */
  token?: string;
  room: string;
  invite?: string;
  publish: 'av' | 'audio' | 'none';
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** ICE restarts while signaling is up (iceRecovery.ts), e.g. a short give-up for a test. */
  iceRecovery?: { retryEveryMs?: number; giveUpAfterMs?: number };
}

export interface NetworkPageApi {
  /** `startedAt`: when join began (for time to first frame); `joinedAt`: media published. */
  join(req: JoinRequest): Promise<{ peerId: string; startedAt: number; joinedAt: number }>;
  createInvite(): Promise<string>;
  report(): Promise<PageReport>;
  events(): PageEvent[];
  resetGaps(): void;
  /** Epoch ms of the first remote frame presented after `t` (null: none yet). */
  firstFrameAfter(t: number): number | null;
  /** The receiving transport's ICE view: local candidates and candidate pairs (for debugging runs). */
  iceView(): Promise<string[]>;
  /** Epoch ms of every remote frame presented after `t` (the last few minutes' worth). */
  framesSince(t: number): number[];
  leave(): Promise<void>;
}

declare global {
  interface Window {
    net: NetworkPageApi;
    csGetToken?: (rejected?: string) => Promise<string>;
  }
}

let session: RoomSession | undefined;
const events: PageEvent[] = [];
const frames = {
  firstAt: null as number | null,
  count: 0,
  lastAt: null as number | null,
  maxGapMs: 0,
  gapsOver500: 0,
};
/** Presentation times of the last remote frames (a couple of minutes at 20 fps). */
const frameTimes: number[] = [];
const now = (): number => performance.timeOrigin + performance.now();
const log = (type: string, detail?: string): void => void events.push({ at: now(), type, detail });

function current(): RoomSession {
  if (!session) throw new Error('join first');
  return session;
}

function showVideo(track: MediaStreamTrack): void {
  const video = document.createElement('video');
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  video.srcObject = new MediaStream([track]);
  document.body.append(video);
  const onFrame = (): void => {
    const t = now();
    if (frames.firstAt === null) frames.firstAt = t;
    if (frames.lastAt !== null) {
      const gap = t - frames.lastAt;
      frames.maxGapMs = Math.max(frames.maxGapMs, gap);
      if (gap > 500) frames.gapsOver500++;
    }
    frames.lastAt = t;
    frames.count++;
    frameTimes.push(t);
    if (frameTimes.length > 4000) frameTimes.splice(0, 1000);
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  void video.play().catch(() => undefined);
}

function playAudio(track: MediaStreamTrack): void {
  const audio = document.createElement('audio');
  audio.autoplay = true;
  audio.srcObject = new MediaStream([track]);
  document.body.append(audio);
  void audio.play().catch(() => undefined);
}

type Stat = Record<string, unknown> & { type: string; id: string };
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

async function report(): Promise<PageReport> {
  const s = current();
  let video: VideoIn | null = null;
  let audio: AudioIn | null = null;
  let pair: PageReport['pair'] = null;
  for (const r of (await s.getReceiveStats()).values()) {
    const all = new Map<string, Stat>();
    r.forEach((st: Stat) => all.set(st.id, st));
    for (const st of all.values()) {
      if (st.type === 'inbound-rtp' && st.kind === 'video') {
        video = {
          framesDecoded: num(st.framesDecoded),
          keyFramesDecoded: num(st.keyFramesDecoded),
          freezeCount: num(st.freezeCount),
          totalFreezesDuration: num(st.totalFreezesDuration),
          frameWidth: num(st.frameWidth),
          nackCount: num(st.nackCount),
          pliCount: num(st.pliCount),
          firCount: num(st.firCount),
          packetsLost: num(st.packetsLost),
          packetsReceived: num(st.packetsReceived),
          retransmittedPacketsReceived: num(st.retransmittedPacketsReceived),
        };
      } else if (st.type === 'inbound-rtp' && st.kind === 'audio') {
        audio = {
          packetsReceived: num(st.packetsReceived),
          packetsLost: num(st.packetsLost),
          concealedSamples: num(st.concealedSamples),
          totalSamplesReceived: num(st.totalSamplesReceived),
          concealmentEvents: num(st.concealmentEvents),
        };
      } else if (st.type === 'transport' && typeof st.selectedCandidatePairId === 'string') {
        const p = all.get(st.selectedCandidatePairId);
        const local = p ? all.get(String(p.localCandidateId)) : undefined;
        const remote = p ? all.get(String(p.remoteCandidateId)) : undefined;
        if (local && remote) {
          pair = {
            localType: String(local.candidateType),
            protocol: String(local.protocol),
            relayProtocol: typeof local.relayProtocol === 'string' ? local.relayProtocol : null,
            remoteType: String(remote.candidateType),
            remoteAddress: `${String(remote.address)}:${String(remote.port)}`,
          };
        }
      }
    }
  }
  const opus = (reports: RTCStatsReport[]): string | null => {
    let line: string | null = null;
    for (const r of reports)
      r.forEach((st: Stat) => {
        if (st.type === 'codec' && st.mimeType === 'audio/opus') line = String(st.sdpFmtpLine ?? '');
      });
    return line;
  };
  const sendReports = await Promise.all([...s.producers.values()].map((p) => p.getStats()));
  let sentVideoKeyFrameRequests = 0;
  for (const r of sendReports)
    r.forEach((st: Stat) => {
      if (st.type === 'outbound-rtp' && st.kind === 'video')
        sentVideoKeyFrameRequests += num(st.pliCount) + num(st.firCount);
    });
  return {
    peerId: s.peerId,
    sentVideoKeyFrameRequests,
    opusFmtp: { recv: opus([...(await s.getReceiveStats()).values()]), send: opus(sendReports) },
    video,
    audio,
    pair,
    quality: Object.fromEntries(s.connectionQuality),
    frames: { ...frames },
  };
}

window.net = {
  async join(req) {
    const startedAt = now();
    const media =
      req.publish === 'none'
        ? undefined
        : await navigator.mediaDevices.getUserMedia({
            audio: true,
            video: req.publish === 'av' ? { width: 640, height: 480 } : false,
          });
    const s = await RoomSession.join({
      url: req.url,
      ...(req.token !== undefined
        ? { token: req.token }
        : { getToken: (rejected?: string) => window.csGetToken!(rejected) }),
      room: req.room,
      ...(req.invite ? { invite: req.invite } : {}),
      ...(req.iceTransportPolicy ? { iceTransportPolicy: req.iceTransportPolicy } : {}),
      ...(req.iceRecovery ? { iceRecovery: req.iceRecovery } : {}),
    });
    session = s;
    s.on('track', (t) => (t.kind === 'video' ? showVideo(t.track) : playAudio(t.track)));
    for (const t of s.remoteTracks.values()) (t.kind === 'video' ? showVideo : playAudio)(t.track);
    s.on('peerJoined', (p) => log('peerJoined', p.peerId));
    s.on('peerLeft', (peerId) => log('peerLeft', peerId));
    s.on('reconnecting', (n) => log('reconnecting', String(n)));
    s.on('reconnected', () => log('reconnected', s.peerId));
    s.on('transportState', (d, st) => log('transportState', `${d}:${st}`));
    s.on('connectionQuality', (peerId, q) =>
      log('connectionQuality', `${peerId === s.peerId ? 'self' : peerId}:${q}`),
    );
    s.on('closed', (reason) => log('closed', reason));
    s.on('resuming', () => log('resuming'));
    s.on('resumed', (r) => log('resumed', JSON.stringify(r)));
    s.on('rejoined', (r) => log('rejoined', JSON.stringify(r)));
    s.signaling.on('stateChanged', (st) => log('signaling', st));
    s.signaling.on('disconnected', (d) => log('disconnected', `${d.code} ${d.reason}`));
    // What the browser itself says about the network (the SDK probes its socket on these).
    window.addEventListener('online', () => log('online'));
    window.addEventListener('offline', () => log('offline'));
    const connection = (navigator as { connection?: EventTarget }).connection;
    connection?.addEventListener('change', () => log('connectionChange'));
    s.signaling.on('consumerLayers', (d) => log('consumerLayers', `${d.spatialLayer}/${d.spatialLayers}`));
    s.signaling.on('consumerScore', (d) => log('consumerScore', `${d.score}/${d.producerScore}`));
    if (media) {
      const [audioTrack] = media.getAudioTracks();
      const [videoTrack] = media.getVideoTracks();
      await s.publish({ audio: audioTrack, video: videoTrack });
    }
    return { peerId: s.peerId, startedAt, joinedAt: now() };
  },
  createInvite: async () => (await current().createInvite()).invite,
  report,
  events: () => [...events],
  resetGaps() {
    frames.maxGapMs = 0;
    frames.gapsOver500 = 0;
  },
  firstFrameAfter: (t) => frameTimes.find((f) => f > t) ?? null,
  framesSince: (t) => frameTimes.filter((f) => f > t),
  async iceView() {
    const out = new Set<string>();
    for (const r of (await current().getReceiveStats()).values()) {
      const all = new Map<string, Stat>();
      r.forEach((st: Stat) => all.set(st.id, st));
      for (const st of all.values()) {
        if (st.type === 'local-candidate')
          out.add(
            `local ${String(st.address)}:${String(st.port)}/${String(st.protocol)} ${String(st.candidateType)}`,
          );
        if (st.type === 'candidate-pair') {
          const l = all.get(String(st.localCandidateId));
          out.add(
            `pair ${String(l?.address)}/${String(l?.protocol)} ${String(st.state)}${st.nominated ? ' nominated' : ''} rx=${num(st.bytesReceived)}`,
          );
        }
        if (st.type === 'transport')
          out.add(`transport ${String(st.iceState)} sel=${String(st.selectedCandidatePairId)}`);
      }
    }
    return [...out];
  },
  leave: async () => current().leave(),
};
