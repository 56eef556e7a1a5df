/**
 * The web page. Signed out: sign in with a phone number (and, on servers that issue development
 * tokens, join a room with just a name). Signed in: a header with the account, contacts with audio
 * and video call buttons (messenger calls: incoming, outgoing, in-call screens), the call history,
 * a profile screen (name, photo, devices) and the room call, joined as the account.
 */
import {
  AccountClient,
  CookieSessionTokenStore,
  fetchDevToken,
  parseRoomInviteLink,
  type AnyCall,
  type CallClient,
  type RoomSession,
  type Session,
} from '../sdk/index.js';
import { CallView } from './call.js';
import { CallScreens } from './callScreens.js';
import { ContactsView } from './contacts.js';
import { $, busy, deviceLabel, showError } from './dom.js';
import { HistoryView } from './history.js';
import { describeError } from './messages.js';
import { PhotoLoader } from './photos.js';
import { ProfileView } from './profile.js';
import { SignInView } from './signIn.js';

// A debugging handle (the end-to-end tests read receive stats and the account through it).
declare global {
  interface Window {
    callApp: {
      /** The room call's session. */
      session: () => RoomSession | undefined;
      account: AccountClient;
      /** This device's messenger-call client (signed in). */
      calls: () => CallClient | undefined;
      /** The messenger call on screen. */
      currentCall: () => AnyCall | undefined;
    };
  }
}

type Screen = 'call' | 'history' | 'profile';

const account = new AccountClient({
  baseUrl: location.origin,
  store: new CookieSessionTokenStore(),
  deviceLabel: deviceLabel(),
});
const photos = new PhotoLoader(account);
const state = {
  phase: 'loading' as 'loading' | 'signedOut' | 'signedIn',
  screen: 'call' as Screen,
  /** The server issues development tokens: offer joining with just a name. */
  devTokens: false,
  /** The current call authenticates with the account (ends when the account signs out). */
  callUsesAccount: false,
};

const statusEl = $('status');
const setStatus = (text: string): void => {
  statusEl.textContent = text;
};
setStatus('Not connected');

const call = new CallView({ setStatus, onChange: () => render() });
const profile = new ProfileView(account, photos);
const signIn = new SignInView(account, (photoError) => {
  if (photoError) openScreen('profile', photoError);
});
const startCall = (userIds: string[], media: 'audio' | 'video'): void =>
  void screens.startCall(userIds, media);
const contacts = new ContactsView(account, photos, startCall);
const history = new HistoryView(startCall);
const screens = new CallScreens({
  account,
  photos,
  contacts,
  history,
  onChange: () => render(),
  // One call at a time: a messenger call takes this device out of the room call.
  beforeCall: async () => {
    if (call.active) await call.leave();
  },
  // The room call reports its own state while there is one.
  setStatus: (text) => {
    if (!call.active) setStatus(text);
  },
});
window.callApp = {
  session: () => call.session,
  account,
  calls: () => screens.client,
  currentCall: () => screens.current,
};

const joinForm = $<HTMLFormElement>('joinForm');
const displayNameInput = $<HTMLInputElement>('displayName');
const joinError = $('joinError');

function render(): void {
  const signedIn = state.phase === 'signedIn';
  const inCall = call.session !== undefined;
  // A messenger call (placing, ringing, in it) covers the other screens.
  const calling = signedIn && screens.active;
  const callScreen = !signedIn || state.screen === 'call';
  $('signIn').hidden = state.phase !== 'signedOut' || inCall;
  $('account').hidden = !signedIn;
  $('profile').hidden = !signedIn || state.screen !== 'profile' || calling;
  $('history').hidden = !signedIn || state.screen !== 'history' || calling;
  $('contacts').hidden = !signedIn || !callScreen || inCall || calling;
  joinForm.hidden =
    inCall || calling || !callScreen || state.phase === 'loading' || (!signedIn && !state.devTokens);
  $('call').hidden = !inCall || !callScreen;
  // Signed in, the display name is the account's; the name field is for development sign-in only.
  $('devHint').hidden = signedIn;
  $('displayNameLabel').hidden = signedIn;
  displayNameInput.disabled = signedIn;
  for (const [id, screen] of [
    ['navCall', 'call'],
    ['navHistory', 'history'],
    ['navProfile', 'profile'],
  ] as const) {
    if (state.screen === screen) $(id).setAttribute('aria-current', 'page');
    else $(id).removeAttribute('aria-current');
  }
}

function showAccount(session: Session): void {
  const { user } = session;
  $('headerName').textContent = user.name;
  void photos.show($<HTMLImageElement>('headerThumb'), $('headerInitials'), user.photo, 'thumb', user.name);
  if (!$('profile').hidden) profile.render(user);
}

function openScreen(screen: Screen, message = ''): void {
  state.screen = screen;
  render();
  if (screen === 'profile') void profile.open(message);
  if (screen === 'history') void history.open();
  else history.close();
}

/** Signed in (sign-in, or a stored session on load): contacts and this device's call connection. */
function startAccount(session: Session): void {
  void contacts.load(session.user.userId);
  void screens.start();
}

account.on('session', (session) => {
  if (!session) return; // signedOut follows
  const wasSignedIn = state.phase === 'signedIn';
  state.phase = 'signedIn';
  if (!wasSignedIn) {
    state.screen = 'call';
    startAccount(session);
  }
  showAccount(session);
  render();
});

account.on('signedOut', (reason) => {
  state.phase = 'signedOut';
  state.screen = 'call';
  photos.clear();
  history.close();
  contacts.clear();
  void screens.stop();
  if (state.callUsesAccount) void call.leave();
  signIn.reset(reason === 'signed out' ? '' : signedOutMessage(reason));
  render();
});

function signedOutMessage(reason: string): string {
  if (reason.includes('another window')) return 'You signed out in another window.';
  if (reason.includes('revoked')) return 'This device was signed out.';
  return 'Your session has ended. Please sign in again.';
}

$('navCall').addEventListener('click', () => openScreen('call'));
$('navHistory').addEventListener('click', () => openScreen('history'));
$('navProfile').addEventListener('click', () => openScreen('profile'));
$('signOut').addEventListener('click', () => {
  void busy($<HTMLButtonElement>('signOut'), async () => {
    if (state.callUsesAccount) await call.leave();
    await screens.stop();
    await account.signOut();
  });
});

/** An invite link opened this page (`#room=…&invite=…`): the join form joins that room with it. */
const invited = parseRoomInviteLink(location.hash);
if (invited) {
  $<HTMLInputElement>('roomName').value = invited.room;
  $('invitedHint').textContent = `You were invited to the room "${invited.room}".`;
  $('invitedHint').hidden = false;
}

joinForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const room = $<HTMLInputElement>('roomName').value.trim();
  // The invite is for its own room only; joining another name goes without it.
  const invite = invited?.room === room ? invited.invite : undefined;
  const user = state.phase === 'signedIn' ? account.user : null;
  showError(joinError, '');
  void busy($<HTMLButtonElement>('join'), async () => {
    try {
      if (user) {
        state.callUsesAccount = true;
        // The account refreshes the token; the session reconnects by itself when the old one expires.
        await call.join(
          room,
          user.name,
          { getToken: (rejected) => account.getAccessToken(rejected) },
          invite,
        );
      } else {
        state.callUsesAccount = false;
        const name = displayNameInput.value.trim();
        await call.join(
          room,
          name,
          { getToken: async () => (await fetchDevToken(location.origin, name)).token },
          invite,
        );
      }
    } catch (err) {
      showError(joinError, describeError(err, 'call'));
    }
  });
});

/**
 * Whether the server issues development tokens. Only `POST /api/v1/dev/token` exists, so ask it with
 * an empty body: 400 (invalid params) means the endpoint is there, 404 that it is not. No token is made.
 */
async function probeDevTokens(): Promise<boolean> {
  try {
    const res = await fetch('/api/v1/dev/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    return res.status === 400;
  } catch {
    return false;
  }
}

async function boot(): Promise<void> {
  const session = await account.restore();
  state.phase = session ? 'signedIn' : 'signedOut';
  if (session) {
    showAccount(session);
    startAccount(session);
  } else signIn.reset();
  render();
  state.devTokens = await probeDevTokens();
  render();
  // Fresh profile data; a refused refresh ends the session through the signedOut event.
  if (session) await account.me();
}

boot().catch((err: unknown) => console.warn('start-up', describeError(err)));
