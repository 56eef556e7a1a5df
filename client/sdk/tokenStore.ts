/**
 * Where an AccountClient keeps its session (access and refresh token, device, user) between page
 * loads. A first-party web page uses CookieSessionTokenStore: the refresh token is an HttpOnly cookie
 * the page's script never sees, the access token lives in this tab's memory only. Embedders on another
 * origin use LocalStorageTokenStore (or their own store, e.g. the platform keychain); Node (bots, tests)
 * keeps it in memory. The refresh token rotates on every refresh and presenting an old one revokes the
 * device, so tabs sharing one refresh token must never refresh in parallel: `withLock` serialises them.
 */
import type { Session } from '../../protocol/accounts.js';

/** A session as stored: the server's Session plus its access-token expiry on this machine's clock. */
export interface StoredSession extends Session {
  /** Epoch ms (local clock) when the access token expires; immune to a skewed local clock. */
  accessTokenLocalExpiresAt: number;
  /** Epoch ms (local clock) from when the access token should be refreshed. */
  accessTokenRefreshAt: number;
}

export interface TokenStore {
  /**
   * True when the server keeps the refresh token in an HttpOnly cookie (same-origin pages only): the
   * AccountClient then asks for the cookie transport and never holds the refresh token itself.
   */
  readonly refreshTokenInCookie?: boolean;
  load(): StoredSession | null | Promise<StoredSession | null>;
  /** `null` forgets the session (signed out, revoked). */
  save(session: StoredSession | null): void | Promise<void>;
  /** Runs `fn` while holding a lock shared with every other user of the same storage (other tabs). */
  withLock?<T>(fn: () => Promise<T>): Promise<T>;
  /** Calls `listener` when someone else (another tab) changes the stored session. */
  subscribe?(listener: (session: StoredSession | null) => void): () => void;
}

/** Keeps the session in this process only (Node, bots, tests). */
export class MemoryTokenStore implements TokenStore {
  #session: StoredSession | null;

  constructor(initial: StoredSession | null = null) {
    this.#session = initial;
  }

  load(): StoredSession | null {
    return this.#session;
  }

  save(session: StoredSession | null): void {
    this.#session = session;
  }
}

interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

/** Serialises `fn` with every tab of this origin holding the same lock name (Web Locks). */
function withWebLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as { locks?: LockManagerLike } | undefined)?.locks;
  // Without Web Locks (very old browsers, insecure origins) a tab can only serialise itself.
  return locks ? locks.request(name, fn) : fn();
}

/** What a CookieSessionTokenStore keeps in localStorage: who is signed in, nothing secret. */
interface SignedInMarker {
  deviceId: string;
  user: StoredSession['user'];
}

/** The part of a session that stays in one tab's memory. */
type AccessPart = Pick<
  StoredSession,
  'accessToken' | 'accessTokenExpiresAt' | 'accessTokenLocalExpiresAt' | 'accessTokenRefreshAt'
> & { deviceId: string };

const NO_ACCESS_TOKEN = {
  accessToken: '',
  accessTokenExpiresAt: 0,
  accessTokenLocalExpiresAt: 0,
  accessTokenRefreshAt: 0,
} as const;

/**
 * The first-party web app's store. Nothing that signs anyone in ever reaches Web Storage:
 * - the refresh token is the server's HttpOnly, SameSite=Strict cookie (refreshTokenInCookie);
 * - the access token (10 minutes) stays in this tab's memory; a reload or a new tab gets a fresh one
 *   with one refresh by cookie;
 * - localStorage holds only who is signed in (device id and profile), so a reload can show the account
 *   at once and the other tabs learn about a sign-out through the `storage` event.
 * A session saved by LocalStorageTokenStore (an older version of the page) is read once: its refresh
 * token is presented one last time, the server moves it into the cookie, and it is never written back.
 */
export class CookieSessionTokenStore implements TokenStore {
  readonly refreshTokenInCookie = true;
  readonly #key: string;
  readonly #storage: Storage;
  #access: AccessPart | null = null;

  constructor(key = 'calling.session', storage: Storage = globalThis.localStorage) {
    this.#key = key;
    this.#storage = storage;
  }

  load(): StoredSession | null {
    const raw = this.#storage.getItem(this.#key);
    const stored = raw ? parseMarker(raw) : null;
    if (!stored) {
      this.#access = null;
      return null;
    }
    const { marker, legacyRefreshToken } = stored;
    const access = this.#access?.deviceId === marker.deviceId ? this.#access : null;
    return {
      ...marker,
      ...(access ? withoutDevice(access) : NO_ACCESS_TOKEN),
      ...(legacyRefreshToken ? { refreshToken: legacyRefreshToken } : {}),
    };
  }

  save(session: StoredSession | null): void {
    if (!session) {
      this.#access = null;
      this.#storage.removeItem(this.#key);
      return;
    }
    this.#access = {
      deviceId: session.deviceId,
      accessToken: session.accessToken,
      accessTokenExpiresAt: session.accessTokenExpiresAt,
      accessTokenLocalExpiresAt: session.accessTokenLocalExpiresAt,
      accessTokenRefreshAt: session.accessTokenRefreshAt,
    };
    const marker: SignedInMarker = { deviceId: session.deviceId, user: session.user };
    this.#storage.setItem(this.#key, JSON.stringify(marker));
  }

  withLock<T>(fn: () => Promise<T>): Promise<T> {
    return withWebLock(`${this.#key}.refresh`, fn);
  }

  subscribe(listener: (session: StoredSession | null) => void): () => void {
    // Another tab's refresh rewrites the same marker (no event); a sign-out removes it, a sign-in as
    // another device or a profile change replaces it.
    const onStorage = (ev: StorageEvent): void => {
      if (ev.storageArea !== this.#storage) return;
      if (ev.key === this.#key || ev.key === null) listener(this.load());
    };
    globalThis.addEventListener('storage', onStorage);
    return () => globalThis.removeEventListener('storage', onStorage);
  }
}

function withoutDevice(access: AccessPart): Omit<AccessPart, 'deviceId'> {
  const { deviceId: _device, ...rest } = access;
  return rest;
}

function parseMarker(raw: string): { marker: SignedInMarker; legacyRefreshToken?: string } | null {
  try {
    const s = JSON.parse(raw) as Partial<StoredSession>;
    if (typeof s.deviceId !== 'string' || typeof s.user !== 'object' || s.user === null) return null;
    const marker: SignedInMarker = { deviceId: s.deviceId, user: s.user };
    return typeof s.refreshToken === 'string' ? { marker, legacyRefreshToken: s.refreshToken } : { marker };
  } catch {
    return null; // a corrupt entry is the same as none
  }
}

/**
 * Keeps the session in `localStorage` under one key. Refreshes from several tabs are serialised with
 * the Web Locks API (every current browser has it); the `storage` event tells a tab when another
 * one rotated the tokens or signed out.
 */
export class LocalStorageTokenStore implements TokenStore {
  readonly #key: string;
  readonly #storage: Storage;

  constructor(key = 'calling.session', storage: Storage = globalThis.localStorage) {
    this.#key = key;
    this.#storage = storage;
  }

  load(): StoredSession | null {
    const raw = this.#storage.getItem(this.#key);
    return raw ? parseStored(raw) : null;
  }

  save(session: StoredSession | null): void {
    if (session) this.#storage.setItem(this.#key, JSON.stringify(session));
    else this.#storage.removeItem(this.#key);
  }

  withLock<T>(fn: () => Promise<T>): Promise<T> {
    return withWebLock(`${this.#key}.refresh`, fn);
  }

  subscribe(listener: (session: StoredSession | null) => void): () => void {
    const onStorage = (ev: StorageEvent): void => {
      if (ev.storageArea !== this.#storage) return;
      if (ev.key === this.#key) listener(ev.newValue ? parseStored(ev.newValue) : null);
      else if (ev.key === null) listener(null); // storage.clear()
    };
    globalThis.addEventListener('storage', onStorage);
    return () => globalThis.removeEventListener('storage', onStorage);
  }
}

function parseStored(raw: string): StoredSession | null {
  try {
    const s = JSON.parse(raw) as Partial<StoredSession>;
    if (
      typeof s.accessToken === 'string' &&
      typeof s.refreshToken === 'string' &&
      typeof s.accessTokenLocalExpiresAt === 'number' &&
      typeof s.accessTokenRefreshAt === 'number' &&
      typeof s.user === 'object' &&
      s.user !== null
    )
      return s as StoredSession;
  } catch {
    // fall through: a corrupt entry is the same as none
  }
  return null;
}
