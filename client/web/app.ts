/** The web page: join a room with camera and microphone, see and hear the others, leave. */
import { RoomSession, fetchDevToken, type RemoteTrack } from '../sdk/index.js';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as T;
};

const form = $<HTMLFormElement>('joinForm');
const statusEl = $('status');
const joinError = $('joinError');
const callSection = $('call');
const tiles = $('tiles');
const localVideo = $<HTMLVideoElement>('localVideo');
const toggleAudio = $<HTMLButtonElement>('toggleAudio');
const toggleVideo = $<HTMLButtonElement>('toggleVideo');

let session: RoomSession | undefined;
let localStream: MediaStream | undefined;

// A debugging handle (also used by the end-to-end tests to read receive stats).
declare global {
  interface Window {
    callApp: { session: () => RoomSession | undefined };
  }
}
window.callApp = { session: () => session };

const setStatus = (text: string): void => {
  statusEl.textContent = text;
};

function tileFor(peerId: string, displayName: string): HTMLElement {
  let tile = tiles.querySelector<HTMLElement>(`.tile[data-peer-id="${CSS.escape(peerId)}"]`);
  if (!tile) {
    tile = document.createElement('figure');
    tile.className = 'tile remote';
    tile.dataset.peerId = peerId;
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    video.muted = true; // audio plays through its own element so video autoplay is never blocked
    const audio = document.createElement('audio');
    audio.autoplay = true;
    const caption = document.createElement('figcaption');
    caption.textContent = displayName;
    tile.append(video, audio, caption);
    tiles.append(tile);
  }
  return tile;
}

function attach(t: RemoteTrack): void {
  const peer = session?.peers.get(t.peerId);
  const tile = tileFor(t.peerId, peer?.displayName ?? 'Guest');
  const el = tile.querySelector<HTMLMediaElement>(t.kind === 'video' ? 'video' : 'audio')!;
  el.srcObject = new MediaStream([t.track]);
  el.play().catch(() => undefined);
}

function detach(t: RemoteTrack): void {
  const tile = tiles.querySelector<HTMLElement>(`.tile[data-peer-id="${CSS.escape(t.peerId)}"]`);
  const el = tile?.querySelector<HTMLMediaElement>(t.kind === 'video' ? 'video' : 'audio');
  if (el) el.srcObject = null;
}

function showCall(inCall: boolean): void {
  form.hidden = inCall;
  callSection.hidden = !inCall;
}

async function join(displayName: string, room: string): Promise<void> {
  joinError.hidden = true;
  setStatus('Getting camera and microphone…');
  localStream = await navigator.mediaDevices.getUserMedia({
    audio: true,
    video: { width: 640, height: 480 },
  });
  localVideo.srcObject = localStream;
  setStatus('Connecting…');
  const { token } = await fetchDevToken(location.origin, displayName);
  const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const s = await RoomSession.join({ url: wsUrl, token, room, displayName });
  session = s;
  s.on('peerJoined', (p) => tileFor(p.peerId, p.displayName));
  s.on('peerLeft', (peerId) => tiles.querySelector(`.tile[data-peer-id="${CSS.escape(peerId)}"]`)?.remove());
  s.on('track', attach);
  s.on('trackEnded', detach);
  s.on('activeSpeaker', (peerId) => {
    for (const tile of tiles.querySelectorAll<HTMLElement>('.tile')) {
      tile.classList.toggle('speaking', peerId !== null && tile.dataset.peerId === peerId);
    }
  });
  s.on('transportState', (direction, state) => setStatus(`In ${room} · ${direction} ${state}`));
  s.on('closed', (reason) => {
    if (session === s) cleanUp(reason === 'left' ? 'Left the room' : `Disconnected: ${reason}`);
  });
  s.on('error', (err) => console.warn('call error', err));
  for (const peer of s.peers.values()) tileFor(peer.peerId, peer.displayName);
  for (const t of s.remoteTracks.values()) attach(t);
  showCall(true);
  setStatus(`In ${room}`);
  await s.publish({ audio: localStream.getAudioTracks()[0], video: localStream.getVideoTracks()[0] });
}

function cleanUp(message: string): void {
  session = undefined;
  for (const t of localStream?.getTracks() ?? []) t.stop();
  localStream = undefined;
  localVideo.srcObject = null;
  for (const tile of tiles.querySelectorAll('.tile.remote')) tile.remove();
  showCall(false);
  setStatus(message);
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const displayName = $<HTMLInputElement>('displayName').value.trim();
  const room = $<HTMLInputElement>('roomName').value.trim();
  $<HTMLButtonElement>('join').disabled = true;
  join(displayName, room)
    .catch((err: unknown) => {
      cleanUp('Not connected');
      joinError.textContent = err instanceof Error ? err.message : String(err);
      joinError.hidden = false;
    })
    .finally(() => {
      $<HTMLButtonElement>('join').disabled = false;
    });
});

$('leave').addEventListener('click', () => void session?.leave());

toggleAudio.addEventListener('click', () => {
  const muted = toggleAudio.getAttribute('aria-pressed') !== 'true';
  void session?.setMuted('audio', muted).then(() => {
    toggleAudio.setAttribute('aria-pressed', String(muted));
    toggleAudio.textContent = muted ? 'Unmute microphone' : 'Mute microphone';
  });
});

toggleVideo.addEventListener('click', () => {
  const off = toggleVideo.getAttribute('aria-pressed') !== 'true';
  void session?.setMuted('video', off).then(() => {
    toggleVideo.setAttribute('aria-pressed', String(off));
    toggleVideo.textContent = off ? 'Turn camera on' : 'Turn camera off';
  });
});
