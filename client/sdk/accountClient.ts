/**
 * Phone-number accounts over the HTTP API in docs/accounts-api.md: sign-in with a one-time code,
 * registration, profile and photo, devices, contact lookup. Works in browsers and Node (global fetch).
 *
 * The access token lives ~10 minutes. The client refreshes it shortly before it expires and once on a
 * 401 UNAUTHORIZED, and never runs two refreshes at once: the refresh token rotates on every refresh,
 * and the server revokes the device when it sees an old one again. `TokenStore.withLock` extends that
 * guarantee to other tabs sharing the same stored session.
 */
import type { AccountRequest, AccountResponse, Session, User } from '../../protocol/accounts.js';
import { MAX_CONTACT_LOOKUP, SESSION_MODE_HEADER } from '../../protocol/accountLimits.js';
import { readJson, sendRequest, type SendOptions } from './accountHttp.js';
import { ApiError, notSignedIn } from './apiError.js';
import { readClaims } from './jwt.js';
import { isFatalError } from './reconnectPolicy.js';
import { MemoryTokenStore, type StoredSession, type TokenStore } from './tokenStore.js';
import { TypedEmitter } from './typedEmitter.js';

// The wire types are the shared schemas' (protocol/accounts.ts). Only their types are imported here:
// the server validates what it sends against them in tests, and browsers need not download zod.
export type {
  CodeRequested,
  ContactMatch,
  Device,
  Session,
  User,
  UserPhoto,
  VerifyResult,
} from '../../protocol/accounts.js';
export { ApiError, type ApiErrorCode } from './apiError.js';

export interface AccountClientOptions {
  /** Origin of the service, e.g. `location.origin` or `http://127.0.0.1:3000`. */
  baseUrl: string;
  /** Defaults to a MemoryTokenStore; browsers pass a LocalStorageTokenStore. */
  store?: TokenStore;
  /** Sent with verify/register when the call does not give one, e.g. "Chrome on Linux". */
  deviceLabel?: string;
  /** Refresh this long before the access token expires (default 60 s; at most a quarter of its lifetime). */
  refreshBeforeExpirySeconds?: number;
  /** Refresh on a timer even when idle (default true; the timer never keeps Node alive). */
  autoRefresh?: boolean;
  /** Per-request timeout (default 20 s; uploads get three times as long). */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

type AccountEvents = {
  /** The session changed: signed in, refreshed, profile updated, or `null` when signed out. */
  session: [Session | null];
  /** The session ended: signed out here or in another tab, device revoked, refresh refused. */
  signedOut: [reason: string];
};

const MAX_PHOTO_BYTES = 5 * 1024 * 1024;
const RETRY_REFRESH_MS = 15_000;

export class AccountClient extends TypedEmitter<AccountEvents> {
  readonly baseUrl: string;
  readonly #store: TokenStore;
  readonly #fetch: typeof fetch;
  readonly #skewMs: number;
  readonly #autoRefresh: boolean;
  readonly #timeoutMs: number;
  readonly #deviceLabel: string | undefined;
  #session: StoredSession | null = null;
  #loaded: Promise<void> | undefined;
  #refreshing: Promise<StoredSession> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(opts: AccountClientOptions) {
    super();
    this.baseUrl = opts.baseUrl;
    this.#store = opts.store ?? new MemoryTokenStore();
    this.#fetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#skewMs = (opts.refreshBeforeExpirySeconds ?? 60) * 1000;
    this.#autoRefresh = opts.autoRefresh ?? true;
    this.#timeoutMs = opts.timeoutMs ?? 20_000;
    this.#deviceLabel = opts.deviceLabel;
    this.#unsubscribe = this.#store.subscribe?.((s) => this.#onStoreChanged(s));
  }

  /** The current session (after `restore()` or a sign-in), or null. */
  get session(): Session | null {
    return this.#session;
  }

  get user(): User | null {
    return this.#session?.user ?? null;
  }

  /** Loads a stored session (a previous page load); null when signed out. Makes no request. */
  async restore(): Promise<Session | null> {
    await this.#ready();
    return this.#session;
  }

  /** Stops the refresh timer and the cross-tab subscription. */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
  }

  // ---- sign-in and registration ----

  async requestCode(phone: string): Promise<AccountResponse['code']> {
    return this.#json<'code'>('POST', '/api/v1/auth/code', { phone } satisfies AccountRequest['code']);
  }

  /** Signs in (and stores the session) for a known number; otherwise asks for registration. */
  async verify(
    phone: string,
    code: string,
    deviceLabel = this.#deviceLabel,
  ): Promise<AccountResponse['verify']> {
    const started = Date.now();
    const result = await this.#json<'verify'>('POST', '/api/v1/auth/verify', {
      phone,
      code,
      ...(deviceLabel ? { deviceLabel } : {}),
    } satisfies AccountRequest['verify']);
    if (result.status === 'signed-in')
      return { status: 'signed-in', session: await this.#set(result.session, started) };
    return result;
  }

  async register(registrationToken: string, name: string, deviceLabel = this.#deviceLabel): Promise<Session> {
    const started = Date.now();
    const { session } = await this.#json<'register'>('POST', '/api/v1/auth/register', {
      registrationToken,
      name,
      ...(deviceLabel ? { deviceLabel } : {}),
    } satisfies AccountRequest['register']);
    return this.#set(session, started);
  }

  /** Rotates the tokens now (normally automatic). Concurrent calls share one request. */
  async refresh(): Promise<Session> {
    await this.#ready();
    if (!this.#session) throw notSignedIn();
    return this.#refreshFrom(this.#session.accessToken);
  }

  /** Revokes this device on the server and forgets the session, even if the server cannot be reached. */
  async signOut(): Promise<void> {
    await this.#ready();
    if (!this.#session) return;
    try {
      await this.#authed('POST', '/api/v1/auth/sign-out');
    } catch {
      // Signing out must work offline; the server forgets the device when its refresh token expires.
    } finally {
      await this.#drop('signed out');
    }
  }

  /**
   * A valid access token for HTTP or the WebSocket, refreshed first when it is about to expire.
   * Pass the token the server just refused (WebSocket close 4001, HTTP 401) to force a refresh
   * unless someone already replaced it.
   */
  async getAccessToken(rejectedToken?: string): Promise<string> {
    await this.#ready();
    const s = this.#session;
    if (!s) throw notSignedIn();
    const rejected = rejectedToken !== undefined && rejectedToken === s.accessToken;
    if (!rejected && s.accessTokenRefreshAt > Date.now()) return s.accessToken;
    try {
      return (await this.#refreshFrom(s.accessToken)).accessToken;
    } catch (err) {
      // A refresh that failed for a passing reason (network, 5xx) leaves a token that still works.
      if (!rejected && this.#session === s && s.accessTokenLocalExpiresAt > Date.now()) return s.accessToken;
      throw err;
    }
  }

  // ---- profile ----

  async me(): Promise<User> {
    const { user } = await this.#authedJson<'user'>('GET', '/api/v1/me');
    return this.#setUser(user);
  }

  async updateName(name: string): Promise<User> {
    const { user } = await this.#authedJson<'user'>('PATCH', '/api/v1/me', {
      name,
    } satisfies AccountRequest['rename']);
    return this.#setUser(user);
  }

  /** JPEG, PNG or WebP up to 5 MB; the server re-encodes it (512 px WebP and a 96 px thumbnail). */
  async uploadPhoto(photo: Blob | ArrayBuffer | Uint8Array, contentType?: string): Promise<User> {
    const type = contentType ?? (photo instanceof Blob ? photo.type : '');
    if (!type) throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'the photo needs a content type');
    const size = photo instanceof Blob ? photo.size : photo.byteLength;
    if (size > MAX_PHOTO_BYTES) throw new ApiError(413, 'MESSAGE_TOO_LARGE', 'the photo is larger than 5 MB');
    const res = await this.#authed('PUT', '/api/v1/me/photo', {
      body: photo as BodyInit,
      contentType: type,
      timeoutMs: this.#timeoutMs * 3,
    });
    const { user } = await readJson<'user'>(res);
    return this.#setUser(user);
  }

  /**
   * A photo or thumbnail URL from a User, as a Blob (show it with URL.createObjectURL). The URLs need
   * the Bearer token, so `<img src>` cannot load them directly. Revalidates with the server (ETag,
   * so usually a 304) because a new upload may keep the same URL.
   */
  async fetchPhoto(url: string): Promise<Blob> {
    const target = new URL(url, this.baseUrl);
    // Never hand the access token to another origin.
    if (target.origin !== new URL(this.baseUrl).origin) {
      throw new ApiError(0, 'FORBIDDEN', `refusing to send credentials to ${target.origin}`);
    }
    const res = await this.#authed('GET', target.pathname + target.search, { cache: 'no-cache' });
    return res.blob();
  }

  // ---- devices and contacts ----

  async listDevices(): Promise<AccountResponse['devices']['devices']> {
    return (await this.#authedJson<'devices'>('GET', '/api/v1/devices')).devices;
  }

  /** Signs a device out. Revoking this device signs this client out too. */
  async revokeDevice(deviceId: string): Promise<void> {
    await this.#authed('DELETE', `/api/v1/devices/${encodeURIComponent(deviceId)}`);
    if (this.#session?.deviceId === deviceId) await this.#drop('this device was revoked');
  }

  /** Registered users among the given E.164 numbers (any number of them: sent 500 at a time). */
  async lookupContacts(phones: readonly string[]): Promise<AccountResponse['contacts']['matches']> {
    const matches: AccountResponse['contacts']['matches'] = [];
    for (let i = 0; i < phones.length; i += MAX_CONTACT_LOOKUP) {
      const batch = phones.slice(i, i + MAX_CONTACT_LOOKUP);
      const res = await this.#authedJson<'contacts'>('POST', '/api/v1/contacts/lookup', {
        phones: batch,
      } satisfies AccountRequest['contacts']);
      matches.push(...res.matches);
    }
    return matches;
  }

  // ---- session bookkeeping ----

  #ready(): Promise<void> {
    this.#loaded ??= (async () => {
      const stored = await this.#store.load();
      // A sign-in that finished while the store was loading wins.
      if (!this.#session && stored) {
        this.#session = stored;
        this.#schedule();
      }
    })();
    return this.#loaded;
  }

  async #set(session: Session, requestStartedAt: number): Promise<StoredSession> {
    const expiresAt = localExpiry(session, requestStartedAt);
    const lifetime = Math.max(0, expiresAt - requestStartedAt);
    const stored: StoredSession = {
      ...session,
      accessTokenLocalExpiresAt: expiresAt,
      accessTokenRefreshAt: expiresAt - Math.min(this.#skewMs, lifetime / 4),
    };
    this.#session = stored;
    await this.#store.save(stored);
    this.#schedule();
    this.emit('session', stored);
    return stored;
  }

  async #setUser(user: User): Promise<User> {
    // Merge into the *stored* session under the refresh lock: writing back this tab's in-memory copy
    // could put a refresh token that another tab already rotated away back into storage, and the
    // next refresh would then look like token theft to the server (and revoke the device).
    const apply = async (): Promise<void> => {
      const current = (await this.#store.load()) ?? this.#session;
      if (!current || current.user.userId !== user.userId) return;
      const next: StoredSession = { ...current, user: { ...user, phone: user.phone ?? current.user.phone } };
      this.#session = next;
      await this.#store.save(next);
      this.emit('session', next);
    };
    await (this.#store.withLock ? this.#store.withLock(apply) : apply());
    return user;
  }

  async #drop(reason: string): Promise<void> {
    const had = this.#session !== null;
    this.#session = null;
    clearTimeout(this.#timer);
    await this.#store.save(null);
    if (had) {
      this.emit('session', null);
      this.emit('signedOut', reason);
    }
  }

  #onStoreChanged(stored: StoredSession | null): void {
    if (!stored) {
      if (!this.#session) return;
      this.#session = null;
      clearTimeout(this.#timer);
      this.emit('session', null);
      this.emit('signedOut', 'signed out in another window');
      return;
    }
    this.#session = stored;
    this.#schedule();
    this.emit('session', stored);
  }

  #schedule(delayMs?: number): void {
    clearTimeout(this.#timer);
    const s = this.#session;
    if (!this.#autoRefresh || !s) return;
    const due = delayMs ?? Math.max(1000, s.accessTokenRefreshAt - Date.now());
    this.#timer = setTimeout(() => {
      if (this.#session !== s) return;
      this.#refreshFrom(s.accessToken).catch(() => {
        if (this.#session) this.#schedule(RETRY_REFRESH_MS);
      });
    }, due);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  /** One refresh at a time; callers arriving meanwhile share its result. */
  #refreshFrom(staleAccessToken: string): Promise<StoredSession> {
    if (this.#refreshing) return this.#refreshing;
    const run = (): Promise<StoredSession> => this.#doRefresh(staleAccessToken);
    const p = (this.#store.withLock ? this.#store.withLock(run) : run()).finally(() => {
      if (this.#refreshing === p) this.#refreshing = undefined;
    });
    this.#refreshing = p;
    return p;
  }

  async #doRefresh(staleAccessToken: string): Promise<StoredSession> {
    // Re-read under the lock: another tab may have rotated the tokens or signed out meanwhile.
    const stored = await this.#store.load();
    if (!stored) {
      await this.#drop('signed out in another window');
      throw notSignedIn();
    }
    if (stored.accessToken !== staleAccessToken && stored.accessTokenRefreshAt > Date.now()) {
      if (stored !== this.#session) this.#onStoreChanged(stored);
      return stored;
    }
    // Cookie mode sends no token: the browser attaches the HttpOnly cookie. A token still in the store
    // there is a session saved by an older page version: presented once, the server moves it into
    // the cookie.
    const refreshToken = stored.refreshToken;
    if (refreshToken === undefined && this.#store.refreshTokenInCookie !== true) {
      await this.#drop('no refresh token stored');
      throw notSignedIn();
    }
    const started = Date.now();
    try {
      const { session } = await this.#json<'refresh'>(
        'POST',
        '/api/v1/auth/refresh',
        (refreshToken !== undefined ? { refreshToken } : {}) satisfies AccountRequest['refresh'],
      );
      return await this.#set(session, started);
    } catch (err) {
      // Refused (revoked device, reused or expired refresh token): the session is over.
      if (err instanceof ApiError && isFatalError(err)) {
        await this.#drop(`session ended (${err.code})`);
      }
      throw err;
    }
  }

  // ---- HTTP ----

  #send(method: string, path: string, opts: SendOptions): Promise<Response> {
    // The auth endpoints are told when the refresh token lives in the HttpOnly cookie: they set it
    // instead of answering it, and read it on refresh (the header is also that refresh's CSRF check).
    const cookieMode = this.#store.refreshTokenInCookie === true && path.startsWith('/api/v1/auth/');
    return sendRequest(this.#fetch, new URL(path, this.baseUrl), method, {
      ...opts,
      ...(cookieMode ? { headers: { ...opts.headers, [SESSION_MODE_HEADER]: 'cookie' } } : {}),
      timeoutMs: opts.timeoutMs ?? this.#timeoutMs,
    });
  }

  async #json<K extends keyof AccountResponse>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<AccountResponse[K]> {
    const res = await this.#send(method, path, {
      ...(body !== undefined ? { body: JSON.stringify(body), contentType: 'application/json' } : {}),
    });
    if (!res.ok) throw await ApiError.fromResponse(res);
    return readJson<K>(res);
  }

  async #authedJson<K extends keyof AccountResponse>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<AccountResponse[K]> {
    const res = await this.#authed(method, path, {
      ...(body !== undefined ? { body: JSON.stringify(body), contentType: 'application/json' } : {}),
    });
    return readJson<K>(res);
  }

  /** Sends with the Bearer token; on 401 UNAUTHORIZED refreshes and retries once. */
  async #authed(method: string, path: string, opts: Omit<SendOptions, 'token'> = {}): Promise<Response> {
    let token = await this.getAccessToken();
    let res = await this.#send(method, path, { ...opts, token });
    if (res.status === 401) {
      const err = await ApiError.fromResponse(res);
      if (err.code !== 'UNAUTHORIZED') throw err;
      token = await this.getAccessToken(token);
      res = await this.#send(method, path, { ...opts, token });
    }
    if (!res.ok) throw await ApiError.fromResponse(res);
    return res;
  }
}

/**
 * When the access token expires by this machine's clock. The token's own lifetime (exp - iat), counted
 * from when the request was sent, is right even when the local clock is off; the server's epoch
 * `accessTokenExpiresAt` is the fallback for a token that is not a readable JWT.
 */
function localExpiry(session: Session, requestStartedAt: number): number {
  const claims = readClaims(session.accessToken);
  if (claims?.iat !== undefined && claims.exp !== undefined && claims.exp > claims.iat)
    return requestStartedAt + (claims.exp - claims.iat) * 1000;
  return session.accessTokenExpiresAt * 1000;
}
