// The messenger page's calling code; the SDK part is the ten lines between the markers. It is
// bundled with the SDK (npm run build: page.js → app.js), as a page bundles any dependency.
import { CallClient } from '@calling/sdk';

const me = new URLSearchParams(location.search).get('user') ?? 'alice';
const $ = (id) => document.getElementById(id);
const fetchJson = async (path) => (await fetch(path)).json();
const session = () => fetchJson(`/calling-token?user=${me}`);

// ---- SDK: connect as this user, answer incoming calls, place calls, play what arrives
const calls = await CallClient.connect({
  url: (await session()).signalingUrl,
  getToken: async () => (await session()).accessToken,
});
calls.on('incomingCall', (call) => (follow(call), void call.accept()));
$('call-form').onsubmit = async (event) => {
  event.preventDefault();
  const { userId } = await fetchJson(`/calling-user-id?user=${$('callee').value}`);
  follow(await calls.call([userId], 'video'));
};
const follow = (call) => (
  call.on('track', play),
  call.on('stateChanged', status),
  call.on('ended', ended),
  showHangup(call)
);
// ----

const status = (state) => ($('status').textContent = `Call ${state}`);
const ended = (reason) => {
  $('status').textContent = `Call ended: ${reason}`;
  $('hangup').hidden = true;
  $('media').replaceChildren();
};
function showHangup(call) {
  $('hangup').hidden = false;
  $('hangup').onclick = () => void call.hangup();
}
function play({ kind, track }) {
  const el = document.createElement(kind);
  el.srcObject = new MediaStream([track]);
  el.autoplay = true;
  el.muted = kind === 'video';
  $('media').append(el);
}
$('status').textContent = `Signed in as ${me}`;
