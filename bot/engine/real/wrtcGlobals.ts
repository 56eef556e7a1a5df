/**
 * mediasoup-client's Chrome111 handler uses the browser's WebRTC globals; in Node they come
 * from @roamhq/wrtc (libwebrtc). Installed once, only where Node has no such global. The
 * RTCPeerConnection installed registers every instance with the stats hub, the only way to
 * reach the connections RoomSession creates.
 */
import wrtc from '@roamhq/wrtc';
import { wrtcStats } from './wrtcStatsHub.js';

const NAMES = [
  'RTCSessionDescription',
  'RTCIceCandidate',
  'MediaStream',
  'MediaStreamTrack',
  'RTCRtpSender',
  'RTCRtpReceiver',
  'RTCRtpTransceiver',
  'RTCDataChannel',
] as const;

class TrackedPeerConnection extends wrtc.RTCPeerConnection {
  constructor(configuration?: RTCConfiguration) {
    super(configuration);
    wrtcStats.register(this);
  }
}

export function installWrtcGlobals(): void {
  // globalThis has no index signature; the globals are assigned by name, as a polyfill would.
  const g = globalThis as unknown as Record<string, unknown>;
  const source = wrtc as unknown as Record<string, unknown>;
  for (const name of NAMES) if (g[name] === undefined) g[name] = source[name];
  if (g.RTCPeerConnection === undefined) g.RTCPeerConnection = TrackedPeerConnection;
}

export const { RTCVideoSource, RTCAudioSource, RTCVideoSink } = wrtc.nonstandard;
